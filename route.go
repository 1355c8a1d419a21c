package earlyhints

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/earlyhints/earlyhints/internal/weburl"
)

// The route and URL of a request, as the rest of the package names them.
// This file is the bottom of the package: it uses nothing else of it.

// routeKey is the key under which hints for r are stored (see
// Handler.RouteKey): routeHost, when set, stands for the request's host;
// params are the query parameters that belong to the key, sorted.
func routeKey(r *http.Request, routeHost string, params []string) string {
	scheme, host := requestAuthority(r)
	if routeHost != "" {
		host = routeHost
	} else {
		host = normalHost(host, scheme)
	}
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	if len(params) == 0 || r.URL.RawQuery == "" {
		return scheme + "://" + host + path
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(path)
	q := r.URL.Query()
	sep := byte('?')
	for _, p := range params {
		vs, ok := q[p]
		if !ok {
			continue
		}
		for _, v := range vs {
			b.WriteByte(sep)
			sep = '&'
			b.WriteString(p)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}

// RequestURL is the absolute URL the client asked for: the one URL of a
// request that learning, the 404/410 rule and push resolve against.
func RequestURL(r *http.Request) *url.URL {
	scheme, host := requestAuthority(r)
	return &url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
}

// canonicalURL is u as hint targets spell it (internal/weburl: lower-case
// host, no default port), which is how the store indexes what it hinted
// and how a browser writes the page in its Referer.
func canonicalURL(u *url.URL) string {
	if t, err := weburl.FromURL(u); err == nil {
		return t.String()
	}
	return u.String()
}

// requestAuthority is the scheme and host r was sent to, as RequestURL
// and the route key both take them.
func requestAuthority(r *http.Request) (scheme, host string) {
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host = r.Host
	if host == "" {
		host = r.URL.Host
	}
	return scheme, host
}

// normalHost returns the request's host as a route key spells it: lower
// case, without a trailing dot or the scheme's default port. It allocates
// only when the host needs changing.
func normalHost(host, scheme string) string {
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		name, port = host[:i], host[i+1:]
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	name = strings.TrimSuffix(name, ".")
	if port != "" {
		name += ":" + port
	}
	if name == host && !hasUpper(host) {
		return host
	}
	return strings.ToLower(name)
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
