package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Defaults applied to zero fields of Config.
const (
	// DefaultPort is the HTTPS port, the same for TCP and UDP, that the
	// library and the command use when none is given.
	DefaultPort = "8443"
	// DefaultAddr is loopback only: a zero Config exposes nothing.
	DefaultAddr = "127.0.0.1:" + DefaultPort

	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultShutdownTimeout   = 30 * time.Second
)

// altSvcMaxAge is how long (seconds) a browser may remember the HTTP/3
// endpoint. A day: long enough to matter for repeat visits, short enough that
// turning HTTP/3 off is noticed the next day.
const altSvcMaxAge = 86400

// Config configures a Server. The zero value serves HTTPS, HTTP/2 and HTTP/3
// on 127.0.0.1:8443 with a generated self-signed certificate.
type Config struct {
	// Addr is the TCP address of the HTTPS listener (HTTP/1.1 and HTTP/2);
	// HTTP/3 listens on the same host and port over UDP. Port 0 picks a free
	// port, the same for TCP and UDP. Default "127.0.0.1:8443".
	Addr string

	// CertFile and KeyFile are PEM files of the certificate chain and its
	// private key. Both or neither. They are read again by Server.Reload.
	// Default: none, which means a generated self-signed certificate (see
	// SelfSigned).
	CertFile string
	KeyFile  string

	// SelfSigned allows a generated self-signed certificate on an address
	// that is not loopback. Without certificate files a loopback address
	// always gets one; any other address is refused unless SelfSigned is set,
	// because a browser elsewhere would not trust it. Setting it together with
	// CertFile/KeyFile is an error. Default false.
	SelfSigned bool

	// DisableHTTP3 turns off the QUIC listener and the Alt-Svc advertisement.
	// Default false (HTTP/3 on).
	DisableHTTP3 bool

	// AltSvcPort is the port Alt-Svc advertises for HTTP/3, when a relay or
	// load balancer in front forwards another port to this server. Default
	// 0: the QUIC listener's own port.
	AltSvcPort int

	// H2CAddr, if set, is the TCP address of a cleartext HTTP/2 listener
	// (prior knowledge only, no HTTP/1.1 and no Upgrade), for a load balancer
	// in front that terminates TLS and forwards 103 responses over HTTP/2.
	// Default "" (no such listener).
	H2CAddr string

	// ReadHeaderTimeout bounds reading a request's headers on HTTP/1.1.
	// Default 10s.
	ReadHeaderTimeout time.Duration

	// IdleTimeout closes connections idle for this long (all protocols).
	// Default 120s.
	IdleTimeout time.Duration

	// MaxHeaderBytes caps the size of a request's headers; larger requests
	// get 431 Request Header Fields Too Large. Default 64 KiB.
	MaxHeaderBytes int

	// ShutdownTimeout bounds a graceful shutdown: waiting for requests in
	// flight plus running the OnShutdown hooks. Connections still open when it
	// expires are closed. Default 30s.
	ShutdownTimeout time.Duration

	// Logger receives listener, certificate and shutdown events.
	// Default slog.Default().
	Logger *slog.Logger

	// OnShutdown hooks run in order once the listeners are closed and the
	// requests in flight have finished (or the wait timed out), for example to
	// write the hint store snapshot. They get a context bounded by what is
	// left of ShutdownTimeout; it may already be done if draining used it up,
	// and they run anyway. Default none.
	OnShutdown []func(context.Context) error
}

// withDefaults returns a copy with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first problem with the configuration, after applying
// defaults. Errors wrap ErrInvalidConfig, ErrCertKeyPair or
// ErrSelfSignedNotLoopback.
func (c Config) Validate() error {
	c = c.withDefaults()
	addrPort, err := checkAddr("listen address", c.Addr)
	if err != nil {
		return err
	}
	if c.H2CAddr != "" {
		h2cPort, err := checkAddr("h2c listen address", c.H2CAddr)
		if err != nil {
			return err
		}
		h2cHost, _, _ := net.SplitHostPort(c.H2CAddr)
		host, _, _ := net.SplitHostPort(c.Addr)
		if h2cPort != 0 && h2cPort == addrPort && (h2cHost == host || h2cHost == "" || host == "") {
			return fmt.Errorf("%w: h2c listen address %q uses the same TCP port as the listen address %q; pick another port", ErrInvalidConfig, c.H2CAddr, c.Addr)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read header timeout", c.ReadHeaderTimeout},
		{"idle timeout", c.IdleTimeout},
		{"shutdown timeout", c.ShutdownTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s is negative (%v); use a positive duration or 0 for the default", ErrInvalidConfig, d.name, d.v)
		}
	}
	if c.MaxHeaderBytes < 0 {
		return fmt.Errorf("%w: max header bytes is negative (%d); use a positive size or 0 for the default", ErrInvalidConfig, c.MaxHeaderBytes)
	}
	for i, hook := range c.OnShutdown {
		if hook == nil {
			return fmt.Errorf("%w: shutdown hook %d is nil", ErrInvalidConfig, i)
		}
	}
	hasFiles := c.CertFile != "" || c.KeyFile != ""
	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		return ErrCertKeyPair
	case hasFiles && c.SelfSigned:
		return fmt.Errorf("%w: both certificate files and self-signing are set; pass either --tls-cert/--tls-key or --self-signed", ErrInvalidConfig)
	case !hasFiles && !c.SelfSigned && !isLoopbackAddr(c.Addr):
		return fmt.Errorf("%w (listen address %q)", ErrSelfSignedNotLoopback, c.Addr)
	}
	return nil
}

// checkAddr parses host:port and returns the port number.
func checkAddr(what, addr string) (int, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q: %w; use host:port such as 127.0.0.1:8443 or :8443", ErrInvalidConfig, what, addr, err)
	}
	port, err := net.LookupPort("tcp", portStr)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q: bad port: %w", ErrInvalidConfig, what, addr, err)
	}
	return port, nil
}

// isLoopbackAddr reports whether host:port names only loopback interfaces.
// An empty or unspecified host listens everywhere, so it is not loopback;
// names other than "localhost" are not resolved, to keep the decision static.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
