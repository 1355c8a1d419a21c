package proxy_test

import (
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/earlyhints/earlyhints/proxy"
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

// TestProxy_HTTP2ToHTTPSOrigins: an https origin is spoken to over HTTP/2
// (ALPN), so concurrent requests share a few connections instead of one
// each.
func TestProxy_HTTP2ToHTTPSOrigins(t *testing.T) {
	var (
		mu    sync.Mutex
		conns int
		h1    int
	)
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			mu.Lock()
			h1++
			mu.Unlock()
		}
		_, _ = io.WriteString(w, "ok")
	}))
	o.EnableHTTP2 = true
	o.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	o.StartTLS()
	t.Cleanup(o.Close)
	u, _ := url.Parse(o.URL)
	pool := x509.NewCertPool()
	pool.AddCert(o.Certificate())
	p, err := proxy.New(proxy.WithOriginRootCAs(proxy.Config{Default: u, Logger: discardLogger()}, pool))
	if err != nil {
		t.Fatal(err)
	}
	// One request opens the connection; then 200 at once share it.
	first := httptest.NewRecorder()
	p.ServeHTTP(first, httptest.NewRequest(http.MethodGet, "/", nil))
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if h1 != 0 || conns != 1 {
		t.Errorf("201 requests: %d over HTTP/1.1, %d connections to the origin; want HTTP/2 on one", h1, conns)
	}
}

// TestProxy_ConnectionFieldsFromHTTPSOrigin: over TLS with HTTP/1.1 too,
// a field named in a Connection field that also says close stays on the
// origin's hop.
func TestProxy_ConnectionFieldsFromHTTPSOrigin(t *testing.T) {
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Secret, close")
		w.Header().Set("X-Secret", "s3cret")
		w.Header().Set("X-Kept", "k")
		_, _ = io.WriteString(w, "ok")
	}))
	o.EnableHTTP2 = false
	o.StartTLS()
	t.Cleanup(o.Close)
	u, _ := url.Parse(o.URL)
	pool := x509.NewCertPool()
	pool.AddCert(o.Certificate())
	p, err := proxy.New(proxy.WithOriginRootCAs(proxy.Config{Default: u, Logger: discardLogger()}, pool))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusOK || rec.Header().Get("X-Kept") != "k" {
			t.Fatalf("status %d, header %v", rec.Code, rec.Header())
		}
		if v := rec.Header().Get("X-Secret"); v != "" {
			t.Fatalf("X-Secret: %q reached the client", v)
		}
	}
}
