package hintstore

import (
	"slices"
	"sync"
)

// targetIndex maps each hinted target to the routes whose links name it,
// so the 404/410 rule asks and forgets in proportion to the routes
// concerned, not to the store. It holds one row per stored link, so the
// store's own bounds bound it. Lock order: a shard's lock, then the index's.
type targetIndex struct {
	mu     sync.RWMutex
	routes map[string]targetRoutes // target → route keys
}

// targetRoutes is the routes of one target: one route in place, as most
// targets (a page's own image) have, without a set of its own; more when
// there are several.
type targetRoutes struct {
	one  string    // the route, when more is nil
	more *routeSet // all the routes, when not nil
}

// smallSet is the size up to which a routeSet is a slice: most targets
// (a page's own image) belong to a route or a few, while a site's
// stylesheet belongs to every page, and a slice searched on every learn
// would make learning n routes cost n².
const smallSet = 16

// routeSet is the routes of one target: a slice while small, a map past
// smallSet.
type routeSet struct {
	small []string
	big   map[string]struct{}
}

func (s *routeSet) add(route string) {
	switch {
	case s.big != nil:
		s.big[route] = struct{}{}
	case slices.Contains(s.small, route):
	case len(s.small) < smallSet:
		s.small = append(s.small, route)
	default:
		s.big = make(map[string]struct{}, 2*smallSet)
		for _, r := range s.small {
			s.big[r] = struct{}{}
		}
		s.big[route] = struct{}{}
		s.small = nil
	}
}

// remove drops route and reports whether the set is empty.
func (s *routeSet) remove(route string) bool {
	if s.big != nil {
		delete(s.big, route)
		return len(s.big) == 0
	}
	s.small = slices.DeleteFunc(s.small, func(r string) bool { return r == route })
	return len(s.small) == 0
}

func (s *routeSet) list() []string {
	if s.big == nil {
		return slices.Clone(s.small)
	}
	out := make([]string, 0, len(s.big))
	for r := range s.big {
		out = append(out, r)
	}
	return out
}

// set records that the targets of route changed from those of old to
// those of targets (each a link's Target, once per slice).
func (t *targetIndex) set(route string, old, targets []Link) {
	if len(old) == 0 && len(targets) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range old {
		if slices.ContainsFunc(targets, func(n Link) bool { return n.Target == l.Target }) {
			continue
		}
		v, ok := t.routes[l.Target]
		if ok && ((v.more == nil && v.one == route) || (v.more != nil && v.more.remove(route))) {
			delete(t.routes, l.Target)
		}
	}
	for _, l := range targets {
		v, ok := t.routes[l.Target]
		switch {
		case !ok:
			t.routes[l.Target] = targetRoutes{one: route}
		case v.more != nil:
			v.more.add(route)
		case v.one != route:
			rs := new(routeSet)
			rs.add(v.one)
			rs.add(route)
			t.routes[l.Target] = targetRoutes{more: rs}
		}
	}
}

// reindex brings the index in line with e's links and waiting links; a
// removed entry (gone) leaves it.
func (t *targetIndex) reindex(e *entry, gone bool) {
	var targets []Link
	if !gone {
		targets = indexedLinks(e)
	}
	t.set(e.key, e.indexed, targets)
	e.indexed = targets
}

// indexedLinks returns links whose Targets are those of e's links and
// waiting links, each once: e.links itself when nothing waits and its
// targets are distinct (a stored slice is never changed in place, so the
// entry may keep it as the record of what it indexed), else a new slice.
func indexedLinks(e *entry) []Link {
	if len(e.pending) == 0 && distinctTargets(e.links) {
		return e.links
	}
	targets := make([]Link, 0, len(e.links)+len(e.pending))
	add := func(target string) {
		if !slices.ContainsFunc(targets, func(l Link) bool { return l.Target == target }) {
			targets = append(targets, Link{Target: target})
		}
	}
	for _, l := range e.links {
		add(l.Target)
	}
	for _, p := range e.pending {
		add(p.link.Target)
	}
	return targets
}

func (t *targetIndex) has(target string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.routes[target]
	return ok
}

// routesOf returns a copy of the routes that hint target.
func (t *targetIndex) routesOf(target string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v, ok := t.routes[target]
	switch {
	case !ok:
		return nil
	case v.more == nil:
		return []string{v.one}
	}
	return v.more.list()
}

func (t *targetIndex) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.routes)
}
