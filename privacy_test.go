package earlyhints

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/hintstore"
)

func TestBoundToRequest(t *testing.T) {
	routeParams := []string{"lang"}
	tests := []struct {
		name   string
		url    string
		header http.Header
		target string
		bound  bool
	}{
		{"query token in query", "https://a.test/welcome?token=ALICE", nil, "https://a.test/app.js?session=ALICE", true},
		{"query token in path", "https://a.test/welcome?token=ALICE", nil, "https://a.test/u/alice/app.css", true},
		{"escaped token", "https://a.test/p?t=a%20b%2Fc", nil, "https://a.test/x?q=a%20b%2Fc", true},
		{"shared file", "https://a.test/welcome?token=ALICE", nil, "https://a.test/app.css", false},
		{"substring of a word", "https://a.test/?utm_source=google", nil, "https://fonts.googleapis.com", false},
		{"short value", "https://a.test/?p=1", nil, "https://a.test/v1/app.1.js", false},
		{"route-key parameter", "https://a.test/?lang=french", nil, "https://a.test/french.css", false},
		{"cookie value", "https://a.test/me", http.Header{"Cookie": {"uid=bob42; theme=x"}}, "https://a.test/avatars/bob42.png", true},
		{"escaped cookie value", "https://a.test/me", http.Header{"Cookie": {"n=j%C3%BCrgen"}}, "https://a.test/u/jürgen.css", true},
		{"bearer token", "https://a.test/me", http.Header{"Authorization": {"Bearer tok-123456"}}, "https://a.test/x.js?k=tok-123456", true},
		{"basic user", "https://a.test/me", http.Header{"Authorization": {"Basic Y2Fyb2w6cHc="}}, "https://a.test/carol.css", true},
		{"no values", "https://a.test/", nil, "https://a.test/app.css", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.url, nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			if got := boundToRequest(hintstore.Link{Target: tc.target}, requestValues(r.URL, r.Header, routeParams)); got != tc.bound {
				t.Fatalf("boundToRequest(%s) = %v, want %v (values %q)", tc.target, got, tc.bound, requestValues(r.URL, r.Header, routeParams))
			}
		})
	}
}

func TestClientNetwork(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.17:443", "192.0.2.0/24"},
		{"192.0.2.200:1", "192.0.2.0/24"},
		{"[::ffff:192.0.2.9]:80", "192.0.2.0/24"},
		{"[2001:db8:1:2::5]:443", "2001:db8:1::/48"},
		{"[fe80::1%eth0]:443", "fe80::/48"},
		{"not an address", "not an address"},
	}
	for _, tc := range tests {
		if got := clientNetwork(tc.addr); got != tc.want {
			t.Errorf("clientNetwork(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestRequester_OnePersonIsOne(t *testing.T) {
	id := identity{key: []byte("k")}
	req := func(addr, cookie string) hintstore.Requester {
		r := httptest.NewRequest(http.MethodGet, "https://a.test/", nil)
		r.RemoteAddr = addr
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		return id.requester(clientNetwork(r.RemoteAddr), r.Header)
	}
	a1, a2, a3 := req("198.51.100.7:1", "a=1"), req("198.51.100.99:2", "a=2"), req("198.51.100.7:3", "")
	if a1.Distinct(a2) || a1.Distinct(a3) || a2.Distinct(a3) {
		t.Fatal("one network with rotating cookies counted as several requesters")
	}
	if roaming := req("203.0.113.5:1", "a=1"); a1.Distinct(roaming) {
		t.Fatal("one cookie from a second network counted as a second requester")
	}
	if other := req("203.0.113.5:1", "b=1"); !a1.Distinct(other) {
		t.Fatal("another network with other credentials is another requester")
	}
	if strings.Contains(a1.Network+a1.Account, "198.51") {
		t.Fatal("the requester keeps the address in clear")
	}
}

func TestVaryNames(t *testing.T) {
	tests := []struct {
		vary               []string
		names              string
		star, personal, ok bool
	}{
		{nil, "", false, false, true},
		{[]string{"Accept-Encoding"}, "", false, false, true},
		{[]string{"user-agent, Accept-Encoding", "Accept-Language"}, "Accept-Language,User-Agent", false, false, true},
		{[]string{"*"}, "", true, false, false},
		{[]string{"Cookie"}, "", false, true, true},
		{[]string{"bad header"}, "", false, false, false},
	}
	for _, tc := range tests {
		names, star, personal, ok := varyNames(http.Header{"Vary": tc.vary})
		if strings.Join(names, ",") != tc.names || star != tc.star || personal != tc.personal || ok != tc.ok {
			t.Errorf("varyNames(%q) = %q %v %v %v, want %q %v %v %v", tc.vary, names, star, personal, ok, tc.names, tc.star, tc.personal, tc.ok)
		}
	}
}

func TestVariantClass(t *testing.T) {
	class := func(hdr map[string]string, names ...string) string {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return variantClass(r.Header, names)
	}
	android := "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"
	desktop := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
	if a, b := class(map[string]string{"User-Agent": android}, "User-Agent"), class(map[string]string{"User-Agent": desktop}, "User-Agent"); a == b {
		t.Fatalf("mobile and desktop share the class %q", a)
	}
	if a, b := class(map[string]string{"User-Agent": desktop}, "User-Agent"), class(map[string]string{"User-Agent": strings.Replace(desktop, "131.0", "132.0", 1)}, "User-Agent"); a != b {
		t.Fatalf("two builds of one browser differ: %q %q", a, b)
	}
	if got := class(map[string]string{"User-Agent": desktop, "Sec-CH-UA-Mobile": "?1"}, "User-Agent"); !strings.Contains(got, "mobile") {
		t.Fatalf("Sec-CH-UA-Mobile ?1 not mobile: %q", got)
	}
	if a, b := class(map[string]string{"Accept-Language": "en-GB,en;q=0.8"}, "Accept-Language"), class(map[string]string{"Accept-Language": "en-US"}, "Accept-Language"); a != b {
		t.Fatalf("en-GB and en-US differ: %q %q", a, b)
	}
	if a, b := class(map[string]string{"X-Theme": "dark"}, "X-Theme"), class(map[string]string{"X-Theme": "light"}, "X-Theme"); a == b {
		t.Fatalf("two values of a header share %q", a)
	}
}

func TestNormalHost(t *testing.T) {
	tests := []struct{ host, scheme, want string }{
		{"Example.COM", "https", "example.com"},
		{"example.com.", "https", "example.com"},
		{"example.com:443", "https", "example.com"},
		{"example.com:80", "http", "example.com"},
		{"example.com:8443", "https", "example.com:8443"},
		{"EXAMPLE.com.:443", "https", "example.com"},
		{"[::1]:443", "https", "[::1]"},
		{"[::1]", "https", "[::1]"},
		{"example.com", "https", "example.com"},
	}
	for _, tc := range tests {
		if got := normalHost(tc.host, tc.scheme); got != tc.want {
			t.Errorf("normalHost(%q, %s) = %q, want %q", tc.host, tc.scheme, got, tc.want)
		}
	}
}

// TestRequester_FleetIdentity: with Config.Identity, requesters are hashed
// with the fleet's current key and carry its id, so a store can tell a
// hash made under a key the fleet has since replaced.
func TestRequester_FleetIdentity(t *testing.T) {
	cur, curID := []byte("fleet-1"), "id-1"
	id := identity{key: []byte("own"), current: func() ([]byte, string) { return cur, curID }}
	own := identity{key: []byte("own")}
	hdr := http.Header{"Cookie": {"s=1"}}
	a := id.requester("10.0.0.0/24", hdr)
	if a.Key != "id-1" || a == own.requester("10.0.0.0/24", hdr) {
		t.Fatalf("requester %+v: want the fleet key's hash and id", a)
	}
	cur, curID = []byte("fleet-2"), "id-2"
	b := id.requester("10.0.0.0/24", hdr)
	if b.Key != "id-2" || b.Network == a.Network || b.Account == a.Account {
		t.Errorf("after the fleet's key changed: %+v, before %+v", b, a)
	}
	cur, curID = nil, ""
	if c := id.requester("10.0.0.0/24", hdr); c != own.requester("10.0.0.0/24", hdr) {
		t.Errorf("without a fleet key: %+v, want the process's own key", c)
	}
}
