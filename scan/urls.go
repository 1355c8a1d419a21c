package scan

import (
	"net/url"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/text/encoding"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// Bounds on what one link may carry, so a hostile page cannot make the
// result (and the Link header built from it) large.
const (
	maxURLBytes    = 2048
	maxParamBytes  = 1024
	maxSrcsetBytes = 4096
	maxSrcsetItems = 32
)

// resolver turns attribute values into absolute, ASCII-only URLs the way a
// browser does: whitespace stripped, resolved against the base, fragment
// dropped, host in punycode, path percent-encoded as UTF-8 and query
// percent-encoded in the document's encoding.
type resolver struct {
	base *url.URL
	fb   fastBase
	enc  encoding.Encoding // nil for UTF-8
}

func newResolver(base *url.URL, enc encoding.Encoding) resolver {
	return resolver{base: base, fb: newFastBase(base), enc: enc}
}

// resolve returns the absolute form of raw, or ok=false when a browser
// would not fetch it over HTTP (data:, javascript:, blob:, unparsable...).
func (r *resolver) resolve(raw []byte) (u *url.URL, ok bool) {
	s := cleanURL(raw)
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i] // hints never carry fragments; browsers accept any text there
	}
	if s == "" || len(s) > maxURLBytes {
		return nil, false
	}
	ref, err := url.Parse(s)
	if err != nil {
		return nil, false
	}
	if r.base != nil {
		ref = r.base.ResolveReference(ref)
	}
	switch strings.ToLower(ref.Scheme) {
	case "http", "https":
		ref.Scheme = strings.ToLower(ref.Scheme)
		if ref.Host == "" {
			return nil, false
		}
	case "":
		// Without a base, "//" keeps an authority with no host: the
		// reference names nothing and would be written as an empty URI.
		if ref.Opaque != "" || ref.Host == "" && strings.HasPrefix(s, "//") {
			return nil, false
		}
	default:
		return nil, false
	}
	ref.Fragment, ref.RawFragment = "", ""
	ref.User = nil // credentials in a hint would leak them to every visitor
	if ref.Host != "" {
		host, ok := asciiHost(ref.Host)
		if !ok || !validHost(host) {
			return nil, false
		}
		ref.Host = host
	}
	ref.RawQuery = r.encodeQuery(ref.RawQuery)
	return ref, true
}

// resolveString returns the absolute form of raw and its origin. It takes
// a fast path for the plain URLs that make up nearly every page, and
// resolve for the rest; FuzzResolveFastPath checks that both agree.
func (r *resolver) resolveString(raw []byte) (uri, org string, ok bool) {
	if uri, org, ok := r.fast(raw); ok {
		return uri, org, true
	}
	return r.resolveSlow(raw)
}

func (r *resolver) resolveSlow(raw []byte) (uri, org string, ok bool) {
	u, ok := r.resolve(raw)
	if !ok {
		return "", "", false
	}
	s := u.String()
	if len(s) > maxURLBytes {
		return "", "", false
	}
	return s, origin(u), true
}

// cleanURL strips leading and trailing ASCII whitespace and removes tabs and
// newlines inside, as the URL parser of browsers does.
func cleanURL(raw []byte) string {
	start, end := 0, len(raw)
	for start < end && httpx.IsHTMLSpace(raw[start]) {
		start++
	}
	for end > start && httpx.IsHTMLSpace(raw[end-1]) {
		end--
	}
	raw = raw[start:end]
	clean := true
	for _, c := range raw {
		if c == '\t' || c == '\n' || c == '\r' {
			clean = false
			break
		}
	}
	if clean {
		return string(raw)
	}
	b := make([]byte, 0, len(raw))
	for _, c := range raw {
		if c != '\t' && c != '\n' && c != '\r' {
			b = append(b, c)
		}
	}
	return string(b)
}

// asciiHost lower-cases host and converts an internationalised name to
// punycode, as browsers do before connecting.
func asciiHost(host string) (string, bool) {
	ascii := true
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(host), true
	}
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		name, port = host[:i], host[i:]
	}
	a, err := idna.Lookup.ToASCII(name)
	if err != nil || a == "" {
		return "", false
	}
	return a + port, true
}

// validHost rejects the code points the URL standard forbids in a host
// (Go's parser lets some through).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c <= ' ', c >= 0x7f:
			return false
		case strings.IndexByte("#/<>?@\\^|\"`{}%", c) >= 0:
			return false
		}
	}
	return true
}

// encodeQuery percent-encodes what a browser would: the query's characters
// in the document's encoding (characters it cannot represent as HTML
// numeric references), then every byte that is not printable ASCII.
func (r *resolver) encodeQuery(q string) string {
	needs := false
	for i := 0; i < len(q); i++ {
		if queryByteNeedsEscape(q[i]) {
			needs = true
			break
		}
	}
	if !needs {
		return q
	}
	if r.enc != nil {
		if e, err := r.enc.NewEncoder().String(q); err == nil {
			q = e
		}
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(q) + 16)
	for i := 0; i < len(q); i++ {
		c := q[i]
		if queryByteNeedsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func queryByteNeedsEscape(c byte) bool {
	return c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\'' || c == '`'
}

// origin is scheme://host of u without a default port, or "" for a
// relative URL.
func origin(u *url.URL) string {
	if u == nil || u.Host == "" || u.Scheme == "" {
		return ""
	}
	host := u.Host
	switch {
	case u.Scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case u.Scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return u.Scheme + "://" + strings.ToLower(host)
}

// resolveImage resolves the URL of an image, and its srcset when it has
// one (useSrcset): a browser picks from the srcset, so an unusable src
// falls back to the srcset's first candidate.
func (r *resolver) resolveImage(src, srcset []byte, useSrcset bool) (uri, org, set string, ok bool) {
	var first string
	if useSrcset {
		set, first = r.resolveSrcset(srcset)
	}
	uri, org, ok = r.resolveString(src)
	if !ok {
		if first == "" {
			return "", "", "", false
		}
		uri, org, _ = r.resolveString([]byte(first))
	}
	return uri, org, set, true
}

// resolveSrcset rewrites a srcset with absolute URLs, so that a Link header
// (resolved against the request URL, not <base>) means the same images.
// Candidates that do not resolve are dropped; first is the first URL kept.
func (r *resolver) resolveSrcset(srcset []byte) (out, first string) {
	var b strings.Builder
	s := srcset
	for items := 0; len(s) > 0 && items < maxSrcsetItems; {
		for len(s) > 0 && (httpx.IsHTMLSpace(s[0]) || s[0] == ',') {
			s = s[1:]
		}
		if len(s) == 0 {
			break
		}
		i := 0
		for i < len(s) && !httpx.IsHTMLSpace(s[i]) {
			i++
		}
		rawURL := s[:i]
		s = s[i:]
		var desc []byte
		if n := len(rawURL); n > 0 && rawURL[n-1] == ',' {
			for len(rawURL) > 0 && rawURL[len(rawURL)-1] == ',' {
				rawURL = rawURL[:len(rawURL)-1]
			}
		} else {
			// Descriptors run to the next comma outside parentheses.
			depth, j := 0, 0
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' && depth > 0 {
					depth--
				} else if s[j] == ',' && depth == 0 {
					break
				}
			}
			desc = s[:j]
			s = s[j:]
		}
		abs, _, ok := r.resolveString(rawURL)
		if !ok {
			continue
		}
		items++
		if first == "" {
			first = abs
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(abs)
		if d := cleanParam(desc); d != "" {
			b.WriteByte(' ')
			b.WriteString(d)
		}
		if b.Len() > maxSrcsetBytes {
			return "", first
		}
	}
	return b.String(), first
}

// cleanParam makes an attribute value safe and compact as a Link parameter:
// whitespace runs become one space, control characters go, and an
// oversized value is dropped (a truncated media query or hash would be
// wrong, not shorter).
func cleanParam(v []byte) string {
	if len(v) > maxParamBytes {
		return ""
	}
	simple := true
	for i, c := range v {
		if c < 0x20 || c == 0x7f || (c == ' ' && (i == 0 || i == len(v)-1 || v[i-1] == ' ')) {
			simple = false
			break
		}
	}
	if simple {
		return string(v)
	}
	b := make([]byte, 0, len(v))
	space := false
	for _, c := range v {
		switch {
		case httpx.IsHTMLSpace(c):
			space = len(b) > 0
		case c < 0x20 || c == 0x7f:
		default:
			if space {
				b = append(b, ' ')
				space = false
			}
			b = append(b, c)
		}
	}
	return string(b)
}
