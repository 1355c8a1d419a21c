package scan

import (
	"slices"

	"github.com/earlyhints/earlyhints/linkheader"
)

// links orders, deduplicates and completes the candidates: browser
// priority order, one link per (relation, URL), the plain first image only
// when no image was marked fetchpriority=high, a preconnect for every
// third-party origin on the critical path, and dns-prefetch only for
// origins without a preconnect. Preloads and connections are capped
// separately, so a head full of files does not crowd out its preconnects.
// It also returns each link's kind and how many of the links, at the
// front, are what rendering waits for.
func (s *scanner) links() ([]linkheader.Link, []Kind, int) {
	cands := s.cands
	if s.highImages > 0 {
		cands = slices.DeleteFunc(cands, func(c candidate) bool { return c.firstImage })
	}
	cands = byClass(cands)

	// Preconnects derived from the resources, in their priority order;
	// the first resource of an origin decides the connection's CORS mode.
	// Those for render-blocking files and fonts come before the page's own
	// preconnects: the first paint waits for them.
	// A connection serves either CORS (anonymous) fetches or the others:
	// an origin with both kinds of critical file gets both.
	type pool struct {
		origin string
		cors   bool
	}
	// Files that only may be needed get one connection per origin.
	var critical, derived []candidate
	derivedFor := map[pool]bool{}
	for _, c := range cands {
		pl := pool{c.origin, c.cors}
		if c.class > classFont {
			pl.cors = false
		}
		if c.class >= classAsync || c.origin == "" || c.origin == s.docOrigin || derivedFor[pl] || c.class > classFont && derivedFor[pool{c.origin, true}] {
			continue
		}
		derivedFor[pl] = true
		var p []linkheader.Param
		if c.cors {
			p = []linkheader.Param{{Key: "crossorigin"}}
		}
		d := candidate{
			class:  classDerivedPreconnect,
			link:   linkheader.Link{URI: c.origin, Rel: []string{"preconnect"}, Params: p},
			origin: c.origin,
			cors:   c.cors,
		}
		if c.class <= classFont {
			d.class = classCriticalPreconnect
			critical = append(critical, d)
		} else {
			derived = append(derived, d)
		}
	}
	at := func(cl class) int {
		i := len(cands)
		for i > 0 && cands[i-1].class > cl {
			i--
		}
		return i
	}
	cands = slices.Insert(cands, at(classDerivedPreconnect), derived...)
	cands = slices.Insert(cands, at(classCriticalPreconnect), critical...)

	type key struct {
		rel, uri string
		cors     bool // a preconnect's pool: anonymous or credentialed
	}
	seen := make(map[key]bool, len(cands))
	preconnected := map[string]bool{}
	out := make([]linkheader.Link, 0, min(len(cands), s.opts.MaxLinks+s.opts.MaxConnects))
	kinds := make([]Kind, 0, cap(out))
	blocking, preloads, connects := 0, 0, 0
	for _, c := range cands {
		k := key{c.link.Rel[0], c.link.URI, c.class.isConnect() && c.cors}
		if seen[k] {
			continue
		}
		seen[k] = true
		if c.same != "" {
			ks := key{c.link.Rel[0], "srcset " + c.same, false}
			if seen[ks] {
				continue
			}
			seen[ks] = true
		}
		switch c.class {
		case classPreconnect, classCriticalPreconnect, classDerivedPreconnect:
			preconnected[c.origin] = true
		case classDNSPrefetch:
			if preconnected[c.origin] {
				continue
			}
		}
		if c.class.isConnect() {
			if connects == s.opts.MaxConnects {
				s.skip(ReasonOverBound, c.link.Rel[0], c.link.URI, c.link.Params)
				continue
			}
			connects++
		} else {
			if preloads == s.opts.MaxLinks {
				s.skip(ReasonOverBound, c.link.Rel[0], c.link.URI, c.link.Params)
				continue
			}
			preloads++
		}
		out = append(out, c.link)
		kinds = append(kinds, classKinds[c.class])
		if c.class <= classFont {
			blocking = len(out) // classes sort first: a prefix
		}
	}
	return out, kinds, blocking
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
