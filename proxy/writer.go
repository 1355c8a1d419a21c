package proxy

import (
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/internal/responsewriter"
)

// maxForwardedLinkBytes bounds the Link values of one 103 passed on from the
// origin, as the middleware bounds its own (browsers act on a few links;
// a huge 103 only risks the client's header limits).
const maxForwardedLinkBytes = 8 << 10

// originWriter sits between ReverseProxy and the writer it was given.
//
// Until the final status it keeps ReverseProxy's header writes in a map of
// its own: ReverseProxy clears the whole header map after forwarding each
// 1xx, which would also erase fields set by the layers outside (Alt-Svc, for
// one).
//
// An origin's 1xx reaches it on the origin connection's read loop
// (httptrace's Got1xxResponse), which for HTTP/2 serves every stream on that
// connection; writing to a slow client there would stall them all. So a 1xx
// is counted against the bounds, reduced to its Link fields and queued for a
// goroutine of this request that writes it; the final response waits for
// that goroutine. Only a 103 of a GET navigation over HTTP/1.1 or later goes
// on, and it carries nothing but the origin's Link fields: no field an outer
// handler set (Set-Cookie, say) and nothing hop-by-hop.
type originWriter struct {
	responsewriter.Wrapper
	cfg     *Config
	ex      *exchange
	pending http.Header
	final   bool
	canHint bool // an origin's 103 may reach this client
	flush   bool // send the final headers at once, before any body

	mu       sync.Mutex // the 1xx state below, shared with the read loop
	n1xx     int
	bytes1xx int
	queue    chan []string // Link values of 103s on their way out
	done     chan struct{} // closed when the queue's writer has finished
	closed   bool
}

func newOriginWriter(w http.ResponseWriter, r *http.Request, cfg *Config, ex *exchange) *originWriter {
	return &originWriter{
		Wrapper: responsewriter.Wrap(w), cfg: cfg, ex: ex, pending: make(http.Header),
		canHint: r.Method == http.MethodGet && r.ProtoAtLeast(1, 1) && httpx.IsNavigation(r),
	}
}

func (o *originWriter) Header() http.Header {
	if o.final {
		return o.ResponseWriter.Header()
	}
	return o.pending
}

func (o *originWriter) WriteHeader(code int) {
	if o.final {
		o.ResponseWriter.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if responsewriter.Informational(code) {
		o.writeInformational(code)
		return
	}
	o.drain()
	o.final = true
	dst := o.ResponseWriter.Header()
	maps.Copy(dst, o.pending)
	o.ResponseWriter.WriteHeader(code)
	if o.flush {
		// The status line goes out now, not with the first bufferful of a
		// body that may be slow to come.
		_ = http.NewResponseController(o.ResponseWriter).Flush()
	}
}

// writeInformational counts one 1xx of the origin against the bounds and
// queues a 103's links for the client. It never writes to the client.
func (o *originWriter) writeInformational(code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n1xx++
	o.bytes1xx += headerBytes(o.pending)
	if o.n1xx > o.cfg.MaxInformational || o.bytes1xx > o.cfg.MaxInformationalBytes {
		o.ex.cancel(ErrHeaderLimit)
		return
	}
	if code != http.StatusEarlyHints || !o.canHint || o.closed {
		return
	}
	links := forwardableLinks(o.pending)
	if len(links) == 0 {
		return
	}
	if o.queue == nil {
		// Room for every 1xx the bounds allow: sending never blocks.
		o.queue = make(chan []string, o.cfg.MaxInformational)
		o.done = make(chan struct{})
		go o.forward(o.queue)
	}
	o.queue <- links
}

func (o *originWriter) forward(queue <-chan []string) {
	defer close(o.done)
	for links := range queue {
		dst := o.ResponseWriter.Header()
		saved := maps.Clone(dst)
		clear(dst)
		dst["Link"] = links
		o.ResponseWriter.WriteHeader(http.StatusEarlyHints)
		clear(dst)
		maps.Copy(dst, saved)
	}
}

// drain stops accepting 1xx and waits until the queued ones are written.
func (o *originWriter) drain() {
	o.mu.Lock()
	queue, done := o.queue, o.done
	if !o.closed && queue != nil {
		close(queue)
	}
	o.closed = true
	o.mu.Unlock()
	if done != nil {
		<-done
	}
}

// forwardableLinks returns a copy of h's Link values within
// maxForwardedLinkBytes, or none when h's Connection field names Link.
func forwardableLinks(h http.Header) []string {
	values := h["Link"]
	if len(values) == 0 || slices.Contains(httpx.HopByHopFields(h), "Link") {
		return nil
	}
	out := make([]string, 0, len(values))
	size := 0
	for _, v := range values {
		if size+len(v)+2 > maxForwardedLinkBytes {
			break
		}
		size += len(v) + 2
		out = append(out, v)
	}
	return out
}

// headerBytes is the size of h as header lines: name, ": ", value, CRLF.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (o *originWriter) Write(b []byte) (int, error) {
	if !o.final {
		o.WriteHeader(http.StatusOK)
	}
	return o.ResponseWriter.Write(b)
}

// Flush implements http.Flusher: the final header goes out first.
func (o *originWriter) Flush() {
	if !o.final {
		o.WriteHeader(http.StatusOK)
	}
	o.Wrapper.Flush()
}
