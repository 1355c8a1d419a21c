//go:build chromium

package chromium

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
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
