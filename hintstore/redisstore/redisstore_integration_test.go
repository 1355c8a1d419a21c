//go:build integration

package redisstore_test

import (
	"cmp"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/redisstore"
	"github.com/earlyhints/earlyhints/hintstore/storetest"
	"github.com/earlyhints/earlyhints/internal/redistest"
)

var prefixes atomic.Int64

// open returns a store on srv under a prefix of its own.
func open(t testing.TB, srv *redistest.Server, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	cfg.URL = srv.URL
	// The suite checks behaviour, not speed: on a busy machine a read may
	// take longer than the request path's default bound.
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, 5*time.Second)
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = fmt.Sprintf("test%d:", prefixes.Add(1))
	}
	s, err := redisstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStore_Conformance(t *testing.T) {
	srv := redistest.Start(t)
	clock := storetest.NewClock(time.Now().Truncate(time.Millisecond))
	storetest.Run(t, func(t *testing.T) hintstore.Store {
		return open(t, srv, redisstore.Config{TTL: time.Hour, Clock: clock.Now})
	}, storetest.Options{TTL: time.Hour, Advance: clock.Advance})
}

func TestStore_ConformanceRealClock(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) hintstore.Store {
		return open(t, srv, redisstore.Config{})
	}, storetest.Options{TTL: hintstore.DefaultTTL})
}

// until polls cond, bounded in count (reconnection is asynchronous; how
// fast it is belongs to a benchmark).
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

var page = hintstore.Observation{Links: []hintstore.Link{{Target: "https://a.test/a.css", Value: "</a.css>; rel=preload; as=style"}}}

// TestStore_FrozenRedis: a server that accepts connections but never
// answers costs at most a few bounded reads; then the store answers at
// once without asking it (its error count stops), drops learning, and
// comes back when the server does.
func TestStore_FrozenRedis(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redisstore.Config{ReadTimeout: 50 * time.Millisecond, WriteTimeout: 2 * time.Second})
	ctx := t.Context()
	if _, err := s.Observe(ctx, "known", page); err != nil {
		t.Fatal(err)
	}
	srv.Freeze()
	t.Cleanup(srv.Thaw)
	for i := range 10 {
		if _, ok, _ := s.Get(ctx, fmt.Sprint("unknown", i)); ok {
			t.Fatal("a frozen server gave hints")
		}
	}
	if s.Health().Up {
		t.Fatalf("health %+v after 10 unanswered reads, want down", s.Health())
	}
	errs := s.Health().Errors
	for i := range 50 {
		_, _, gerr := s.Get(ctx, fmt.Sprint("other", i))
		_, herr := s.Hinted(ctx, fmt.Sprint("https://a.test/", i))
		if !errors.Is(gerr, hintstore.ErrUnavailable) || !errors.Is(herr, hintstore.ErrUnavailable) {
			t.Fatalf("while down: Get %v, Hinted %v; want hintstore.ErrUnavailable", gerr, herr)
		}
	}
	if _, err := s.Observe(ctx, "learned-while-down", page); !errors.Is(err, hintstore.ErrUnavailable) {
		t.Fatalf("Observe while down: %v", err)
	}
	if h := s.Health(); h.Errors != errs || h.Dropped != 1 {
		t.Fatalf("health %+v: requests asked the frozen server (errors were %d), or the lost observation was not counted", h, errs)
	}
	srv.Thaw()
	until(t, "the store sees the server again", func() bool { return s.Health().Up })
	until(t, "hints are back", func() bool { _, ok, _ := s.Get(ctx, "known"); return ok })
}

// TestStore_TwoNodes: what one store writes, a store of another node that
// had read (and cached) the route sees, including a removal.
func TestStore_TwoNodes(t *testing.T) {
	srv := redistest.Start(t)
	a := open(t, srv, redisstore.Config{KeyPrefix: "two:"})
	b := open(t, srv, redisstore.Config{KeyPrefix: "two:"})
	ctx := t.Context()
	if _, ok, _ := b.Get(ctx, "k"); ok {
		t.Fatal("hints on an empty server")
	}
	if ok, _ := b.Hinted(ctx, page.Links[0].Target); ok {
		t.Fatal("a target hinted on an empty server")
	}
	if _, err := a.Observe(ctx, "k", page); err != nil {
		t.Fatal(err)
	}
	until(t, "B sees A's hints", func() bool { _, ok, _ := b.Get(ctx, "k"); return ok })
	until(t, "B sees A's target", func() bool { ok, _ := b.Hinted(ctx, page.Links[0].Target); return ok })
	// Private links: one requester on each node make a quorum.
	priv := func(who string) hintstore.Observation {
		return hintstore.Observation{Links: []hintstore.Link{{Target: "https://a.test/p.js", Value: "</p.js>; rel=preload; as=script"}}, Private: true, Requester: hintstore.Requester{Network: who}, Quorum: 2}
	}
	if _, err := a.Observe(ctx, "p", priv("alice")); err != nil {
		t.Fatal(err)
	}
	e, err := b.Observe(ctx, "p", priv("bob"))
	if err != nil || len(e.Links) != 1 {
		t.Fatalf("quorum across nodes: %+v, %v", e, err)
	}
	if err := a.Forget(ctx, page.Links[0].Target); err != nil {
		t.Fatal(err)
	}
	until(t, "B forgets the target", func() bool { ok, _ := b.Hinted(ctx, page.Links[0].Target); return !ok })
	until(t, "B drops the route", func() bool { _, ok, _ := b.Get(ctx, "k"); return !ok })
}

// TestStore_MaxRoutes: the fleet-wide bound holds, the route seen twice
// gets in once the store is full, and evictions are counted.
func TestStore_MaxRoutes(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redisstore.Config{MaxRoutes: 4})
	ctx := t.Context()
	observe := func(key string) hintstore.Entry {
		t.Helper()
		e, err := s.Observe(ctx, key, page)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for i := range 4 {
		observe(fmt.Sprint("k", i))
	}
	if e := observe("once"); len(e.Links) != 0 {
		t.Fatal("a new route got into a full store on its first view")
	}
	if e := observe("once"); len(e.Links) == 0 {
		t.Fatal("a route seen twice did not get in")
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 4 || st.Evictions != 1 {
		t.Fatalf("stats %+v, want 4 routes and 1 eviction", st)
	}
	if _, ok, _ := s.Get(ctx, "once"); !ok {
		t.Fatal("the admitted route has no hints")
	}
}
