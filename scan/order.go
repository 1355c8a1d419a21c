package scan

import (
	"slices"

	"github.com/earlyhints/earlyhints/linkheader"
)

// links orders, deduplicates and completes the candidates: browser
// priority order, one link per (relation, URL), the plain first image only
// when no image was marked fetchpriority=high, a preconnect for every
// third-party origin on the critical path, and dns-prefetch only for
// origins without a preconnect.
func (s *scanner) links() []linkheader.Link {
	cands := s.cands
	if s.highImages > 0 {
		cands = slices.DeleteFunc(cands, func(c candidate) bool { return c.firstImage })
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return int(a.class) - int(b.class) })

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
	cands = append(cands, derived...)
	slices.SortStableFunc(cands, func(a, b candidate) int { return int(a.class) - int(b.class) })

	type key struct{ rel, uri string }
	seen := make(map[key]bool, len(cands))
	preconnected := map[string]bool{}
	out := make([]linkheader.Link, 0, min(len(cands), s.opts.MaxLinks))
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
	}
	return out
}
