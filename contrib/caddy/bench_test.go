//go:build integration

package caddyearlyhints

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
)

// BenchmarkHitPath is a navigation that gets its learned 103 and then the
// page, over HTTP/2 on one kept-alive connection: through Caddy
// (early_hints in front of file_server) and through a plain net/http
// server (the same middleware in front of http.FileServer), with the same
// page, certificate and client. Each iteration makes one navigation of
// each, alternately, so both share the machine's state of the moment; it
// reports each path's time per navigation and their ratio
// (caddy/net-http). ns/op is the two together.
//
//	go test -tags integration -bench HitPath -run '^$'
func BenchmarkHitPath(b *testing.B) {
	caddyURL, plainURL, client := hitPathServers(b)
	check(b, client, caddyURL)
	check(b, client, plainURL)
	var viaCaddy, viaPlain time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		client.navigate(b, caddyURL, nil)
		mid := time.Now()
		client.navigate(b, plainURL, nil)
		viaCaddy += mid.Sub(start)
		viaPlain += time.Since(mid)
	}
	b.ReportMetric(float64(viaCaddy.Nanoseconds())/float64(b.N), "caddy-ns/nav")
	b.ReportMetric(float64(viaPlain.Nanoseconds())/float64(b.N), "net-http-ns/nav")
	b.ReportMetric(float64(viaCaddy)/float64(viaPlain), "caddy/net-http")
}

// BenchmarkHitPathCaddy and BenchmarkHitPathNetHTTP are the two paths
// alone, for benchstat and profiles.
func BenchmarkHitPathCaddy(b *testing.B) {
	caddyURL, _, client := hitPathServers(b)
	navigateLoop(b, client, caddyURL)
}

func BenchmarkHitPathNetHTTP(b *testing.B) {
	_, plainURL, client := hitPathServers(b)
	navigateLoop(b, client, plainURL)
}

// hitPathServers starts Caddy and a net/http server serving one page from
// the same directory, each with the page's hints learned, and returns
// their URLs and an HTTP/2 client of both.
func hitPathServers(b *testing.B) (caddyURL, plainURL string, c client) {
	b.Helper()
	s := newSite(b)
	root := filepath.Join(s.dir, "www")
	if err := os.MkdirAll(root, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(page), 0o644); err != nil {
		b.Fatal(err)
	}
	s.backend = "root * " + root + "\n\tfile_server"
	s.accessLog = "" // the net/http server writes none either
	s.load(s.caddyfile("\tearly_hints"))
	c = s.h2Client("127.1.0.1")
	c.navigate(b, s.base+"/", nil)
	waitMetric(b, learnedMetric, 1)

	mw, err := earlyhints.New(http.FileServer(http.Dir(root)), earlyhints.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mw.Close() })
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	srv := &http.Server{Handler: mw, Protocols: &p, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Error(err)
		}
	}()
	b.Cleanup(func() { _ = srv.Close() })
	plainURL = "https://" + ln.Addr().String() + "/"
	c.navigate(b, plainURL, nil)
	for i := 0; ; i++ {
		if _, ok, _ := mw.Store().Get(context.Background(), "https://"+ln.Addr().String()+"/"); ok {
			break
		}
		if i == 400 {
			b.Fatal("the net/http path learned nothing")
		}
		time.Sleep(25 * time.Millisecond)
	}
	return s.base + "/", plainURL, c
}

// check fails b unless a navigation of url gets one 103 over HTTP/2.
func check(b *testing.B, c client, url string) {
	b.Helper()
	if n := c.navigate(b, url, nil); len(n.hints) != 1 || n.resp.ProtoMajor != 2 {
		b.Fatalf("%s: %d 103s over %s, want 1 over HTTP/2", url, len(n.hints), n.resp.Proto)
	}
}

// navigateLoop navigates b.N times, each getting its 103.
func navigateLoop(b *testing.B, c client, url string) {
	check(b, c, url)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.navigate(b, url, nil)
	}
}
