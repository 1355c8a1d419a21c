package earlyhints

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/scan"
)

const (
	// maxLearners bounds the responses analysed at once; past it an
	// observation is dropped (the next page view will teach the same).
	maxLearners = 8
	// maxKnownTargets bounds the set of hinted targets watched for 404/410.
	maxKnownTargets = 1 << 14
	// maxReportedErrors bounds the EventInvalid reports for one response.
	maxReportedErrors = 8
)

// ReasonBusy is reported with EventSkipped when a response was not learned
// from because too many were being analysed.
const ReasonBusy = "learner_busy"

// learner turns observed responses into store observations off the
// request path.
type learner struct {
	h   *Handler
	sem chan struct{}
	wg  sync.WaitGroup

	mu    sync.RWMutex
	known map[string]struct{} // hinted targets, to forget them on 404/410

	lastMu sync.Mutex
	last   map[string]time.Time // route → when a public response was last learned from
}

func newLearner(h *Handler) *learner {
	return &learner{h: h, sem: make(chan struct{}, maxLearners), known: make(map[string]struct{}), last: make(map[string]time.Time)}
}

// due reports whether a public response of route should be learned from,
// at most once per LearnInterval, and notes that it will be.
func (l *learner) due(route string) bool {
	interval := l.h.cfg.LearnInterval
	if interval < 0 {
		return true
	}
	now := time.Now()
	l.lastMu.Lock()
	defer l.lastMu.Unlock()
	if t, ok := l.last[route]; ok && now.Sub(t) < interval {
		return false
	}
	if len(l.last) >= maxKnownTargets {
		clear(l.last) // a rare reset costs one extra analysis per route
	}
	l.last[route] = now
	return true
}

func (l *learner) wait() { l.wg.Wait() }

// submit analyses p in the background; the response has already been
// passed to the client byte for byte.
func (l *learner) submit(r *http.Request, route string, p *pending) {
	select {
	case l.sem <- struct{}{}:
	default:
		l.h.cfg.Observer.Observe(Event{Kind: EventSkipped, Route: route, Proto: r.Proto, Reason: ReasonBusy})
		return
	}
	page := pageURL(r)
	var requester string
	if p.private {
		requester = l.h.requesterID(r)
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer func() { <-l.sem }()
		l.learn(route, page, requester, p)
	}()
}

func (l *learner) learn(route string, page *url.URL, requester string, p *pending) {
	cfg := &l.h.cfg
	hints, errs := l.hintsFrom(page, p)
	for i, err := range errs {
		if i == maxReportedErrors {
			break
		}
		cfg.Observer.Observe(Event{Kind: EventInvalid, Route: route, Err: err})
	}
	links := l.capLinks(page, hints)
	obs := hintstore.Observation{Links: links, Private: p.private, Requester: requester, Quorum: cfg.PrivateQuorum}
	ctx, cancel := learnContext()
	defer cancel()
	e, err := l.h.store.Observe(ctx, route, obs)
	if err != nil {
		cfg.Observer.Observe(Event{Kind: EventInvalid, Route: route, Reason: ReasonStoreError, Err: err})
		cfg.Logger.Warn("earlyhints: store observation failed; hints for the route stay as they were", "route", route, "err", err)
		return
	}
	l.remember(e.Links)
	cfg.Observer.Observe(Event{Kind: EventLearned, Route: route, Links: len(e.Links)})
}

// hintsFrom collects the hints of one response: its 103 and Link headers
// first (the origin's own intent), then what the scanner finds.
func (l *learner) hintsFrom(page *url.URL, p *pending) ([]Hint, []error) {
	cfg := &l.h.cfg
	hints, errs := ParseHints(p.links, page, cfg.AllowCrossSitePreload)
	if p.limit == 0 || len(p.body) == 0 {
		return hints, errs
	}
	res, err := scan.Scan(bytes.NewReader(p.body), scan.Options{
		Base: page, ContentEncoding: p.contentEncoding, ContentType: p.contentType, MaxBytes: p.limit,
	})
	if err != nil && !errors.Is(err, scan.ErrTruncated) {
		// A broken body still yields what was found before the break. A
		// compressed prefix cut at ScanBytes is expected, not an error.
		errs = append(errs, err)
	}
	seen := make(map[hintID]bool, len(hints)+len(res.Links))
	for _, h := range hints {
		seen[hintID{h.Rel, h.URL}] = true
	}
	for _, ln := range res.Links {
		h, err := HintFromLink(ln, page, cfg.AllowCrossSitePreload)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedRel) {
				errs = append(errs, err)
			}
			continue
		}
		if id := (hintID{h.Rel, h.URL}); !seen[id] {
			seen[id] = true
			hints = append(hints, h)
		}
	}
	return hints, errs
}

type hintID struct {
	rel Rel
	url string
}

// capLinks formats hints for storage within the per-103 caps.
func (l *learner) capLinks(page *url.URL, hints []Hint) []hintstore.Link {
	cfg := &l.h.cfg
	links := make([]hintstore.Link, 0, min(len(hints), cfg.MaxPreloads+cfg.MaxPreconnects))
	b := budget{cfg: cfg}
	for _, h := range hints {
		// Chromium drops a 103 link that carries media, imagesrcset,
		// imagesizes or integrity (link_header_parser.cc). Written without
		// them, a responsive image or a media-dependent stylesheet would be
		// a wrong or wasted download, so such hints stay out of the 103;
		// integrity is checked when the page uses the resource anyway.
		if h.Media != "" || h.ImageSrcset != "" || h.ImageSizes != "" {
			continue
		}
		h.Integrity = ""
		if v := h.Format(page); b.admit(h.Rel == RelPreconnect, v) {
			links = append(links, hintstore.Link{Target: h.URL, Value: v})
		}
	}
	return links
}

func (l *learner) remember(links []hintstore.Link) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range links {
		if len(l.known) >= maxKnownTargets {
			return
		}
		l.known[ln.Target] = struct{}{}
	}
}

// knows reports whether r asks for a target that was hinted.
func (l *learner) knows(r *http.Request) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.known) == 0 {
		return false
	}
	_, ok := l.known[pageURL(r).String()]
	return ok
}

// forget drops a hinted target that answered 404 or 410.
func (l *learner) forget(r *http.Request) {
	target := pageURL(r).String()
	l.mu.Lock()
	delete(l.known, target)
	l.mu.Unlock()
	ctx, cancel := learnContext()
	defer cancel()
	err := l.h.store.Forget(ctx, target)
	l.h.cfg.Observer.Observe(Event{Kind: EventDropped, Route: target, Proto: r.Proto, Err: err})
}

// pageURL is the absolute URL the client asked for.
func pageURL(r *http.Request) *url.URL {
	u := &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	if u.Host == "" {
		u.Host = r.URL.Host
	}
	return u
}
