package scan

import (
	"slices"

	"github.com/earlyhints/earlyhints/linkheader"
)

// links orders, deduplicates and completes the candidates: browser
// priority order, one link per (relation, URL), the plain first image only
// when no image was marked fetchpriority=high, a preconnect for every
// third-party origin on the critical path, and dns-prefetch only for
// origins without a preconnect. It also returns how many of the links,
// at the front, are what rendering waits for.
func (s *scanner) links() ([]linkheader.Link, int) {
	cands := s.cands
	if s.highImages > 0 {
		cands = slices.DeleteFunc(cands, func(c candidate) bool { return c.firstImage })
	}
	cands = byClass(cands)

	// Preconnects derived from the resources, in their priority order;
	// the first resource of an origin decides the connection's CORS mode.
	var derived []candidate
	derivedFor := map[string]bool{}
	for _, c := range cands {
		if c.class >= classAsyncScript || c.origin == "" || c.origin == s.docOrigin || derivedFor[c.origin] {
			continue
		}
		derivedFor[c.origin] = true
		var p []linkheader.Param
		if c.cors {
			p = []linkheader.Param{{Key: "crossorigin"}}
		}
		derived = append(derived, candidate{
			class:  classDerivedPreconnect,
			link:   linkheader.Link{URI: c.origin, Rel: []string{"preconnect"}, Params: p},
			origin: c.origin,
		})
	}
	// Derived preconnects sort after every other class but explicit
	// preconnects and before dns-prefetch: insert them there.
	at := len(cands)
	for at > 0 && cands[at-1].class > classDerivedPreconnect {
		at--
	}
	cands = slices.Insert(cands, at, derived...)

	type key struct{ rel, uri string }
	seen := make(map[key]bool, len(cands))
	preconnected := map[string]bool{}
	out := make([]linkheader.Link, 0, min(len(cands), s.opts.MaxLinks))
	blocking := 0
	for _, c := range cands {
		if len(out) == s.opts.MaxLinks {
			break
		}
		k := key{c.link.Rel[0], c.link.URI}
		if seen[k] {
			continue
		}
		seen[k] = true
		if c.same != "" {
			ks := key{c.link.Rel[0], "srcset " + c.same}
			if seen[ks] {
				continue
			}
			seen[ks] = true
		}
		switch c.class {
		case classPreconnect, classDerivedPreconnect:
			preconnected[c.origin] = true
		case classDNSPrefetch:
			if preconnected[c.origin] {
				continue
			}
		}
		out = append(out, c.link)
		if c.class <= classFont {
			blocking = len(out) // classes sort first: a prefix
		}
	}
	return out, blocking
}

// byClass is a stable sort by class: a bucket pass per class, cheaper than
// a comparison sort for the handful of classes.
func byClass(cands []candidate) []candidate {
	sorted := true
	for i := 1; i < len(cands); i++ {
		if cands[i].class < cands[i-1].class {
			sorted = false
			break
		}
	}
	if sorted {
		return cands
	}
	var counts [classDNSPrefetch + 1]int
	for i := range cands {
		counts[cands[i].class]++
	}
	var next [classDNSPrefetch + 1]int
	for c, total := 0, 0; c < len(counts); c++ {
		next[c] = total
		total += counts[c]
	}
	out := make([]candidate, len(cands))
	for i := range cands {
		c := cands[i].class
		out[next[c]] = cands[i]
		next[c]++
	}
	return out
}
