package browser

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// asset is one resource of the test site.
type asset struct {
	body  string
	ctype string
	delay time.Duration
}

// testSite is a tiny origin with fixed server-side delays, served over
// TLS h1+h2 (TCP) and h3 (UDP) with the same certificate.
type testSite struct {
	srv    *httptest.Server
	h3     *http3.Server
	h3Addr string

	think  time.Duration
	html   string
	hints  []string // Link values of the 103; none when empty
	push   []string // paths pushed with the document
	assets map[string]asset

	mu             sync.Mutex
	requests       map[string]int
	priority       map[string]string // the Priority field of each path's last request
	inflight, peak int
	pushErrs       []error
}

func newTestSite(t testing.TB, s *testSite) *testSite {
	t.Helper()
	s.requests = map[string]int{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.EnableHTTP2 = true
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)

	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s.h3 = &http3.Server{Handler: http.HandlerFunc(s.serve), TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: s.srv.TLS.Certificates})}
	go func() { _ = s.h3.Serve(udp) }() // returns when the cleanup closes it
	t.Cleanup(func() { s.h3.Close(); udp.Close() })
	s.h3Addr = udp.LocalAddr().String()
	return s
}

func (s *testSite) url(proto string) string {
	if proto == H3 {
		return "https://" + s.h3Addr + "/"
	}
	return s.srv.URL + "/"
}

func (s *testSite) tls() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

func (s *testSite) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

func (s *testSite) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	if s.priority == nil {
		s.priority = map[string]string{}
	}
	s.priority[r.URL.Path] = r.Header.Get("Priority")
	s.inflight++
	s.peak = max(s.peak, s.inflight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	if r.URL.Path == "/" {
		if len(s.hints) > 0 {
			for _, l := range s.hints {
				w.Header().Add("Link", l)
			}
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
		}
		for _, p := range s.push {
			var err error = http.ErrNotSupported
			if pusher, ok := w.(http.Pusher); ok {
				err = pusher.Push(p, nil)
			}
			s.mu.Lock()
			s.pushErrs = append(s.pushErrs, err)
			s.mu.Unlock()
		}
		time.Sleep(s.think)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Etag", `"doc1"`)
		if r.Header.Get("If-None-Match") == `"doc1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = io.WriteString(w, s.html)
		return
	}
	a, ok := s.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	time.Sleep(a.delay)
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = io.WriteString(w, a.body)
}

// tinySite is the waterfall fixture: a document with 100 ms of think time
// referencing one stylesheet and one script in the head and one image in
// the body, each served after 50 ms.
func tinySite(t testing.TB, hints bool) *testSite {
	return newTestSite(t, tinyFixture(hints))
}

// tinyFixture is tinySite's content, not yet served.
func tinyFixture(hints bool) *testSite {
	s := &testSite{
		think: 100 * time.Millisecond,
		html: `<!doctype html><html><head><title>t</title>
<link rel="stylesheet" href="/a.css">
<script src="/b.js"></script>
</head><body><p>hello</p><img src="/c.jpg" alt=""></body></html>`,
		assets: map[string]asset{
			"/a.css": {body: "body{color:red}", ctype: "text/css", delay: 50 * time.Millisecond},
			"/b.js":  {body: "var x=1;", ctype: "text/javascript", delay: 50 * time.Millisecond},
			"/c.jpg": {body: strings.Repeat("j", 2000), ctype: "image/jpeg", delay: 50 * time.Millisecond},
		},
	}
	if hints {
		s.hints = []string{"</a.css>; rel=preload; as=style", "</b.js>; rel=preload; as=script"}
	}
	return s
}
