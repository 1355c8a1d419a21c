package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/lab/browser/h2push"
	"github.com/earlyhints/earlyhints/linkheader"
)

// MaxBodyBytes bounds one response body the model reads (the document or
// a resource): beyond it the read stops and the entry records an error.
const MaxBodyBytes = 64 << 20

// page is the state of one Load.
type page struct {
	cfg   Config
	log   *slog.Logger
	ctx   context.Context
	start time.Time
	url   *url.URL
	cache *Cache
	f     fetcher

	mu       sync.Mutex
	entries  []*entry
	byURL    map[string]*entry
	blocking map[string]bool // URLs the document (or an @import chain) makes render-blocking
	queue    map[string][]*entry
	inflight map[string]int // requests in flight per host (document included)
	delayed  int            // delayable requests in flight
	// sendNext and sendTurn order each host's requests on the wire: a
	// request is written when sendTurn reaches its ticket.
	sendNext, sendTurn map[string]int
	sendCond           *sync.Cond
	critical           int  // priority-0 requests in flight
	inHead             bool // the document head is still being parsed
	seq                int
	tasks              int
	idle               chan struct{}
	ended              bool // idle was closed: no task may start

	ehSeen                  bool
	res                     Result
	pushes, pushesCancelled int
}

// entry is an Entry plus the model's bookkeeping; guarded by page.mu
// except where noted.
type entry struct {
	Entry
	u       *url.URL
	host    string
	seq     int
	done    bool
	started bool
	header  http.Header
	body    []byte
	parsed  bool // CSS references already discovered
	// heldBack marks a request started as delayable: it counts against
	// the tight-mode bound until it ends.
	heldBack bool
	ticket   int // its place in its host's order of requests
	etag     string
	stale    *cached
	push     *h2push.Push
}

// Load navigates to rawURL and returns its waterfall. The error is non-nil
// when the document could not be loaded or the load timed out; the Result
// then holds what was measured.
func Load(ctx context.Context, rawURL string, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrNavigation, rawURL)
	}
	u.Fragment = ""
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	p := &page{
		cfg: cfg, log: cfg.Logger, ctx: ctx, url: u, cache: cfg.Cache,
		byURL: map[string]*entry{}, blocking: map[string]bool{}, queue: map[string][]*entry{},
		inflight: map[string]int{}, inHead: true, idle: make(chan struct{}),
		sendNext: map[string]int{}, sendTurn: map[string]int{},
	}
	p.sendCond = sync.NewCond(&p.mu)
	stopWaits := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.sendCond.Broadcast()
		p.mu.Unlock()
	})
	defer stopWaits()
	if p.cache == nil {
		p.cache = &Cache{}
	}
	p.res = Result{URL: u.String(), Proto: cfg.Proto}
	p.f, err = newFetcher(ctx, cfg, p.onPush)
	if err != nil {
		return nil, err
	}
	p.start = time.Now()
	var navErr error
	p.spawn(func() { navErr = p.navigate() })
	var stopped error
	select {
	case <-p.idle:
	case <-ctx.Done():
		stopped = ctx.Err()
	}
	cancel()
	p.f.close()
	<-p.idle // every task ends once the context is cancelled
	res := p.result()
	switch {
	case errors.Is(stopped, context.DeadlineExceeded):
		return res, errTimeout
	case stopped != nil:
		return res, fmt.Errorf("browser: load stopped: %w", stopped)
	case navErr != nil:
		return res, fmt.Errorf("%w: %w", ErrNavigation, navErr)
	}
	return res, nil
}

// spawn runs fn as a task of the page; the page is idle when none runs.
// It reports false, and does not run fn, once the page has gone idle.
func (p *page) spawn(fn func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spawnLocked(fn)
}

func (p *page) spawnLocked(fn func()) bool {
	if p.ended {
		return false
	}
	p.tasks++
	go func() {
		defer p.taskDone()
		fn()
	}()
	return true
}

func (p *page) taskDone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tasks--
	if p.tasks == 0 && !p.ended {
		p.ended = true
		close(p.idle)
	}
}

func (p *page) since() time.Duration { return time.Since(p.start) }

// navigate fetches the document, acting on its first 103, and feeds it to
// the document processor as it arrives.
func (p *page) navigate() error {
	doc := &entry{Entry: Entry{URL: p.url.String(), Kind: KindDocument, Initiator: InitNavigation, Priority: -1, Used: true}, u: p.url, host: hostPort(p.url)}
	p.mu.Lock()
	p.entries = append(p.entries, doc)
	p.byURL[doc.URL] = doc
	p.inflight[doc.host]++
	p.mu.Unlock()
	defer func() {
		// The head ends when the document processor says so, not when the
		// last byte arrives: a short document is all in before the parser
		// has reached its body.
		p.mu.Lock()
		p.inflight[doc.host]--
		p.pump()
		p.mu.Unlock()
	}()

	var body []byte
	fromCache := false
	stream := newDocStream()
	c, hit := p.cache.lookup(doc.URL)
	var resp *http.Response
	if hit && c.fresh {
		doc.Initiator, doc.FromCache, doc.Status = InitCache, true, http.StatusOK
		resp = &http.Response{StatusCode: http.StatusOK, Header: c.header, Body: http.NoBody}
		body, fromCache = c.body, true
	} else {
		req := p.newRequest(doc)
		if hit && c.etag != "" {
			req.Header.Set("If-None-Match", c.etag)
		}
		trace := &httptrace.ClientTrace{Got1xxResponse: p.got1xx}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		var err error
		resp, err = p.f.RoundTrip(req)
		if err != nil {
			doc.Error = err.Error()
			stream.close(err)
			return err
		}
		defer resp.Body.Close()
		doc.Status = resp.StatusCode
		if resp.StatusCode == http.StatusNotModified && hit {
			p.cache.refresh(doc.URL, resp.Header)
			doc.FromCache, doc.Revalidated = true, true
			resp.Header = c.header
			body, fromCache = c.body, true
		}
	}
	doc.FirstByte = p.since()
	p.mu.Lock()
	p.res.HTMLFirstByte = doc.FirstByte
	p.mu.Unlock()
	p.spawn(func() { p.processDocument(stream, resp.Header) })
	if fromCache {
		stream.write(body)
	} else {
		n, raw, err := p.readBody(resp.Body, stream.write)
		doc.Bytes = n
		if err != nil {
			doc.Error = err.Error()
		} else {
			p.cache.store(doc.URL, resp.StatusCode, resp.Header, raw)
		}
	}
	stream.close(nil)
	doc.End = p.since()
	p.mu.Lock()
	doc.done = true
	p.res.HTMLEnd = doc.End
	p.mu.Unlock()
	if doc.Status >= 400 {
		return fmt.Errorf("document answered %d", doc.Status)
	}
	return nil
}

// readBody reads a body to its end, calling sink with each chunk, and
// returns its size on the wire and its bytes.
func (p *page) readBody(r io.Reader, sink func([]byte)) (int64, []byte, error) {
	var all []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if len(all)+n > MaxBodyBytes {
				return int64(len(all)), all, fmt.Errorf("body larger than %d bytes", MaxBodyBytes)
			}
			all = append(all, buf[:n]...)
			if sink != nil {
				sink(buf[:n])
			}
		}
		if errors.Is(err, io.EOF) {
			return int64(len(all)), all, nil
		}
		if err != nil {
			return int64(len(all)), all, err
		}
	}
}

// got1xx acts on the first 103 of the navigation, like Chrome: preload
// and preconnect only, later 103s ignored.
func (p *page) got1xx(code int, h textproto.MIMEHeader) error {
	if code != http.StatusEarlyHints {
		return nil
	}
	p.mu.Lock()
	first := !p.ehSeen
	if first {
		p.ehSeen = true
		p.res.EarlyHints = true
		p.res.EarlyHintsAt = p.since()
	}
	p.mu.Unlock()
	if !first || !p.cfg.hintsAllowed() {
		return nil
	}
	links, _ := linkheader.Parse(h.Values("Link")...)
	for _, l := range links {
		p.actOnLink(l, InitEarlyHints)
	}
	return nil
}

// actOnLink starts what a preload, modulepreload or preconnect link asks
// for.
func (p *page) actOnLink(l linkheader.Link, initiator string) { p.actOnLinkLow(l, initiator, false) }

// actOnLinkLow is actOnLink for a link whose script, if it is one, is
// async or deferred (lowScript).
func (p *page) actOnLinkLow(l linkheader.Link, initiator string, lowScript bool) {
	u, err := p.url.Parse(l.URI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return
	}
	switch {
	case l.HasRel("preconnect"):
		p.f.preconnect(hostPort(u))
	case l.HasRel("preload"):
		as, _ := l.Param("as")
		fp, _ := l.Param("fetchpriority")
		kind := kindFromAs(as)
		p.discover(u, kind, initiator, priorityOf(kind, fp, lowScript))
	case l.HasRel("modulepreload"):
		p.discover(u, KindScript, initiator, prioScript)
	}
}

func (p *page) newRequest(e *entry) *http.Request {
	req, _ := http.NewRequestWithContext(p.ctx, http.MethodGet, e.u.String(), nil)
	req.Header.Set("User-Agent", p.cfg.UserAgent)
	req.Header.Set("Accept-Encoding", "gzip")
	if p.cfg.Proto != H1 {
		// The priority Chrome sends (RFC 9218); the HTTP/2 client turns it
		// into the stream's weight, as Chrome does.
		req.Header.Set("Priority", priorityField(e.Kind, e.Initiator, e.Priority))
	}
	switch e.Kind {
	case KindDocument:
		req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
	case KindStyle:
		req.Header.Set("Accept", "text/css,*/*;q=0.1")
		req.Header.Set("Sec-Fetch-Dest", "style")
	default:
		req.Header.Set("Accept", "*/*")
		req.Header.Set("Sec-Fetch-Dest", e.Kind)
	}
	return req
}

func (p *page) result() *Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	res := p.res
	for _, e := range p.entries {
		if e.push != nil && e.Cancelled {
			e.Bytes = e.push.DataBytes()
		}
		e.RenderBlocking = p.blocking[e.URL] && e.Kind != KindDocument
		res.Entries = append(res.Entries, e.Entry)
	}
	slices.SortStableFunc(res.Entries, func(a, b Entry) int { return int(a.Start - b.Start) })
	res.Connections = p.f.connections()
	res.Pushes, res.PushesCancelled = p.pushes, p.pushesCancelled
	res.computeMetrics()
	return &res
}
