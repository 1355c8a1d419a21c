package earlyhints

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/internal/responsewriter"
)

// Handler is the Early Hints middleware. See New.
type Handler struct {
	next     http.Handler
	cfg      Config
	store    hintstore.Store
	ownStore bool
	// readStart: the store may count its read timeout from the request's
	// arrival (hintstore.WithReadStart); the memory store does not, and
	// its navigations skip the context that would carry it.
	readStart bool
	learner   *learner
	views     viewLog
	field     fieldView
	closed    atomic.Bool
}

var _ http.Handler = (*Handler)(nil)

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
	h := &Handler{next: next, cfg: cfg, store: cfg.Store}
	if h.store == nil {
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{})
		if err != nil {
			return nil, fmt.Errorf("earlyhints: create memory store: %w", err)
		}
		h.store, h.ownStore = m, true
	}
	_, memory := h.store.(*hintstore.Memory)
	h.readStart = !memory
	id := identity{key: cfg.IdentityKey, current: cfg.Identity}
	if len(id.key) == 0 {
		id.key = make([]byte, 32)
		if _, err := rand.Read(id.key); err != nil {
			return nil, fmt.Errorf("earlyhints: identity key: %w", err)
		}
	}
	h.cfg.QueryParams = slices.Clone(cfg.QueryParams)
	slices.Sort(h.cfg.QueryParams)
	h.learner = newLearner(h.store, &h.cfg, id)
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
// scheme + host + path, plus the query parameters that split the path's
// routes: those its responses' No-Vary-Search does not name as not
// mattering, once one said so, else the configured ones. The host is
// Config.RouteHost when set, else the request's, normalised (lower case,
// no trailing dot, no default port) so that spellings of one host share a
// route.
func (h *Handler) RouteKey(r *http.Request) string {
	if r.URL.RawQuery != "" && h.learner.search.active.Load() > 0 {
		// The path's responses sent a No-Vary-Search: it decides.
		if key, _, ok := h.learner.search.route(r, routeKey(r, h.cfg.RouteHost, nil), false); ok {
			return key
		}
	}
	return routeKey(r, h.cfg.RouteHost, h.cfg.QueryParams)
}

// Field returns the field view of up to limit routes (all when limit <=
// 0), the most visited first.
func (h *Handler) Field(limit int) []RouteField {
	return h.field.report(limit, h.cfg.AssumedRTT, h.cfg.AssumedBandwidth)
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

// ServeHTTP implements http.Handler. It builds the navigation, the one
// value the steps after it take, sends the learned 103, and hands the
// response on to next through the observing writer (response.go), which
// ends the navigation: nothing returns here after next is called.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reason, learnable := h.gate(r)
	switch reason {
	case ReasonDisabled, ReasonMethod:
		h.next.ServeHTTP(w, r)
		return
	case ReasonNotNav:
		h.serveSubresource(w, r)
		return
	}
	route := h.RouteKey(r)
	ow := writerPool.Get().(*observingWriter)
	*ow = observingWriter{
		Counter: responsewriter.NewCounter(w),
		nav: navigation{
			requestFacts: requestFacts{r: r}, route: route, field: h.field.navigated(route),
			start: start, proto: r.Proto, learnable: learnable, speculative: httpx.IsSpeculative(r),
		},
		observer: h.cfg.Observer, learner: h.learner, views: &h.views, canHint: reason == "",
	}
	n := &ow.nav
	if reason != "" {
		h.cfg.Observer.Observe(Event{Kind: EventSkipped, Route: route, Proto: n.proto, Request: r, Reason: reason})
	} else {
		ow.sent = h.sendLearned(w, n)
		ow.viewed = ow.sent && learnable
	}
	ow.serve(h.next)
}
