package earlyhints

import (
	"net/http"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/internal/responsewriter"
	"github.com/earlyhints/earlyhints/linkheader"
)

// observingWriter passes a navigation's response through untouched and
// watches it: the 1xx the wrapped handler writes, the final status and
// headers, and a bounded prefix of the body for the scanner. It holds the
// navigation, and is handed what it reports to.
type observingWriter struct {
	responsewriter.Counter // Status is 0 until the final header
	nav                    navigation
	observer               Observer
	learner                *learner
	views                  *viewLog
	canHint                bool // the client may receive a 103
	sent                   bool // a 103 already reached the client
	viewed                 bool // the view is recorded (see viewLog.viewed)

	earlyLinks []string // Link values from the wrapped handler's 1xx
	obs        *pending // non-nil while the response is being learned from
	moved      bool     // the page redirected, went away or is no HTML page any more
}

var writerPool = sync.Pool{New: func() any { return new(observingWriter) }}

// serve hands the navigation to next through o, then what the response
// taught to the learner, and puts o back in its pool.
func (o *observingWriter) serve(next http.Handler) {
	next.ServeHTTP(responsewriter.WithHijacker(o), o.nav.r)
	o.finish()
	// net/http forbids using a ResponseWriter after ServeHTTP returns, so
	// the wrapper can serve the next request.
	*o = observingWriter{}
	writerPool.Put(o)
}

func (o *observingWriter) WriteHeader(code int) {
	if o.Status != 0 {
		o.ResponseWriter.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if responsewriter.Informational(code) {
		o.writeInformational(code)
		return
	}
	n := &o.nav
	if think := time.Since(n.start); code < 500 {
		n.field.recordThink(think)
		o.observer.Observe(Event{Kind: EventAnswered, Route: n.route, Proto: n.proto, Request: n.r, Elapsed: think})
	}
	if n.learnable {
		switch {
		case code == http.StatusOK:
			o.startLearning()
		case code >= 300 && code < 400 && code != http.StatusNotModified,
			code == http.StatusNotFound, code == http.StatusGone:
			// Hints follow the page: a page that moved or went away loses
			// them at once. A 5xx is an outage, not news about the page.
			o.moved = true
		}
	}
	o.Counter.WriteHeader(code)
}

func (o *observingWriter) writeInformational(code int) {
	hdr := o.Header()
	if code != http.StatusEarlyHints {
		o.ResponseWriter.WriteHeader(code)
		return
	}
	links := hdr.Values("Link")
	n := &o.nav
	if n.learnable && len(o.earlyLinks) < 64 {
		o.earlyLinks = append(o.earlyLinks, links...)
	}
	if o.sent || !o.canHint || len(links) == 0 {
		// Browsers act on the first 103 only; a second one is noise (and
		// some clients treat it as an error).
		o.observer.Observe(Event{Kind: EventSuppressed, Route: n.route, Proto: n.proto, Request: n.r, Links: linkheader.Count(links...)})
		return
	}
	// Forward the wrapped handler's own 103 with its links alone: no
	// hop-by-hop field, nothing set for the final response.
	if n.learnable && !o.viewed {
		o.views.viewed(n, n.observedKey(n.route)) // before the browser can fetch its hints
		o.viewed = true
	}
	writeEarlyHints(o.ResponseWriter, links)
	o.sent = true
	o.observer.Observe(Event{Kind: EventForwarded, Route: n.route, Proto: n.proto, Request: n.r, Links: linkheader.Count(links...)})
}

// startLearning hands the final header of a 200 to the learner, and
// records the view under the store key it teaches.
func (o *observingWriter) startLearning() {
	n := &o.nav
	p, moved := o.learner.start(n, o.Header(), o.earlyLinks)
	if moved {
		o.moved = true
	}
	if p == nil {
		return
	}
	o.obs = p
	// Before the header goes out: the browser fetches what the page names
	// as soon as it reads it.
	o.views.viewed(n, n.observedKey(p.key(n.route)))
	o.viewed = true
}

func (o *observingWriter) Write(b []byte) (int, error) {
	if o.Status == 0 {
		o.WriteHeader(http.StatusOK)
	}
	if p := o.obs; p != nil && p.bodyBuf != nil {
		p.copyHead(b)
	}
	return o.Counter.Write(b)
}

// Flush implements http.Flusher: the final header is decided, and
// observed, before anything goes out.
func (o *observingWriter) Flush() {
	if o.Status == 0 {
		o.WriteHeader(http.StatusOK)
	}
	o.Counter.Flush()
}

// finish hands what the response taught to the learner.
func (o *observingWriter) finish() {
	n := &o.nav
	switch {
	case o.moved:
		if o.viewed {
			o.views.forgetView(n)
		}
		o.learner.forgetRoute(n.route, n.proto)
	case o.obs != nil:
		o.learner.submit(n, o.obs)
	}
}
