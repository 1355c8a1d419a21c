package redisstore

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/earlyhints/earlyhints/hintstore"
)

// local is a node's copy of what it read from Redis, decoded, so the
// request path reads memory only. Everything in it came from a read that
// Redis tracks for this node (RESP3 CLIENT TRACKING): when any node
// changes a key, Redis tells every node that read it, and the key leaves
// the copy (see Store.invalidate). A key not found is cached too, so an
// unknown route or target costs one read until someone writes it.
type local struct {
	seed   maphash.Seed
	shards [localShards]localShard
	max    int // per shard
}

const localShards = 16

type localShard struct {
	mu sync.RWMutex
	// gen is bumped by every invalidation: a read that started before
	// one must not install what it got, which may be the old value.
	gen     uint64
	entries map[string]*cached
	misses  atomic.Uint64
	_       [64]byte // keeps neighbouring shards' locks off one cache line
}

// cached is one key as last read: a route's hints, or whether a target is
// hinted (present).
type cached struct {
	entry   hintstore.Entry
	present bool
	expires int64 // Unix ns; 0 for targets
	hits    atomic.Uint64
	gone    atomic.Bool // its expiry was counted
}

func newLocal(maxEntries int) *local {
	l := &local{seed: maphash.MakeSeed(), max: max(maxEntries/localShards, 1)}
	for i := range l.shards {
		l.shards[i].entries = make(map[string]*cached)
	}
	return l
}

func (l *local) shard(key string) *localShard {
	return &l.shards[maphash.String(l.seed, key)%localShards]
}

func (l *local) get(key string) (*cached, bool) {
	s := l.shard(key)
	s.mu.RLock()
	c, ok := s.entries[key]
	s.mu.RUnlock()
	return c, ok
}

// generation returns the shard generation to pass to install.
func (l *local) generation(key string) uint64 {
	s := l.shard(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// install caches c for key unless an invalidation came since gen; it
// returns the hits of the entry it replaced, for the totals.
func (l *local) install(key string, c *cached, gen uint64) (retired uint64) {
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return 0
	}
	if old, ok := s.entries[key]; ok {
		retired = old.hits.Load()
	} else if len(s.entries) >= l.max {
		// Any entry will do: it is read again from Redis when needed.
		for k, old := range s.entries {
			retired += old.hits.Load()
			delete(s.entries, k)
			break
		}
	}
	s.entries[key] = c
	return retired
}

// drop forgets key and returns the hits of what it held.
func (l *local) drop(key string) (retired uint64) {
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if old, ok := s.entries[key]; ok {
		retired = old.hits.Load()
		delete(s.entries, key)
	}
	return retired
}

// reset forgets everything and returns the hits it held.
func (l *local) reset() (retired uint64) {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		s.gen++
		for _, c := range s.entries {
			retired += c.hits.Load()
		}
		clear(s.entries)
		s.mu.Unlock()
	}
	return retired
}

// totals returns the hits of the cached entries and the misses counted.
func (l *local) totals() (hits, misses uint64, entries int) {
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.RLock()
		for _, c := range s.entries {
			hits += c.hits.Load()
		}
		entries += len(s.entries)
		s.mu.RUnlock()
		misses += s.misses.Load()
	}
	return hits, misses, entries
}
