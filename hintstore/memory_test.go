package hintstore_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/storetest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestMemory_Conformance(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	storetest.Run(t, func(t *testing.T) hintstore.Store {
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{Clock: clock.Now, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}, storetest.Options{Advance: clock.Advance, TTL: time.Hour})
}

// TestMemory_ConformanceAfterSnapshot runs the suite against stores that
// were written to a snapshot and loaded back.
func TestMemory_ConformanceAfterSnapshot(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hintstore.Store {
		path := filepath.Join(t.TempDir(), "hints.json")
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		m, err = hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}, storetest.Options{})
}

func TestMemory_SnapshotSurvivesRestart(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hints.json")
	m, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path})
	if err != nil {
		t.Fatal(err)
	}
	l := hintstore.Link{Target: "https://a.test/a.css", Value: "</a.css>; rel=preload; as=style"}
	if _, err := m.Observe(ctx, "https://a.test/", hintstore.Observation{Links: []hintstore.Link{l}}); err != nil {
		t.Fatal(err)
	}
	// A private link below quorum is never written to disk.
	if _, err := m.Observe(ctx, "https://a.test/me", hintstore.Observation{Links: []hintstore.Link{l}, Private: true, Requester: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m2, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	e, ok, err := m2.Get(ctx, "https://a.test/")
	if err != nil || !ok || len(e.Links) != 1 || e.Links[0] != l {
		t.Fatalf("after restart: %+v ok=%v err=%v", e, ok, err)
	}
	if _, ok, _ := m2.Get(ctx, "https://a.test/me"); ok {
		t.Fatal("sub-quorum private state was persisted")
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte(`"x"`)) {
		t.Fatal("requester identity written to the snapshot")
	}
}

func TestMemory_CorruptSnapshot(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      "{{{",
		"wrong version": `{"version":99,"entries":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hints.json")
			os.WriteFile(path, []byte(content), 0o600)
			_, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path})
			if err == nil {
				t.Fatal("corrupt snapshot accepted")
			}
			if !bytes.Contains([]byte(err.Error()), []byte("delete the file")) {
				t.Errorf("error does not say what to do: %v", err)
			}
		})
	}
}

func TestMemory_Bounds(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name string
		cfg  hintstore.MemoryConfig
		max  int
	}{
		{"entries", hintstore.MemoryConfig{MaxEntries: 10}, 10},
		{"bytes", hintstore.MemoryConfig{MaxBytes: 4096}, 4096 / 150},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := hintstore.NewMemory(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				l := hintstore.Link{Target: fmt.Sprint("https://a.test/", i), Value: fmt.Sprint("</", i, ">; rel=preload; as=style")}
				m.Observe(ctx, fmt.Sprint("k", i), hintstore.Observation{Links: []hintstore.Link{l}})
			}
			st, _ := m.Stats(ctx)
			if st.Entries > tc.max || st.Evictions == 0 {
				t.Fatalf("stats %+v: want at most %d entries and evictions", st, tc.max)
			}
			if _, ok, _ := m.Get(ctx, "k99"); !ok {
				t.Fatal("the newest entry was evicted")
			}
		})
	}
}

func TestMemory_EvictsLeastRecentlyUsed(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: now}
	m, _ := hintstore.NewMemory(hintstore.MemoryConfig{MaxEntries: 3, Clock: clock.Now})
	for _, k := range []string{"a", "b", "c"} {
		clock.Advance(time.Second)
		m.Observe(ctx, k, hintstore.Observation{Links: []hintstore.Link{{Target: "t" + k, Value: "v"}}})
	}
	clock.Advance(time.Second)
	m.Get(ctx, "a") // a is read, b is now the least recently used
	clock.Advance(time.Second)
	m.Observe(ctx, "d", hintstore.Observation{Links: []hintstore.Link{{Target: "td", Value: "v"}}})
	if _, ok, _ := m.Get(ctx, "b"); ok {
		t.Fatal("b should have been evicted")
	}
	if _, ok, _ := m.Get(ctx, "a"); !ok {
		t.Fatal("a was read recently and must stay")
	}
}

func FuzzLoadSnapshot(f *testing.F) {
	f.Add([]byte(`{"version":1,"entries":[{"key":"k","public":[{"target":"https://a/x","value":"</x>"}],"expires":"2999-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"entries":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "s.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path, MaxEntries: 100})
		if err != nil {
			return
		}
		st, _ := m.Stats(t.Context())
		if st.Entries > 100 {
			t.Fatalf("loaded %d entries past the bound", st.Entries)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkMemory_Get(b *testing.B) {
	m, _ := hintstore.NewMemory(hintstore.MemoryConfig{})
	ctx := b.Context()
	var links []hintstore.Link
	for i := range 10 {
		links = append(links, hintstore.Link{Target: fmt.Sprint("https://a.test/", i), Value: fmt.Sprint("</", i, ">; rel=preload; as=style")})
	}
	for i := range 1000 {
		m.Observe(ctx, fmt.Sprint("https://a.test/page/", i), hintstore.Observation{Links: links})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		keys := make([]string, 1000)
		for j := range keys {
			keys[j] = fmt.Sprint("https://a.test/page/", j)
		}
		for pb.Next() {
			if _, ok, _ := m.Get(ctx, keys[i%1000]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

func BenchmarkMemory_Observe(b *testing.B) {
	m, _ := hintstore.NewMemory(hintstore.MemoryConfig{})
	ctx := b.Context()
	links := []hintstore.Link{{Target: "https://a.test/a.css", Value: "</a.css>; rel=preload; as=style"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Observe(ctx, fmt.Sprint("k", i%5000), hintstore.Observation{Links: links})
		i++
	}
}
