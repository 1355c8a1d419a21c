//go:build firefox

package firefox

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
	product "github.com/earlyhints/earlyhints/internal/stack"
	"github.com/earlyhints/earlyhints/lab/chromium"
	"github.com/earlyhints/earlyhints/server"
)

// think is how long the origin takes to generate the page: the window in
// which a browser can act on the 103.
const think = 400 * time.Millisecond

var (
	hintedFiles  = []string{"/s.css", "/a.js"}
	sortedHinted = []string{"/a.js", "/s.css"}
)

// originSite is a page whose head names a stylesheet and a script, both
// cacheable (a browser hands a 103's preload to the page through its HTTP
// cache), generated in think.
func originSite() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			time.Sleep(think)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = io.WriteString(w, `<!doctype html><html><head><title>t</title>
<link rel="stylesheet" href="/s.css"><script src="/a.js"></script></head>
<body><h1>Early Hints</h1><p>A page that takes its time.</p></body></html>`)
		case "/s.css":
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Cache-Control", "public, max-age=3600")
			_, _ = io.WriteString(w, "body{color:#333}h1{font-size:3em}"+strings.Repeat("/* pad */", 500))
		case "/a.js":
			w.Header().Set("Content-Type", "text/javascript")
			w.Header().Set("Cache-Control", "public, max-age=3600")
			_, _ = io.WriteString(w, "void 0;"+strings.Repeat("//pad\n", 500))
		default:
			http.NotFound(w, r)
		}
	})
}

// proxyStack is the origin behind the earlyhints product, assembled as
// `earlyhints proxy` assembles it, served with a generated certificate.
type proxyStack struct {
	log *chromium.ServerLog
	srv *server.Server

	mu     sync.Mutex
	events []earlyhints.Event
}

func newProxyStack(t *testing.T, mode string, h3 bool) *proxyStack {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	st := &proxyStack{log: chromium.NewServerLog(originSite())}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := &http.Server{Handler: st.log, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = origin.Serve(ln) }()
	t.Cleanup(func() { origin.Close() })
	p, err := product.New(product.Config{
		Origin: "http://" + ln.Addr().String(), Mode: mode, Logger: logger,
		Observer: earlyhints.ObserverFunc(func(e earlyhints.Event) {
			st.mu.Lock()
			st.events = append(st.events, e)
			st.mu.Unlock()
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	st.srv, err = p.Listen(server.Config{Addr: "127.0.0.1:0", DisableHTTP3: !h3, Logger: logger, ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = st.srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		st.srv.Close()
		<-done
		_ = p.Close()
	})
	return st
}

func (st *proxyStack) url() string { return "https://" + st.srv.Addr() + "/" }

// teach has fresh Firefox profiles visit the page, as a deployed proxy's
// first visitors teach it, until a navigation request of a Go client gets
// a 103 (bounded: visits). It returns whether one did.
func (st *proxyStack) teach(t *testing.T, visits int) bool {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: st.srv.CertPool(), MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := 0; i < visits; i++ {
		b := launch(t, st, Config{})
		if _, err := b.Navigate(t.Context(), st.url()); err != nil {
			t.Fatalf("teaching visit: %v", err)
		}
		_ = b.Close()
		got103 := false
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				got103 = true
			}
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, st.url(), nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got103 {
			return true
		}
	}
	return false
}

// earlyFetched returns the hinted files the origin was asked for before
// it wrote the document's final headers, in the log since mark.
func (st *proxyStack) earlyFetched(t *testing.T, mark int) []string {
	t.Helper()
	entries := st.log.Since(mark)
	var doc *chromium.ServerRequest
	for i := range entries {
		if entries[i].Path == "/" {
			doc = &entries[i]
			break
		}
	}
	if doc == nil || doc.Responded.IsZero() {
		t.Fatalf("the origin served no document in the visit: %+v", entries)
	}
	var out []string
	for _, e := range entries {
		for _, f := range hintedFiles {
			if e.Path == f && e.Arrived.Before(doc.Responded) {
				out = append(out, f)
			}
		}
	}
	return out
}

// requireFirefox skips a test on a machine without Firefox and certutil,
// and fails it in CI, where make test installs them.
func requireFirefox(t *testing.T) {
	t.Helper()
	_, err := FindBinary(Config{})
	if err == nil {
		if _, e := exec.LookPath("certutil"); e != nil {
			err = ErrNoCertutil
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func launch(t *testing.T, st *proxyStack, cfg Config) *Browser {
	t.Helper()
	cfg.Certificates = [][]byte{st.srv.CertificatePEM()}
	cfg.Timeout = 90 * time.Second
	cfg.Logger = slog.New(slog.DiscardHandler)
	b, err := Launch(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestFirefox_TakesHintsThroughProxy: three fresh profiles of headless
// Firefox fetch every hinted file before the proxy has the page's final
// headers, over HTTP/2; with the proxy's mode off none does.
func TestFirefox_TakesHintsThroughProxy(t *testing.T) {
	requireFirefox(t)
	for _, tc := range []struct {
		mode, proto string
	}{{product.ModeHints, "h2"}, {product.ModeOff, "h2"}, {product.ModeHints, "h3"}} {
		mode := tc.mode
		t.Run(mode+"-"+tc.proto, func(t *testing.T) {
			st := newProxyStack(t, mode, tc.proto == "h3")
			cfg := Config{}
			if tc.proto == "h3" {
				cfg.HTTP3Origins = map[string]string{st.srv.Addr(): st.srv.UDPAddr()}
			}
			// With mode off, as many visits as taught the proxy with
			// hints on (one or two on this machine) and one more.
			visits := 5
			if mode == product.ModeOff {
				visits = 3
			}
			got103 := st.teach(t, visits)
			if mode == product.ModeHints && !got103 {
				t.Fatalf("the proxy sent no 103 after 5 teaching visits; its decisions: %+v", st.events)
			}
			if mode == product.ModeOff && got103 {
				t.Fatal("the proxy sent a 103 with mode off")
			}
			for i := 0; i < 3; i++ {
				b := launch(t, st, cfg)
				mark := st.log.Len()
				v, err := b.Navigate(t.Context(), st.url())
				if err != nil {
					t.Fatal(err)
				}
				early := st.earlyFetched(t, mark)
				t.Logf("profile %d: 103 at %.0f ms, final headers at %.0f ms, FCP %.0f ms; early on the server: %v; early in Resource Timing: %v; protocol %s",
					i+1, v.Navigation.FirstInterimResponseStart, v.Navigation.FinalHeaders(), v.FCP, early, v.EarlyHinted(), v.Navigation.NextHopProtocol)
				for _, r := range v.Resources {
					t.Logf("  %s initiator %s request %.0f response end %.0f transfer %.0f", r.Name, r.InitiatorType, r.RequestStart, r.ResponseEnd, r.TransferSize)
				}
				if v.Navigation.NextHopProtocol != tc.proto {
					t.Errorf("protocol %q, want %s", v.Navigation.NextHopProtocol, tc.proto)
				}
				switch mode {
				case product.ModeHints:
					slices.Sort(early)
					if fmt.Sprint(early) != fmt.Sprint(sortedHinted) {
						t.Errorf("profile %d: fetched early %v, want %v", i+1, early, hintedFiles)
					}
					if !v.GotEarlyHints() {
						t.Errorf("profile %d: Navigation Timing shows no 103", i+1)
					}
				default:
					if len(early) > 0 || v.GotEarlyHints() {
						t.Errorf("profile %d: mode off, yet fetched early %v (103 at %.0f ms)", i+1, early, v.Navigation.FirstInterimResponseStart)
					}
				}
				if v.FCP <= 0 {
					t.Errorf("profile %d: no first contentful paint", i+1)
				}
				_ = b.Close()
			}
		})
	}
}

// TestFirefox_ThirdPartyThroughTunnel: a page's third-party stylesheet
// (https://cdn.example/) reaches the page's own server through the
// CONNECT tunnel, its name accepted for the server's certificate.
func TestFirefox_ThirdPartyThroughTunnel(t *testing.T) {
	requireFirefox(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Host == "cdn.example" && r.URL.Path == "/x.css":
			w.Header().Set("Content-Type", "text/css")
			_, _ = io.WriteString(w, "h1{color:red}")
		case r.URL.Path == "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><html><head><link rel="stylesheet" href="https://cdn.example/x.css"></head><body><h1>third party</h1></body></html>`)
		default:
			http.NotFound(w, r)
		}
	})
	log := chromium.NewServerLog(h)
	logger := slog.New(slog.DiscardHandler)
	srv, err := server.New(log, server.Config{Addr: "127.0.0.1:0", DisableHTTP3: true, Logger: logger, ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); srv.Close(); <-done })

	tun, err := NewTunnel([]string{"cdn.example"}, func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", srv.Addr())
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.Close() })
	b, err := Launch(t.Context(), Config{
		Certificates: [][]byte{srv.CertificatePEM()}, Proxy: tun.Addr(),
		CertificateOverrides: map[string][]byte{"cdn.example:443": srv.CertificatePEM()},
		Timeout:              90 * time.Second, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	v, err := b.Navigate(t.Context(), "https://"+srv.Addr()+"/")
	if err != nil {
		t.Fatal(err)
	}
	r, ok := v.Resource("https://cdn.example/x.css")
	if !ok || r.ResponseEnd <= 0 {
		t.Errorf("no Resource Timing entry for the third party's file: %+v", v.Resources)
	}
	var hosts []string
	for _, e := range log.Entries() {
		if e.Path == "/x.css" {
			hosts = append(hosts, e.Proto)
		}
	}
	if len(hosts) != 1 {
		t.Errorf("the server saw the third party's file %d times, want once: %v", len(hosts), hosts)
	}
	t.Logf("third party: %+v; on the server: %v", r, hosts)
}
