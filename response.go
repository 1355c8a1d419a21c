package earlyhints

import (
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/internal/responsewriter"
	"github.com/earlyhints/earlyhints/linkheader"
)

// observingWriter passes a navigation's response through untouched and
// watches it: the 1xx the wrapped handler writes, the final status and
// headers, and a bounded prefix of the body for the scanner.
type observingWriter struct {
	responsewriter.Counter // Status is 0 until the final header
	h                      *Handler
	r                      *http.Request
	route                  string
	learnable              bool
	canHint                bool // the client may receive a 103
	sent                   bool // a 103 already reached the client
	viewed                 bool // the view is recorded (see recordView)

	earlyLinks []string // Link values from the wrapped handler's 1xx
	obs        *pending // non-nil while the response is being learned from
	moved      bool     // the page redirected, went away or is no HTML page any more
	field      *routeField
	start      time.Time
}

// pending is what one response offers to learn from.
type pending struct {
	links           []string
	body            []byte
	bodyBuf         *[]byte // pooled backing of body, returned after learning
	limit           int
	headEnd         bool // the copy reached </head>: the scanner stops there
	private         bool
	vary            []string
	variant         string // the request's class for vary (see variantClass)
	contentType     string
	contentEncoding string
	requester       hintstore.Requester
	values          []string // the request's own values (see requestValues)
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
	if think := time.Since(o.start); code < 500 {
		o.h.thinkTime(o.field, think)
		o.h.cfg.Observer.Observe(Event{Kind: EventAnswered, Route: o.route, Proto: o.r.Proto, Request: o.r, Elapsed: think})
	}
	if o.learnable {
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
	if o.learnable && len(o.earlyLinks) < 64 {
		o.earlyLinks = append(o.earlyLinks, links...)
	}
	if o.sent || !o.canHint || len(links) == 0 {
		// Browsers act on the first 103 only; a second one is noise (and
		// some clients treat it as an error).
		o.h.cfg.Observer.Observe(Event{Kind: EventSuppressed, Route: o.route, Proto: o.r.Proto, Request: o.r, Links: linkheader.Count(links...)})
		return
	}
	// Forward the wrapped handler's own 103 with its links alone: no
	// hop-by-hop field, nothing set for the final response.
	if o.learnable && !o.viewed {
		o.h.recordView(o.r, o.field.observedKeyOf(o.route, o.route)) // before the browser can fetch its hints
		o.viewed = true
	}
	writeEarlyHints(o.ResponseWriter, links)
	o.sent = true
	o.h.cfg.Observer.Observe(Event{Kind: EventForwarded, Route: o.route, Proto: o.r.Proto, Request: o.r, Links: linkheader.Count(links...)})
}

// startLearning records the final headers of a 200 HTML response.
func (o *observingWriter) startLearning() {
	hdr := o.Header()
	ct := hdr.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "text/html" && mt != "application/xhtml+xml") {
		o.moved = true // the navigation answers something else than a page now
		return
	}
	vary, star, personal, ok := varyNames(hdr)
	if star || !ok {
		return // no request can be matched against it
	}
	private := personal || isPrivate(o.r, hdr)
	network := ""
	if private {
		network = clientNetwork(o.r.RemoteAddr)
	}
	if !o.h.learner.due(o.route, network) {
		// Learned from this page a moment ago (for a private page: from
		// this network, or from enough networks for the quorum): analysing
		// every view of a busy page would cost CPU and teach nothing new.
		return
	}
	p := &pending{
		links:           append(slices.Clone(o.earlyLinks), hdr.Values("Link")...),
		private:         private,
		vary:            vary,
		variant:         variantClass(o.r, vary),
		contentType:     ct,
		contentEncoding: hdr.Get("Content-Encoding"),
		values:          o.h.requestValues(o.r),
	}
	if private {
		p.requester = o.h.requester(o.r)
	}
	if !o.h.cfg.DisableScan && o.r.Method == http.MethodGet {
		p.limit = o.h.cfg.ScanBytes
		p.bodyBuf = bodyPool.Get().(*[]byte)
		p.body = (*p.bodyBuf)[:0]
	}
	o.obs = p
	key := o.route
	if len(vary) > 0 {
		key = hintstore.VariantKey(o.route, p.variant)
	}
	// Before the header goes out: the browser fetches what the page names
	// as soon as it reads it.
	o.h.recordView(o.r, o.field.observedKeyOf(o.route, key))
	o.viewed = true
}

// bodyPool holds the buffers that copy a page's head for the scanner.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// copyHead appends what of b the scanner needs: up to the limit, and for
// an uncompressed body no further than the end of the head.
func (p *pending) copyHead(b []byte) {
	if p.headEnd || len(p.body) >= p.limit {
		return
	}
	from := max(0, len(p.body)-len("</head"))
	p.body = append(p.body, b[:min(len(b), p.limit-len(p.body))]...)
	if p.contentEncoding == "" || strings.EqualFold(p.contentEncoding, "identity") {
		if i := indexFold(p.body[from:], "</head"); i >= 0 {
			p.headEnd = true
		}
	}
}

// indexFold is bytes.Index ignoring ASCII case, for a lower-case needle.
func indexFold(s []byte, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if s[i] != '<' {
			continue
		}
		j := 1
		for j < len(needle) && (s[i+j]|0x20) == needle[j] {
			j++
		}
		if j == len(needle) {
			return i
		}
	}
	return -1
}

// release returns the pooled body buffer.
func (p *pending) release() {
	if p.bodyBuf == nil {
		return
	}
	if cap(p.body) <= 256<<10 {
		*p.bodyBuf = p.body[:0]
		bodyPool.Put(p.bodyBuf)
	}
	p.bodyBuf, p.body = nil, nil
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
	switch {
	case o.moved:
		if o.viewed {
			o.h.forgetView(o.r)
		}
		o.h.learner.forgetRoute(o.route, o.r.Proto)
	case o.obs != nil:
		o.h.learner.submit(o.r, o.route, o.obs)
	}
}

// isPrivate reports whether a response is personal to its requester.
func isPrivate(r *http.Request, hdr http.Header) bool {
	if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" || hdr.Get("Set-Cookie") != "" {
		return true
	}
	cc := httpx.ParseCacheControl(hdr)
	return cc.Private || cc.NoStore
}

// statusWriter records the status of a subresource response, and whether
// a browser may reuse it from its HTTP cache.
type statusWriter struct {
	responsewriter.Counter
	noStore bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.Status == 0 && !responsewriter.Informational(code) {
		s.noStore = httpx.ParseCacheControl(s.Header()).NoStore
	}
	s.Counter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.Counter.Write(b)
}

// gone reports whether a hinted target should be forgotten: it went away,
// or it cannot be stored, and a browser hands an early-hints preload to the
// page only through its HTTP cache (an unstorable one is fetched twice).
func (s *statusWriter) gone() bool {
	return s.Status == http.StatusNotFound || s.Status == http.StatusGone || s.noStore
}
