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
	routes map[string][]string // target → route keys
}

// set records that the targets of route changed from old to targets.
func (t *targetIndex) set(route string, old, targets []string) {
	if len(old) == 0 && len(targets) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, target := range old {
		if slices.Contains(targets, target) {
			continue
		}
		rs := slices.DeleteFunc(t.routes[target], func(r string) bool { return r == route })
		if len(rs) == 0 {
			delete(t.routes, target)
		} else {
			t.routes[target] = rs
		}
	}
	for _, target := range targets {
		if rs := t.routes[target]; !slices.Contains(rs, route) {
			t.routes[target] = append(rs, route)
		}
	}
}

// reindex brings the index in line with e's links and waiting links; a
// removed entry (gone) leaves it.
func (t *targetIndex) reindex(e *entry, gone bool) {
	var targets []string
	if !gone {
		targets = make([]string, 0, len(e.links)+len(e.pending))
		for _, l := range e.links {
			if !slices.Contains(targets, l.Target) {
				targets = append(targets, l.Target)
			}
		}
		for _, p := range e.pending {
			if !slices.Contains(targets, p.link.Target) {
				targets = append(targets, p.link.Target)
			}
		}
	}
	t.set(e.key, e.indexed, targets)
	e.indexed = targets
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
	return slices.Clone(t.routes[target])
}

func (t *targetIndex) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.routes)
}
