package browser

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/earlyhints/earlyhints/server"
)

// The model is deterministic once time is: inside a synctest bubble, over
// in-memory connections, the site's delays are the only thing that takes
// time, so a waterfall comes out exactly as computed by hand, however busy
// the machine.

// pipeListener is an in-memory listener: DialContext hands one end of a
// net.Pipe to Accept. Every wait on it is durable in a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, srv := net.Pipe()
	select {
	case l.conns <- srv:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "site.test:443" }

var virtualCert = sync.OnceValues(func() (tls.Certificate, error) {
	certPEM, keyPEM, err := server.GenerateSelfSigned("site.test")
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
})

const virtualURL = "https://site.test/"

// serveVirtual serves s over TLS h1+h2 on an in-memory listener and returns
// the Config fields that reach it. Call it inside a synctest bubble; the
// server stops when the test ends.
func serveVirtual(t *testing.T, s *testSite) Config {
	t.Helper()
	cert, err := virtualCert()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	s.requests = map[string]int{}
	ln := newPipeListener()
	srv := &http.Server{
		Handler:   http.HandlerFunc(s.serve),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return Config{TLS: &tls.Config{RootCAs: pool}, DialContext: ln.DialContext}
}

// loadVirtual loads the site served by serveVirtual with cfg.
func loadVirtual(t *testing.T, base, cfg Config) *Result {
	t.Helper()
	cfg.TLS, cfg.DialContext = base.TLS, base.DialContext
	res, err := Load(t.Context(), virtualURL, cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return res
}

// TestLoad_EarlyHintsSaving checks the headline claim on the tiny site, on
// a fake clock: with hints, first render comes exactly min(T, x_R) = 50 ms
// sooner (T = 100 ms think time, x_R = 50 ms per asset).
func TestLoad_EarlyHintsSaving(t *testing.T) {
	for _, proto := range []string{H1, H2} {
		t.Run(proto, func(t *testing.T) {
			render := map[bool]Result{}
			for _, hints := range []bool{false, true} {
				synctest.Test(t, func(t *testing.T) {
					base := serveVirtual(t, tinyFixture(hints))
					render[hints] = *loadVirtual(t, base, Config{Proto: proto, UseEarlyHints: true})
				})
			}
			without, with := render[false].RenderTime, render[true].RenderTime
			want := 50 * ms
			if proto == H1 {
				want = 0 // the model follows Chrome: no 103 over HTTP/1.1
			}
			if without != 150*ms || without-with != want {
				t.Errorf("render %v without hints, %v with; want 150ms and a saving of %v", without, with, want)
			}
			if load := render[true].LoadTime; load != 150*ms {
				t.Errorf("load %v with hints, want 150ms (the image is found in the body)", load)
			}
		})
	}
}
