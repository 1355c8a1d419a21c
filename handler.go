package earlyhints

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/internal/responsewriter"
	"github.com/earlyhints/earlyhints/internal/weburl"
)

// Handler is the Early Hints middleware. See New.
type Handler struct {
	next        http.Handler
	cfg         Config
	store       hintstore.Store
	ownStore    bool
	identityKey []byte
	learner     *learner
	views       viewLog
	field       fieldView
	closed      atomic.Bool
}

var _ http.Handler = (*Handler)(nil)

// valuesPool holds the []string given to the header map for one 103, so the
// hit path does not allocate it per request.
var valuesPool = sync.Pool{New: func() any { s := make([]string, 0, DefaultMaxPreloads+DefaultMaxPreconnects); return &s }}

// New returns a Handler that sends learned hints as one 103 before calling
// next, and learns from next's responses.
func New(next http.Handler, cfg Config) (*Handler, error) {
	if next == nil {
		return nil, fmt.Errorf("%w: next handler is nil", ErrBadConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Handler{next: next, cfg: cfg, store: cfg.Store, identityKey: cfg.IdentityKey}
	if h.store == nil {
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{})
		if err != nil {
			return nil, fmt.Errorf("earlyhints: create memory store: %w", err)
		}
		h.store, h.ownStore = m, true
	}
	if len(h.identityKey) == 0 {
		h.identityKey = make([]byte, 32)
		if _, err := rand.Read(h.identityKey); err != nil {
			return nil, fmt.Errorf("earlyhints: identity key: %w", err)
		}
	}
	h.cfg.QueryParams = slices.Clone(cfg.QueryParams)
	slices.Sort(h.cfg.QueryParams)
	h.learner = newLearner(h)
	return h, nil
}

// Store returns the store the Handler reads and learns into.
func (h *Handler) Store() hintstore.Store { return h.store }

// Close waits for learning in progress and closes the store when the
// Handler created it. Requests served after Close are passed to next
// without hints.
func (h *Handler) Close() error {
	if h.closed.Swap(true) {
		return nil
	}
	h.learner.wait()
	if h.ownStore {
		return h.store.Close()
	}
	return nil
}

// RouteKey returns the key under which hints for r are stored:
// scheme + host + path, plus the configured query parameters. The host is
// Config.RouteHost when set, else the request's, normalised (lower case,
// no trailing dot, no default port) so that spellings of one host share a
// route.
func (h *Handler) RouteKey(r *http.Request) string {
	scheme, host := requestAuthority(r)
	if h.cfg.RouteHost != "" {
		host = h.cfg.RouteHost
	} else {
		host = normalHost(host, scheme)
	}
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	if len(h.cfg.QueryParams) == 0 || r.URL.RawQuery == "" {
		return scheme + "://" + host + path
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	b.WriteString(path)
	q := r.URL.Query()
	sep := byte('?')
	for _, p := range h.cfg.QueryParams {
		vs, ok := q[p]
		if !ok {
			continue
		}
		for _, v := range vs {
			b.WriteByte(sep)
			sep = '&'
			b.WriteString(p)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}

// RequestURL is the absolute URL the client asked for: the one URL of a
// request that learning, the 404/410 rule and push resolve against.
func RequestURL(r *http.Request) *url.URL {
	scheme, host := requestAuthority(r)
	return &url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
}

// requestTarget is RequestURL(r) as hint targets spell it (internal/weburl:
// lower-case host, no default port), which is how the store indexes what
// it hinted and how a browser writes the page in its Referer.
func requestTarget(r *http.Request) string { return canonicalURL(RequestURL(r)) }

// canonicalURL is u as hint targets spell it (see requestTarget).
func canonicalURL(u *url.URL) string {
	if t, err := weburl.FromURL(u); err == nil {
		return t.String()
	}
	return u.String()
}

// requestAuthority is the scheme and host r was sent to, as RequestURL
// and RouteKey both take them.
func requestAuthority(r *http.Request) (scheme, host string) {
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host = r.Host
	if host == "" {
		host = r.URL.Host
	}
	return scheme, host
}

// normalHost returns the request's host as a route key spells it: lower
// case, without a trailing dot or the scheme's default port. It allocates
// only when the host needs changing.
func normalHost(host, scheme string) string {
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		name, port = host[:i], host[i+1:]
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	name = strings.TrimSuffix(name, ".")
	if port != "" {
		name += ":" + port
	}
	if name == host && !hasUpper(host) {
		return host
	}
	return strings.ToLower(name)
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// gate decides whether r may receive a 103 (reason "") or why not.
// learnable reports whether its response may teach hints.
func (h *Handler) gate(r *http.Request) (reason string, learnable bool) {
	if h.cfg.Disabled || h.closed.Load() {
		return ReasonDisabled, false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return ReasonMethod, false
	}
	if !IsNavigation(r) {
		return ReasonNotNav, false
	}
	learnable = r.Method == http.MethodGet && !h.cfg.DisableLearning
	// HTTP/1.0 has no 1xx at all (RFC 9110 section 15.2): never, whatever
	// AllowHTTP1 says.
	if (r.ProtoMajor < 2 && !h.cfg.AllowHTTP1) || (r.ProtoMajor == 1 && r.ProtoMinor == 0) || r.ProtoMajor == 0 {
		return ReasonProtocol, learnable
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		for _, deny := range h.cfg.DenyUserAgents {
			if deny != "" && strings.Contains(ua, deny) {
				return ReasonUserAgent, learnable
			}
		}
	}
	return "", learnable
}

// IsNavigation reports whether r is a top-level document navigation: fetch
// metadata says so, or, without fetch metadata, Accept asks for HTML.
func IsNavigation(r *http.Request) bool { return httpx.IsNavigation(r) }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reason, learnable := h.gate(r)
	if reason == ReasonDisabled || reason == ReasonMethod {
		h.next.ServeHTTP(w, r)
		return
	}
	if reason == ReasonNotNav {
		// Subresource: only its status and cacheability matter, to forget
		// hinted targets that went away or cannot be reused.
		if h.cfg.DisableLearning {
			h.next.ServeHTTP(w, r)
			return
		}
		target := requestTarget(r)
		hinted, err := h.store.Hinted(r.Context(), target)
		hinted = hinted && err == nil
		v, as, observed := h.attribute(r, target)
		if !hinted && !observed {
			h.next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{Counter: responsewriter.NewCounter(w)}
		h.next.ServeHTTP(responsewriter.WithHijacker(sw), r)
		if hinted {
			h.fetched(r, target, sw.Status, sw.Bytes)
		}
		switch {
		case hinted && sw.gone():
			h.learner.forget(target, r.Proto)
		case observed && sw.Status == http.StatusOK && !sw.noStore:
			if link, ok := h.observedHint(r, v, target, as); ok {
				h.learner.observeFetch(r, v.key, link)
			}
		}
		return
	}
	route := h.RouteKey(r)
	rf := h.field.route(route)
	if rf != nil {
		rf.navigations.Add(1)
	}
	ow := writerPool.Get().(*observingWriter)
	*ow = observingWriter{Counter: responsewriter.NewCounter(w), h: h, r: r, route: route, learnable: learnable, canHint: reason == "", field: rf, start: start}
	if reason != "" {
		h.cfg.Observer.Observe(Event{Kind: EventSkipped, Route: route, Proto: r.Proto, Request: r, Reason: reason})
	} else {
		ow.sent = h.sendLearned(w, r, route, start, rf, learnable)
		ow.viewed = ow.sent && learnable
	}
	h.next.ServeHTTP(responsewriter.WithHijacker(ow), r)
	ow.finish()
	// net/http forbids using a ResponseWriter after ServeHTTP returns, so
	// the wrapper can serve the next request.
	*ow = observingWriter{}
	writerPool.Put(ow)
}

var writerPool = sync.Pool{New: func() any { return new(observingWriter) }}

// sendLearned writes the stored hints for route as one 103 and reports
// whether it did. When the view is learnable, it is recorded before the
// 103 goes out: the browser fetches the hints while the origin thinks,
// with this page as their Referer.
func (h *Handler) sendLearned(w http.ResponseWriter, r *http.Request, route string, start time.Time, rf *routeField, learnable bool) bool {
	e, ok, err := h.store.Get(r.Context(), route)
	key := route
	if err == nil && ok && len(e.Vary) > 0 {
		// The route's responses vary on request headers: only the hints
		// of this request's variant may go out.
		key = hintstore.VariantKey(route, variantClass(r, e.Vary))
		e, ok, err = h.store.Get(r.Context(), key)
	}
	if err != nil {
		h.cfg.Observer.Observe(Event{Kind: EventSkipped, Route: route, Proto: r.Proto, Request: r, Reason: ReasonStoreError, Err: err})
		return false
	}
	links := e.Links
	// What browsers were seen to fetch late (fonts named in stylesheets,
	// imports) follows what the page itself names.
	okey := rf.observedKeyOf(route, key)
	if o, found, err := h.store.Get(r.Context(), okey); err == nil && found {
		links, ok = mergeLinks(links, o.Links), true
	}
	if ok {
		if t := hintTaker(w); t != nil {
			links = t.TakeHints(r, links)
		}
	}
	if !ok || len(links) == 0 {
		h.cfg.Observer.Observe(Event{Kind: EventSkipped, Route: route, Proto: r.Proto, Request: r, Reason: ReasonNoHints})
		return false
	}
	budget, measured := h.budgetFor(rf, r)
	vp := valuesPool.Get().(*[]string)
	values, size, leftOut := h.capValues((*vp)[:0], links, budget)
	if leftOut > 0 {
		reason := ReasonOverAssumedBudget
		if measured {
			reason = ReasonOverBudget
		}
		h.cfg.Observer.Observe(Event{Kind: EventLeftOut, Route: route, Proto: r.Proto, Request: r, Links: leftOut, Bytes: int(budget), Reason: reason})
	}
	if len(values) == 0 {
		*vp = values[:0]
		valuesPool.Put(vp)
		return false
	}
	if learnable {
		h.recordView(r, okey)
	}
	writeEarlyHints(w, values)
	if rf != nil {
		rf.sent.Add(1)
		h.offered(rf, r, route, values)
	}
	n := len(values)
	clear(values)
	*vp = values[:0]
	valuesPool.Put(vp)
	h.cfg.Observer.Observe(Event{Kind: EventSent, Route: route, Proto: r.Proto, Request: r, Links: n, Bytes: size, Elapsed: time.Since(start)})
	return true
}

// mergeLinks returns links followed by the extra links whose targets it
// lacks. It allocates only when extra adds something.
func mergeLinks(links, extra []hintstore.Link) []hintstore.Link {
	if len(links) == 0 {
		return extra
	}
	var out []hintstore.Link
	for _, x := range extra {
		if slices.ContainsFunc(links, func(l hintstore.Link) bool { return l.Target == x.Target }) {
			continue
		}
		if out == nil {
			out = append(make([]hintstore.Link, 0, len(links)+len(extra)), links...)
		}
		out = append(out, x)
	}
	if out == nil {
		return links
	}
	return out
}

// capValues appends the Link values of links to dst within the configured
// caps, in order.
// The store may have been filled under other caps (a shared store, a
// changed config), so they are applied again here.
// Past maxBytes (when positive) of hinted files, as last served, a link
// is left out, so that a 103 never names more than arrives before the
// document is ready; links come render-blocking first, images last.
func (h *Handler) capValues(dst []string, links []hintstore.Link, maxBytes int64) ([]string, int, int) {
	b := budget{cfg: &h.cfg}
	var used int64
	leftOut := 0
	for _, l := range links {
		if !l.Preconnect {
			var over bool
			if used, over = h.overBudget(maxBytes, used, l.Target); over {
				leftOut++
				continue
			}
		}
		if b.admit(l.Preconnect, l.Value) {
			dst = append(dst, l.Value)
		}
	}
	return dst, b.size, leftOut
}

// budget applies the per-103 caps: preloads, preconnects and Link bytes
// (each value plus its ", " separator).
type budget struct {
	cfg                         *Config
	preloads, preconnects, size int
}

// admit reports whether value still fits, and counts it when it does.
func (b *budget) admit(preconnect bool, value string) bool {
	switch {
	case preconnect && b.preconnects >= b.cfg.MaxPreconnects,
		!preconnect && b.preloads >= b.cfg.MaxPreloads,
		b.size+len(value)+2 > b.cfg.MaxHeaderBytes:
		return false
	}
	if preconnect {
		b.preconnects++
	} else {
		b.preloads++
	}
	b.size += len(value) + 2
	return true
}

// Send writes one 103 Early Hints response with hints to w, from
// application code that knows its own hints. It removes the Link values it
// added from the header map afterwards, so they do not leak into the final
// response.
func Send(w http.ResponseWriter, hints ...Hint) error {
	if len(hints) == 0 {
		return nil
	}
	values := make([]string, 0, len(hints))
	for _, hint := range hints {
		if err := hint.Validate(); err != nil {
			return fmt.Errorf("earlyhints: send %s: %w", hint.URL, err)
		}
		values = append(values, hint.String())
	}
	writeEarlyHints(w, values)
	return nil
}

// writeEarlyHints writes one 103 carrying values as its only fields, then
// puts the header map back as it was. net/http and quic-go write the
// whole header map in a 1xx and do not clear it afterwards: without the
// swap, a field an outer handler set for the final response (Set-Cookie,
// a hop-by-hop field) would reach the 103, and the hints the 200.
func writeEarlyHints(w http.ResponseWriter, values []string) {
	hdr := w.Header()
	if len(hdr) == 0 {
		hdr["Link"] = values
		w.WriteHeader(http.StatusEarlyHints)
		delete(hdr, "Link")
		return
	}
	saved := savedPool.Get().(http.Header)
	for k, v := range hdr {
		saved[k] = v
		delete(hdr, k)
	}
	hdr["Link"] = values
	w.WriteHeader(http.StatusEarlyHints)
	delete(hdr, "Link")
	for k, v := range saved {
		hdr[k] = v
	}
	clear(saved)
	savedPool.Put(saved)
}

// savedPool holds the maps that keep a response's fields aside while a 103
// is written.
var savedPool = sync.Pool{New: func() any { return make(http.Header, 8) }}

// learnContext bounds one store write made off the request path.
func learnContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}
