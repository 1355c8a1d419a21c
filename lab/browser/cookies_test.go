package browser

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/quic-go/quic-go/http3"
)

// cookieSite sets a session cookie on the document, another on the
// stylesheet (pushed or requested) and records the Cookie header of every
// request by path, in order.
type cookieSite struct {
	*testSite // only for url and tls
	mu        sync.Mutex
	seen      map[string][]string
}

func newCookieSite(t *testing.T) *cookieSite {
	t.Helper()
	cs := &cookieSite{seen: map[string][]string{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(cs.serve))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	h3 := &http3.Server{Handler: http.HandlerFunc(cs.serve), TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: srv.TLS.Certificates})}
	go func() { _ = h3.Serve(udp) }() // returns when the cleanup closes it
	t.Cleanup(func() { h3.Close(); udp.Close() })
	cs.testSite = &testSite{srv: srv, h3: h3, h3Addr: udp.LocalAddr().String()}
	return cs
}

func (cs *cookieSite) serve(w http.ResponseWriter, r *http.Request) {
	cs.mu.Lock()
	cs.seen[r.URL.Path] = append(cs.seen[r.URL.Path], r.Header.Get("Cookie"))
	cs.mu.Unlock()
	switch r.URL.Path {
	case "/":
		if pusher, ok := w.(http.Pusher); ok {
			_ = pusher.Push("/a.css", nil) // refused unless the client accepts push
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s1", Path: "/"})
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, `<!doctype html><html><head><link rel="stylesheet" href="/a.css"></head><body></body></html>`)
	case "/a.css":
		http.SetCookie(w, &http.Cookie{Name: "css", Value: "c1", Path: "/"})
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, "body{}")
	default:
		http.NotFound(w, r)
	}
}

func (cs *cookieSite) cookies(path string) []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]string(nil), cs.seen[path]...)
}

// TestConfig_Jar: a returning visit sends the cookies the first visit was
// given, on every transport, for the document and its resources; without a
// jar nothing is sent.
func TestConfig_Jar(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"h1", Config{Proto: H1}},
		{"h2", Config{Proto: H2}},
		{"h2push-client", Config{Proto: H2, H2PushClient: true}},
		{"h2push-accepting", Config{Proto: H2, AcceptPush: true}},
		{"h3", Config{Proto: H3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCookieSite(t)
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := tt.cfg
			cfg.Jar = jar
			load(t, s.testSite, cfg)
			load(t, s.testSite, cfg)
			if got := s.cookies("/"); len(got) != 2 || got[0] != "" || got[1] != "css=c1; sid=s1" && got[1] != "sid=s1; css=c1" {
				t.Errorf("document Cookie headers %q, want none then both cookies", got)
			}
			css := s.cookies("/a.css")
			if tt.cfg.AcceptPush {
				// The stylesheet is pushed with the document, before the
				// document's response sets sid; its own cookie comes back
				// on the second document request (checked above).
				if len(css) != 2 {
					t.Errorf("stylesheet requested %d times, want 2 (pushed)", len(css))
				}
			} else if len(css) != 2 || css[0] != "sid=s1" || css[1] == "" {
				t.Errorf("stylesheet Cookie headers %q, want sid on the first visit, both on the second", css)
			}

			// Without a jar, the same visits send no cookie.
			s2 := newCookieSite(t)
			cfg.Jar = nil
			load(t, s2.testSite, cfg)
			load(t, s2.testSite, cfg)
			for _, path := range []string{"/", "/a.css"} {
				for _, c := range s2.cookies(path) {
					if c != "" {
						t.Errorf("no jar: %s sent Cookie %q", path, c)
					}
				}
			}
		})
	}
}
