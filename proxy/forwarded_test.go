package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/proxy"
)

func TestClientAddress(t *testing.T) {
	trusted, err := proxy.ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.1", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		header     http.Header
		want       string
	}{
		{"untrusted peer keeps its own address", "198.51.100.1:4000", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "198.51.100.1:4000"},
		{"trusted peer names the client", "10.1.1.1:4000", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7:0"},
		{"rightmost untrusted wins", "10.1.1.1:4000", http.Header{"X-Forwarded-For": {"6.6.6.6, 203.0.113.7, 10.9.9.9"}}, "203.0.113.7:0"},
		{"several fields", "192.0.2.1:4000", http.Header{"X-Forwarded-For": {"6.6.6.6", "203.0.113.7"}}, "203.0.113.7:0"},
		{"garbage stops the chain", "10.1.1.1:4000", http.Header{"X-Forwarded-For": {"203.0.113.7, nonsense, 10.2.2.2"}}, "10.2.2.2:0"},
		{"Forwarded without X-Forwarded-For", "10.1.1.1:4000", http.Header{"Forwarded": {`for="[2001:db8::7]:1234";proto=https`}}, "[2001:db8::7]:0"},
		{"trusted peer without fields", "10.1.1.1:4000", http.Header{}, "10.1.1.1:0"},
		{"IPv6 peer", "[fd00::1]:4000", http.Header{"X-Forwarded-For": {"2001:db8::9"}}, "[2001:db8::9]:0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := proxy.ClientAddress(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }), trusted)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr, r.Header = tc.peer, tc.header
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("RemoteAddr %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := proxy.ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad prefix was accepted")
	}
}

// echoForwarding is an origin that answers with the forwarding fields it got.
func echoForwarding(t *testing.T) string {
	return startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded"} {
			_, _ = io.WriteString(w, k+": "+r.Header.Get(k)+"\n")
		}
	}))
}

func TestProxy_TrustedProxies(t *testing.T) {
	logs, logger := capture()
	lb := netip.MustParsePrefix("127.0.0.1/32")
	s := startStack(t, echoForwarding(t), stackOptions{logger: logger, trusted: []netip.Prefix{lb}})
	lbHeaders := http.Header{"X-Forwarded-For": {"203.0.113.7"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"www.example.com"}}
	for _, proto := range []string{"h2", "h3"} {
		// From the balancer (127.0.0.1): its fields go on, this hop added.
		body := getWith(t, s.clientAt(t, proto, "127.0.0.1"), s, "/lb", lbHeaders)
		for _, want := range []string{"X-Forwarded-For: 203.0.113.7, 127.0.0.1\n", "X-Forwarded-Proto: https\n", "X-Forwarded-Host: www.example.com\n", "Forwarded: for=203.0.113.7;"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s via the trusted balancer: origin got\n%s\nwant %q", proto, body, want)
			}
		}
		// From anyone else: replaced.
		body = getWith(t, s.clientAt(t, proto, "127.2.0.1"), s, "/direct", lbHeaders)
		if !strings.Contains(body, "X-Forwarded-For: 127.2.0.1\n") || strings.Contains(body, "203.0.113.7") || strings.Contains(body, "www.example.com") {
			t.Errorf("%s from an untrusted client: origin got\n%s", proto, body)
		}
	}
	_ = s.stop(t)
	for _, l := range logLines(t, logs, "request") {
		want := "203.0.113.7"
		if l["path"] == "/direct" {
			want = "127.2.0.1"
		}
		if l["client"] != want {
			t.Errorf("access log client %v for %v, want %s", l["client"], l["path"], want)
		}
	}
}

// TestProxy_TrustedBalancerOverH2C: a balancer that terminates TLS and
// speaks cleartext HTTP/2 to --h2c-listen; the origin must see https, or an
// origin that redirects http to https loops forever.
func TestProxy_TrustedBalancerOverH2C(t *testing.T) {
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Forwarded-Proto") != "https" {
			http.Redirect(w, r, "https://www.example.com"+r.URL.Path, http.StatusMovedPermanently)
			return
		}
		_, _ = io.WriteString(w, "secure")
	}))
	s := startStack(t, origin, stackOptions{h2c: true, trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &p}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+s.srv.H2CAddr()+"/", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, res); res.StatusCode != http.StatusOK || body != "secure" {
		t.Errorf("through the balancer: %d %q, want the origin's page (no redirect loop)", res.StatusCode, body)
	}
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func getWith(t *testing.T, c *http.Client, s *stack, path string, hdr http.Header) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://"+s.srv.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, res)
}
