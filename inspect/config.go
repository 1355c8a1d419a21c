package inspect

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Protocols the check speaks.
const (
	H1 = "h1"
	H2 = "h2"
	H3 = "h3"
)

// Defaults applied to zero fields of Config.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxTime          = 60 * time.Second
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultMaxRedirects     = 10
	// DefaultLateRatio: a 103 that arrives after this share of the wait for
	// the final headers is late.
	DefaultLateRatio = 0.5
	// DefaultMinThink is the wait for the final headers below which there is
	// no time on the table worth a late-103 finding.
	DefaultMinThink = 50 * time.Millisecond
	// DefaultMinLifetime: a hinted file fresh for less than this is stale by
	// the time a slow page asks for it.
	DefaultMinLifetime = 60 * time.Second
)

// Bounds on what one check reads; a server cannot make it use more.
const (
	// Max1xx is how many informational responses are read before the
	// request is abandoned (Go's and quic-go's clients stop at 5 too).
	Max1xx = 5
	// MaxHeaderBytes bounds one response's header block.
	MaxHeaderBytes = 1 << 20
	// MaxBodyBytes bounds how much of a document or text file is read.
	MaxBodyBytes = 1 << 20
	// MaxTargets bounds how many hinted files are fetched per result.
	MaxTargets = 24
	// MaxFetches bounds the hinted files and texts fetched at once per
	// result, as a browser bounds its connections to one host (6).
	MaxFetches = 6
)

// ErrBadConfig reports a Config that fails Validate.
var ErrBadConfig = errors.New("inspect: invalid configuration")

// Config configures Check. The zero value checks h1, h2 and h3 once each,
// trusting the system's certificate authorities.
type Config struct {
	// Protos are the protocols to check, from h1, h2 and h3. Default all
	// three. An http:// URL is checked over h1 only.
	Protos []string
	// Insecure accepts any certificate (like curl -k). Default false.
	Insecure bool
	// RootCAs are the authorities to trust. Nil means the system's.
	RootCAs *x509.CertPool
	// Header holds extra request fields (cookies, authorization); they
	// replace the navigation's own fields of the same name.
	Header http.Header
	// Runs is how many times each page is requested; times are medians.
	// 0 means 1.
	Runs int
	// Follow follows redirects (up to 10 hops, never back to a URL already
	// visited: either end is a too-many-redirects finding), reporting each
	// hop.
	// Default false: a redirect is reported and not followed.
	Follow bool
	// Timeout bounds each request, from dialling to the end of what is read
	// of the body. 0 means 10s.
	Timeout time.Duration
	// MaxTime bounds the whole check: every request of every protocol and
	// hop, the hinted files, and the browser's visits. What has not ended
	// by then is reported as a timeout. 0 means 60s.
	MaxTime time.Duration
	// HandshakeTimeout bounds connecting: TCP and TLS, or the QUIC
	// handshake. 0 means 5s.
	HandshakeTimeout time.Duration
	// Browser, when set, also loads the page in a real browser over h2
	// and h3 and reports which hinted files it took from the 103. Default
	// none.
	Browser Browser
	// Learn adds to the report what the proxy would learn from the page
	// and hint on the next navigation (Report.Learn), with the files it
	// would leave out and why. With Browser, also which files the page's
	// first render waited for that the 103 would miss. Default false.
	Learn bool
	// Logger receives progress at debug level. Nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	for _, p := range c.Protos {
		if p != H1 && p != H2 && p != H3 {
			return fmt.Errorf("%w: protocol %q; use h1, h2 or h3", ErrBadConfig, p)
		}
	}
	switch {
	case c.Runs < 0:
		return fmt.Errorf("%w: Runs %d is negative; use 0 for one run", ErrBadConfig, c.Runs)
	case c.Runs > 100:
		return fmt.Errorf("%w: Runs %d; at most 100", ErrBadConfig, c.Runs)
	case c.Timeout < 0, c.HandshakeTimeout < 0, c.MaxTime < 0:
		return fmt.Errorf("%w: negative timeout; use 0 for the default", ErrBadConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if len(c.Protos) == 0 {
		c.Protos = []string{H1, H2, H3}
	}
	if c.Runs == 0 {
		c.Runs = 1
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxTime == 0 {
		c.MaxTime = DefaultMaxTime
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = min(DefaultHandshakeTimeout, c.Timeout)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
