package earlyhints

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// target is a URL resolved the way a browser resolves it (WHATWG URL rules
// for http and https), in canonical form: the string a browser requests,
// so hints match the page's own requests byte for byte.
type target struct {
	scheme string // "http" or "https"
	host   string // lower-case ASCII; an IPv6 address in brackets
	port   string // "" for the scheme's default port
	rest   string // path (starting with '/') and query
}

func (t *target) origin() string {
	if t.port == "" {
		return t.scheme + "://" + t.host
	}
	return t.scheme + "://" + t.host + ":" + t.port
}

func (t *target) String() string {
	var buf [256]byte
	b := append(buf[:0], t.scheme...)
	b = append(b, "://"...)
	b = append(b, t.host...)
	if t.port != "" {
		b = append(b, ':')
		b = append(b, t.port...)
	}
	return string(append(b, t.rest...))
}

func (t *target) sameOrigin(o *target) bool {
	return t.scheme == o.scheme && t.host == o.host && t.port == o.port
}

// baseOf returns the canonical base for page.
func baseOf(page *url.URL) (target, error) {
	if page == nil {
		return target{}, fmt.Errorf("%w: no page URL to resolve against", ErrBadTarget)
	}
	scheme := strings.ToLower(page.Scheme)
	if scheme != "http" && scheme != "https" || page.Opaque != "" {
		return target{}, fmt.Errorf("%w: page URL %q is not an absolute http(s) URL", ErrBadTarget, page.Redacted())
	}
	host, port, err := splitAuthority(page.Host, scheme)
	if err != nil {
		return target{}, fmt.Errorf("%w: page URL %q: %w", ErrBadTarget, page.Redacted(), err)
	}
	rest := page.EscapedPath()
	if rest == "" || rest[0] != '/' {
		rest = "/" + rest
	}
	if page.RawQuery != "" {
		rest += "?" + page.RawQuery
	}
	return target{scheme: scheme, host: host, port: port, rest: rest}, nil
}

var (
	errScheme      = errors.New("only http and https targets can be hinted")
	errCredentials = errors.New("credentials in a URL; browsers refuse such subresources")
	errHost        = errors.New("invalid host")
	errPort        = errors.New("invalid port")
	errControlChar = errors.New("control character")
	errEscape      = errors.New("invalid percent-escape in the path")
)

// resolve resolves ref against base; with a nil base ref must be absolute.
// The fragment is dropped.
func resolve(ref string, base *target) (target, error) {
	ref = strings.Trim(ref, " \t\n\r\f")
	if httpx.HasControl(ref) {
		return target{}, errControlChar
	}
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	var t target
	if scheme, rest, ok := cutScheme(ref); ok {
		scheme = strings.ToLower(scheme)
		if scheme != "http" && scheme != "https" {
			return target{}, errScheme
		}
		if base != nil && scheme == base.scheme && !startsWithSlash(rest) {
			// "https:a.css" on an https page is relative (WHATWG).
			ref = rest
		} else {
			t.scheme, ref = scheme, "//"+strings.TrimLeft(rest, "/\\")
		}
	}
	switch {
	case len(ref) >= 2 && isSlash(ref[0]) && isSlash(ref[1]):
		if t.scheme == "" {
			if base == nil {
				return target{}, errScheme
			}
			t.scheme = base.scheme
		}
		ref = strings.TrimLeft(ref, "/\\")
		end := strings.IndexAny(ref, "/\\?")
		if end < 0 {
			end = len(ref)
		}
		var err error
		if t.host, t.port, err = splitAuthority(ref[:end], t.scheme); err != nil {
			return target{}, err
		}
		ref = ref[end:]
		if ref == "" || ref[0] == '?' {
			ref = "/" + ref
		}
	case base == nil:
		return target{}, errScheme
	default:
		t.scheme, t.host, t.port = base.scheme, base.host, base.port
		basePath, _, _ := strings.Cut(base.rest, "?")
		switch {
		case ref == "":
			ref = base.rest
		case isSlash(ref[0]):
		case ref[0] == '?':
			ref = basePath + ref
		default:
			ref = basePath[:strings.LastIndexByte(basePath, '/')+1] + ref
		}
	}
	path, query, hasQuery := strings.Cut(ref, "?")
	if !validEscapes(path) {
		// A browser would send it as written, but no HTTP server built on
		// a URL parser (Go's among them) accepts the request line.
		return target{}, errEscape
	}
	var buf [256]byte
	b := appendPath(buf[:0], path)
	if hasQuery {
		b = append(b, '?')
		b = appendEscaped(b, query, "\"#'<>")
	}
	if string(b) == ref {
		t.rest = ref // already canonical: no allocation
	} else {
		t.rest = string(b)
	}
	return t, nil
}

// validEscapes reports whether every '%' in s starts a two-digit hex escape.
func validEscapes(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0; i = strings.IndexByte(s, '%') {
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return false
		}
		s = s[i+3:]
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isSlash(c byte) bool { return c == '/' || c == '\\' }

func startsWithSlash(s string) bool { return s != "" && isSlash(s[0]) }

// cutScheme splits "scheme:rest" when ref starts with a URL scheme.
func cutScheme(ref string) (scheme, rest string, ok bool) {
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return ref[:i], ref[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// appendPath appends path (which starts with a slash) with dot segments
// removed, backslashes read as slashes, and the bytes a browser
// percent-encodes in a path encoded.
func appendPath(dst []byte, path string) []byte {
	start := len(dst)
	for path != "" {
		path = path[1:] // the slash
		end := strings.IndexAny(path, "/\\")
		last := end < 0
		if last {
			end = len(path)
		}
		seg := path[:end]
		path = path[end:]
		switch {
		case isDotDot(seg):
			if i := lastSlash(dst[start:]); i >= 0 {
				dst = dst[:start+i]
			}
			if last {
				dst = append(dst, '/')
			}
		case seg == "." || strings.EqualFold(seg, "%2e"):
			if last {
				dst = append(dst, '/')
			}
		default:
			dst = append(dst, '/')
			dst = appendEscaped(dst, seg, "\"<>`{}?")
		}
	}
	if len(dst) == start {
		dst = append(dst, '/')
	}
	return dst
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}

func isDotDot(s string) bool {
	switch strings.ToLower(s) {
	case "..", ".%2e", "%2e.", "%2e%2e":
		return true
	}
	return false
}

// appendEscaped percent-encodes controls, space, bytes beyond ASCII and
// those in set; existing escapes are kept as written.
func appendEscaped(dst []byte, s, set string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(set, c) >= 0 {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// splitAuthority validates host[:port] and returns it in canonical form.
func splitAuthority(auth, scheme string) (host, port string, err error) {
	if strings.ContainsRune(auth, '@') {
		return "", "", errCredentials
	}
	host = auth
	if i := strings.LastIndexByte(auth, ':'); i >= 0 && !strings.Contains(auth[i:], "]") {
		host, port = auth[:i], auth[i+1:]
	}
	if host, err = canonicalHost(host); err != nil {
		return "", "", err
	}
	if port != "" {
		n := 0
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' || n > 65535 {
				return "", "", errPort
			}
			n = n*10 + int(port[i]-'0')
		}
		switch {
		case n > 65535:
			return "", "", errPort
		case scheme == "https" && n == 443, scheme == "http" && n == 80:
			port = ""
		case port[0] == '0':
			port = fmt.Sprint(n)
		}
	}
	return host, port, nil
}

// canonicalHost lower-cases a DNS name (converting an internationalised
// one to ASCII) or canonicalises an IP address. It rejects what a browser
// would not resolve the same way, such as shortened IPv4 forms.
func canonicalHost(h string) (string, error) {
	if h == "" {
		return "", errHost
	}
	if h[0] == '[' {
		if h[len(h)-1] != ']' {
			return "", errHost
		}
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", errHost
		}
		return "[" + a.String() + "]", nil
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(h)
			if err != nil {
				return "", errHost
			}
			h = a
			break
		}
	}
	h = strings.ToLower(h)
	labels := strings.TrimSuffix(h, ".")
	for i := 0; i < len(labels); i++ {
		c := labels[i]
		if !isHostChar(c) || c == '.' && (i == 0 || labels[i-1] == '.') {
			return "", errHost
		}
	}
	if labels == "" || labels[len(labels)-1] == '.' {
		return "", errHost
	}
	if last := labels[strings.LastIndexByte(labels, '.')+1:]; last[0] >= '0' && last[0] <= '9' {
		// WHATWG reads a host ending in a number as IPv4; accept only
		// the dotted-decimal form, which means the same everywhere.
		if a, err := netip.ParseAddr(labels); err != nil || !a.Is4() {
			return "", errHost
		}
	}
	return h, nil
}

// isHostChar reports whether c may appear in a lowercased ASCII host name.
func isHostChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// isIP reports whether a canonical host is an IP address: canonicalHost
// lets through only bracketed IPv6 and dotted-decimal IPv4 hosts whose last
// label starts with a digit.
func isIP(host string) bool {
	if host == "" {
		return false
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	return host[0] == '[' || last != "" && last[0] >= '0' && last[0] <= '9'
}

// isLoopback reports hosts browsers treat as potentially trustworthy
// without TLS.
func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if !isIP(host) {
		return false
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

// sameSite compares registrable domains (the Fetch "same site" check
// without schemes); IP addresses and single-label hosts such as localhost
// compare exactly. Hosts are canonical (lower case, ASCII).
func sameSite(a, b string) bool {
	a, b = strings.TrimSuffix(a, "."), strings.TrimSuffix(b, ".")
	if a == b {
		return true
	}
	if isIP(a) || isIP(b) || !strings.Contains(a, ".") || !strings.Contains(b, ".") {
		return false
	}
	sa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	sb, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	return err1 == nil && err2 == nil && sa == sb
}
