package hintstore

import (
	"slices"
	"sync/atomic"
	"time"
	"unique"
)

// entry is what the memory store keeps for one route. Its fields other
// than hits and ref change only under the shard's write lock; the slices
// are never modified in place once published, because Get hands them out.
type entry struct {
	// What Get reads, first.
	key         string
	links       []Link   // public then private, deduplicated by Target: what Get returns
	vary        []string // request headers the route varies on; its links live under VariantKey
	expiresNano int64    // expires in Unix nanoseconds, compared on the read path

	// What only learning and eviction use: at least a cache line (160
	// bytes) between what Get reads and what it writes below, so hits on a
	// hot route by other cores do not invalidate the fields they read, with
	// no padding of its own (a route is 208 bytes, not 320).
	public  []Link // the last public observation, deduplicated
	private []Link // private links that reached quorum, in that order
	pending []pendingLink
	// indexed holds the targets recorded in the target index (each
	// link's Target, once): links itself when nothing is pending, so a
	// route keeps no copy of its targets (see indexedLinks).
	indexed []Link
	// updatedNano is when the hints were last learned, in Unix
	// nanoseconds (as expiresNano: 8 bytes, not a time.Time's 24).
	updatedNano int64
	size        int64
	// prev and next link the entry into its shard's order (entryList):
	// 16 bytes in the entry instead of a 48-byte list element beside it.
	prev, next *entry

	// Written by Get.
	hits atomic.Uint64
	// ref is the second-chance bit: set by Get, cleared by the eviction
	// hand, which moves a referenced entry to the front instead of evicting.
	ref atomic.Bool
}

// pendingLink is a private link still waiting for its quorum.
type pendingLink struct {
	link  Link
	first int64       // Unix ns when its first requester produced it
	who   []Requester // distinct requesters so far, fewer than the quorum
}

func (e *entry) view() Entry {
	return Entry{Key: e.key, Links: e.links, Updated: e.updatedTime(), Expires: e.expiresTime(), Hits: e.hits.Load(), Vary: e.vary}
}

// updatedTime and expiresTime are updatedNano and expiresNano as times.
func (e *entry) updatedTime() time.Time { return time.Unix(0, e.updatedNano) }
func (e *entry) expiresTime() time.Time { return time.Unix(0, e.expiresNano) }

// live reports whether e has hints, or a Vary mark, at now.
func (e *entry) live(now int64) bool { return e.hinted() && now < e.expiresNano }

// hinted reports whether Get has something to return for e.
func (e *entry) hinted() bool { return len(e.links) > 0 || len(e.vary) > 0 }

// deadline is when nothing of e is left: its hints expired and every
// pending link outlived the time to live.
func (e *entry) deadline(ttl time.Duration) int64 {
	d := e.expiresNano
	if !e.hinted() {
		d = 0
	}
	if n := len(e.pending); n > 0 {
		d = max(d, e.pending[n-1].first+int64(ttl)) // pending is in order of first
	}
	return d
}

// expireLinks drops e's hints once they outlived the time to live and
// reports whether it did.
func (e *entry) expireLinks(now int64) bool {
	if !e.hinted() || now < e.expiresNano {
		return false
	}
	e.public, e.private, e.links, e.vary = nil, nil, nil, nil
	return true
}

// expirePending drops waiting links whose first requester is older than
// the time to live, so a quorum is only ever formed within it.
func (e *entry) expirePending(now int64, ttl time.Duration) {
	i := 0
	for i < len(e.pending) && e.pending[i].first+int64(ttl) <= now {
		i++
	}
	if i > 0 {
		e.pending = slices.Delete(e.pending, 0, i)
	}
}

// learnPublic applies a public observation: it replaces the public links
// and drops what private pages had agreed on.
func (e *entry) learnPublic(obs Observation) {
	e.public = dedupe(obs.Links)
	e.private = nil
}

// learnVary marks e as varying on names, or clears the mark: the links of
// a varying route live under its variants' keys, never under its own.
func (e *entry) learnVary(names []string) {
	if len(names) == 0 {
		e.vary = nil
		return
	}
	e.vary = slices.Clone(names)
	e.public, e.private, e.pending = nil, nil, nil
}

// learnPrivate applies a private observation and reports whether it
// confirmed or completed a quorum link (which restarts the time to live).
func (e *entry) learnPrivate(obs Observation, now int64, quorum int) bool {
	confirmed := false
	for _, l := range obs.Links {
		if containsLink(e.private, l) {
			confirmed = true
			continue
		}
		if containsLink(e.public, l) {
			continue
		}
		i := slices.IndexFunc(e.pending, func(p pendingLink) bool { return p.link == l })
		if i < 0 {
			if len(e.pending) >= MaxPendingLinks {
				// Dropping the oldest keeps learning going when one
				// requester floods the route with personal links.
				e.pending = slices.Delete(e.pending, 0, 1)
			}
			e.pending = append(e.pending, pendingLink{link: l, first: now})
			i = len(e.pending) - 1
		}
		p := &e.pending[i]
		if slices.ContainsFunc(p.who, func(w Requester) bool { return !w.Distinct(obs.Requester) }) {
			continue
		}
		if len(p.who)+1 < quorum {
			p.who = append(p.who, obs.Requester)
			continue
		}
		e.pending = slices.Delete(e.pending, i, i+1)
		// A fresh slice: the old one may be held by a snapshot being written.
		e.private = append(slices.Clip(e.private), l)
		confirmed = true
	}
	return confirmed
}

// forget removes target from e and reports whether anything changed.
func (e *entry) forget(target string) bool {
	drop := func(links []Link) ([]Link, bool) {
		if !slices.ContainsFunc(links, func(l Link) bool { return l.Target == target }) {
			return links, false
		}
		return slices.DeleteFunc(slices.Clone(links), func(l Link) bool { return l.Target == target }), true
	}
	var c1, c2 bool
	e.public, c1 = drop(e.public)
	e.private, c2 = drop(e.private)
	n := len(e.pending)
	e.pending = slices.DeleteFunc(e.pending, func(p pendingLink) bool { return p.link.Target == target })
	return c1 || c2 || n != len(e.pending)
}

// relink recomputes what Get returns and the entry's size.
func (e *entry) relink() {
	e.links = merge(e.public, e.private)
	e.size = entrySize(e)
}

func containsLink(links []Link, l Link) bool {
	return slices.Contains(links, l)
}

// dedupe returns a copy of links without repeated links (same Target and
// Value); the copy means a caller may reuse its slice after Observe. The
// strings are interned: a site's stylesheet is named by every page, and
// 100,000 routes then hold one copy of its target and value, not 100,000.
func dedupe(links []Link) []Link {
	out := make([]Link, 0, len(links))
	for _, l := range links {
		if !slices.Contains(out, l) {
			out = append(out, intern(l))
		}
	}
	return out
}

// intern returns l with its strings replaced by their canonical copies.
func intern(l Link) Link {
	l.Target = unique.Make(l.Target).Value()
	l.Value = unique.Make(l.Value).Value()
	return l
}

// merge returns public then private links, deduplicated by Target (the
// first wins). Observations hold a few dozen links at most, so a linear
// scan beats a map.
func merge(public, private []Link) []Link {
	if len(public)+len(private) == 0 {
		return nil
	}
	if len(private) == 0 && distinctTargets(public) {
		return public // the slices are never changed once published: share it
	}
	out := make([]Link, 0, len(public)+len(private))
	for _, set := range [2][]Link{public, private} {
		for _, l := range set {
			if !slices.ContainsFunc(out, func(o Link) bool { return o.Target == l.Target }) {
				out = append(out, l)
			}
		}
	}
	return out
}

// distinctTargets reports whether no two links name the same target.
func distinctTargets(links []Link) bool {
	for i, l := range links {
		for _, o := range links[:i] {
			if o.Target == l.Target {
				return false
			}
		}
	}
	return true
}

// sameSlice reports whether a and b are one slice (merge shares public).
func sameSlice(a, b []Link) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// entrySize approximates the bytes e holds: strings plus a fixed cost per
// link, requester and entry for headers and bookkeeping.
func entrySize(e *entry) int64 {
	const perEntry, perLink, perRequester = 160, 32, 16
	n := int64(len(e.key)) + perEntry
	for _, v := range e.vary {
		n += int64(len(v)) + perRequester
	}
	links := e.links
	if sameSlice(links, e.public) {
		links = nil // counted once, as public
	}
	for _, set := range [3][]Link{e.public, e.private, links} {
		for _, l := range set {
			n += int64(len(l.Target)+len(l.Value)) + perLink
		}
	}
	for _, p := range e.pending {
		n += int64(len(p.link.Target)+len(p.link.Value)) + perLink + 8
		for _, w := range p.who {
			n += int64(len(w.Network)+len(w.Account)) + perRequester
		}
	}
	return n
}

// entryList is a shard's order of entries, most recently written or
// second-chanced first, linked through the entries themselves. Its zero
// value is an empty list.
type entryList struct{ front, back *entry }

// pushFront puts e, which is in no list, at the front.
func (l *entryList) pushFront(e *entry) {
	e.prev, e.next = nil, l.front
	if l.front != nil {
		l.front.prev = e
	} else {
		l.back = e
	}
	l.front = e
}

// remove takes e, which is in l, out of it.
func (l *entryList) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.front = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.back = e.prev
	}
	e.prev, e.next = nil, nil
}

// moveToFront moves e, which is in l, to the front.
func (l *entryList) moveToFront(e *entry) {
	if l.front == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}
