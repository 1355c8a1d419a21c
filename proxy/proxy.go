package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proxy forwards requests to the origin configured for their Host. It is an
// http.Handler; put it inside earlyhints.New.
type Proxy struct {
	cfg     Config
	origins map[string]*url.URL // host name -> origin, schemes as configured
	rp      *httputil.ReverseProxy
}

var _ http.Handler = (*Proxy)(nil)

// New validates cfg and returns a Proxy.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Proxy{cfg: cfg, origins: make(map[string]*url.URL, len(cfg.Origins))}
	for host, u := range cfg.Origins {
		p.origins[HostName(host)] = u
	}
	transport := cfg.Transport
	if transport == nil {
		transport = newOriginTransport(cfg)
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		BufferPool:     copyBuffers{},
		// FlushInterval stays 0: ReverseProxy already flushes every write of
		// a response without Content-Length or of text/event-stream, which
		// is what streams; a body of known length is copied in big writes.
	}
	return p, nil
}

// Origin returns the origin that serves host, or nil when none does.
func (p *Proxy) Origin(host string) *url.URL {
	if u, ok := p.origins[HostName(host)]; ok {
		return u
	}
	return p.cfg.Default
}

// copyBuffers recycles the 32 KiB buffers ReverseProxy copies bodies
// through, which it would otherwise allocate per request.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

// exchange is what the proxy knows of one forwarded request.
type exchange struct {
	origin *url.URL
	start  time.Time
	timer  *time.Timer
	stats  *Stats // from AccessLog, or a private one
}

type exchangeKey struct{}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := p.Origin(r.Host)
	stats := StatsFrom(r.Context())
	if origin == nil {
		stats.setOrigin("")
		misdirected(w, r)
		return
	}
	stats.setOrigin(origin.Redacted())
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	ex := &exchange{origin: origin, start: time.Now(), stats: stats}
	// The deadline covers the wait for response headers only; a body, a
	// stream or an upgraded connection lasts as long as it needs.
	ex.timer = time.AfterFunc(p.cfg.Timeout, func() { cancel(ErrOriginTimeout) })
	defer ex.timer.Stop()
	ctx = context.WithValue(ctx, exchangeKey{}, ex)
	p.rp.ServeHTTP(newOriginWriter(w), r.WithContext(ctx))
}

// misdirected answers a request for a host that no origin serves: 421 tells
// a browser that reused a connection for another host to open a new one, and
// nothing is forwarded, so the proxy is not an open relay.
func misdirected(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMisdirectedRequest,
		fmt.Sprintf("421 Misdirected Request: this proxy serves no site named %q.\n"+
			"Check the address you used, or add the host under origins: in the proxy's config file.\n", HostName(r.Host)))
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	ex, _ := pr.In.Context().Value(exchangeKey{}).(*exchange)
	target := *ex.origin
	if target.Scheme == "h2c" {
		target.Scheme = "http"
	}
	pr.SetURL(&target)
	if p.cfg.PreserveHost {
		pr.Out.Host = pr.In.Host
	}
	// The client's own forwarding headers are not trusted: ReverseProxy
	// already dropped X-Forwarded-*; Forwarded is replaced the same way.
	pr.SetXForwarded()
	pr.Out.Header.Set("Forwarded", forwarded(pr.In))
}

// forwarded formats the RFC 7239 Forwarded value for r.
func forwarded(r *http.Request) string {
	var b strings.Builder
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if strings.Contains(ip, ":") {
			fmt.Fprintf(&b, `for="[%s]";`, ip)
		} else {
			fmt.Fprintf(&b, "for=%s;", ip)
		}
	}
	if r.Host != "" {
		fmt.Fprintf(&b, "host=%q;", r.Host)
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	b.WriteString("proto=" + proto)
	return b.String()
}

func (p *Proxy) modifyResponse(res *http.Response) error {
	if ex, ok := res.Request.Context().Value(exchangeKey{}).(*exchange); ok {
		ex.timer.Stop()
		ex.stats.setOriginTime(time.Since(ex.start))
	}
	return nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	origin := "the origin"
	if ex != nil {
		origin = ex.origin.Redacted()
		ex.stats.setOriginTime(time.Since(ex.start))
	}
	cause := context.Cause(r.Context())
	var netErr net.Error
	switch {
	case errors.Is(cause, ErrOriginTimeout) || errors.As(err, &netErr) && netErr.Timeout():
		p.cfg.Logger.Warn("origin timed out", "origin", origin, "host", r.Host, "path", r.URL.Path, "timeout", p.cfg.Timeout, "error", err)
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf(
			"504 Gateway Timeout: the origin %s sent no response within %v.\n"+
				"Check that it is not overloaded or stuck, or raise --origin-timeout if it is meant to think this long.\n",
			origin, p.cfg.Timeout))
	case r.Context().Err() != nil:
		// The client went away; nobody reads this answer.
		p.cfg.Logger.Debug("client went away before the origin answered", "origin", origin, "host", r.Host, "path", r.URL.Path)
		w.WriteHeader(http.StatusBadGateway)
	default:
		p.cfg.Logger.Warn("origin unreachable", "origin", origin, "host", r.Host, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusBadGateway, fmt.Sprintf(
			"502 Bad Gateway: the origin %s could not be reached (%s).\n"+
				"Check that it is running and reachable from this host, and that --origin (or origins: in the config file) names the right scheme, address and port.\n",
			origin, reason(err)))
	}
}

// reason names the class of a transport error without exposing details
// meant for the operator's log.
func reason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "host name not found"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return "could not connect"
	}
	if strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:") {
		return "TLS handshake failed"
	}
	return "the connection failed or the response was malformed"
}

func writeError(w http.ResponseWriter, code int, body string) {
	h := w.Header()

	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body) //nolint:gosec // text/plain with nosniff: never rendered as HTML
}
