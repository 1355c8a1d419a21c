package earlyhints

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/internal/httpx"
)

// minBoundValue is the shortest request value that marks a link as bound
// to its request. Shorter values ("1", "en") match too much by chance to
// mean anything, and carry nothing a visitor could be harmed by.
const minBoundValue = 3

// maxRequestValues bounds the values collected from one request, so a
// request with thousands of query parameters costs no more than a few.
const maxRequestValues = 64

// requestValues returns the values of a request (its URL u and header
// hdr) that belong to its requester: the query values (except those of
// routeParams, the sorted parameters of the route key, which every
// requester of the route shares), cookie values, the credentials of
// Authorization and the URL's user information. A link whose URL carries
// one of them was built for this request and is never hinted to another.
func requestValues(u *url.URL, hdr http.Header, routeParams []string) []string {
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
	if u.RawQuery != "" {
		for k, vs := range u.Query() {
			if _, inKey := slices.BinarySearch(routeParams, k); inKey {
				continue
			}
			for _, v := range vs {
				add(v)
			}
		}
	}
	// net/http's own parsers read the Cookie and Authorization fields, so
	// the values are the ones the origin saw.
	fields := http.Request{Header: hdr}
	for _, c := range fields.Cookies() {
		add(c.Value)
		if dec, err := url.QueryUnescape(c.Value); err == nil && dec != c.Value {
			add(dec)
		}
	}
	if auth := hdr.Get("Authorization"); auth != "" {
		_, cred, _ := strings.Cut(auth, " ")
		add(cred)
		if user, pass, ok := fields.BasicAuth(); ok {
			add(user)
			add(pass)
		}
	}
	if ui := u.User; ui != nil {
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

// identity is the key of the keyed hashes that identify requesters of
// private responses: Config.IdentityKey, or the fleet's current key when
// Config.Identity follows one that may change.
type identity struct {
	key     []byte
	current func() (key []byte, id string)
}

// now returns the key to hash with and its hintstore.KeyID ("" for a
// process's own key).
func (id identity) now() ([]byte, string) {
	if id.current != nil {
		if k, i := id.current(); len(k) > 0 {
			return k, i
		}
	}
	return id.key, ""
}

// requester identifies who produced a private response, as far as the
// proxy can tell a person: the client's network (see clientNetwork; the
// request's RemoteAddr is the client once trusted proxies are accounted
// for) and, separately, the credentials it sent in hdr. The store counts
// two requesters as distinct only when both differ, so one browser
// rotating cookies from one network, or one login used from two networks,
// counts once. Both are keyed hashes: no address or credential is kept.
func (id identity) requester(network string, hdr http.Header) hintstore.Requester {
	key, keyID := id.now()
	return hintstore.Requester{
		Network: keyedHash(key, "net\x00", network),
		Account: account(key, hdr),
		Key:     keyID,
	}
}

// account is the keyed hash of the credentials in hdr, or "" without any.
func account(key []byte, hdr http.Header) string {
	auth, cookie := hdr.Get("Authorization"), hdr.Values("Cookie")
	if auth == "" && len(cookie) == 0 {
		return ""
	}
	if auth != "" {
		return keyedHash(key, "auth\x00", auth)
	}
	return keyedHash(key, "cookie\x00", strings.Join(cookie, "; "))
}

func keyedHash(key []byte, kind, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// IsPrivate reports whether a response, with header resp, to a request
// with header req is personal to its requester: the request carried
// credentials, or the response sets a cookie or forbids shared caching.
// Such a response's links are hinted only once Config.PrivateQuorum
// distinct requesters produced them.
func IsPrivate(req, resp http.Header) bool {
	if req.Get("Authorization") != "" || req.Get("Cookie") != "" || resp.Get("Set-Cookie") != "" {
		return true
	}
	cc := httpx.ParseCacheControl(resp)
	return cc.Private || cc.NoStore
}
