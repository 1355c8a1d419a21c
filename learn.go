package earlyhints

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/internal/weburl"
	"github.com/earlyhints/earlyhints/linkheader"
	"github.com/earlyhints/earlyhints/scan"
)

const (
	// maxLearners bounds the responses analysed at once; past it an
	// observation is dropped (the next page view will teach the same).
	maxLearners = 8
	// maxRateRoutes bounds the routes whose last analysis is remembered.
	maxRateRoutes = 1 << 14
	// maxReportedErrors bounds the EventInvalid reports for one response.
	maxReportedErrors = 8
)

// ReasonBusy is reported with EventSkipped when a response was not learned
// from because too many were being analysed.
const ReasonBusy = "learner_busy"

// learner turns observed responses into store observations off the
// request path. It is given what it uses when it is made, and learns from
// a navigation and its response head (start), a finished response
// (submit), a subresource (forget, observeFetch).
type learner struct {
	store    hintstore.Store
	observer Observer
	logger   *slog.Logger
	id       identity // identifies the requesters of private responses
	caps     caps     // the per-103 caps links are stored within
	// routeParams are the query parameters of the route key, sorted: the
	// values every requester of a route shares (see requestValues).
	routeParams []string
	routeHost   string        // Config.RouteHost
	search      searchRules   // the paths' No-Vary-Search
	quorum      int           // Config.PrivateQuorum
	interval    time.Duration // Config.LearnInterval
	scanBytes   int           // how much of a page is scanned; 0: Link fields only
	crossSite   bool          // Config.AllowCrossSitePreload

	sem chan struct{}
	wg  sync.WaitGroup

	rateMu sync.Mutex
	rate   map[string]*routeRate // route → what was analysed in the current interval
}

// routeRate is what one route had analysed since since: a public
// response, and private ones from these networks.
type routeRate struct {
	since    time.Time
	public   bool
	networks []string
}

// newLearner returns a learner that observes into store under cfg (with
// its defaults applied) and identifies requesters by id.
func newLearner(store hintstore.Store, cfg *Config, id identity) *learner {
	l := &learner{
		store: store, observer: cfg.Observer, logger: cfg.Logger, id: id, caps: cfg.caps(),
		routeParams: cfg.QueryParams, routeHost: cfg.RouteHost, quorum: cfg.PrivateQuorum, interval: cfg.LearnInterval,
		scanBytes: cfg.ScanBytes, crossSite: cfg.AllowCrossSitePreload,
		sem: make(chan struct{}, maxLearners), rate: make(map[string]*routeRate),
	}
	if cfg.DisableScan {
		l.scanBytes = 0
	}
	return l
}

// due reports whether a response of route should be analysed, and notes
// that it will be. Per LearnInterval a route is analysed once for a public
// response, and for private ones (network is the requester's, "" for a
// public response) once per network up to the quorum: enough to form a
// quorum from distinct visitors, and a bounded cost however many requests
// carry cookies.
func (l *learner) due(route, network string) bool {
	interval := l.interval
	if interval < 0 {
		return true
	}
	now := time.Now()
	l.rateMu.Lock()
	defer l.rateMu.Unlock()
	st, ok := l.rate[route]
	if !ok || now.Sub(st.since) >= interval {
		if !ok && len(l.rate) >= maxRateRoutes {
			clear(l.rate) // a rare reset costs one extra analysis per route
		}
		if !ok {
			st = new(routeRate)
			l.rate[route] = st
		}
		*st = routeRate{since: now, networks: st.networks[:0]}
	}
	if network == "" {
		if st.public {
			return false
		}
		st.public = true
		return true
	}
	if len(st.networks) >= l.quorum || slices.Contains(st.networks, network) {
		return false
	}
	st.networks = append(st.networks, network)
	return true
}

func (l *learner) wait() { l.wg.Wait() }

// async runs job, for route and a request of protocol proto, off the
// request path, or drops it when maxLearners jobs are running (the next
// view or request brings the same news).
func (l *learner) async(proto, route string, job func()) bool {
	select {
	case l.sem <- struct{}{}:
	default:
		l.observer.Observe(Event{Kind: EventSkipped, Route: route, Proto: proto, Reason: ReasonBusy})
		return false
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer func() { <-l.sem }()
		job()
	}()
	return true
}

// start decides what the 200 response to the navigation n, whose final
// header is hdr (after the origin's 103s with earlyLinks), teaches: nil
// when it is not learned from, and moved when it is no HTML page, which
// the route's hints no longer fit.
func (l *learner) start(n *navigation, hdr http.Header, earlyLinks []string) (p *pending, moved bool) {
	ct := hdr.Get("Content-Type")
	if !isPageType(ct) {
		return nil, true // the navigation answers something else than a page now
	}
	vary, star, personal, ok := varyNames(hdr)
	if star || !ok {
		return nil, false // no request can be matched against it
	}
	keyParams := l.keyParams(n, hdr)
	private := personal || IsPrivate(n.r.Header, hdr)
	network := ""
	if private {
		network = n.network()
	}
	if !l.due(n.route, network) {
		// Learned from this page a moment ago (for a private page: from
		// this network, or from enough networks for the quorum): analysing
		// every view of a busy page would cost CPU and teach nothing new.
		return nil, false
	}
	p = &pending{
		links:           append(slices.Clone(earlyLinks), hdr.Values("Link")...),
		private:         private,
		vary:            vary,
		variant:         n.variantFor(vary),
		contentType:     ct,
		contentEncoding: hdr.Get("Content-Encoding"),
		values:          requestValues(n.r.URL, n.r.Header, keyParams),
	}
	if private {
		p.requester = n.requesterBy(l.id)
	}
	if l.scanBytes > 0 && n.r.Method == http.MethodGet {
		p.copyBody(l.scanBytes)
	}
	return p, false
}

// keyParams reads the No-Vary-Search field of the response hdr to the
// navigation n, moves n to the route key the path's rule gives (the
// rule this response taught, if it changed), and returns the query
// parameters of that key, sorted: the values every requester of the
// route shares.
func (l *learner) keyParams(n *navigation, hdr http.Header) []string {
	raw := strings.Join(hdr.Values("No-Vary-Search"), ",")
	if raw == "" && l.search.active.Load() == 0 {
		return l.routeParams
	}
	base := routeKey(n.r, l.routeHost, nil)
	if err := l.search.learn(base, raw); err != nil {
		l.logger.Warn("earlyhints: No-Vary-Search not understood; the path keeps its routes as before (logged once per path)",
			"path", base, "value", raw, "err", err)
	}
	key, names, ok := l.search.route(n.r, base, true)
	if !ok {
		return l.routeParams
	}
	if key != n.route {
		// The field view's record (and its observed key) is the old
		// route's: this view has none under the new one.
		n.route, n.field = key, nil
	}
	return names
}

// submit analyses p, what the response to the navigation n offered, in
// the background; the response has already been passed to the client byte
// for byte.
func (l *learner) submit(n *navigation, p *pending) {
	route, page := n.route, n.url() // n is reused once the request is served
	if !l.async(n.proto, route, func() {
		defer p.release()
		l.learn(route, page, p)
	}) {
		p.release()
	}
}

// learn stores what p, a response of route for the page URL page, teaches.
func (l *learner) learn(route string, page *url.URL, p *pending) {
	base, hints, errs := l.hintsFrom(page, p)
	// What the first render waits for comes first, then fonts, the LCP
	// image, modules and the rest: the 103's caps and the document budget
	// spend in this order. Within a kind, the origin's Link fields first,
	// then document order.
	slices.SortStableFunc(hints, func(a, b resolvedHint) int { return int(a.kind) - int(b.kind) })
	reported := 0
	for _, err := range errs {
		if errors.Is(err, ErrCrossSite) {
			// By rule, not bad input: a page may name any site's files.
			l.observer.Observe(Event{Kind: EventNotLearned, Route: route, Links: 1, Reason: ReasonCrossSite, Err: err})
			continue
		}
		if reported < maxReportedErrors {
			reported++
			l.observer.Observe(Event{Kind: EventInvalid, Route: route, Err: err})
		}
	}
	var links []hintstore.Link
	if base != nil {
		links = l.capLinks(base, hints, p.values)
	}
	ctx, cancel := learnContext()
	defer cancel()
	if len(p.vary) > 0 {
		if _, err := l.store.Observe(ctx, route, hintstore.Observation{Vary: p.vary}); err != nil {
			l.storeFailed(route, err)
			return
		}
	}
	key := p.key(route)
	obs := hintstore.Observation{Links: links, Private: p.private, Requester: p.requester, Quorum: l.quorum}
	e, err := l.store.Observe(ctx, key, obs)
	if err != nil {
		l.storeFailed(route, err)
		return
	}
	l.observer.Observe(Event{Kind: EventLearned, Route: key, Links: len(e.Links)})
}

func (l *learner) storeFailed(route string, err error) {
	l.observer.Observe(Event{Kind: EventInvalid, Route: route, Reason: ReasonStoreError, Err: err})
	if errors.Is(err, hintstore.ErrUnavailable) {
		return // the store logged the outage once; the event counts each loss
	}
	l.logger.Warn("earlyhints: store observation failed; hints for the route stay as they were", "route", route, "err", err)
}

// hintsFrom collects the hints of one response: its 103 and Link headers
// first (the origin's own intent), then what the scanner finds. Each target
// is resolved once: the scanner's are taken as it resolved them.
func (l *learner) hintsFrom(page *url.URL, p *pending) (*weburl.URL, []resolvedHint, []error) {
	base, err := baseOf(page)
	if err != nil {
		return nil, nil, []error{err}
	}
	links, errs := linkheader.Parse(p.links...)
	hints, errs := parseLinks(links, &base, l.crossSite, errs)
	if p.limit == 0 || len(p.body) == 0 {
		return &base, hints, errs
	}
	res, err := scan.Scan(bytes.NewReader(p.body), scan.Options{
		Base: page, ContentEncoding: p.contentEncoding, ContentType: p.contentType, MaxBytes: p.limit,
		// Room beyond the 103's caps for what validation drops later
		// (another site's files, links bound to the request).
		MaxLinks: 2 * l.caps.preloads, MaxConnects: 2 * l.caps.preconnects,
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
	for i, ln := range res.Links {
		h, err := scannedHint(ln, &base, l.crossSite)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedRel) {
				errs = append(errs, err)
			}
			continue
		}
		if i < len(res.Kinds) {
			h.kind = res.Kinds[i]
		} else {
			h.kind = kindOf(h.Hint)
		}
		if id := (hintID{h.Rel, h.URL}); !seen[id] {
			seen[id] = true
			hints = append(hints, h)
		}
	}
	return &base, hints, errs
}

// scannedHint validates a link of the scanner, whose target is already
// resolved and canonical.
func scannedHint(ln linkheader.Link, base *weburl.URL, allowCrossSite bool) (resolvedHint, error) {
	rel, err := relOf(ln)
	if err != nil {
		return resolvedHint{}, err
	}
	t, ok := weburl.Split(ln.URI)
	if !ok {
		return Hint{Rel: rel}.from(ln, base, allowCrossSite)
	}
	return Hint{Rel: rel}.fromTarget(ln.Params, t, base, allowCrossSite)
}

type hintID struct {
	rel Rel
	url string
}

// capLinks formats hints for storage within the per-103 caps, leaving
// out every link that carries one of the request's own values (see
// requestValues): it was made for that request, and no other may get it.
func (l *learner) capLinks(base *weburl.URL, hints []resolvedHint, values []string) []hintstore.Link {
	links := make([]hintstore.Link, 0, min(len(hints), l.caps.preloads+l.caps.preconnects))
	b := budget{caps: l.caps}
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
		link := hintstore.Link{Target: h.URL, Preconnect: h.Rel == RelPreconnect}
		if boundToRequest(link, values) {
			l.observer.Observe(Event{Kind: EventNotLearned, Links: 1, Reason: ReasonPersonal, Err: fmt.Errorf("%w: %s", ErrPersonalLink, h.URL)})
			continue
		}
		if link.Value = h.format(base); b.admit(link.Preconnect, link.Value) {
			links = append(links, link)
		}
	}
	return links
}

// forget drops a hinted target that answered 404 or 410, or cannot be
// cached, off the request path; proto is the protocol of its request.
func (l *learner) forget(target, proto string) {
	l.async(proto, target, func() {
		ctx, cancel := learnContext()
		defer cancel()
		err := l.store.Forget(ctx, target)
		l.observer.Observe(Event{Kind: EventDropped, Route: target, Proto: proto, Err: err})
	})
}

// observeFetch counts a file a browser fetched after viewing a page, the
// subresource s, towards key, the page's observed links, with the
// requester's identity for the privacy quorum.
func (l *learner) observeFetch(s *subresource, key string, link hintstore.Link) {
	obs := hintstore.Observation{Links: []hintstore.Link{link}, Private: true, Requester: s.requesterBy(l.id), Quorum: l.quorum}
	l.async(s.proto, key, func() {
		ctx, cancel := learnContext()
		defer cancel()
		e, err := l.store.Observe(ctx, key, obs)
		if err != nil {
			l.storeFailed(key, err)
			return
		}
		l.observer.Observe(Event{Kind: EventLearned, Route: key, Links: len(e.Links)})
	})
}

// forgetRoute drops the hints of a page that redirected, went away or
// stopped being HTML, off the request path; proto is the protocol of the
// navigation that told. A route without hints costs a store read.
func (l *learner) forgetRoute(route, proto string) {
	l.async(proto, route, func() {
		ctx, cancel := learnContext()
		defer cancel()
		if _, ok, err := l.store.Get(ctx, route); err != nil || !ok {
			return
		}
		err := l.store.Purge(ctx, route)
		if err == nil {
			err = l.store.Purge(ctx, hintstore.ObservedKey(route))
		}
		l.observer.Observe(Event{Kind: EventDropped, Route: route, Proto: proto, Err: err})
	})
}

// learnContext bounds one store write made off the request path.
func learnContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// isPageType reports whether a response's Content-Type is that of a page
// the learner reads: text/html or application/xhtml+xml, with valid
// parameters. The spellings origins send nearly always are recognised
// without parsing (mime.ParseMediaType builds a map per call).
func isPageType(ct string) bool {
	switch {
	case strings.EqualFold(ct, "text/html"),
		strings.EqualFold(ct, "text/html; charset=utf-8"),
		strings.EqualFold(ct, "text/html;charset=utf-8"):
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}
