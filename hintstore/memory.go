package hintstore

import (
	"cmp"
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied to zero fields of MemoryConfig.
const (
	DefaultMaxEntries = 10000
	DefaultMaxBytes   = 16 << 20
	DefaultTTL        = time.Hour
)

// MemoryConfig configures a Memory store. The zero value works.
type MemoryConfig struct {
	// MaxEntries bounds the routes kept. 0 means 10000.
	MaxEntries int
	// MaxBytes bounds the approximate bytes kept (keys, link targets and
	// values, waiting private links). 0 means 16 MiB.
	MaxBytes int64
	// TTL is how long a route's hints live after the observation that last
	// set or confirmed them. 0 means 1 hour.
	TTL time.Duration
	// SnapshotPath, when set, is loaded by NewMemory (a missing file is
	// fine) and written atomically by Snapshot and Close.
	SnapshotPath string
	// SnapshotInterval, when positive, also writes the snapshot this often
	// (skipped when nothing changed). 0 means only at Close. Needs
	// SnapshotPath.
	SnapshotInterval time.Duration
	// IgnoreCorruptSnapshot, when true, makes NewMemory log a snapshot it
	// cannot load, rename it to SnapshotPath+".corrupt-TIMESTAMP" (kept for
	// inspection, never overwritten by the next snapshot) and start empty.
	// false (the default) makes NewMemory fail with ErrCorruptSnapshot, so
	// an operator notices before the learned hints are thrown away.
	IgnoreCorruptSnapshot bool
	// Clock returns the current time, for tests. Nil means the real clock,
	// which Get reads at a resolution of 100 ms.
	Clock func() time.Time
	// Logger receives warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports whether c is usable.
func (c MemoryConfig) Validate() error {
	if c.MaxEntries < 0 || c.MaxBytes < 0 || c.TTL < 0 || c.SnapshotInterval < 0 {
		return errors.New("hintstore: memory store limits must not be negative")
	}
	if c.SnapshotInterval > 0 && c.SnapshotPath == "" {
		return errors.New("hintstore: SnapshotInterval needs SnapshotPath: set both or neither")
	}
	return nil
}

// Memory is the in-memory Store, bounded by entries and bytes, with expiry
// and an optional snapshot file.
//
// Get is on the path of every navigation, so it takes no exclusive lock and
// allocates nothing: routes are spread over shards (each a map under an
// RWMutex, so readers on many cores do not all hit one lock word), the
// time is read from a clock refreshed every 100 ms instead of calling
// time.Now, and recency is a second-chance bit (CLOCK) that Get sets only
// when it is clear, instead of moving the entry to the front of a list
// under a write lock. Eviction walks each shard's list from the oldest
// write: an entry read since the hand last passed gets its bit cleared and
// goes back to the front; the first one not read is evicted. Each shard
// holds its share of the bounds, so the totals never exceed them.
type Memory struct {
	cfg    MemoryConfig
	seed   maphash.Seed
	shards []*shard
	mask   uint64
	clock  *Clock

	retiredHits atomic.Uint64 // hits of routes no longer held
	evictions   atomic.Uint64
	expired     atomic.Uint64
	changes     atomic.Uint64 // bumped on every change; periodic snapshots skip idle periods

	targets targetIndex // hinted target → routes, for Hinted and Forget

	snapshotMu sync.Mutex // one writer at a time, so an older snapshot never wins the rename
	stop, done chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

type shard struct {
	mu         sync.RWMutex
	entries    map[string]*entry
	order      entryList // most recently written or second-chanced first
	bytes      int64
	maxEntries int
	maxBytes   int64
	misses     atomic.Uint64
	// doorkeeper holds hashes of new routes seen once while the shard was
	// full; a route is admitted then only on its second observation. It is
	// cleared when it holds maxEntries hashes, which bounds the window.
	doorkeeper map[uint64]struct{}
	_          [64]byte // keeps neighbouring shards' locks off one cache line
}

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory store, loading its snapshot when configured.
// Close it to write the last snapshot and stop its goroutines.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.MaxEntries = cmp.Or(cfg.MaxEntries, DefaultMaxEntries)
	cfg.MaxBytes = cmp.Or(cfg.MaxBytes, DefaultMaxBytes)
	cfg.TTL = cmp.Or(cfg.TTL, DefaultTTL)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Memory{cfg: cfg, seed: maphash.MakeSeed(), targets: targetIndex{routes: make(map[string]targetRoutes)}}
	n := shardCount(cfg.MaxEntries, cfg.MaxBytes)
	m.mask = uint64(n - 1) //nolint:gosec // shardCount returns a power of two in [1, 64]
	for range n {
		s := &shard{entries: make(map[string]*entry), maxEntries: cfg.MaxEntries / n, maxBytes: cfg.MaxBytes / int64(n), doorkeeper: make(map[uint64]struct{})}
		m.shards = append(m.shards, s)
	}
	m.clock = NewClock(cfg.Clock)
	if cfg.SnapshotPath != "" {
		if err := m.load(cfg.SnapshotPath); err != nil {
			m.clock.Stop()
			return nil, err
		}
	}
	runtime.AddCleanup(m, (*Clock).Stop, m.clock)
	if cfg.SnapshotInterval > 0 {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.snapshotLoop()
	}
	return m, nil
}

// shardCount picks a power of two: enough shards for the cores, but each
// holding at least 256 routes and 256 KiB, so small stores keep one exact
// LRU order.
func shardCount(maxEntries int, maxBytes int64) int {
	target := min(4*runtime.GOMAXPROCS(0), 64)
	n := 1
	for n*2 <= target && maxEntries/(n*2) >= 256 && maxBytes/int64(n*2) >= 256<<10 {
		n *= 2
	}
	return n
}

func (m *Memory) shardFor(key string) *shard {
	if m.mask == 0 {
		return m.shards[0]
	}
	return m.shards[maphash.String(m.seed, key)&m.mask]
}

// Get implements Store. The returned Links are shared: do not modify them.
func (m *Memory) Get(_ context.Context, key string) (Entry, bool, error) {
	s := m.shardFor(key)
	now := m.clock.Nanos()
	s.mu.RLock()
	e, ok := s.entries[key]
	if !ok || !e.hinted() {
		s.mu.RUnlock()
		s.misses.Add(1)
		return Entry{}, false, nil
	}
	if now >= e.expiresNano {
		s.mu.RUnlock()
		m.expireRoute(s, key, now)
		s.misses.Add(1)
		return Entry{}, false, nil
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	out := Entry{Key: e.key, Links: e.links, Updated: e.updatedTime(), Expires: e.expiresTime(), Hits: e.hits.Add(1), Vary: e.vary}
	s.mu.RUnlock()
	return out, true, nil
}

// expireRoute drops the expired hints of key, so Expired counts each
// expiry once and the memory is reclaimed without waiting for eviction.
func (m *Memory) expireRoute(s *shard, key string, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok || !e.expireLinks(now) {
		return
	}
	m.expired.Add(1)
	m.changes.Add(1)
	e.expirePending(now, m.cfg.TTL)
	m.resizeOrRemoveLocked(s, e)
}

// Observe implements Store; the rules are in the package documentation.
func (m *Memory) Observe(_ context.Context, key string, obs Observation) (Entry, error) {
	now := obs.At
	if now.IsZero() {
		now = m.clock.Now()
	}
	nowNano := now.UnixNano()
	s := m.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	m.sweepLocked(s, m.clock.Nanos())
	e, existed := s.entries[key]
	if existed {
		if e.expireLinks(nowNano) {
			m.expired.Add(1)
		}
		e.expirePending(nowNano, m.cfg.TTL)
	} else {
		e = &entry{key: key}
	}
	refresh := true
	switch {
	case len(obs.Vary) > 0:
		e.learnVary(obs.Vary)
	case obs.Private:
		e.learnVary(nil)
		refresh = e.learnPrivate(obs, nowNano, max(obs.Quorum, 2))
	default:
		e.learnVary(nil)
		e.learnPublic(obs)
	}
	if refresh {
		e.updatedNano, e.expiresNano = now.UnixNano(), now.Add(m.cfg.TTL).UnixNano()
	}
	m.changes.Add(1)
	if !existed {
		e.relink()
		if !e.hinted() && len(e.pending) == 0 {
			return Entry{Key: key, Updated: now}, nil
		}
		if !m.admitLocked(s, key, e.size) {
			return Entry{Key: key, Updated: now}, nil
		}
		m.targets.reindex(e, false)
		s.entries[key] = e
		s.order.pushFront(e)
		s.bytes += e.size
	} else {
		if !m.resizeOrRemoveLocked(s, e) {
			return Entry{Key: key, Updated: now}, nil
		}
		s.order.moveToFront(e)
	}
	for (len(s.entries) > s.maxEntries || s.bytes > s.maxBytes) && len(s.entries) > 1 {
		m.evictOneLocked(s, e, nowNano)
	}
	return e.view(), nil
}

// resizeOrRemoveLocked recomputes e after a change and removes it when
// nothing is left; it reports whether e is still held.
func (m *Memory) resizeOrRemoveLocked(s *shard, e *entry) bool {
	old := e.size
	e.relink()
	if !e.hinted() && len(e.pending) == 0 {
		e.size = old
		m.removeLocked(s, e)
		return false
	}
	m.targets.reindex(e, false)
	s.bytes += e.size - old
	return true
}

// admitLocked decides whether a new route of size bytes enters s: always
// while s has room; once s is full, only on the route's second
// observation within the doorkeeper's window.
func (m *Memory) admitLocked(s *shard, key string, size int64) bool {
	if len(s.entries) < s.maxEntries && s.bytes+size <= s.maxBytes {
		return true
	}
	h := maphash.String(m.seed, key)
	if _, seen := s.doorkeeper[h]; seen {
		delete(s.doorkeeper, h)
		return true
	}
	if len(s.doorkeeper) >= max(s.maxEntries, 64) {
		clear(s.doorkeeper)
	}
	s.doorkeeper[h] = struct{}{}
	return false
}

// maxSecondChances bounds the eviction hand's walk: past it, the oldest
// entry goes even if it was read (every entry in the walk was hot).
const maxSecondChances = 16

func (m *Memory) evictOneLocked(s *shard, keep *entry, now int64) {
	for range maxSecondChances {
		e := s.order.back
		switch {
		case e == keep:
			s.order.moveToFront(e)
		case e.deadline(m.cfg.TTL) <= now:
			m.dropExpiredLocked(s, e)
			return
		case e.ref.Load():
			e.ref.Store(false)
			s.order.moveToFront(e)
		default:
			m.removeLocked(s, e)
			m.evictions.Add(1)
			return
		}
	}
	e := s.order.back
	if e == keep {
		e = e.prev
	}
	m.removeLocked(s, e)
	m.evictions.Add(1)
}

// sweepLocked reclaims a few expired routes from the old end of the list,
// so a store that is written to does not keep dead routes until evicted.
func (m *Memory) sweepLocked(s *shard, now int64) {
	for range 2 {
		e := s.order.back
		if e == nil {
			return
		}
		if e.deadline(m.cfg.TTL) > now {
			return
		}
		m.dropExpiredLocked(s, e)
	}
}

func (m *Memory) dropExpiredLocked(s *shard, e *entry) {
	if e.hinted() {
		m.expired.Add(1)
	}
	m.removeLocked(s, e)
}

func (m *Memory) removeLocked(s *shard, e *entry) {
	if cur, ok := s.entries[e.key]; !ok || cur != e {
		return
	}
	delete(s.entries, e.key)
	m.targets.reindex(e, true)
	s.order.remove(e)
	s.bytes -= e.size
	m.retiredHits.Add(e.hits.Load())
	m.changes.Add(1)
}

// Forget implements Store. It visits only the routes that name target
// (from the target index), each under its shard's lock alone.
func (m *Memory) Forget(_ context.Context, target string) error {
	for _, key := range m.targets.routesOf(target) {
		s := m.shardFor(key)
		s.mu.Lock()
		if e, ok := s.entries[key]; ok && e.forget(target) {
			m.resizeOrRemoveLocked(s, e)
			m.changes.Add(1)
		}
		s.mu.Unlock()
	}
	return nil
}

// Hinted implements Store.
func (m *Memory) Hinted(_ context.Context, target string) (bool, error) {
	return m.targets.has(target), nil
}

// List implements Store: routes with hints, most recently updated first.
func (m *Memory) List(_ context.Context, limit int) ([]Entry, error) {
	now := m.clock.Nanos()
	var out []Entry
	for _, s := range m.shards {
		s.mu.RLock()
		for _, e := range s.entries {
			if e.live(now) {
				out = append(out, e.view())
			}
		}
		s.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(b.Updated.Compare(a.Updated), cmp.Compare(a.Key, b.Key))
	})
	if limit > 0 && len(out) > limit {
		out = slices.Clip(out[:limit])
	}
	return out, nil
}

// Purge implements Store.
func (m *Memory) Purge(_ context.Context, key string) error {
	s := m.shardFor(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.entries[key]; ok {
		m.removeLocked(s, e)
	}
	return nil
}

// PurgeAll implements Store.
func (m *Memory) PurgeAll(context.Context) error {
	for _, s := range m.shards {
		s.mu.Lock()
		for _, e := range s.entries {
			m.retiredHits.Add(e.hits.Load())
		}
		clear(s.entries)
		s.order = entryList{}
		s.bytes = 0
		s.mu.Unlock()
	}
	m.targets.reset()
	m.changes.Add(1)
	return nil
}

// Stats implements Store. It walks every route, which is fine for an
// admin page but not for a request path.
func (m *Memory) Stats(context.Context) (Stats, error) {
	now := m.clock.Nanos()
	st := Stats{Hits: m.retiredHits.Load(), Evictions: m.evictions.Load(), Expired: m.expired.Load()}
	for _, s := range m.shards {
		s.mu.RLock()
		for _, e := range s.entries {
			st.Hits += e.hits.Load()
			if e.live(now) {
				st.Entries++
			}
		}
		st.Bytes += s.bytes
		st.Misses += s.misses.Load()
		s.mu.RUnlock()
	}
	return st, nil
}

// Close stops the periodic snapshots and writes a last one when a path is
// configured. The store stays usable; Close is idempotent.
func (m *Memory) Close() error {
	m.closeOnce.Do(func() {
		if m.stop != nil {
			close(m.stop)
			<-m.done
		}
		if m.cfg.SnapshotPath != "" {
			m.closeErr = m.Snapshot()
		}
		m.clock.Stop()
	})
	return m.closeErr
}
