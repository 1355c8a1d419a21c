package proxy_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestProxy_H2COrigin forwards to an origin over cleartext HTTP/2 (h2c://),
// and the origin's 103 comes through it.
func TestProxy_H2COrigin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	origin := &http.Server{Protocols: &protos, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</static/h2c.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "origin spoke "+r.Proto)
	})}
	go func() { _ = origin.Serve(ln) }()
	t.Cleanup(func() { _ = origin.Close() })

	s := startStack(t, "h2c://"+ln.Addr().String(), stackOptions{})
	v := navigate(t, s.client(t, "h2"), s, "", "/")
	if v.res.StatusCode != http.StatusOK || v.body != "origin spoke HTTP/2.0" {
		t.Fatalf("status %d body %q, want the origin's answer over HTTP/2", v.res.StatusCode, v.body)
	}
	if len(v.interim) != 1 || !strings.Contains(v.interim[0].header.Get("Link"), "/static/h2c.css") {
		t.Errorf("interim responses %+v, want the origin's 103", v.interim)
	}
}
