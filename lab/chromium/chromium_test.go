//go:build chromium

package chromium

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/server"
)

// startTLS serves h over HTTP/2 with a short-lived leaf certificate.
// httptest's own certificate is a CA certificate with a 60-year validity:
// Chromium trusts it through the SPKI list, yet fetches Early Hints
// preloads on it and then discards them.
func startTLS(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	certPEM, keyPEM, err := server.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, server.SPKIHash(cert.Leaf)
}

// TestBrowser_SeesEarlyHints checks the instrument itself: a page that
// sends a 103 by hand shows its stylesheet as an early-hints load.
func TestBrowser_SeesEarlyHints(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</s.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		time.Sleep(200 * time.Millisecond)
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<!doctype html><html><head><link rel=stylesheet href=/s.css></head><body><p>hi</p></body></html>`)
	})
	mux.HandleFunc("/s.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		// Chromium hands an early-hints preload to the page through the
		// HTTP cache: an uncacheable one is fetched twice.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = io.WriteString(w, "p{color:red}")
	})
	srv, spki := startTLS(t, mux)
	// Through a relay with a round trip: see edgeRTT for why loopback alone
	// loses hints.
	base := "https://" + newRelay(t, "tcp", srv.Listener.Addr().String(), edgeRTT).Addr().String()
	b := launch(t, browserConfig(t, spki))
	v, err := b.Navigate(t.Context(), base+"/")
	if err != nil {
		t.Fatal(err)
	}
	if v.Navigation.NextHopProtocol != "h2" {
		t.Errorf("protocol %q, want h2", v.Navigation.NextHopProtocol)
	}
	css, ok := v.Resource(base + "/s.css")
	if !ok {
		t.Fatalf("no resource timing for the stylesheet: %+v", v.Resources)
	}
	if css.InitiatorType != "early-hints" {
		t.Errorf("stylesheet initiatorType %q, want early-hints", css.InitiatorType)
	}
	if len(v.EarlyHints) != 1 {
		t.Errorf("CDP saw %d 103s, want 1", len(v.EarlyHints))
	}
	if v.FCP <= 0 {
		t.Errorf("no first contentful paint")
	}
	t.Logf("nav %+v fcp=%.1f lcp=%.1f requests=%+v", v.Navigation, v.FCP, v.LCP, v.Requests)
}

// TestBrowser_ThirdPartyCookies checks the profile's cookie control: a
// third party's cookie, set on one visit, comes back on the next only
// when third-party cookies are allowed (the default, as in Chrome).
func TestBrowser_ThirdPartyCookies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block bool
		want  bool
	}{
		{"allowed by default", false, true},
		{"blocked", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var sent []bool // whether each third-party request carried the cookie
			mux := http.NewServeMux()
			var port string
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Cache-Control", "no-store")
				fmt.Fprintf(w, `<!doctype html><html><head><script src="https://third.example:%s/t.js"></script></head><body><p>hi</p></body></html>`, port)
			})
			mux.HandleFunc("/t.js", func(w http.ResponseWriter, r *http.Request) {
				_, err := r.Cookie("tp")
				mu.Lock()
				sent = append(sent, err == nil)
				mu.Unlock()
				http.SetCookie(w, &http.Cookie{Name: "tp", Value: "1", Path: "/", Secure: true, SameSite: http.SameSiteNoneMode, MaxAge: 3600})
				w.Header().Set("Content-Type", "text/javascript")
				w.Header().Set("Cache-Control", "no-store")
				_, _ = io.WriteString(w, "var x = 1;")
			})
			srv, spki := startTLS(t, mux)
			_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
			cfg := browserConfig(t, spki)
			cfg.BlockThirdPartyCookies = tc.block
			cfg.ExtraFlags = map[string]string{"host-resolver-rules": "MAP third.example 127.0.0.1"}
			b := launch(t, cfg)
			for range 2 {
				if _, err := b.Navigate(t.Context(), "https://"+srv.Listener.Addr().String()+"/"); err != nil {
					t.Fatal(err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(sent) != 2 {
				t.Fatalf("%d requests for the third party's script, want 2", len(sent))
			}
			if sent[0] || sent[1] != tc.want {
				t.Errorf("cookie sent to the third party on visits 1, 2: %v, want false, %v", sent, tc.want)
			}
		})
	}
}
