package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// running is a Server whose Serve runs in the background until stop or the
// end of the test.
type running struct {
	*Server
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func start(t *testing.T, h http.Handler, cfg Config) *running {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	s, err := New(h, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Server: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx) }()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// stop cancels Serve's context and returns what Serve returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return within 10s of cancellation")
			_ = r.Close()
		}
	})
	return r.err
}

// baseURL is where a client of the given protocol reaches the server.
func (r *running) baseURL(proto string) string {
	if proto == "h2c" {
		return "http://" + r.H2CAddr()
	}
	return "https://" + r.Addr()
}

// newClient returns a client that speaks exactly one protocol ("h1", "h2",
// "h3" or "h2c") and trusts the server's certificate.
func newClient(t *testing.T, s *Server, proto string) *http.Client {
	t.Helper()
	tlsConf := &tls.Config{RootCAs: s.CertPool()}
	var rt http.RoundTripper
	switch proto {
	case "h1", "h2", "h2c":
		var p http.Protocols
		p.SetHTTP1(proto == "h1")
		p.SetHTTP2(proto == "h2")
		p.SetUnencryptedHTTP2(proto == "h2c")
		tr := &http.Transport{TLSClientConfig: tlsConf, Protocols: &p}
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	case "h3":
		tr := &http3.Transport{TLSClientConfig: tlsConf, QUICConfig: &quic.Config{HandshakeIdleTimeout: 2 * time.Second}}
		t.Cleanup(func() { _ = tr.Close() })
		rt = tr
	default:
		t.Fatalf("unknown protocol %q", proto)
	}
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s: %v", url, err)
	}
	return resp, string(body)
}

// writeCertFiles writes a fresh generated pair into dir as cert.pem/key.pem
// and returns the parsed leaf.
func writeCertFiles(t *testing.T, dir string) (certFile, keyFile string, leaf *x509.Certificate) {
	t.Helper()
	certPEM, keyPEM, err := GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pair.Leaf
}

// servedLeaf makes a new TLS (TCP) or QUIC handshake and returns the leaf the
// server presented. Verification is off on purpose: the test compares the
// certificate itself.
func servedLeaf(t *testing.T, s *Server, overQUIC bool) *x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if overQUIC {
		conf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{http3.NextProtoH3}} //nolint:gosec // the test inspects the served certificate
		conn, err := quic.DialAddr(ctx, s.UDPAddr(), conf, nil)
		if err != nil {
			t.Fatalf("quic handshake: %v", err)
		}
		defer func() { _ = conn.CloseWithError(0, "") }()
		return conn.ConnectionState().TLS.PeerCertificates[0]
	}
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test inspects the served certificate
	conn, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		t.Fatalf("tls handshake: %v", err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
}
