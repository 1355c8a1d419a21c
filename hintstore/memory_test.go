package hintstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/storetest"
)

// newFakeClock returns the clock the memory store's tests move by hand.
func newFakeClock() *storetest.Clock {
	return storetest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func newMemory(t testing.TB, cfg hintstore.MemoryConfig) *hintstore.Memory {
	t.Helper()
	m, err := hintstore.NewMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMemory_Conformance(t *testing.T) {
	for _, maxEntries := range []int{0, 100} { // sharded and single-shard
		t.Run(fmt.Sprint("MaxEntries=", maxEntries), func(t *testing.T) {
			clock := newFakeClock()
			storetest.Run(t, func(t *testing.T) hintstore.Store {
				return newMemory(t, hintstore.MemoryConfig{Clock: clock.Now, MaxEntries: maxEntries})
			}, storetest.Options{Advance: clock.Advance, TTL: hintstore.DefaultTTL})
		})
	}
}

// TestMemory_ConformanceAfterSnapshot runs the suite against a store that
// is written to its snapshot and loaded back after every change, so each
// rule is checked on state that went through the file.
func TestMemory_ConformanceAfterSnapshot(t *testing.T) {
	clock := newFakeClock()
	storetest.Run(t, func(t *testing.T) hintstore.Store {
		r := &reloading{t: t, cfg: hintstore.MemoryConfig{Clock: clock.Now, SnapshotPath: t.TempDir() + "/hints.json"}}
		r.m = newMemory(t, r.cfg)
		return r
	}, storetest.Options{Advance: clock.Advance, TTL: hintstore.DefaultTTL})
}

// reloading is a Store that snapshots and restarts its Memory after each
// change. Once a private observation was made it stops restarting: links
// waiting for their quorum are, by design, not persisted.
type reloading struct {
	t       *testing.T
	cfg     hintstore.MemoryConfig
	mu      sync.RWMutex
	m       *hintstore.Memory
	private atomic.Bool
}

func (r *reloading) reload() {
	if r.private.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.m.Close(); err != nil {
		r.t.Error(err)
		return
	}
	m, err := hintstore.NewMemory(r.cfg)
	if err != nil {
		r.t.Error(err)
		return
	}
	r.m = m
	r.t.Cleanup(func() { m.Close() })
}

func (r *reloading) store() *hintstore.Memory {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m
}

func (r *reloading) Get(ctx context.Context, key string) (hintstore.Entry, bool, error) {
	return r.store().Get(ctx, key)
}

func (r *reloading) Observe(ctx context.Context, key string, obs hintstore.Observation) (hintstore.Entry, error) {
	if obs.Private {
		r.private.Store(true)
	}
	e, err := r.store().Observe(ctx, key, obs)
	r.reload()
	return e, err
}

func (r *reloading) Forget(ctx context.Context, target string) error {
	defer r.reload()
	return r.store().Forget(ctx, target)
}

func (r *reloading) Hinted(ctx context.Context, target string) (bool, error) {
	return r.store().Hinted(ctx, target)
}

func (r *reloading) List(ctx context.Context, limit int) ([]hintstore.Entry, error) {
	return r.store().List(ctx, limit)
}

func (r *reloading) Purge(ctx context.Context, key string) error {
	defer r.reload()
	return r.store().Purge(ctx, key)
}

func (r *reloading) PurgeAll(ctx context.Context) error {
	defer r.reload()
	return r.store().PurgeAll(ctx)
}

func (r *reloading) Stats(ctx context.Context) (hintstore.Stats, error) { return r.store().Stats(ctx) }
func (r *reloading) Close() error                                       { return r.store().Close() }

func TestMemoryConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  hintstore.MemoryConfig
		ok   bool
	}{
		{"zero", hintstore.MemoryConfig{}, true},
		{"negative entries", hintstore.MemoryConfig{MaxEntries: -1}, false},
		{"negative bytes", hintstore.MemoryConfig{MaxBytes: -1}, false},
		{"negative ttl", hintstore.MemoryConfig{TTL: -time.Second}, false},
		{"interval without path", hintstore.MemoryConfig{SnapshotInterval: time.Minute}, false},
		{"interval with path", hintstore.MemoryConfig{SnapshotInterval: time.Minute, SnapshotPath: "x"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if _, err := hintstore.NewMemory(tc.cfg); !tc.ok && err == nil {
				t.Fatal("NewMemory accepted an invalid config")
			}
		})
	}
}

func TestMemory_Bounds(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name       string
		cfg        hintstore.MemoryConfig
		maxEntries int
	}{
		{"entries", hintstore.MemoryConfig{MaxEntries: 10}, 10},
		{"bytes", hintstore.MemoryConfig{MaxBytes: 4096}, 4096 / 200},
		{"sharded entries", hintstore.MemoryConfig{MaxEntries: 2048}, 2048},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemory(t, tc.cfg)
			for i := range 5000 {
				l := hintstore.Link{Target: fmt.Sprint("https://a.test/", i), Value: fmt.Sprint("</", i, ">; rel=preload; as=style")}
				// Twice: a full store admits a new route on its second view.
				for range 2 {
					if _, err := m.Observe(ctx, fmt.Sprint("k", i), hintstore.Observation{Links: []hintstore.Link{l}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			st, _ := m.Stats(ctx)
			if st.Entries > tc.maxEntries || st.Evictions == 0 || st.Entries+int(st.Evictions) != 5000 {
				t.Fatalf("stats %+v: want at most %d entries, the rest evicted", st, tc.maxEntries)
			}
			if tc.cfg.MaxBytes > 0 && st.Bytes > tc.cfg.MaxBytes {
				t.Fatalf("%d bytes held, bound is %d", st.Bytes, tc.cfg.MaxBytes)
			}
			if _, ok, _ := m.Get(ctx, "k4999"); !ok {
				t.Fatal("the newest entry was evicted")
			}
		})
	}
}

// TestMemory_OneOffRoutesDoNotEvict floods a full store with routes seen
// once each (a catch-all origin, made-up paths): the routes seen often stay.
func TestMemory_OneOffRoutesDoNotEvict(t *testing.T) {
	ctx := t.Context()
	for _, maxEntries := range []int{100, 4096} {
		t.Run(fmt.Sprint("MaxEntries=", maxEntries), func(t *testing.T) {
			m := newMemory(t, hintstore.MemoryConfig{MaxEntries: maxEntries})
			link := func(k string) hintstore.Observation {
				return hintstore.Observation{Links: []hintstore.Link{{Target: "https://a.test/" + k + ".css", Value: "</" + k + ".css>; rel=preload; as=style"}}}
			}
			real := []string{"/", "/about", "/shop"}
			for _, k := range real {
				if _, err := m.Observe(ctx, k, link(k)); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 40000 {
				k := fmt.Sprint("/junk/", i)
				if _, err := m.Observe(ctx, k, link(k)); err != nil {
					t.Fatal(err)
				}
				if i%1000 == 0 {
					for _, k := range real {
						_, _, _ = m.Get(ctx, k)
					}
				}
			}
			for _, k := range real {
				if _, ok, _ := m.Get(ctx, k); !ok {
					t.Fatalf("%s lost its hints to one-off routes", k)
				}
			}
			if st, _ := m.Stats(ctx); st.Entries > maxEntries {
				t.Fatalf("%d entries, bound %d", st.Entries, maxEntries)
			}
		})
	}
}

func TestMemory_EvictsLeastRecentlyUsed(t *testing.T) {
	ctx := t.Context()
	m := newMemory(t, hintstore.MemoryConfig{MaxEntries: 3})
	observe := func(k string) {
		for range 2 { // a full store admits a new route on its second view
			if _, err := m.Observe(ctx, k, hintstore.Observation{Links: []hintstore.Link{{Target: "t" + k, Value: "v"}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range []string{"a", "b", "c"} {
		observe(k)
	}
	// a was read: b is now the least recently used.
	if _, _, err := m.Get(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	observe("d")
	if _, ok, _ := m.Get(ctx, "b"); ok {
		t.Fatal("b should have been evicted")
	}
	if _, ok, _ := m.Get(ctx, "a"); !ok {
		t.Fatal("a was read recently and must stay")
	}
	// Every entry was read since the hand passed: the oldest write goes.
	for _, k := range []string{"a", "c", "d"} {
		if _, _, err := m.Get(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	observe("e")
	if _, ok, _ := m.Get(ctx, "e"); !ok {
		t.Fatal("the new entry was evicted")
	}
	if st, _ := m.Stats(ctx); st.Entries != 3 || st.Evictions != 2 {
		t.Fatalf("stats %+v, want 3 entries after 2 evictions", st)
	}
}

func TestMemory_PendingBounded(t *testing.T) {
	ctx := t.Context()
	m := newMemory(t, hintstore.MemoryConfig{})
	for i := range 50 {
		var links []hintstore.Link
		for j := range 10 {
			links = append(links, hintstore.Link{Target: fmt.Sprint("https://a.test/", i, "-", j), Value: "v"})
		}
		if _, err := m.Observe(ctx, "k", hintstore.Observation{Links: links, Private: true, Requester: hintstore.Requester{Network: fmt.Sprint("u", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := hintstore.PendingLinks(m, "k"); n != hintstore.MaxPendingLinks {
		t.Fatalf("%d links waiting, want the bound %d", n, hintstore.MaxPendingLinks)
	}
}

func TestShardCount(t *testing.T) {
	tests := []struct {
		entries int
		bytes   int64
		max     int
	}{
		{3, hintstore.DefaultMaxBytes, 1},
		{255 * 2, hintstore.DefaultMaxBytes, 1},
		{hintstore.DefaultMaxEntries, 4096, 1},
		{1 << 20, 1 << 40, 64},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.entries, "/", tc.bytes), func(t *testing.T) {
			n := hintstore.ShardCount(tc.entries, tc.bytes)
			if n < 1 || n > tc.max || n&(n-1) != 0 {
				t.Fatalf("shardCount = %d, want a power of two in [1, %d]", n, tc.max)
			}
		})
	}
	if m := newMemory(t, hintstore.MemoryConfig{MaxEntries: 10}); hintstore.Shards(m) != 1 {
		t.Fatalf("a 10-entry store has %d shards; small stores keep one exact order", hintstore.Shards(m))
	}
}

// TestMemory_RealClock checks expiry through the default clock, which Get
// reads at a coarse resolution.
func TestMemory_RealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Observe(ctx, "k", hintstore.Observation{Links: []hintstore.Link{{Target: "t", Value: "v"}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		if _, ok, _ := m.Get(ctx, "k"); !ok {
			t.Fatal("expired before its TTL")
		}
		time.Sleep(2 * time.Second)
		if _, ok, _ := m.Get(ctx, "k"); ok {
			t.Fatal("still there after its TTL")
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		// A closed store reads the real clock and keeps working.
		if _, err := m.Observe(ctx, "k", hintstore.Observation{Links: []hintstore.Link{{Target: "t", Value: "v"}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(61 * time.Second)
		if _, ok, _ := m.Get(ctx, "k"); ok {
			t.Fatal("a closed store stopped expiring hints")
		}
		if err := m.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
	})
}

func BenchmarkMemory_Get(b *testing.B) {
	m := newMemory(b, hintstore.MemoryConfig{})
	ctx := b.Context()
	var links []hintstore.Link
	for i := range 10 {
		links = append(links, hintstore.Link{Target: fmt.Sprint("https://a.test/", i), Value: fmt.Sprint("</", i, ">; rel=preload; as=style")})
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("https://a.test/page/", i)
		if _, err := m.Observe(ctx, keys[i], hintstore.Observation{Links: links}); err != nil {
			b.Fatal(err)
		}
	}
	var start atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(start.Add(397)) // each goroutine walks the keys from elsewhere
		for pb.Next() {
			if _, ok, _ := m.Get(ctx, keys[i%len(keys)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

// BenchmarkMemory_GetHotRoute is every core reading the same route (a
// site's home page).
func BenchmarkMemory_GetHotRoute(b *testing.B) {
	m := newMemory(b, hintstore.MemoryConfig{})
	ctx := b.Context()
	if _, err := m.Observe(ctx, "https://a.test/", hintstore.Observation{Links: []hintstore.Link{{Target: "https://a.test/a.css", Value: "</a.css>; rel=preload; as=style"}}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := m.Get(ctx, "https://a.test/"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkMemory_GetMiss(b *testing.B) {
	m := newMemory(b, hintstore.MemoryConfig{})
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := m.Get(ctx, "https://a.test/nothing-learned"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkMemory_Observe(b *testing.B) {
	for _, tc := range []struct {
		name    string
		private bool
	}{{"public", false}, {"private", true}} {
		b.Run(tc.name, func(b *testing.B) {
			m := newMemory(b, hintstore.MemoryConfig{})
			ctx := b.Context()
			var links []hintstore.Link
			for i := range 10 {
				links = append(links, hintstore.Link{Target: fmt.Sprint("https://a.test/", i), Value: fmt.Sprint("</", i, ">; rel=preload; as=style")})
			}
			keys := make([]string, 5000)
			for i := range keys {
				keys[i] = fmt.Sprint("https://a.test/page/", i)
			}
			who := []string{"alice", "bob", "carol"}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				obs := hintstore.Observation{Links: links, Private: tc.private, Requester: hintstore.Requester{Network: who[i%3]}}
				if _, err := m.Observe(ctx, keys[i%len(keys)], obs); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkMemory_Forget forgets a target that one route of 10,000 hints,
// as the 404/410 rule does: the target index visits that route alone.
func BenchmarkMemory_Forget(b *testing.B) {
	ctx := b.Context()
	m, err := hintstore.NewMemory(hintstore.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	shared := hintstore.Link{Target: "https://a.test/site.css", Value: "</site.css>; rel=preload; as=style"}
	for i := range 10000 {
		own := hintstore.Link{Target: fmt.Sprint("https://a.test/p", i, ".css"), Value: fmt.Sprint("</p", i, ".css>; rel=preload; as=style")}
		if _, err := m.Observe(ctx, fmt.Sprint("https://a.test/", i), hintstore.Observation{Links: []hintstore.Link{shared, own}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		target := fmt.Sprint("https://a.test/p", i%10000, ".css")
		if err := m.Forget(ctx, target); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
