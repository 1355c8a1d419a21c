package earlyhints

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The field view is what this node saw of each route: navigations, 103s
// sent, the origin's think time (the time the hints have), and, per
// hinted file, how often browsers requested it soon after a 103 that named
// it. It also budgets the 103: a route whose document is ready in T never
// gets more hinted bytes than the server can send before the document is
// ready, so the hinted files do not fill the link just as it is. The
// hinted requests reach the server one round trip after the 103 leaves,
// so that is T − RTT of sending at the client's bandwidth, plus the first
// window, which goes out without waiting for an acknowledgement.

const (
	// maxFieldRoutes bounds the routes followed; past it, the routes seen
	// first keep their view.
	maxFieldRoutes = 1 << 14
	// maxFieldHints bounds the hinted files followed per route.
	maxFieldHints = 32
	// maxOffers bounds the recent 103s followed to see which hints were
	// taken.
	maxOffers = 1 << 14
	// initialWindow is what the first round trip carries anyway (TCP's
	// initial window of ten segments, QUIC's alike).
	initialWindow = 14600
	// maxBudget keeps the budget's arithmetic in range on absurd
	// measurements (1 TiB is no limit in practice).
	maxBudget = 1 << 40
)

// Left-out reasons reported with EventLeftOut, Bytes being the budget: the
// hint's file would not arrive before the document is ready (see
// Config.AssumedBandwidth). ReasonOverBudget: the budget rests on what the
// connection measured (Config.ConnPath); ReasonOverAssumedBudget: on
// Config.AssumedRTT and Config.AssumedBandwidth alone.
const (
	ReasonOverBudget        = "document_budget"
	ReasonOverAssumedBudget = "document_budget_assumed"
)

// fieldView is the view over all routes: their records (routefield.go),
// the sizes of hinted files, and the recent 103s whose take-up is
// followed.
type fieldView struct {
	routes   sync.Map     // route → *routeField
	nroutes  atomic.Int64 // entries in routes
	sizes    sync.Map     // target → int64, the bytes of its last 200
	offersMu sync.Mutex
	offers   map[viewKey]offer // (network, target) → the 103 that named it
}

type offer struct {
	route string
	at    time.Time
}

func (f *fieldView) route(route string) *routeField {
	if v, ok := f.routes.Load(route); ok {
		return v.(*routeField)
	}
	if f.nroutes.Load() >= maxFieldRoutes {
		return nil // full: the routes seen first keep their view
	}
	v, loaded := f.routes.LoadOrStore(route, newRouteField(route))
	if !loaded {
		f.nroutes.Add(1)
	}
	return v.(*routeField)
}

// navigated returns the field stats of route, with one more navigation
// counted, or nil when the view is full.
func (f *fieldView) navigated(route string) *routeField {
	rf := f.route(route)
	if rf != nil {
		rf.navigations.Add(1)
	}
	return rf
}

// budgetFor returns how many bytes of hinted files a 103 to r for the
// route of rf may name (0: no limit) under cfg's assumed path, and whether
// it rests on the connection's own measurement (cfg.ConnPath) rather than
// the assumed path.
func budgetFor(cfg *Config, rf *routeField, r *http.Request) (budget int64, measured bool) {
	if rf == nil || cfg.AssumedBandwidth < 0 {
		return 0, false
	}
	think := time.Duration(rf.thinkP50.Load())
	if think <= 0 {
		return 0, false
	}
	rtt, bandwidth := cfg.AssumedRTT, cfg.AssumedBandwidth
	if cfg.ConnPath != nil {
		mrtt, mbw := cfg.ConnPath(r)
		if mrtt > 0 {
			rtt, measured = mrtt, true
		}
		if mbw > 0 {
			bandwidth, measured = mbw, true
		}
	}
	return documentBudget(think, rtt, bandwidth), measured
}

// documentBudget is the most bytes of hinted files that arrive ahead of a
// document ready think after its request, for a client rtt away on a link
// of bandwidth bits per second: the hinted requests reach the server one
// round trip after the 103 leaves, so only the rest of the think time
// carries them, and the first window besides. 0 means no limit (nothing
// known to go by).
func documentBudget(think, rtt time.Duration, bandwidth int64) int64 {
	if think <= 0 || bandwidth <= 0 {
		return 0
	}
	ahead := max(0, think-max(0, rtt))
	return int64(min(ahead.Seconds()*float64(bandwidth)/8, maxBudget)) + initialWindow
}

// offered notes, at most once a second per route, which hints a 103 to
// the navigation n named, to count later which of them the browser
// requested. n.field is not nil.
func (f *fieldView) offered(n *navigation, values []string) {
	rf := n.field
	now := time.Now()
	if last := rf.lastOffer.Load(); now.UnixNano()-last < int64(time.Second) || !rf.lastOffer.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	network := n.network()
	targets := make([]string, 0, len(values))
	rf.mu.Lock()
	for _, l := range linkTargets(values) {
		hf, ok := rf.hints[l]
		if !ok {
			if len(rf.hints) >= maxFieldHints {
				continue
			}
			hf = &hintField{value: l}
			if rf.hints == nil {
				rf.hints = make(map[string]*hintField)
			}
			rf.hints[l] = hf
		}
		hf.offered++
		targets = append(targets, l)
	}
	rf.mu.Unlock()
	f.offersMu.Lock()
	defer f.offersMu.Unlock()
	if f.offers == nil || len(f.offers) >= maxOffers {
		f.offers = make(map[viewKey]offer)
	}
	for _, t := range targets {
		f.offers[viewKey{network, t}] = offer{route: n.route, at: now}
	}
}

// linkTargets returns the targets of the Link values a 103 carried, as
// written (a path for the page's own origin), which is how the field view
// counts them.
func linkTargets(values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		if j := strings.IndexByte(v, '>'); strings.HasPrefix(v, "<") && j > 0 {
			out = append(out, v[1:j])
		}
	}
	return out
}

// fetched notes a request for a hinted target, the subresource s, that
// answered status with bytes: its size, and whether a 103 to the same
// network named it moments ago (the browser took it).
func (f *fieldView) fetched(s *subresource, status int, bytes int64) {
	if status == http.StatusOK && bytes > 0 {
		f.sizes.Store(s.target(), bytes)
	}
	page := s.url()
	path := page.EscapedPath()
	if page.RawQuery != "" {
		path += "?" + page.RawQuery
	}
	k := viewKey{s.network(), path}
	f.offersMu.Lock()
	o, ok := f.offers[k]
	if ok {
		delete(f.offers, k)
	}
	f.offersMu.Unlock()
	if !ok || time.Since(o.at) > observeWindow {
		return
	}
	if rf := f.route(o.route); rf != nil {
		rf.mu.Lock()
		if hf, ok := rf.hints[path]; ok {
			hf.taken++
			if status == http.StatusOK && bytes > 0 {
				hf.bytes = bytes
			}
		}
		rf.mu.Unlock()
	}
}

// overBudget reports whether adding a hint for target, after used bytes,
// passes the route's budget, and returns the bytes used with it.
func (f *fieldView) overBudget(budget, used int64, target string) (int64, bool) {
	if budget <= 0 {
		return used, false
	}
	v, ok := f.sizes.Load(target)
	if !ok {
		return used, false // never seen: nothing to go by
	}
	used += v.(int64)
	return used, used > budget
}

// RouteField is what a Handler saw of one route (see Handler.Field).
type RouteField struct {
	Route       string `json:"route"`
	Navigations uint64 `json:"navigations"`
	// Sent counts the navigations that got a 103.
	Sent uint64 `json:"sent"`
	// ThinkP50 and ThinkP95 are the origin's time to its final headers
	// over the last 64 navigations: the head start the hints have.
	ThinkP50 time.Duration `json:"think_p50_ns"`
	ThinkP95 time.Duration `json:"think_p95_ns"`
	// BudgetBytes is the most hinted bytes one 103 may name at the assumed
	// round trip and bandwidth (0: no limit yet); a connection that
	// measures its own gets its own budget.
	BudgetBytes int64       `json:"budget_bytes"`
	Hints       []HintField `json:"hints"`
}

// HintField is how browsers used one hinted file, over the sampled 103s
// that named it.
type HintField struct {
	Target string `json:"target"`
	// Offered counts sampled 103s that named it; Taken those after which
	// the browser requested it within 10 s from the same network.
	Offered uint64 `json:"offered"`
	Taken   uint64 `json:"taken"`
	// Bytes is the size of its last response (0: unknown).
	Bytes int64 `json:"bytes"`
}

// report returns the view of up to limit routes (all when limit <= 0),
// the most visited first, their budgets at the assumed rtt and bandwidth
// (none when bandwidth is not positive).
func (f *fieldView) report(limit int, rtt time.Duration, bandwidth int64) []RouteField {
	var out []RouteField
	f.routes.Range(func(k, v any) bool {
		rf := v.(*routeField)
		r := RouteField{Route: k.(string), Navigations: rf.navigations.Load(), Sent: rf.sent.Load()}
		if bandwidth > 0 {
			r.BudgetBytes = documentBudget(time.Duration(rf.thinkP50.Load()), rtt, bandwidth)
		}
		rf.mu.Lock()
		if n := min(rf.n, thinkSamples); n > 0 {
			s := slices.Clone(rf.think[:n])
			slices.Sort(s)
			r.ThinkP50, r.ThinkP95 = s[n/2].duration(), s[min(n-1, n*95/100)].duration()
		}
		for t, hf := range rf.hints {
			r.Hints = append(r.Hints, HintField{Target: t, Offered: hf.offered, Taken: hf.taken, Bytes: hf.bytes})
		}
		rf.mu.Unlock()
		slices.SortFunc(r.Hints, func(a, b HintField) int {
			return cmp.Or(cmp.Compare(b.Offered, a.Offered), cmp.Compare(a.Target, b.Target))
		})
		out = append(out, r)
		return true
	})
	slices.SortFunc(out, func(a, b RouteField) int {
		return cmp.Or(cmp.Compare(b.Navigations, a.Navigations), cmp.Compare(a.Route, b.Route))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
