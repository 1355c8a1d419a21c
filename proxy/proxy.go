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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/earlyhints/earlyhints/internal/responsewriter"
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
		// What ReverseProxy logs itself (a body copy that failed) is in the
		// access log and the proxy's own warning, with the request's path.
		ErrorLog:   slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		BufferPool: copyBuffers{},
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
	host   string // as the client asked, for the log
	path   string
	client context.Context // the client's request context
	ctx    context.Context // the origin request's, cancelled with a cause
	cancel context.CancelCauseFunc
	stats  *Stats // from AccessLog, or a private one
	writer *originWriter
	// timer first bounds the wait for response headers (Timeout), then
	// each wait for the next piece of body (IdleTimeout).
	timer  *time.Timer
	inBody atomic.Bool
	// bodyErr is the error reading the client's request body gave (a
	// stream the client reset, a connection it closed), nil while none.
	bodyErr atomic.Pointer[error]
}

// clientBody is a request body as the proxy forwards it: it notes how
// reading it failed, so that a forward that fails because of it is the
// client's doing, not the origin's.
type clientBody struct {
	io.ReadCloser
	ex *exchange
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF { //nolint:errorlint // io.EOF is returned as is by Read
		b.ex.bodyErr.CompareAndSwap(nil, &err)
	}
	return n, err
}

type exchangeKey struct{}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	stats := StatsFrom(r.Context())
	if !p.methodAllowed(w, r, stats) {
		return
	}
	origin := p.Origin(r.Host)
	if origin == nil {
		stats.setOrigin("")
		stats.setOutcome(OutcomeRejected, "no origin serves this host")
		misdirected(w, r)
		return
	}
	stats.setOrigin(origin.Redacted())
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	ex := &exchange{origin: origin, start: time.Now(), host: r.Host, path: r.URL.Path, client: r.Context(), ctx: ctx, cancel: cancel, stats: stats}
	ex.timer = time.AfterFunc(p.cfg.Timeout, func() {
		if ex.inBody.Load() {
			cancel(ErrOriginIdle)
		} else {
			cancel(ErrOriginTimeout)
		}
	})
	defer ex.timer.Stop()
	ex.writer = newOriginWriter(w, r, &p.cfg, ex)
	// However ReverseProxy ends (a panic that cuts a response short
	// included), the 1xx writer is done before this returns.
	defer ex.writer.drain()
	out := r.WithContext(context.WithValue(ctx, exchangeKey{}, ex))
	if r.Body != nil && r.Body != http.NoBody {
		out.Body = &clientBody{ReadCloser: r.Body, ex: ex}
	}
	// ReverseProxy takes over the connection of an upgrade (a WebSocket)
	// through the writer's Hijack.
	p.rp.ServeHTTP(responsewriter.WithHijacker(ex.writer), out)
}

// methodAllowed answers a request the proxy does not forward: CONNECT
// (a tunnel) and TRACE (it echoes the request, credentials included) with
// 405, methods no origin behind a reverse proxy is expected to know with 501.
func (p *Proxy) methodAllowed(w http.ResponseWriter, r *http.Request, stats *Stats) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions,
		// WebDAV (RFC 4918, 3253, 5323) and QUERY (the safe method with a body).
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH", "QUERY":
		return true
	case http.MethodConnect, http.MethodTrace:
		stats.setOutcome(OutcomeRejected, "method not forwarded")
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("405 Method Not Allowed: this proxy does not forward %s requests.\n", r.Method))
		return false
	}
	stats.setOutcome(OutcomeRejected, "unknown method")
	writeError(w, http.StatusNotImplemented, "501 Not Implemented: this proxy does not forward requests with this method.\n")
	return false
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
	if fw, ok := pr.In.Context().Value(forwardedKey{}).(*forwardedBy); ok {
		// From a trusted proxy: its forwarding headers go on, with this
		// hop added.
		fw.setHeaders(pr.Out.Header, pr.In)
		return
	}
	// The client's own forwarding headers are not trusted: ReverseProxy
	// already dropped X-Forwarded-*; Forwarded is replaced the same way.
	pr.SetXForwarded()
	pr.Out.Header.Set("Forwarded", forwarded(pr.In))
}

// forwarded formats the RFC 7239 Forwarded value for r. It runs on every
// request, so it appends to one buffer rather than going through fmt.
func forwarded(r *http.Request) string {
	b := make([]byte, 0, 32+len(r.Host))
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if strings.Contains(ip, ":") {
			b = append(b, `for="[`...)
			b = append(b, ip...)
			b = append(b, `]";`...)
		} else {
			b = append(b, "for="...)
			b = append(b, ip...)
			b = append(b, ';')
		}
	}
	if r.Host != "" {
		b = append(b, "host="...)
		b = strconv.AppendQuote(b, r.Host)
		b = append(b, ';')
	}
	if r.TLS != nil {
		b = append(b, "proto=https"...)
	} else {
		b = append(b, "proto=http"...)
	}
	return string(b)
}

func (p *Proxy) modifyResponse(res *http.Response) error {
	ex, ok := res.Request.Context().Value(exchangeKey{}).(*exchange)
	if !ok {
		return nil
	}
	ex.timer.Stop()
	ex.stats.setOriginTime(time.Since(ex.start))
	if res.StatusCode < 200 || res.StatusCode > 599 {
		// net/http reads any three digits as a status, but a handler
		// writing one outside 100-999 panics, and a 1xx here is not final.
		if res.StatusCode != http.StatusSwitchingProtocols {
			return fmt.Errorf("%w: status %d", errBadStatus, res.StatusCode)
		}
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		return nil // the body is the upgraded connection: no idle bound
	}
	hasBody := res.Request.Method != http.MethodHead && res.ContentLength != 0 &&
		res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusNotModified
	// A body of unknown length may come in pieces over time (a stream): the
	// final headers go out at once. A body of known length goes out with
	// its first bytes, and the headers with them: a flush of its own costs
	// a write (a TLS record, an HTTP/2 frame round) per response.
	ex.writer.flush = hasBody && res.ContentLength < 0
	if res.Body != nil && res.Body != http.NoBody {
		ex.inBody.Store(true)
		ib := &idleBody{ReadCloser: res.Body, ex: ex, idle: p.cfg.IdleTimeout, log: p.cfg.Logger}
		if hasBody && res.ContentLength > 0 {
			ib.left = res.ContentLength
		}
		res.Body = ib
	}
	return nil
}

// idleBody ends a body the origin stops sending: the timer runs only while
// a read waits on the origin, so a slow client does not count against it.
type idleBody struct {
	io.ReadCloser
	ex   *exchange
	idle time.Duration
	log  *slog.Logger
	// left counts the bytes of a body of known length not read yet; before
	// a read that may wait for more of them, what was written goes out.
	left int64
	read bool // a read returned bytes
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.read && b.left > 0 {
		// Some of the body went to the writer, more is to come and may be
		// slow: the client gets what there is now. Once per response.
		b.left = 0
		b.ex.writer.Flush()
	}
	b.ex.timer.Reset(b.idle)
	n, err := b.ReadCloser.Read(p)
	b.ex.timer.Stop()
	if n > 0 {
		b.read = true
		b.left -= int64(n)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.failed(err)
	}
	return n, err
}

func (b *idleBody) failed(err error) {
	ex := b.ex
	switch {
	case ex.client.Err() != nil:
		ex.stats.setOutcome(OutcomeClientCancelled, "the client went away during the body")
		return
	case errors.Is(context.Cause(ex.ctx), ErrOriginIdle):
		ex.stats.setOutcome(OutcomeOriginTimeout, fmt.Sprintf("the origin sent no body for %v", b.idle))
	default:
		ex.stats.setOutcome(OutcomeOriginReset, "the origin broke off the body: "+reason(err))
	}
	b.log.Warn("origin response cut short", "request_id", ex.stats.RequestID(), "origin", ex.origin.Redacted(),
		"host", ex.host, "path", ex.path, "error", err)
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ex, _ := r.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil {
		writeError(w, http.StatusBadGateway, "502 Bad Gateway\n")
		return
	}
	ex.stats.setOriginTime(time.Since(ex.start))
	id := ex.stats.RequestID()
	origin := ex.origin.Redacted()
	cause := context.Cause(r.Context())
	var netErr net.Error
	var (
		code    int
		outcome string
		visitor string // what every client may read
		detail  string // added with ExposeErrors
	)
	if ex.bodyErr.Load() != nil && !errors.Is(cause, ErrHeaderLimit) {
		// Reading the client's body failed (an HTTP/3 or HTTP/2 client
		// reset its stream's sending side, an HTTP/1 client closed the
		// connection mid-upload): the forward failed because of it.
		ex.stats.setOutcome(OutcomeClientCancelled, "the client cancelled its request body")
		if ex.client.Err() == nil {
			// The client may still be reading: end its stream rather than
			// answer a request it did not send whole.
			panic(http.ErrAbortHandler)
		}
		return
	}
	switch {
	case errors.Is(cause, ErrHeaderLimit) || isHeaderLimit(err):
		code, outcome = http.StatusBadGateway, OutcomeHeaderLimit
		visitor = "502 Bad Gateway: the site's server sent response headers larger than this proxy accepts."
		detail = fmt.Sprintf("The origin %s exceeded %d bytes of headers, %d interim (1xx) responses or %d bytes of them; "+
			"raise --origin-max-header-bytes if its headers are meant to be this large.", origin,
			p.cfg.MaxResponseHeaderBytes, p.cfg.MaxInformational, p.cfg.MaxInformationalBytes)
	case errors.Is(cause, ErrOriginTimeout) || errors.As(err, &netErr) && netErr.Timeout():
		code, outcome = http.StatusGatewayTimeout, OutcomeOriginTimeout
		visitor = fmt.Sprintf("504 Gateway Timeout: the site's server sent no response within %v.", p.cfg.Timeout)
		detail = fmt.Sprintf("The origin %s did not answer. Check that it is not overloaded or stuck, "+
			"or raise --origin-timeout if it is meant to think this long.", origin)
	case ex.client.Err() != nil:
		// The client went away; nobody reads an answer.
		ex.stats.setOutcome(OutcomeClientCancelled, "the client went away before the origin answered")
		return
	default:
		code, outcome = http.StatusBadGateway, OutcomeOriginError
		visitor = fmt.Sprintf("502 Bad Gateway: the site's server could not be reached (%s).", reason(err))
		detail = fmt.Sprintf("The origin is %s. Check that it is running and reachable from this host, and that --origin "+
			"(or origins: in the config file) names the right scheme, address and port.", origin)
	}
	ex.stats.setOutcome(outcome, reason(err))
	p.cfg.Logger.Warn("origin failed", "request_id", id, "outcome", outcome, "origin", origin,
		"host", ex.host, "path", ex.path, "error", err)
	body := visitor + "\nRequest ID: " + id + " (the proxy's log has the details under this ID).\n"
	if p.cfg.ExposeErrors {
		body += detail + "\nError: " + err.Error() + "\n"
	}
	w.Header().Set("X-Request-Id", id)
	writeError(w, code, body)
}

var errBadStatus = errors.New("the origin answered an invalid status")

// isHeaderLimit reports whether err is the transport refusing response
// headers past MaxResponseHeaderBytes (HTTP/1.1 and HTTP/2 word it apart).
func isHeaderLimit(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "response headers exceeded") || strings.Contains(msg, "header list larger than") ||
		strings.Contains(msg, "header list too large")
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
	if errors.Is(err, errBadStatus) {
		return "invalid status"
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
