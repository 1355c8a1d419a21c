package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// Server serves one handler over HTTPS (HTTP/1.1 and HTTP/2), HTTP/3 and,
// optionally, cleartext HTTP/2. Its sockets are bound by New, so the ports are
// known (and a busy port is reported) before Serve starts.
type Server struct {
	cfg   Config
	log   *slog.Logger
	certs *certSource

	https *http.Server
	h3    *http3.Server // nil when HTTP/3 is disabled
	h2c   *http.Server  // nil without H2CAddr

	tcpLn   net.Listener
	udpConn net.PacketConn // nil when HTTP/3 is disabled
	h2cLn   net.Listener   // nil without H2CAddr
	altSvc  string

	mu      sync.Mutex
	serving bool
	closed  bool
}

// New validates cfg, loads or generates the certificate and binds the
// listeners. Call Serve to start answering, or Close to release the sockets.
func New(h http.Handler, cfg Config) (*Server, error) {
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger}

	host, _, _ := net.SplitHostPort(cfg.Addr)
	certs, err := newCertSource(cfg.CertFile, cfg.KeyFile, host)
	if err != nil {
		return nil, err
	}
	s.certs = certs

	if err := s.listen(); err != nil {
		return nil, err
	}
	errorLog := log.New(&errorLogWriter{log: s.log}, "", 0)

	tlsConf := &tls.Config{
		// TLS 1.2 is still what some clients and load balancers speak;
		// cipher suites and curves are left to Go's defaults on purpose: they
		// are forward-secret AEAD only, prefer the post-quantum hybrid key
		// exchange, and improve with each Go release.
		MinVersion:     tls.VersionTLS12,
		GetCertificate: certs.getCertificate,
	}

	handler := h
	if s.udpConn != nil {
		_, port, _ := net.SplitHostPort(s.udpConn.LocalAddr().String())
		if cfg.AltSvcPort > 0 {
			port = strconv.Itoa(cfg.AltSvcPort)
		}
		s.altSvc = fmt.Sprintf(`h3=":%s"; ma=%d`, port, altSvcMaxAge)
		handler = withAltSvc(h, s.altSvc)

		h3TLS := tlsConf.Clone()
		h3TLS.MinVersion = tls.VersionTLS13 // QUIC requires it
		s.h3 = &http3.Server{
			Handler:        h,
			TLSConfig:      h3TLS,
			MaxHeaderBytes: cfg.MaxHeaderBytes,
			IdleTimeout:    cfg.IdleTimeout,
			Logger:         s.log,
			// No 0-RTT: early data can be replayed by an attacker, and the
			// origin behind this server cannot tell a replayed request from
			// a real one.
			QUICConfig:  &quic.Config{Allow0RTT: false},
			ConnContext: h3ConnContext,
		}
	}

	var tlsProtos http.Protocols
	tlsProtos.SetHTTP1(true)
	tlsProtos.SetHTTP2(true)
	s.https = &http.Server{
		Handler:           guardResets(handler, s.log),
		ConnContext:       tlsConnContext,
		TLSConfig:         tlsConf,
		Protocols:         &tlsProtos,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
	// The document before the files its 103 hinted (priority.go).
	if err := configureHTTP2(s.https); err != nil {
		s.closeSockets()
		return nil, err
	}

	if s.h2cLn != nil {
		// Prior knowledge only: no HTTP/1.1 on this port, so a
		// misconfigured load balancer fails loudly instead of silently
		// dropping every 103 on an HTTP/1.1 hop. No Alt-Svc either: the
		// balancer, not this port, is what browsers talk to.
		var h2cProtos http.Protocols
		h2cProtos.SetUnencryptedHTTP2(true)
		s.h2c = &http.Server{
			Handler:           guardResets(h, s.log),
			ConnContext:       h2cConnContext,
			Protocols:         &h2cProtos,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			ErrorLog:          errorLog,
		}
	}

	if certs.current.Load().selfSigned {
		s.log.Info("using a generated self-signed certificate; browsers trust it only when told to (pin its key with --ignore-certificate-errors-spki-list)",
			"spki_sha256", SPKIHash(s.Certificate()),
			"names", certNamesForLog(s.Certificate()),
			"not_after", s.Certificate().NotAfter)
	}
	return s, nil
}

// listen binds the TCP listener and the UDP socket on the same port, and the
// h2c listener. With port 0 the kernel picks the TCP port, which may be taken
// on UDP; a few attempts find a port free on both.
func (s *Server) listen() error {
	host, portStr, _ := net.SplitHostPort(s.cfg.Addr)
	port, _ := net.LookupPort("tcp", portStr)
	attempts := 1
	if port == 0 && !s.cfg.DisableHTTP3 {
		attempts = 10
	}
	var udpErr error
	for range attempts {
		ln, err := net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("server: listen on tcp %s: %w; free the port or choose another with --listen", s.cfg.Addr, err)
		}
		if s.cfg.DisableHTTP3 {
			s.tcpLn = ln
			break
		}
		_, bound, _ := net.SplitHostPort(ln.Addr().String())
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, bound))
		if err != nil {
			_ = ln.Close()
			udpErr = err
			continue
		}
		s.tcpLn, s.udpConn = ln, pc
		break
	}
	if s.tcpLn == nil {
		return fmt.Errorf("server: listen on udp %s for HTTP/3: %w; free the UDP port or turn HTTP/3 off with --http3=false", s.cfg.Addr, udpErr)
	}
	if s.cfg.H2CAddr != "" {
		ln, err := net.Listen("tcp", s.cfg.H2CAddr)
		if err != nil {
			s.closeSockets()
			return fmt.Errorf("server: listen on tcp %s for h2c: %w; free the port or choose another with --h2c-listen", s.cfg.H2CAddr, err)
		}
		s.h2cLn = ln
	}
	return nil
}

func (s *Server) closeSockets() {
	for _, c := range []interface{ Close() error }{s.tcpLn, s.h2cLn, s.udpConn} {
		if c != nil && !isNilCloser(c) {
			_ = c.Close()
		}
	}
}

// isNilCloser catches typed nil interfaces stored in the slice above.
func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case net.Listener:
		return v == nil
	case net.PacketConn:
		return v == nil
	}
	return false
}

// withAltSvc advertises HTTP/3 on every HTTP/1.1 and HTTP/2 response. The
// header is set before the handler runs and the ResponseWriter is passed on
// untouched, so Flusher, Hijacker, ResponseController and 1xx responses keep
// working (a 103 carries it too, which is harmless).
func withAltSvc(next http.Handler, value string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Alt-Svc"] = []string{value}
		next.ServeHTTP(w, r)
	})
}

// Serve answers requests until ctx is done, then shuts down gracefully: the
// listeners close, requests in flight finish (HTTP/2 and HTTP/3 clients are
// told to go away), the OnShutdown hooks run, all within ShutdownTimeout. It
// returns nil after a clean shutdown; a listener failure also shuts down and
// is returned, joined with any shutdown or hook errors. After Close it returns
// http.ErrServerClosed.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return http.ErrServerClosed
	case s.serving:
		s.mu.Unlock()
		return errors.New("server: Serve called twice")
	}
	s.serving = true
	s.mu.Unlock()

	var wg sync.WaitGroup
	errc := make(chan error, 3)
	run := func(name string, serve func() error) {
		wg.Go(func() {
			if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("server: %s: %w", name, err)
				return
			}
			errc <- nil
		})
	}
	run("https", func() error { return s.https.ServeTLS(s.tcpLn, "", "") })
	if s.h3 != nil {
		run("http/3", func() error { return s.h3.Serve(s.udpConn) })
	}
	if s.h2c != nil {
		run("h2c", func() error { return s.h2c.Serve(s.h2cLn) })
	}
	s.log.Info("listening", s.listeningAttrs()...)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		wg.Wait()
		return http.ErrServerClosed
	}
	err := s.shutdown(ctx)
	wg.Wait()
	return errors.Join(serveErr, err)
}

func (s *Server) listeningAttrs() []any {
	attrs := []any{"https", s.Addr(), "url", s.URL()}
	if s.h3 != nil {
		attrs = append(attrs, "http3", s.UDPAddr())
	}
	if s.h2c != nil {
		attrs = append(attrs, "h2c", s.H2CAddr())
	}
	return attrs
}

// shutdown drains all servers in parallel, then runs the hooks. The hooks get
// the same deadline so the whole stop is bounded by ShutdownTimeout.
func (s *Server) shutdown(parent context.Context) error {
	s.log.Info("shutting down; finishing requests in flight", "timeout", s.cfg.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), s.cfg.ShutdownTimeout)
	defer cancel()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	drain := func(name string, shutdown func(context.Context) error, force func() error) {
		wg.Go(func() {
			if err := shutdown(ctx); err != nil {
				if force != nil {
					_ = force()
				}
				mu.Lock()
				errs = append(errs, fmt.Errorf("server: shut down %s: %w", name, err))
				mu.Unlock()
			}
		})
	}
	drain("https", s.https.Shutdown, s.https.Close)
	if s.h3 != nil {
		// http3.Server.Shutdown closes the connections itself on timeout.
		drain("http/3", s.h3.Shutdown, nil)
	}
	if s.h2c != nil {
		drain("h2c", s.h2c.Shutdown, s.h2c.Close)
	}
	wg.Wait()
	if s.udpConn != nil {
		// http3.Server does not own the socket it was given.
		_ = s.udpConn.Close()
	}
	if len(errs) > 0 {
		s.log.Warn("requests were still running when the shutdown timeout expired; their connections were closed", "timeout", s.cfg.ShutdownTimeout)
	}
	for i, hook := range s.cfg.OnShutdown {
		if err := hook(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: shutdown hook %d: %w", i, err))
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("shutdown finished with errors", "error", err)
	} else {
		s.log.Info("shut down cleanly")
	}
	return err
}

// Close stops everything at once: listeners and connections close, requests
// in flight are cut off and OnShutdown hooks do not run. Use it to release the
// sockets when Serve will not be called, or to abort a Serve that is draining
// too slowly.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	serving := s.serving
	s.mu.Unlock()
	if !serving {
		s.closeSockets()
		return nil
	}
	errs := []error{s.https.Close()}
	if s.h3 != nil {
		errs = append(errs, s.h3.Close(), s.udpConn.Close())
	}
	if s.h2c != nil {
		errs = append(errs, s.h2c.Close())
	}
	return errors.Join(errs...)
}

// Reload reads the certificate files again and serves the new certificate to
// new TLS handshakes (HTTP/1.1, HTTP/2 and HTTP/3); established connections
// keep theirs. On error the previous certificate stays in use. With a
// generated certificate there is nothing to reload and it returns nil.
func (s *Server) Reload() error {
	lc, err := s.certs.reload()
	if err != nil {
		s.log.Error("certificate reload failed; still serving the previous certificate", "error", err)
		return err
	}
	if !lc.selfSigned {
		s.log.Info("certificate reloaded", "file", s.cfg.CertFile, "names", certNamesForLog(lc.leaf),
			"not_after", lc.leaf.NotAfter, "spki_sha256", SPKIHash(lc.leaf))
	}
	return nil
}

// Addr is the bound address of the HTTPS listener, such as "127.0.0.1:8443".
func (s *Server) Addr() string { return s.tcpLn.Addr().String() }

// UDPAddr is the bound address of the HTTP/3 socket, or "" when HTTP/3 is
// disabled.
func (s *Server) UDPAddr() string {
	if s.udpConn == nil {
		return ""
	}
	return s.udpConn.LocalAddr().String()
}

// H2CAddr is the bound address of the cleartext HTTP/2 listener, or "" when
// there is none.
func (s *Server) H2CAddr() string {
	if s.h2cLn == nil {
		return ""
	}
	return s.h2cLn.Addr().String()
}

// URL is the https URL of the server; an unspecified listen host (all
// interfaces) is shown as 127.0.0.1.
func (s *Server) URL() string {
	host, port, _ := net.SplitHostPort(s.Addr())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if p, _ := strconv.Atoi(port); p == 443 {
		return "https://" + hostForURL(host)
	}
	return "https://" + net.JoinHostPort(host, port)
}

func hostForURL(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}

// AltSvc is the Alt-Svc value added to HTTP/1.1 and HTTP/2 responses, such as
// `h3=":8443"; ma=86400`, or "" when HTTP/3 is disabled.
func (s *Server) AltSvc() string { return s.altSvc }

// SelfSigned reports whether the served certificate was generated.
func (s *Server) SelfSigned() bool { return s.certs.current.Load().selfSigned }

// Certificate is the leaf certificate currently served.
func (s *Server) Certificate() *x509.Certificate { return s.certs.current.Load().leaf }

// CertificatePEM is the leaf certificate currently served, PEM encoded, for
// a client (curl --cacert, a test) to trust.
func (s *Server) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// CertPool is a pool holding the leaf currently served, for Go clients
// (tls.Config.RootCAs) to trust a generated certificate.
func (s *Server) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return pool
}

func certNamesForLog(leaf *x509.Certificate) []string {
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// errorLogWriter turns net/http's error log lines into slog records. TLS
// handshake failures are routine on a public port (scanners, browsers that
// do not trust a generated certificate) and go to Debug; the rest, such as
// handler panics, are errors.
type errorLogWriter struct{ log *slog.Logger }

func (w *errorLogWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, "\n"))
	level := slog.LevelError
	if bytes.Contains(p, []byte("TLS handshake error")) {
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, msg, "source", "net/http")
	return len(p), nil
}
