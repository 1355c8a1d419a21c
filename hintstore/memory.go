package hintstore

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied to zero fields of MemoryConfig.
const (
	DefaultMaxEntries = 10000
	DefaultMaxBytes   = 16 << 20
	DefaultTTL        = time.Hour
	// maxPendingLinks bounds the sub-quorum private links kept per route.
	maxPendingLinks = 64
	// maxSnapshotBytes bounds a snapshot file read at start.
	maxSnapshotBytes = 64 << 20
)

// ErrCorruptSnapshot is returned when a snapshot file cannot be loaded.
var ErrCorruptSnapshot = errors.New("hintstore: corrupt snapshot")

// MemoryConfig configures a Memory store. The zero value works.
type MemoryConfig struct {
	// MaxEntries bounds the routes kept. 0 means 10000.
	MaxEntries int
	// MaxBytes bounds the bytes of keys and link values kept. 0 means 16 MiB.
	MaxBytes int64
	// TTL is how long a route's hints live after the last observation.
	// 0 means 1 hour.
	TTL time.Duration
	// SnapshotPath, when set, is loaded at start (a missing file is fine)
	// and written atomically by Snapshot and Close.
	SnapshotPath string
	// SnapshotInterval, when positive with SnapshotPath, writes the
	// snapshot periodically. 0 means only at Close.
	SnapshotInterval time.Duration
	// Clock returns the current time. Nil means time.Now.
	Clock func() time.Time
	// Logger receives warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports whether c is usable.
func (c MemoryConfig) Validate() error {
	if c.MaxEntries < 0 || c.MaxBytes < 0 || c.TTL < 0 || c.SnapshotInterval < 0 {
		return errors.New("hintstore: memory store limits must not be negative")
	}
	return nil
}

// Memory is the in-memory Store: LRU bounded by entries and bytes, with
// expiry and an optional snapshot file. Get takes a read lock only; recency
// is a per-entry timestamp updated atomically, and eviction picks the least
// recently used among the entries in a list ordered by last write, so reads
// never contend on a list lock.
type Memory struct {
	cfg MemoryConfig

	mu      sync.RWMutex
	entries map[string]*memEntry
	order   *list.List // of *memEntry, most recently written first
	bytes   int64

	hits, misses, evictions, expired atomic.Uint64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type memEntry struct {
	key      string
	public   []Link
	private  []Link // links that reached quorum
	links    []Link // public then private, deduplicated: what Get returns
	pending  map[Link]map[string]struct{}
	updated  time.Time
	expires  time.Time
	hits     atomic.Uint64
	lastUsed atomic.Int64
	size     int64
	elem     *list.Element
}

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory store, loading its snapshot when configured.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Memory{cfg: cfg, entries: make(map[string]*memEntry), order: list.New()}
	if cfg.SnapshotPath != "" {
		if err := m.load(cfg.SnapshotPath); err != nil {
			return nil, err
		}
		if cfg.SnapshotInterval > 0 {
			m.stop, m.done = make(chan struct{}), make(chan struct{})
			go m.snapshotLoop()
		}
	}
	return m, nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (Entry, bool, error) {
	m.mu.RLock()
	e, ok := m.entries[key]
	if !ok || len(e.links) == 0 {
		m.mu.RUnlock()
		m.misses.Add(1)
		return Entry{}, false, nil
	}
	now := m.cfg.Clock()
	if !now.Before(e.expires) {
		m.mu.RUnlock()
		m.expired.Add(1)
		m.misses.Add(1)
		return Entry{}, false, nil
	}
	e.lastUsed.Store(now.UnixNano())
	hits := e.hits.Add(1)
	out := Entry{Key: e.key, Links: e.links, Updated: e.updated, Expires: e.expires, Hits: hits}
	m.mu.RUnlock()
	m.hits.Add(1)
	return out, true, nil
}

// Observe implements Store.
func (m *Memory) Observe(_ context.Context, key string, obs Observation) (Entry, error) {
	now := obs.At
	if now.IsZero() {
		now = m.cfg.Clock()
	}
	quorum := max(obs.Quorum, 2)
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if ok && !now.Before(e.expires) {
		m.removeLocked(e)
		m.expired.Add(1)
		ok = false
	}
	if !ok {
		e = &memEntry{key: key}
	}
	if obs.Private {
		m.observePrivate(e, obs, quorum)
	} else {
		e.public = dedupe(obs.Links)
		// A newer public page supersedes what private pages agreed on.
		e.private, e.pending = nil, nil
	}
	e.links = merge(e.public, e.private)
	e.updated, e.expires = now, now.Add(m.cfg.TTL)
	e.lastUsed.Store(now.UnixNano())
	if len(e.links) == 0 && len(e.pending) == 0 {
		if ok {
			m.removeLocked(e)
		}
		return Entry{Key: key, Updated: now}, nil
	}
	m.storeLocked(e, ok)
	return Entry{Key: key, Links: e.links, Updated: e.updated, Expires: e.expires, Hits: e.hits.Load()}, nil
}

func (m *Memory) observePrivate(e *memEntry, obs Observation, quorum int) {
	if e.pending == nil {
		e.pending = make(map[Link]map[string]struct{})
	}
	for _, l := range obs.Links {
		if contains(e.private, l) || contains(e.public, l) {
			continue
		}
		who, ok := e.pending[l]
		if !ok {
			if len(e.pending) >= maxPendingLinks {
				continue
			}
			who = make(map[string]struct{}, quorum)
			e.pending[l] = who
		}
		who[obs.Requester] = struct{}{}
		if len(who) >= quorum {
			delete(e.pending, l)
			e.private = append(e.private, l)
		}
	}
}

func contains(links []Link, l Link) bool {
	for _, x := range links {
		if x.Target == l.Target && x.Value == l.Value {
			return true
		}
	}
	return false
}

func dedupe(links []Link) []Link {
	out := make([]Link, 0, len(links))
	seen := make(map[string]bool, len(links))
	for _, l := range links {
		if !seen[l.Target+"\x00"+l.Value] {
			seen[l.Target+"\x00"+l.Value] = true
			out = append(out, l)
		}
	}
	return out
}

// merge returns public then private links, deduplicated by Target.
func merge(public, private []Link) []Link {
	out := make([]Link, 0, len(public)+len(private))
	seen := make(map[string]bool, len(public)+len(private))
	for _, set := range [][]Link{public, private} {
		for _, l := range set {
			if !seen[l.Target] {
				seen[l.Target] = true
				out = append(out, l)
			}
		}
	}
	return out
}

func entrySize(e *memEntry) int64 {
	n := int64(len(e.key)) + 64
	for _, set := range [][]Link{e.public, e.private, e.links} {
		for _, l := range set {
			n += int64(len(l.Target) + len(l.Value) + 32)
		}
	}
	for l, who := range e.pending {
		n += int64(len(l.Target)+len(l.Value)) + int64(len(who))*40
	}
	return n
}

// storeLocked (re)inserts e and evicts until the bounds hold.
func (m *Memory) storeLocked(e *memEntry, existed bool) {
	if existed {
		m.bytes -= e.size
		m.order.MoveToFront(e.elem)
	} else {
		m.entries[e.key] = e
		e.elem = m.order.PushFront(e)
	}
	e.size = entrySize(e)
	m.bytes += e.size
	for (len(m.entries) > m.cfg.MaxEntries || m.bytes > m.cfg.MaxBytes) && len(m.entries) > 1 {
		m.evictLocked(e)
	}
}

// evictLocked removes the least recently used entry among the oldest
// written ones (a sample of the list's tail), never keep.
func (m *Memory) evictLocked(keep *memEntry) {
	var victim *memEntry
	el := m.order.Back()
	for i := 0; i < 8 && el != nil; i, el = i+1, el.Prev() {
		e := el.Value.(*memEntry)
		if e == keep {
			continue
		}
		if victim == nil || e.lastUsed.Load() < victim.lastUsed.Load() {
			victim = e
		}
	}
	if victim == nil {
		return
	}
	m.removeLocked(victim)
	m.evictions.Add(1)
}

func (m *Memory) removeLocked(e *memEntry) {
	if cur, ok := m.entries[e.key]; !ok || cur != e {
		return
	}
	delete(m.entries, e.key)
	m.order.Remove(e.elem)
	m.bytes -= e.size
}

// Forget implements Store.
func (m *Memory) Forget(_ context.Context, target string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries {
		changed := false
		drop := func(links []Link) []Link {
			out := links[:0:0]
			for _, l := range links {
				if l.Target == target {
					changed = true
					continue
				}
				out = append(out, l)
			}
			return out
		}
		e.public, e.private = drop(e.public), drop(e.private)
		for l := range e.pending {
			if l.Target == target {
				delete(e.pending, l)
				changed = true
			}
		}
		if changed {
			e.links = merge(e.public, e.private)
			m.bytes -= e.size
			e.size = entrySize(e)
			m.bytes += e.size
		}
	}
	return nil
}

// List implements Store.
func (m *Memory) List(_ context.Context, limit int) ([]Entry, error) {
	now := m.cfg.Clock()
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := len(m.entries)
	if limit > 0 {
		n = min(n, limit)
	}
	out := make([]Entry, 0, n)
	for el := m.order.Front(); el != nil; el = el.Next() {
		if limit > 0 && len(out) >= limit {
			break
		}
		e := el.Value.(*memEntry)
		if len(e.links) == 0 || !now.Before(e.expires) {
			continue
		}
		out = append(out, Entry{Key: e.key, Links: e.links, Updated: e.updated, Expires: e.expires, Hits: e.hits.Load()})
	}
	return out, nil
}

// Purge implements Store.
func (m *Memory) Purge(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[key]; ok {
		m.removeLocked(e)
	}
	return nil
}

// PurgeAll implements Store.
func (m *Memory) PurgeAll(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = make(map[string]*memEntry)
	m.order.Init()
	m.bytes = 0
	return nil
}

// Stats implements Store.
func (m *Memory) Stats(context.Context) (Stats, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{
		Entries: len(m.entries), Bytes: m.bytes,
		Hits: m.hits.Load(), Misses: m.misses.Load(), Evictions: m.evictions.Load(), Expired: m.expired.Load(),
	}, nil
}

// Close stops periodic snapshots and writes a last one when configured.
func (m *Memory) Close() error {
	var err error
	m.once.Do(func() {
		if m.stop != nil {
			close(m.stop)
			<-m.done
		}
		if m.cfg.SnapshotPath != "" {
			err = m.Snapshot()
		}
	})
	return err
}

func (m *Memory) snapshotLoop() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.SnapshotInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if err := m.Snapshot(); err != nil {
				m.cfg.Logger.Warn("hintstore: periodic snapshot failed", "path", m.cfg.SnapshotPath, "err", err)
			}
		}
	}
}

// snapshot is the file format: versioned JSON.
type snapshot struct {
	Version int             `json:"version"`
	Written time.Time       `json:"written"`
	Entries []snapshotEntry `json:"entries"`
}

type snapshotEntry struct {
	Key     string    `json:"key"`
	Public  []Link    `json:"public,omitempty"`
	Private []Link    `json:"private,omitempty"`
	Updated time.Time `json:"updated"`
	Expires time.Time `json:"expires"`
}

const snapshotVersion = 1

// Snapshot writes the store to its SnapshotPath atomically (a temporary
// file in the same directory, synced, then renamed). Pending private
// observations are not written: they are per-requester state.
func (m *Memory) Snapshot() error {
	if m.cfg.SnapshotPath == "" {
		return errors.New("hintstore: no snapshot path configured")
	}
	m.mu.RLock()
	s := snapshot{Version: snapshotVersion, Written: m.cfg.Clock()}
	for el := m.order.Back(); el != nil; el = el.Prev() {
		e := el.Value.(*memEntry)
		if len(e.links) == 0 {
			continue
		}
		s.Entries = append(s.Entries, snapshotEntry{Key: e.key, Public: e.public, Private: e.private, Updated: e.updated, Expires: e.expires})
	}
	m.mu.RUnlock()
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("hintstore: encode snapshot: %w", err)
	}
	return writeAtomic(m.cfg.SnapshotPath, data)
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("hintstore: write snapshot in %s: %w", dir, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("hintstore: write snapshot %s: %w", path, err)
	}
	return nil
}

func (m *Memory) load(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hintstore: open snapshot: %w", err)
	}
	defer f.Close()
	if err := m.loadFrom(f); err != nil {
		return fmt.Errorf("%w %s: %w (delete the file to start with an empty store)", ErrCorruptSnapshot, path, err)
	}
	return nil
}

// loadFrom reads a snapshot, bounded in size, dropping expired entries.
func (m *Memory) loadFrom(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, maxSnapshotBytes+1))
	if err != nil {
		return err
	}
	if len(data) > maxSnapshotBytes {
		return fmt.Errorf("larger than %d bytes", maxSnapshotBytes)
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("version %d, this build reads version %d", s.Version, snapshotVersion)
	}
	now := m.cfg.Clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, se := range s.Entries {
		if se.Key == "" || !now.Before(se.Expires) {
			continue
		}
		e := &memEntry{key: se.Key, public: dedupe(se.Public), private: dedupe(se.Private), updated: se.Updated, expires: se.Expires}
		e.links = merge(e.public, e.private)
		if len(e.links) == 0 {
			continue
		}
		if old, ok := m.entries[e.key]; ok {
			m.removeLocked(old)
		}
		e.lastUsed.Store(se.Updated.UnixNano())
		m.storeLocked(e, false)
	}
	return nil
}
