// Package httpx is the one home of the small HTTP and HTML lexing rules
// that the hinting core, the Link parser, the scanner, push and the proxy
// all need: tokens, control characters, HTML whitespace, hop-by-hop
// fields, Cache-Control and what a navigation is. It imports only the
// standard library, so any package may use it.
package httpx

import (
	"iter"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// tchar is the RFC 9110 token character set (section 5.6.2).
var tchar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// IsTokenChar reports whether c is a tchar of RFC 9110.
func IsTokenChar(c byte) bool { return tchar[c] }

// IsToken reports whether s is a non-empty RFC 9110 token.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// HasControl reports whether s holds an ASCII control character (tab
// included) or DEL: nothing a URL or an attribute value may carry.
func HasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// HasFieldControl reports whether s holds a character a header field
// value may not carry: a control character other than tab, or DEL.
func HasFieldControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// HTMLSpace is the ASCII whitespace of the HTML standard.
const HTMLSpace = " \t\n\f\r"

// IsHTMLSpace reports whether c is HTML whitespace.
func IsHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// hopByHop lists the fields that never travel past one connection (RFC
// 9110 section 7.6.1, plus the legacy Proxy-Connection and Keep-Alive).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// HopByHopFields returns the names of the fields of h that belong to one
// connection only: those of RFC 9110 section 7.6.1 and those that h's
// Connection field names. A proxy forwarding a 1xx must drop them
// (net/http's ReverseProxy copies a 1xx's fields as they are).
func HopByHopFields(h http.Header) []string {
	var names []string
	for _, k := range hopByHop {
		if _, ok := h[k]; ok {
			names = append(names, k)
		}
	}
	for _, c := range h["Connection"] {
		for f := range strings.SplitSeq(c, ",") {
			if f = http.CanonicalHeaderKey(strings.TrimSpace(f)); f != "" && !slices.Contains(names, f) {
				if _, ok := h[f]; ok {
					names = append(names, f)
				}
			}
		}
	}
	return names
}

// CacheControl is what a response's Cache-Control fields say about who
// may keep it and for how long.
type CacheControl struct {
	NoStore bool
	Private bool
	NoCache bool
	// Immutable is RFC 8246's promise that the response never changes
	// while fresh.
	Immutable bool
	// MaxAge is max-age in seconds (s-maxage is for shared caches only),
	// -1 when absent or unreadable; at most MaxDeltaSeconds.
	MaxAge int
}

// MaxDeltaSeconds is the largest delta-seconds value a cache keeps: a
// greater one counts as this, the greatest an int32 holds (RFC 9111
// section 1.2.2: 2^31, or the greatest integer conveniently represented).
const MaxDeltaSeconds = 1<<31 - 1

// ParseCacheControl reads every Cache-Control field of h (see
// CacheDirectives). The first max-age counts, readable or not (RFC 9111
// section 4.2.1).
func ParseCacheControl(h http.Header) CacheControl {
	cc := CacheControl{MaxAge: -1}
	seenMaxAge := false
	for _, v := range h.Values("Cache-Control") {
		for v != "" {
			var name, arg string
			var ok bool
			if name, arg, ok, v = nextDirective(v); !ok {
				continue
			}
			switch strings.ToLower(name) {
			case "no-store":
				cc.NoStore = true
			case "private":
				cc.Private = true
			case "no-cache":
				cc.NoCache = true
			case "immutable":
				cc.Immutable = true
			case "max-age":
				if !seenMaxAge {
					seenMaxAge = true
					cc.MaxAge = DeltaSeconds(arg)
				}
			}
		}
	}
	return cc
}

// CacheDirectives yields the directives of Cache-Control field values in
// order, as RFC 9111 section 5.2 reads them: members of a comma-separated
// list (commas inside quoted strings excepted), a name is a token, compared
// case-insensitively (yielded lower-cased), with no space before its "=";
// an argument is a token or a quoted string (yielded without its quotes
// and escapes; "" when there is none). A malformed member is skipped.
func CacheDirectives(values []string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, v := range values {
			for v != "" {
				var name, arg string
				var ok bool
				if name, arg, ok, v = nextDirective(v); ok && !yield(strings.ToLower(name), arg) {
					return
				}
			}
		}
	}
}

// nextDirective splits off the first member of a Cache-Control value:
// its name (as written), its argument, whether it is well-formed, and the
// rest of the value.
func nextDirective(v string) (name, arg string, ok bool, rest string) {
	d, rest := CutList(v)
	name, arg, hasArg := strings.Cut(strings.Trim(d, " \t"), "=")
	if !IsToken(name) {
		return "", "", false, rest
	}
	if hasArg {
		if arg, ok = directiveArg(arg); !ok {
			return "", "", false, rest
		}
	}
	return name, arg, true, rest
}

// CutList splits off the first member of a comma-separated field value
// (RFC 9110 section 5.6.1), commas inside a quoted string excepted, and
// returns it untrimmed with the rest after its comma.
func CutList(s string) (first, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// directiveArg returns a directive's argument without its quotes and
// escapes, and whether it is a well-formed token or quoted string.
func directiveArg(s string) (string, bool) {
	if IsToken(s) {
		return s, true
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	if inner := s[1 : len(s)-1]; !strings.ContainsAny(inner, `"\`) {
		return inner, true
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if c == '"' {
			return "", false
		}
		if c == '\\' {
			if i++; i == len(s)-1 {
				return "", false
			}
			c = s[i]
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// DeltaSeconds reads RFC 9111 delta-seconds: digits only, a value past
// MaxDeltaSeconds counting as MaxDeltaSeconds; -1 when s is not one.
func DeltaSeconds(s string) int {
	if s == "" {
		return -1
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = min(n*10+int64(s[i]-'0'), MaxDeltaSeconds)
	}
	return int(n)
}

// IsNavigation reports whether r is a top-level document navigation: fetch
// metadata says so, or, without fetch metadata, Accept asks for HTML.
func IsNavigation(r *http.Request) bool {
	mode := r.Header.Get("Sec-Fetch-Mode")
	dest := r.Header.Get("Sec-Fetch-Dest")
	if mode != "" || dest != "" {
		return mode == "navigate" || dest == "document"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// IsSpeculative reports whether a navigation is a speculative fetch of
// the document alone: a speculation-rules prefetch or prerender
// (Sec-Purpose: prefetch, prefetch;prerender), or the older link
// prefetches (Purpose: prefetch, X-Purpose: preview, X-Moz: prefetch).
// A prefetch fetches no subresources; a prerender does so later, on its
// own schedule.
func IsSpeculative(r *http.Request) bool {
	for _, name := range [...]string{"Sec-Purpose", "Purpose", "X-Purpose", "X-Moz"} {
		for _, v := range r.Header[name] {
			for item := range strings.SplitSeq(v, ",") {
				token, _, _ := strings.Cut(item, ";")
				switch strings.ToLower(strings.TrimSpace(token)) {
				case "prefetch", "preview", "prerender":
					return true
				}
			}
		}
	}
	return false
}

// KnownHost reports whether a request's Host (host[:port]) names a
// listener that refuses other names against DNS rebinding: an IP address
// literal (which cannot be rebound), localhost, or one of names (case and
// a trailing dot aside).
func KnownHost(hostport string, names ...string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil || host == "localhost" {
		return true
	}
	for _, n := range names {
		if n != "" && strings.EqualFold(strings.TrimSuffix(n, "."), host) {
			return true
		}
	}
	return false
}
