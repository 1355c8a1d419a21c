package earlyhints

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
)

// valuesPool holds the []string given to the header map for one 103, so the
// hit path does not allocate it per request.
var valuesPool = sync.Pool{New: func() any { s := make([]string, 0, DefaultMaxPreloads+DefaultMaxPreconnects); return &s }}

// sendLearned writes the stored hints for the navigation n as one 103 and
// reports whether it did. When the view is learnable, it is recorded
// before the 103 goes out: the browser fetches the hints while the origin
// thinks, with this page as their Referer.
func (h *Handler) sendLearned(w http.ResponseWriter, n *navigation) bool {
	// All the reads of this navigation share one bound on a shared store's
	// wait (redis-timeout), however many there are.
	ctx := n.r.Context()
	if h.readStart {
		ctx = hintstore.WithReadStart(ctx, n.start)
	}
	e, ok, err := h.store.Get(ctx, n.route)
	key := n.route
	if err == nil && ok && len(e.Vary) > 0 {
		// The route's responses vary on request headers: only the hints
		// of this request's variant may go out.
		key = hintstore.VariantKey(n.route, n.variantFor(e.Vary))
		e, ok, err = h.store.Get(ctx, key)
	}
	if err != nil {
		h.cfg.Observer.Observe(Event{Kind: EventSkipped, Route: n.route, Proto: n.proto, Request: n.r, Reason: ReasonStoreError, Err: err})
		return false
	}
	links := e.Links
	// What browsers were seen to fetch late (fonts named in stylesheets,
	// imports) follows what the page itself names.
	okey := n.observedKey(key)
	if o, found, err := h.store.Get(ctx, okey); err == nil && found {
		links, ok = mergeLinks(links, o.Links), true
	}
	if ok {
		if t := hintTaker(w); t != nil {
			links = t.TakeHints(n.r, links)
		}
	}
	if !ok || len(links) == 0 {
		h.cfg.Observer.Observe(Event{Kind: EventSkipped, Route: n.route, Proto: n.proto, Request: n.r, Reason: ReasonNoHints})
		return false
	}
	limit, measured := budgetFor(&h.cfg, n.field, n.r)
	vp := valuesPool.Get().(*[]string)
	values, size, leftOut := capValues((*vp)[:0], links, h.cfg.caps(), &h.field, limit)
	if leftOut > 0 {
		reason := ReasonOverAssumedBudget
		if measured {
			reason = ReasonOverBudget
		}
		h.cfg.Observer.Observe(Event{Kind: EventLeftOut, Route: n.route, Proto: n.proto, Request: n.r, Links: leftOut, Bytes: int(limit), Reason: reason})
	}
	if len(values) == 0 {
		*vp = values[:0]
		valuesPool.Put(vp)
		return false
	}
	if n.learnable {
		h.views.viewed(n, okey)
	}
	writeEarlyHints(w, values)
	if n.field != nil {
		n.field.sent.Add(1)
		if !n.speculative {
			h.field.offered(n, values) // a prefetch takes none of them
		}
	}
	count := len(values)
	clear(values)
	*vp = values[:0]
	valuesPool.Put(vp)
	h.cfg.Observer.Observe(Event{Kind: EventSent, Route: n.route, Proto: n.proto, Request: n.r, Links: count, Bytes: size, Elapsed: time.Since(n.start)})
	return true
}

// mergeLinks returns links with the extra links whose targets it lacks,
// each placed after the links of its kind or a more urgent one (links are
// stored in that order), so that a font or an imported stylesheet that
// browsers were seen to fetch late goes ahead of the page's images. It
// allocates only when extra adds something.
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
		k := kindOfValue(x.Value)
		at := len(out)
		for at > 0 && kindOfValue(out[at-1].Value) > k {
			at--
		}
		out = slices.Insert(out, at, x)
	}
	if out == nil {
		return links
	}
	return out
}

// capValues appends the Link values of links to dst within caps, in order,
// and returns them with their size and the number of links left out by
// the document budget.
// The store may have been filled under other caps (a shared store, a
// changed config), so they are applied again here.
// Past maxBytes (when positive) of hinted files, as last served (sizes),
// a link is left out, so that a 103 never names more than arrives before
// the document is ready; links come render-blocking first, images last.
func capValues(dst []string, links []hintstore.Link, caps caps, sizes *fieldView, maxBytes int64) ([]string, int, int) {
	b := budget{caps: caps}
	var used int64
	leftOut := 0
	for _, l := range links {
		if !l.Preconnect {
			var over bool
			if used, over = sizes.overBudget(maxBytes, used, l.Target); over {
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
