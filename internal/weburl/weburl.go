// Package weburl is the one URL canonicaliser of the product: it resolves
// references the way browsers do (WHATWG URL rules for http and https) and
// writes them in the form a browser requests, so that what the scanner
// finds, what learning stores, what a 103 carries, what push promises and
// what the inspector checks are the same bytes as the page's own requests.
package weburl

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

// URL is a URL resolved the way a browser resolves it, in canonical form:
// the string a browser requests, so hints match the page's own requests
// byte for byte.
type URL struct {
	Scheme string // "http" or "https"
	Host   string // lower-case ASCII; an IPv6 address in brackets
	Port   string // "" for the scheme's default port
	Rest   string // path (starting with '/') and query
}

// Origin is scheme://host[:port], the port only when it is not the
// scheme's default.
func (t *URL) Origin() string {
	if t.Port == "" {
		return t.Scheme + "://" + t.Host
	}
	return t.Scheme + "://" + t.Host + ":" + t.Port
}

func (t *URL) String() string {
	var buf [256]byte
	return string(t.AppendTo(buf[:0]))
}

// AppendTo appends the URL to dst; its origin is all but the last
// len(t.Rest) bytes.
func (t *URL) AppendTo(dst []byte) []byte {
	dst = append(dst, t.Scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, t.Host...)
	if t.Port != "" {
		dst = append(dst, ':')
		dst = append(dst, t.Port...)
	}
	return append(dst, t.Rest...)
}

// SameOrigin reports whether t and o share scheme, host and port.
func (t *URL) SameOrigin(o *URL) bool {
	return t.Scheme == o.Scheme && t.Host == o.Host && t.Port == o.Port
}

// Split returns the parts of abs, an absolute URL in the canonical form
// Resolve and AppendResolveWithoutCredentials write (the scanner's
// output), without resolving it again or copying. ok is false when abs
// does not have that shape; Resolve it then.
func Split(abs string) (u URL, ok bool) {
	switch {
	case strings.HasPrefix(abs, "https://"):
		u.Scheme, abs = "https", abs[len("https://"):]
	case strings.HasPrefix(abs, "http://"):
		u.Scheme, abs = "http", abs[len("http://"):]
	default:
		return URL{}, false
	}
	end := strings.IndexByte(abs, '/')
	if end <= 0 {
		return URL{}, false
	}
	u.Host, u.Rest = abs[:end], abs[end:]
	if i := strings.LastIndexByte(u.Host, ':'); i >= 0 && !strings.Contains(u.Host[i:], "]") {
		u.Host, u.Port = u.Host[:i], u.Host[i+1:]
	}
	return u, u.Host != ""
}

// FromURL returns the canonical form of an absolute http(s) URL parsed
// by net/url, such as a request's: the base to resolve a page's
// references against. It fails with ErrScheme for any other URL.
func FromURL(page *url.URL) (URL, error) {
	u, err := OriginOf(page)
	if err != nil {
		return URL{}, err
	}
	rest := page.EscapedPath()
	if rest == "" || rest[0] != '/' {
		rest = "/" + rest
	}
	if page.RawQuery != "" {
		rest += "?" + page.RawQuery
	}
	u.Rest = rest
	return u, nil
}

// OriginOf is FromURL without the path and query (Rest stays empty): all
// that a same-origin test needs.
func OriginOf(page *url.URL) (URL, error) {
	scheme := strings.ToLower(page.Scheme)
	if scheme != "http" && scheme != "https" || page.Opaque != "" {
		return URL{}, ErrScheme
	}
	host, port, err := splitAuthority(page.Host, scheme)
	if err != nil {
		return URL{}, err
	}
	return URL{Scheme: scheme, Host: host, Port: port}, nil
}

// Reasons a reference does not resolve.
var (
	ErrScheme      = errors.New("only http and https targets can be hinted")
	ErrCredentials = errors.New("credentials in a URL; browsers refuse such subresources")
	ErrHost        = errors.New("invalid host")
	ErrPort        = errors.New("invalid port")
	ErrControlChar = errors.New("control character")
	ErrEscape      = errors.New("invalid percent-escape in the path")
)

// Resolve resolves ref against base; with a nil base ref must be absolute.
// The fragment is dropped. A reference with credentials fails with
// ErrCredentials.
func Resolve(ref string, base *URL) (URL, error) { return resolve(ref, base, false) }

// ResolveWithoutCredentials is Resolve for a reference that names a
// resource whatever credentials it carries: they are dropped rather than
// failing, and never written, so they cannot leak to other visitors.
func ResolveWithoutCredentials(ref string, base *URL) (URL, error) {
	return resolve(ref, base, true)
}

// AppendResolveWithoutCredentials appends what ResolveWithoutCredentials
// gives as a string, without allocating; the origin is out[:originEnd].
func AppendResolveWithoutCredentials(dst []byte, ref string, base *URL) (out []byte, originEnd int, err error) {
	t, dir, rest, err := split(ref, base, true)
	if err != nil {
		return dst, 0, err
	}
	dst = t.AppendTo(dst)
	originEnd = len(dst)
	dst, err = appendRest(dst, dir, rest)
	return dst, originEnd, err
}

func resolve(ref string, base *URL, dropCredentials bool) (URL, error) {
	t, dir, rest, err := split(ref, base, dropCredentials)
	if err != nil {
		return URL{}, err
	}
	var buf [256]byte
	b, err := appendRest(buf[:0], dir, rest)
	switch {
	case err != nil:
		return URL{}, err
	case dir == "" && string(b) == rest:
		t.Rest = rest // already canonical: no allocation
	default:
		t.Rest = string(b)
	}
	return t, nil
}

// split resolves the scheme and authority of ref, and returns the path
// and query still to canonicalise: dir followed by rest, where dir (from
// the base) is empty, a whole path, or a directory ending in a slash.
func split(ref string, base *URL, dropCredentials bool) (t URL, dir, rest string, err error) {
	ref = strings.Trim(ref, " \t\n\r\f")
	if httpx.HasControl(ref) {
		return URL{}, "", "", ErrControlChar
	}
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	hasAuthority := false
	if scheme, after, ok := cutScheme(ref); ok {
		scheme = strings.ToLower(scheme)
		if scheme != "http" && scheme != "https" {
			return URL{}, "", "", ErrScheme
		}
		if base != nil && scheme == base.Scheme && !startsWithSlash(after) {
			// "https:a.css" on an https page is relative (WHATWG).
			ref = after
		} else {
			t.Scheme, ref, hasAuthority = scheme, strings.TrimLeft(after, "/\\"), true
		}
	}
	if !hasAuthority && len(ref) >= 2 && isSlash(ref[0]) && isSlash(ref[1]) {
		if base == nil {
			return URL{}, "", "", ErrScheme
		}
		t.Scheme, ref, hasAuthority = base.Scheme, strings.TrimLeft(ref, "/\\"), true
	}
	switch {
	case hasAuthority:
		end := strings.IndexAny(ref, "/\\?")
		if end < 0 {
			end = len(ref)
		}
		auth := ref[:end]
		if i := strings.LastIndexByte(auth, '@'); i >= 0 && dropCredentials {
			auth = auth[i+1:]
		}
		if t.Host, t.Port, err = splitAuthority(auth, t.Scheme); err != nil {
			return URL{}, "", "", err
		}
		ref = ref[end:]
		if ref == "" || ref[0] == '?' {
			dir = "/"
		}
	case base == nil:
		return URL{}, "", "", ErrScheme
	default:
		t.Scheme, t.Host, t.Port = base.Scheme, base.Host, base.Port
		basePath, _, _ := strings.Cut(base.Rest, "?")
		switch {
		case ref == "":
			ref = base.Rest
		case isSlash(ref[0]):
		case ref[0] == '?':
			dir = basePath
		default:
			dir = basePath[:strings.LastIndexByte(basePath, '/')+1]
		}
	}
	return t, dir, ref, nil
}

// appendRest appends the canonical form of the path and query dir+rest.
func appendRest(dst []byte, dir, rest string) ([]byte, error) {
	path, query, hasQuery := strings.Cut(rest, "?")
	if !validEscapes(path) {
		// A browser would send it as written, but no HTTP server built on
		// a URL parser (Go's among them) accepts the request line.
		return dst, ErrEscape
	}
	dst = appendPath(dst, dir, path)
	if hasQuery {
		dst = append(dst, '?')
		dst = appendEscaped(dst, query, queryEscapes)
	}
	return dst, nil
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

// Relative returns a reference that has neither scheme nor authority in
// the form Resolve writes paths and queries, for a document that has no
// URL to resolve it against: escaped as a browser would, its dot segments
// kept (they mean something only against a base). ok is false for any
// other reference, which needs Resolve.
func Relative(ref string) (rel string, ok bool, err error) {
	ref = strings.Trim(ref, " \t\n\r\f")
	if _, _, abs := cutScheme(ref); abs || startsWithSlash(ref) && len(ref) > 1 && isSlash(ref[1]) {
		return "", false, nil
	}
	if httpx.HasControl(ref) {
		return "", true, ErrControlChar
	}
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	path, query, hasQuery := strings.Cut(ref, "?")
	if !validEscapes(path) {
		return "", true, ErrEscape
	}
	var buf [256]byte
	b := appendEscaped(buf[:0], path, pathEscapes)
	for i, c := range b {
		if c == '\\' {
			b[i] = '/' // as Resolve reads it
		}
	}
	if hasQuery {
		b = append(b, '?')
		b = appendEscaped(b, query, queryEscapes)
	}
	if string(b) == ref {
		return ref, true, nil
	}
	return string(b), true, nil
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

// appendPath appends the path dir+path (dir is empty, a whole path, or a
// directory ending in a slash with path relative to it) with dot segments
// removed, backslashes read as slashes, and the bytes a browser
// percent-encodes in a path encoded.
func appendPath(dst []byte, dir, path string) []byte {
	start := len(dst)
	switch {
	case dir == "":
		dst = appendSegments(dst, start, path, false, true)
	case path == "":
		dst = appendSegments(dst, start, dir, false, true)
	default:
		dst = appendSegments(dst, start, dir[:len(dir)-1], false, false)
		dst = appendSegments(dst, start, path, true, true)
	}
	if len(dst) == start {
		dst = append(dst, '/')
	}
	return dst
}

// appendSegments appends the segments of path, each after a slash (the
// first one's implied when implied is set); the last is the path's last
// only when final is set. A ".." removes what was appended since start.
func appendSegments(dst []byte, start int, path string, implied, final bool) []byte {
	for implied || path != "" {
		if !implied {
			path = path[1:] // the slash
		}
		implied = false
		end := strings.IndexAny(path, "/\\")
		last := end < 0 && final
		if end < 0 {
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
		case seg == "." || len(seg) == 3 && strings.EqualFold(seg, "%2e"):
			if last {
				dst = append(dst, '/')
			}
		default:
			dst = append(dst, '/')
			dst = appendEscaped(dst, seg, pathEscapes)
		}
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
	if len(s) < 2 || len(s) > 6 || s[0] != '.' && s[0] != '%' {
		return false // the common segment, decided without lower-casing it
	}
	switch strings.ToLower(s) {
	case "..", ".%2e", "%2e.", "%2e%2e":
		return true
	}
	return false
}

// What a browser percent-encodes besides controls, space and non-ASCII
// bytes (the WHATWG path and special-query percent-encode sets), as tables:
// appendEscaped looks up every byte of every URL.
var (
	pathEscapes  = escapeSet("\"<>`{}?")
	queryEscapes = escapeSet("\"#'<>")
)

type byteSet [256]bool

func escapeSet(extra string) *byteSet {
	var set byteSet
	for c := range set {
		set[c] = c <= ' ' || c >= 0x7f || strings.IndexByte(extra, byte(c)) >= 0
	}
	return &set
}

// appendEscaped percent-encodes the bytes of s in set; existing escapes
// are kept as written.
func appendEscaped(dst []byte, s string, set *byteSet) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if set[c] {
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
		return "", "", ErrCredentials
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
				return "", "", ErrPort
			}
			n = n*10 + int(port[i]-'0')
		}
		switch {
		case n > 65535:
			return "", "", ErrPort
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
		return "", ErrHost
	}
	if h[0] == '[' {
		if h[len(h)-1] != ']' {
			return "", ErrHost
		}
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", ErrHost
		}
		return "[" + a.String() + "]", nil
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(h)
			if err != nil {
				return "", ErrHost
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
			return "", ErrHost
		}
	}
	if labels == "" || labels[len(labels)-1] == '.' {
		return "", ErrHost
	}
	if last := labels[strings.LastIndexByte(labels, '.')+1:]; last[0] >= '0' && last[0] <= '9' {
		// WHATWG reads a host ending in a number as IPv4; accept only
		// the dotted-decimal form, which means the same everywhere.
		if a, err := netip.ParseAddr(labels); err != nil || !a.Is4() {
			return "", ErrHost
		}
	}
	return h, nil
}

// isHostChar reports whether c may appear in a lowercased ASCII host name.
func isHostChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// IsIP reports whether a canonical host is an IP address: canonicalHost
// lets through only bracketed IPv6 and dotted-decimal IPv4 hosts whose last
// label starts with a digit.
func IsIP(host string) bool {
	if host == "" {
		return false
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	return host[0] == '[' || last != "" && last[0] >= '0' && last[0] <= '9'
}

// IsLoopback reports hosts browsers treat as potentially trustworthy
// without TLS.
func IsLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if !IsIP(host) {
		return false
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

// SameSite compares registrable domains (the Fetch "same site" check
// without schemes); IP addresses and single-label hosts such as localhost
// compare exactly. Hosts are canonical (lower case, ASCII).
func SameSite(a, b string) bool {
	a, b = strings.TrimSuffix(a, "."), strings.TrimSuffix(b, ".")
	if a == b {
		return true
	}
	if IsIP(a) || IsIP(b) || !strings.Contains(a, ".") || !strings.Contains(b, ".") {
		return false
	}
	sa, err1 := publicsuffix.EffectiveTLDPlusOne(a)
	sb, err2 := publicsuffix.EffectiveTLDPlusOne(b)
	return err1 == nil && err2 == nil && sa == sb
}
