package earlyhints

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/linkheader"
)

// Observed learning: the files a browser discovers late (a font named only
// in a stylesheet, a stylesheet pulled in by @import, a module imported by
// a script) are invisible to the head scan, but the browser fetches them
// right after the navigation, from the same network, with Sec-Fetch-Dest
// saying what they are and a Referer chain back to the page. A fetch so
// attributed is observed as a private link of the page (see
// hintstore.ObservedKey), so it becomes a hint only once the privacy
// quorum of distinct visitors fetched it: a personal avatar never does.

const (
	// observeWindow is how long after a page view its fetches are
	// attributed to it.
	observeWindow = 10 * time.Second
	// maxObservedDepth bounds the Referer chain: page → stylesheet →
	// imported stylesheet → font.
	maxObservedDepth = 3
	// maxViews bounds the views and files being followed at once.
	maxViews = 1 << 14
)

// viewKey is one URL as fetched from one network: a page that was just
// viewed, or a stylesheet or script it pulled in.
type viewKey struct{ network, url string }

// view is what a fetch with that Referer belongs to.
type view struct {
	key  string   // the store key of the page's observed links
	page *url.URL // the page, the base its hints are written against
	// The page request's Cookie and Authorization fields: a link carrying
	// one of their values (or of the page's query) is never hinted. They
	// are kept as they came and parsed only when a fetch is attributed.
	cookie, auth []string
	at           time.Time
	depth        int
}

// values returns the page request's own values (see requestValues).
func (v view) values(routeParams []string) []string {
	return requestValues(v.page, http.Header{"Cookie": v.cookie, "Authorization": v.auth}, routeParams)
}

// viewLog follows the recent page views of each network.
type viewLog struct {
	mu    sync.Mutex
	views map[viewKey]view
}

func (l *viewLog) record(k viewKey, v view) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.views == nil {
		l.views = make(map[viewKey]view)
	}
	if len(l.views) >= maxViews {
		for key, old := range l.views {
			if v.at.Sub(old.at) > observeWindow {
				delete(l.views, key)
			}
		}
		if len(l.views) >= maxViews {
			clear(l.views) // a burst of views: lose some attributions, never grow
		}
	}
	l.views[k] = v
}

func (l *viewLog) forget(k viewKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.views, k)
}

func (l *viewLog) lookup(k viewKey, now time.Time) (view, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.views[k]
	if !ok || now.Sub(v.at) > observeWindow {
		return view{}, false
	}
	return v, true
}

// fetchAs maps Sec-Fetch-Dest to the destination of a preload.
func fetchAs(dest string) string {
	switch dest {
	case "style", "script", "font", "image":
		return dest
	}
	return ""
}

// viewed notes a view of the page n whose fetches may teach observedKey
// (the hintstore.ObservedKey of the page's store key). It is called before
// the browser can fetch anything the page names: when a 103 goes out (the
// browser fetches its hints while the origin thinks), and at the latest
// when the final header is decided.
func (l *viewLog) viewed(n *navigation, observedKey string) {
	if n.speculative {
		return
	}
	l.record(viewKey{n.network(), n.target()},
		view{key: observedKey, page: n.url(), cookie: n.r.Header["Cookie"], auth: n.r.Header["Authorization"], at: time.Now()})
}

// forgetView drops the view of n: the page moved, so what is fetched next
// does not belong to it.
func (l *viewLog) forgetView(n *navigation) {
	l.forget(viewKey{n.network(), n.target()})
}

// attribute reports which page view the subresource request s belongs
// to, by its Referer and network, and as what it was fetched; it follows
// the chain through stylesheets and scripts.
func (l *viewLog) attribute(s *subresource) (view, string, bool) {
	r := s.r
	as := fetchAs(r.Header.Get("Sec-Fetch-Dest"))
	referer := r.Header.Get("Referer")
	if as == "" || referer == "" || r.Method != http.MethodGet {
		return view{}, "", false
	}
	referer, _, _ = strings.Cut(referer, "#")
	now := time.Now()
	network := s.network()
	v, ok := l.lookup(viewKey{network, referer}, now)
	if !ok {
		return view{}, "", false
	}
	if (as == "style" || as == "script") && v.depth+1 < maxObservedDepth {
		next := v
		next.depth++
		l.record(viewKey{network, s.target()}, next)
	}
	return v, as, true
}

// observedHint builds the hint that the subresource s, fetched as as for
// the page view v, teaches, or false when no browser could use it or it
// carries a value of either request (routeParams are the route key's query
// parameters, see requestValues).
func observedHint(s *subresource, v view, as string, routeParams []string, allowCrossSite bool) (hintstore.Link, bool) {
	l := linkheader.Link{URI: s.target(), Rel: []string{"preload"}, Params: []linkheader.Param{{Key: "as", Value: as}}}
	// A font is always fetched in CORS mode, and so is a module script
	// (Sec-Fetch-Mode: cors): the preload must match, or it is wasted.
	if as == "font" || (as == "script" && s.r.Header.Get("Sec-Fetch-Mode") == "cors") {
		l.Params = append(l.Params, linkheader.Param{Key: "crossorigin"})
	}
	base, err := baseOf(v.page)
	if err != nil {
		return hintstore.Link{}, false
	}
	hint, err := Hint{Rel: RelPreload}.from(l, &base, allowCrossSite)
	if err != nil {
		return hintstore.Link{}, false
	}
	link := hintstore.Link{Target: hint.URL, Value: hint.format(&base)}
	if boundToRequest(link, v.values(routeParams)) || boundToRequest(link, requestValues(s.r.URL, s.r.Header, routeParams)) {
		return hintstore.Link{}, false
	}
	return link, true
}
