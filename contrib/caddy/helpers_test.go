//go:build integration || chromium

package caddyearlyhints

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile" // the caddyfile adapter
	_ "github.com/caddyserver/caddy/v2/modules/standard"      // Caddy's standard modules, as xcaddy builds them
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// think is how long the origin takes to build a page: the time a 103 wins.
const think = 300 * time.Millisecond

// page is what the origin answers for a navigation: two subresources to
// learn.
var page = `<!doctype html><html><head><title>t</title>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js" defer></script>
</head><body><h1>Hello</h1>
` + strings.Repeat("<p>Enough text for encode to compress the page.</p>\n", 20)

// composed are the site's directives around early_hints: Caddy's encode
// and header handlers wrap it (the Caddyfile orders them before it), one
// header set at once, one deferred to the final response.
const composed = `	encode gzip
	header X-Site caddy
	header >X-Late deferred
	early_hints {
		max-preloads 8
	}`

const learnedMetric = "caddy_http_earlyhints_observations_total"

// wantLinks are the Link values of the learned 103, in order.
var wantLinks = []string{"</static/site.css>; rel=preload; as=style", "</static/app.js>; rel=preload; as=script"}

// site is one test of Caddy in front of a thinking origin, on loopback
// over TLS with a certificate of its own.
type site struct {
	t         testing.TB
	backend   string // the handler behind early_hints; default reverse_proxy to the origin
	dir       string
	certFile  string
	keyFile   string
	spki      string // base64 SHA-256 of the certificate's public key, for Chromium
	roots     *x509.CertPool
	port      int
	base      string // https://127.0.0.1:port
	origin    *httptest.Server
	accessLog string // the JSON access log; "" for none
}

func newSite(t testing.TB) *site {
	t.Helper()
	s := &site{t: t, dir: t.TempDir()}
	s.writeCert()
	s.port = freePort(t)
	s.base = fmt.Sprintf("https://127.0.0.1:%d", s.port)
	s.accessLog = filepath.Join(s.dir, "access.log")
	s.origin = httptest.NewServer(origin())
	t.Cleanup(s.origin.Close)
	return s
}

// origin is the site behind Caddy: slow pages, fast static files.
func origin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/static/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		switch {
		case strings.HasSuffix(r.URL.Path, ".css"):
			w.Header().Set("Content-Type", "text/css")
			_, _ = io.WriteString(w, "body { color: #333 }\n"+strings.Repeat("/* padding */\n", 200))
		case strings.HasSuffix(r.URL.Path, ".js"):
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = io.WriteString(w, "document.title = 'ok';\n")
		default:
			http.NotFound(w, r)
		}
	})
	// /own103: the origin sends a 103 of its own before thinking.
	mux.HandleFunc("/own103", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</static/own.css>; rel=preload; as=style")
		w.Header().Set("X-Origin-Early", "1")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Del("X-Origin-Early")
		thinkThenPage(w, r)
	})
	// /account/...: a personal page (a cookie names the user), learned only
	// from what several visitors share.
	mux.HandleFunc("/account/", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("user")
		if err != nil {
			http.Error(w, "log in first", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "private")
		w.Header().Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		fmt.Fprintf(w, `<html><head><link rel="stylesheet" href="/static/site.css">
<link rel="preload" as="image" href="/avatars/%s.png"></head><body></body></html>`, c.Value)
	})
	mux.HandleFunc("/", thinkThenPage)
	return mux
}

func thinkThenPage(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(think):
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, page)
}

// freePort returns a port free on loopback for both TCP and UDP (HTTP/3).
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = pc.Close()
		return port
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// writeCert makes a certificate for 127.0.0.1 and localhost.
func (s *site) writeCert() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		s.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		s.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		s.t.Fatal(err)
	}
	s.certFile, s.keyFile = filepath.Join(s.dir, "cert.pem"), filepath.Join(s.dir, "key.pem")
	writePEM(s.t, s.certFile, "CERTIFICATE", der)
	writePEM(s.t, s.keyFile, "EC PRIVATE KEY", keyDER)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	s.spki = base64.StdEncoding.EncodeToString(sum[:])
	s.roots = x509.NewCertPool()
	s.roots.AddCert(cert)
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// caddyfile is a Caddyfile serving the site over HTTP/1.1, HTTP/2 and
// HTTP/3 with the given early_hints block (the whole directive, or "")
// and other directives of the site block.
func (s *site) caddyfile(directives string) string {
	return fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	skip_install_trust
	storage file_system %[1]s/storage
	log {
		output discard
	}
	servers {
		protocols h1 h2 h3
		trusted_proxies static 127.0.0.0/8
	}
}

%[2]s {
	bind 127.0.0.1
	tls %[3]s %[4]s
%[5]s
%[6]s
	%[7]s
}
`, s.dir, s.base, s.certFile, s.keyFile, s.logDirective(), directives, s.backendDirective())
}

// logDirective writes the site's access log as JSON to s.accessLog, when
// set.
func (s *site) logDirective() string {
	if s.accessLog == "" {
		return ""
	}
	return "\tlog {\n\t\toutput file " + s.accessLog + "\n\t\tformat json\n\t}"
}

func (s *site) backendDirective() string {
	if s.backend != "" {
		return s.backend
	}
	return "reverse_proxy " + s.origin.Listener.Addr().String()
}

// adapt turns a Caddyfile into Caddy's JSON, as `caddy run --config
// Caddyfile` does.
func adapt(text string) ([]byte, error) {
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": "Caddyfile"})
	return cfg, err
}

// load adapts and runs text as Caddy's config (a reload when one runs).
func (s *site) load(text string) {
	s.t.Helper()
	cfg, err := adapt(text)
	if err != nil {
		s.t.Fatalf("adapt the Caddyfile: %v\n%s", err, text)
	}
	if err := caddy.Load(cfg, true); err != nil {
		s.t.Fatalf("load the config: %v\n%s", err, cfg)
	}
	s.t.Cleanup(func() { _ = caddy.Stop() })
}

// navigation is what a client saw of one page load.
type navigation struct {
	hints []http.Header // the 103s, in order
	resp  *http.Response
	body  string
}

// links is the Link values of the navigation's one 103.
func (n navigation) links(t testing.TB) []string {
	t.Helper()
	if len(n.hints) != 1 {
		t.Fatalf("got %d 103 responses, want exactly 1", len(n.hints))
	}
	return n.hints[0].Values("Link")
}

// client is a visitor: an HTTP/2 or an HTTP/3 client from a loopback
// address of its own.
type client struct {
	http  *http.Client
	close func()
}

func (s *site) h2Client(from string) client {
	var p http.Protocols
	p.SetHTTP2(true)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	tr := &http.Transport{Protocols: &p, DialContext: dialer.DialContext, TLSClientConfig: &tls.Config{RootCAs: s.roots}}
	s.t.Cleanup(tr.CloseIdleConnections)
	return client{http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, close: tr.CloseIdleConnections}
}

func (s *site) h3Client(from string) client {
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(from), 0)))
	if err != nil {
		s.t.Fatal(err)
	}
	qt := &quic.Transport{Conn: pc}
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots, NextProtos: []string{http3.NextProtoH3}}}
	tr.Dial = func(ctx context.Context, addr string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		return qt.DialEarly(ctx, ua, tlsConf, qc)
	}
	s.t.Cleanup(func() { _ = tr.Close(); _ = qt.Close(); _ = pc.Close() })
	return client{http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, close: func() { _ = tr.Close() }}
}

// navigate loads path as a browser navigation, recording the 103s.
func (c client) navigate(t testing.TB, url string, header http.Header) navigation {
	t.Helper()
	var (
		mu  sync.Mutex
		nav navigation
	)
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			if code == http.StatusEarlyHints {
				nav.hints = append(nav.hints, http.Header(h).Clone())
			}
			return nil
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	_ = res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	nav.resp, nav.body = res, body.String()
	return nav
}

// metric returns the sum of the values of the counter name in the running
// config's registry.
func metric(t testing.TB, name string) float64 {
	t.Helper()
	ctx := caddy.ActiveContext()
	families, err := ctx.GetMetricsRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// waitMetric waits, a bounded while, until the counter name reaches want.
func waitMetric(t testing.TB, name string, want float64) {
	t.Helper()
	for range 400 {
		if metric(t, name) >= want {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s stayed at %v, want %v", name, metric(t, name), want)
}
