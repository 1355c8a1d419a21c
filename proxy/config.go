package proxy

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied to zero fields of Config.
const (
	DefaultTimeout                = 30 * time.Second
	DefaultDialTimeout            = 10 * time.Second
	DefaultIdleTimeout            = 60 * time.Second
	DefaultMaxResponseHeaderBytes = 64 << 10
	DefaultMaxInformational       = 5
	DefaultMaxInformationalBytes  = 16 << 10
	DefaultMaxIdleConnsPerOrigin  = 512
)

// Config configures a Proxy. Either Origins or Default must be set.
//
// Origin URLs use the scheme http (HTTP/1.1), https (HTTP/2 or HTTP/1.1,
// negotiated with ALPN; the certificate is verified against the system
// roots) or h2c (cleartext HTTP/2 with prior knowledge). A path in the URL is
// prefixed to every forwarded path.
type Config struct {
	// Origins maps the host name a client asks for (the Host header,
	// case-insensitive, port ignored) to the origin that serves it.
	// Default none.
	Origins map[string]*url.URL

	// Default serves every host not in Origins. Nil (the default) means such
	// requests are answered 421 Misdirected Request and never forwarded, so
	// the proxy cannot be used to reach anything else.
	Default *url.URL

	// Timeout bounds the wait for the origin's response headers, its think
	// time included; past it the client gets 504 Gateway Timeout. Bodies
	// stream for as long as they take. 0 means 30s.
	Timeout time.Duration

	// DialTimeout bounds connecting to the origin (TCP and TLS). 0 means 10s.
	DialTimeout time.Duration

	// IdleTimeout ends a response whose body the origin stops sending for
	// this long: the client's connection is closed (HTTP/1.1) or its stream
	// reset (HTTP/2, HTTP/3), and the access log says origin-timeout. A
	// stream meant to stay quiet longer (server-sent events without
	// keep-alive comments) needs a larger value. 0 means 60s.
	IdleTimeout time.Duration

	// MaxResponseHeaderBytes bounds the header fields of the origin's final
	// response and of each of its 1xx responses, as nginx's proxy buffers
	// do; past it the client gets a clean 502 and the log says
	// header-limit. 0 means 64 KiB.
	MaxResponseHeaderBytes int

	// MaxInformational bounds the 1xx responses the origin may send before
	// its final one; MaxInformationalBytes their header fields taken
	// together. Past either the client gets a 502 (header-limit). 0 means 5
	// (the most Go's and quic-go's clients accept) and 16 KiB.
	MaxInformational      int
	MaxInformationalBytes int

	// ExposeErrors puts the origin's address and the cause of a failure in
	// the body of 502 and 504 answers, for development. Default false: the
	// body says what happened and gives the request ID under which the log
	// has the details.
	ExposeErrors bool

	// PreserveHost sends the client's Host header to the origin. Default
	// false: the origin gets its own host name (as in its URL), and the
	// client's is in X-Forwarded-Host and Forwarded.
	PreserveHost bool

	// Transport carries requests to the origins. Nil means one built from
	// the settings above (no environment proxy, no transparent
	// decompression), which also keeps the fields an HTTP/1.1 origin names
	// in a Connection field that says close from the client; net/http
	// alone loses those names.
	Transport http.RoundTripper

	// Logger receives origin errors. Nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxResponseHeaderBytes == 0 {
		c.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	if c.MaxInformational == 0 {
		c.MaxInformational = DefaultMaxInformational
	}
	if c.MaxInformationalBytes == 0 {
		c.MaxInformationalBytes = DefaultMaxInformationalBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if len(c.Origins) == 0 && c.Default == nil {
		return fmt.Errorf("%w: no origin; pass --origin URL or list origins by host in the config file", ErrInvalidConfig)
	}
	if c.Default != nil {
		if err := CheckOrigin(c.Default); err != nil {
			return err
		}
	}
	seen := make(map[string]string, len(c.Origins))
	for host, u := range c.Origins {
		name := HostName(host)
		if name == "" {
			return fmt.Errorf("%w: empty host name in origins", ErrInvalidConfig)
		}
		if prev, dup := seen[name]; dup {
			return fmt.Errorf("%w: hosts %q and %q are the same host; list it once", ErrInvalidConfig, prev, host)
		}
		seen[name] = host
		if u == nil {
			return fmt.Errorf("%w: host %q has no origin URL", ErrInvalidConfig, host)
		}
		if err := CheckOrigin(u); err != nil {
			return fmt.Errorf("host %q: %w", host, err)
		}
	}
	if c.Timeout < 0 || c.DialTimeout < 0 || c.IdleTimeout < 0 {
		return fmt.Errorf("%w: timeouts must not be negative; use a positive duration or 0 for the default", ErrInvalidConfig)
	}
	if c.MaxResponseHeaderBytes < 0 || c.MaxInformational < 0 || c.MaxInformationalBytes < 0 {
		return fmt.Errorf("%w: header bounds must not be negative; use a positive size or 0 for the default", ErrInvalidConfig)
	}
	if c.MaxResponseHeaderBytes > 0 && c.MaxResponseHeaderBytes < 1<<10 {
		return fmt.Errorf("%w: MaxResponseHeaderBytes %d is too small for any real response; use at least 1 KiB", ErrInvalidConfig, c.MaxResponseHeaderBytes)
	}
	return nil
}

// CheckOrigin reports whether u can be used as an origin.
func CheckOrigin(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "h2c":
		return fmt.Errorf("%w: origin %q: scheme must be http, https or h2c", ErrInvalidConfig, u.Redacted())
	case u.Host == "":
		return fmt.Errorf("%w: origin %q has no host; write it as http://host:port", ErrInvalidConfig, u.Redacted())
	case u.User != nil:
		return fmt.Errorf("%w: origin %q carries credentials; they would be sent nowhere, remove them", ErrInvalidConfig, u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%w: origin %q has a query or fragment; remove it", ErrInvalidConfig, u.Redacted())
	}
	return nil
}

// ParseOrigin parses and checks an origin URL such as http://127.0.0.1:8080.
func ParseOrigin(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: origin %q: %w", ErrInvalidConfig, s, err)
	}
	if err := CheckOrigin(u); err != nil {
		return nil, err
	}
	return u, nil
}

// HostName returns the lower-case host name of a Host header value, without
// port, brackets or trailing dot.
func HostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return strings.ToLower(host)
}
