package scan

import (
	"net/url"
	"strings"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// fastBase is what the fast path needs from the base URL, precomputed: its
// scheme://host prefix and the directory of its path. Empty prefix means
// the base is unusual and every URL takes the slow path.
type fastBase struct {
	prefix string // "https://example.com"
	dir    string // "/guide/" for "/guide/api.html"
}

func newFastBase(u *url.URL) fastBase {
	if u == nil {
		return fastBase{}
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Opaque != "" ||
		!plainHost(u.Host) || !plainPath(u.EscapedPath()) {
		return fastBase{}
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return fastBase{prefix: u.Scheme + "://" + u.Host, dir: p[:strings.LastIndexByte(p, '/')+1]}
}

// plainHost accepts lower-case DNS names without a port or userinfo: what
// the fast path can copy as is.
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// plainPath accepts paths without dot segments whose bytes the URL
// serialiser leaves alone.
func plainPath(p string) bool {
	if strings.Contains(p, "/.") || strings.HasPrefix(p, ".") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !plainURLByte(p[i]) || p[i] == '?' {
			return false
		}
		if p[i] == '%' && (i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2])) {
			return false
		}
	}
	return true
}

func plainURLByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '/', '?', '=', '&', '%', '+', ',', ';', ':', '@', '!', '$', '*':
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// fast resolves the common shapes of URL without allocating more than the
// result: "https://host/path?query", "/path?query" and "path?query", made
// of bytes that need no escaping and free of dot segments. Anything else
// returns ok=false and takes the general path.
func (r *resolver) fast(raw []byte) (uri, org string, ok bool) {
	if len(raw) == 0 || len(raw) > maxURLBytes || httpx.IsHTMLSpace(raw[0]) || httpx.IsHTMLSpace(raw[len(raw)-1]) {
		return "", "", false
	}
	// Drop the fragment, and stop at anything unusual.
	end := len(raw)
	for i, c := range raw {
		if c == '#' {
			end = i
			break
		}
		if !plainURLByte(c) {
			return "", "", false
		}
		if c == '%' && (i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2])) {
			return "", "", false
		}
	}
	s := raw[:end]
	q := len(s)
	for i, c := range s {
		if c == '?' {
			q = i
			break
		}
	}
	path := s[:q]
	if hasDotSegment(path) {
		return "", "", false
	}
	switch {
	case hasPrefix(s, "https://") || hasPrefix(s, "http://"):
		hostStart := len("http://")
		if s[4] == 's' {
			hostStart++
		}
		hostEnd := hostStart
		for hostEnd < q && s[hostEnd] != '/' {
			hostEnd++
		}
		if hostEnd == q || !plainHost(string(s[hostStart:hostEnd])) {
			return "", "", false // no path, a port, userinfo or upper case: let url do it
		}
		uri = string(s)
		return uri, uri[:hostEnd], true
	case len(path) > 0 && path[0] == '/':
		if len(path) > 1 && path[1] == '/' {
			return "", "", false // scheme-relative
		}
		if r.base == nil {
			return string(s), "", true
		}
		if r.fb.prefix == "" {
			return "", "", false
		}
		if len(r.fb.prefix)+len(s) > maxURLBytes {
			return "", "", false
		}
		return r.fb.prefix + string(s), r.fb.prefix, true
	case len(path) > 0 && path[0] != '.' && path[0] != '?':
		for _, c := range path {
			if c == ':' {
				return "", "", false // a scheme, or a path a browser would read as one
			}
			if c == '/' {
				break
			}
		}
		if r.base == nil {
			return string(s), "", true
		}
		if r.fb.prefix == "" {
			return "", "", false
		}
		if len(r.fb.prefix)+len(r.fb.dir)+len(s) > maxURLBytes {
			return "", "", false
		}
		return r.fb.prefix + r.fb.dir + string(s), r.fb.prefix, true
	}
	return "", "", false
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// hasDotSegment reports "." or ".." path segments, which resolution removes.
func hasDotSegment(p []byte) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '.' && (i == 0 || p[i-1] == '/') {
			j := i + 1
			if j < len(p) && p[j] == '.' {
				j++
			}
			if j == len(p) || p[j] == '/' {
				return true
			}
		}
	}
	return false
}
