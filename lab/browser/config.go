package browser

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/quic-go/quic-go"
)

// Protocols the model speaks.
const (
	H1 = "h1"
	H2 = "h2"
	H3 = "h3"
)

// Sentinel errors.
var (
	ErrInvalidConfig = errors.New("browser: invalid config")
	ErrNavigation    = errors.New("browser: navigation failed")
)

// Config configures a browser model. The zero value loads pages over
// HTTP/2 with a cold cache, no push and no Early Hints.
type Config struct {
	// Proto is "h1", "h2" or "h3"; "" means "h2".
	Proto string
	// TLS is the client TLS configuration (set RootCAs to trust the test
	// certificate); nil means system roots. NextProtos is set per protocol.
	TLS *tls.Config
	// DialContext dials TCP for h1 and h2 (route it through a netem relay
	// or namespace); nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// PacketConn carries QUIC for h3 (e.g. a socket inside a netem
	// namespace); nil means a UDP socket on an ephemeral port, opened per
	// Load.
	PacketConn net.PacketConn
	// ResolveUDP maps an origin's "host:port" to the UDP address to send
	// QUIC packets to (e.g. a netem relay); nil means net.ResolveUDPAddr.
	ResolveUDP func(addr string) (*net.UDPAddr, error)
	// DialQUIC, when set, replaces PacketConn and ResolveUDP entirely.
	DialQUIC func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error)
	// Cache is the HTTP cache; share one Cache between visits for a warm
	// run. Nil means a fresh cache per Load (cold).
	Cache *Cache
	// Jar holds the cookies of the loads that share it: every request of a
	// load (document, resources, on h1, h2, h3 and the h2push client)
	// carries the jar's cookies, and every response's Set-Cookie, pushed
	// responses included, goes into it. Share one Jar with the Cache for a
	// returning visitor. It must be safe for concurrent use, as
	// net/http/cookiejar's is. Nil means no cookies are sent or kept.
	Jar http.CookieJar
	// AcceptPush enables HTTP/2 server push (h2 only): the page is loaded
	// with the lab's own HTTP/2 client (package h2push).
	AcceptPush bool
	// H2PushClient loads h2 pages with the h2push client even without
	// AcceptPush, so that push and no-push runs share one client. Default
	// false: Go's net/http HTTP/2 transport.
	H2PushClient bool
	// UseEarlyHints acts on the first 103 of the navigation: preload and
	// preconnect, like Chrome. Default false.
	UseEarlyHints bool
	// EarlyHintsOnH1 also acts on a 103 received over HTTP/1.1, which
	// Chrome does not do. Default false.
	EarlyHintsOnH1 bool
	// MaxConnsPerHost bounds HTTP/1.1 connections per host; 0 means 6.
	MaxConnsPerHost int
	// MaxStreamsPerConn bounds concurrent requests on one h2/h3
	// connection; 0 means 100.
	MaxStreamsPerConn int
	// DelayableWhileBlocking bounds the images (and other low-priority
	// requests) the page has in flight, across all hosts, while the
	// document head is being parsed or a render-blocking request is in
	// flight (Chrome's "tight mode"); until the parser reaches the body
	// (past the head's synchronous scripts), async and defer scripts wait.
	// A 103's preloads, which the browser itself makes, are never held.
	// 0 means 2, negative means no bound and no wait. Two images in
	// flight, scripts held until the render-blocking script arrived, is
	// what Chromium 156 was measured to do on the lab's pages.
	DelayableWhileBlocking int
	// Timeout bounds one Load; 0 means 60 s.
	Timeout time.Duration
	// UserAgent is sent with every request; "" means a Chrome-like string.
	UserAgent string
	// Logger receives the model's diagnostics; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports a configuration the model cannot run.
func (c Config) Validate() error {
	switch c.Proto {
	case "", H1, H2, H3:
	default:
		return fmt.Errorf("%w: Proto %q; use h1, h2 or h3", ErrInvalidConfig, c.Proto)
	}
	if c.AcceptPush && c.proto() != H2 {
		return fmt.Errorf("%w: AcceptPush needs Proto h2 (push exists only in HTTP/2)", ErrInvalidConfig)
	}
	if c.MaxConnsPerHost < 0 || c.MaxStreamsPerConn < 0 || c.Timeout < 0 {
		return fmt.Errorf("%w: limits and Timeout must not be negative", ErrInvalidConfig)
	}
	return nil
}

func (c Config) proto() string {
	if c.Proto == "" {
		return H2
	}
	return c.Proto
}

func (c Config) withDefaults() Config {
	c.Proto = c.proto()
	if c.MaxConnsPerHost == 0 {
		c.MaxConnsPerHost = 6
	}
	if c.MaxStreamsPerConn == 0 {
		c.MaxStreamsPerConn = 100
	}
	if c.DelayableWhileBlocking == 0 {
		c.DelayableWhileBlocking = 2
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.UserAgent == "" {
		c.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36 earlyhints-lab"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TLS == nil {
		c.TLS = &tls.Config{}
	}
	return c
}

// hintsAllowed reports whether the model acts on a 103 for this protocol.
func (c Config) hintsAllowed() bool {
	return c.UseEarlyHints && (c.Proto != H1 || c.EarlyHintsOnH1)
}
