package earlyhints

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/earlyhints/earlyhints/hintstore"
)

// minBoundValue is the shortest request value that marks a link as bound
// to its request. Shorter values ("1", "en") match too much by chance to
// mean anything, and carry nothing a visitor could be harmed by.
const minBoundValue = 3

// maxRequestValues bounds the values collected from one request, so a
// request with thousands of query parameters costs no more than a few.
const maxRequestValues = 64

// requestValues returns the values of r that belong to its requester: the
// query values (except those of the parameters in the route key, which
// every requester of the route shares), cookie values, the credentials of
// Authorization and the URL's user information. A link whose URL carries
// one of them was built for this request and is never hinted to another.
func (h *Handler) requestValues(r *http.Request) []string {
	var vals []string
	add := func(v string) {
		if len(vals) >= maxRequestValues {
			return
		}
		v = strings.ToLower(strings.TrimSpace(v))
		if len(v) >= minBoundValue && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	if r.URL.RawQuery != "" {
		for k, vs := range r.URL.Query() {
			if _, inKey := slices.BinarySearch(h.cfg.QueryParams, k); inKey {
				continue
			}
			for _, v := range vs {
				add(v)
			}
		}
	}
	for _, c := range r.Cookies() {
		add(c.Value)
		if u, err := url.QueryUnescape(c.Value); err == nil && u != c.Value {
			add(u)
		}
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		_, cred, _ := strings.Cut(auth, " ")
		add(cred)
		if user, pass, ok := r.BasicAuth(); ok {
			add(user)
			add(pass)
		}
	}
	if ui := r.URL.User; ui != nil {
		add(ui.Username())
		if p, ok := ui.Password(); ok {
			add(p)
		}
	}
	return vals
}

// boundToRequest reports whether link carries one of vals, as a whole
// token of its URL: bounded on both sides by something other than a
// letter or digit, so "google" in a query does not match
// fonts.googleapis.com while "alice" matches /u/alice.css.
func boundToRequest(link hintstore.Link, vals []string) bool {
	if len(vals) == 0 {
		return false
	}
	raw := strings.ToLower(link.Target)
	dec := raw
	if u, err := url.PathUnescape(raw); err == nil {
		dec = u
	}
	for _, v := range vals {
		if containsToken(raw, v) || (dec != raw && containsToken(dec, v)) {
			return true
		}
	}
	return false
}

func containsToken(s, v string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], v)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(v)
		if (start == 0 || !isAlnum(s[start-1])) && (end == len(s) || !isAlnum(s[end])) {
			return true
		}
		i = start + 1
	}
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// requester identifies who produced a private response, as far as the
// proxy can tell a person: the client's network (a /24 for IPv4, a /48 for
// IPv6; r.RemoteAddr is the client once trusted proxies are accounted for)
// and, separately, the credentials it sent. The store counts two requesters
// as distinct only when both differ, so one browser rotating cookies from
// one network, or one login used from two networks, counts once. Both are
// keyed hashes: no address or credential is kept.
func (h *Handler) requester(r *http.Request) hintstore.Requester {
	return hintstore.Requester{
		Network: h.keyedHash("net\x00", clientNetwork(r.RemoteAddr)),
		Account: h.account(r),
	}
}

// account is the keyed hash of r's credentials, or "" without any.
func (h *Handler) account(r *http.Request) string {
	auth, cookie := r.Header.Get("Authorization"), r.Header.Values("Cookie")
	if auth == "" && len(cookie) == 0 {
		return ""
	}
	if auth != "" {
		return h.keyedHash("auth\x00", auth)
	}
	return h.keyedHash("cookie\x00", strings.Join(cookie, "; "))
}

func (h *Handler) keyedHash(kind, value string) string {
	m := hmac.New(sha256.New, h.identityKey)
	m.Write([]byte(kind))
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// clientNetwork returns the network prefix of a client address: /24 for
// IPv4 (and IPv4-mapped IPv6), /48 for IPv6. An address that does not
// parse is returned as it is.
func clientNetwork(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return host
	}
	return p.String()
}
