// Package storetest is the conformance suite that every hintstore.Store
// backend passes, so that the learning rules are the same whatever keeps
// the hints.
package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
)

// Options adapt the suite to a backend.
type Options struct {
	// Advance moves the store's clock forward. Nil skips the expiry tests.
	Advance func(d time.Duration)
	// TTL is the store's time to live; needed with Advance.
	TTL time.Duration
}

func link(name string) hintstore.Link {
	return hintstore.Link{Target: "https://a.test/" + name, Value: "</" + name + ">; rel=preload; as=style"}
}

func targets(links []hintstore.Link) string {
	s := ""
	for i, l := range links {
		if i > 0 {
			s += ","
		}
		s += l.Target[len("https://a.test/"):]
	}
	return s
}

// Run runs the suite; newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) hintstore.Store, opts Options) {
	ctx := t.Context()
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(t *testing.T, s hintstore.Store, key string) string {
		t.Helper()
		e, ok, err := s.Get(ctx, key)
		must(t, err)
		if !ok {
			return "<none>"
		}
		return targets(e.Links)
	}
	observe := func(t *testing.T, s hintstore.Store, key string, obs hintstore.Observation) {
		t.Helper()
		_, err := s.Observe(ctx, key, obs)
		must(t, err)
	}
	public := func(names ...string) hintstore.Observation {
		var o hintstore.Observation
		for _, n := range names {
			o.Links = append(o.Links, link(n))
		}
		return o
	}
	private := func(who string, names ...string) hintstore.Observation {
		o := public(names...)
		o.Private, o.Requester, o.Quorum = true, who, 2
		return o
	}

	t.Run("GetUnknown", func(t *testing.T) {
		s := newStore(t)
		if got := get(t, s, "https://a.test/"); got != "<none>" {
			t.Fatalf("empty store returned %s", got)
		}
	})
	t.Run("ObservePublic", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k", public("a.css", "b.js", "a.css"))
		if got := get(t, s, "k"); got != "a.css,b.js" {
			t.Fatalf("got %s, want a.css,b.js in order, deduplicated", got)
		}
	})
	t.Run("NewerPublicReplaces", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k", public("app.1111.js"))
		observe(t, s, "k", public("app.2222.js"))
		if got := get(t, s, "k"); got != "app.2222.js" {
			t.Fatalf("got %s, want the newest deploy's asset only", got)
		}
	})
	t.Run("EmptyPublicClears", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k", public("a.css"))
		observe(t, s, "k", public())
		if got := get(t, s, "k"); got != "<none>" {
			t.Fatalf("got %s after a page with no hints", got)
		}
	})
	t.Run("PrivateNeedsQuorum", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k", private("alice", "shared.css", "alice.png"))
		observe(t, s, "k", private("alice", "shared.css", "alice.png"))
		if got := get(t, s, "k"); got != "<none>" {
			t.Fatalf("one requester twice made %s public", got)
		}
		observe(t, s, "k", private("bob", "shared.css", "bob.png"))
		if got := get(t, s, "k"); got != "shared.css" {
			t.Fatalf("got %s, want only what two requesters share", got)
		}
	})
	t.Run("PrivateQuorumThree", func(t *testing.T) {
		s := newStore(t)
		for i, who := range []string{"a", "b", "c"} {
			o := private(who, "x.css")
			o.Quorum = 3
			observe(t, s, "k", o)
			want := "<none>"
			if i == 2 {
				want = "x.css"
			}
			if got := get(t, s, "k"); got != want {
				t.Fatalf("after %d requesters got %s, want %s", i+1, got, want)
			}
		}
	})
	t.Run("PublicThenPrivate", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k", public("a.css"))
		observe(t, s, "k", private("u1", "a.css", "p.js"))
		observe(t, s, "k", private("u2", "p.js"))
		if got := get(t, s, "k"); got != "a.css,p.js" {
			t.Fatalf("got %s, want public first then quorum private", got)
		}
	})
	t.Run("Forget", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k1", public("a.css", "gone.js"))
		observe(t, s, "k2", public("gone.js", "b.css"))
		must(t, s.Forget(ctx, link("gone.js").Target))
		if got := get(t, s, "k1") + "|" + get(t, s, "k2"); got != "a.css|b.css" {
			t.Fatalf("got %s after forgetting gone.js", got)
		}
	})
	t.Run("PurgeAndList", func(t *testing.T) {
		s := newStore(t)
		for i := range 5 {
			observe(t, s, fmt.Sprint("k", i), public("a.css"))
		}
		all, err := s.List(ctx, 0)
		must(t, err)
		if len(all) != 5 {
			t.Fatalf("List(0) = %d entries, want 5", len(all))
		}
		some, err := s.List(ctx, 2)
		must(t, err)
		if len(some) != 2 {
			t.Fatalf("List(2) = %d entries", len(some))
		}
		must(t, s.Purge(ctx, "k0"))
		if got := get(t, s, "k0"); got != "<none>" {
			t.Fatalf("purged route still has %s", got)
		}
		must(t, s.PurgeAll(ctx))
		st, err := s.Stats(ctx)
		must(t, err)
		if st.Entries != 0 {
			t.Fatalf("%d entries after PurgeAll", st.Entries)
		}
	})
	t.Run("Stats", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k", public("a.css"))
		get(t, s, "k")
		get(t, s, "k")
		get(t, s, "nope")
		st, err := s.Stats(ctx)
		must(t, err)
		if st.Entries != 1 || st.Hits != 2 || st.Misses != 1 {
			t.Fatalf("stats %+v, want 1 entry, 2 hits, 1 miss", st)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 200 {
					key := fmt.Sprint("k", i%10)
					if i%3 == 0 {
						s.Observe(ctx, key, private(fmt.Sprint("u", g), "a.css"))
					} else {
						s.Observe(ctx, key, public("a.css", fmt.Sprint("b", g, ".js")))
					}
					s.Get(ctx, key)
					if i%50 == 0 {
						s.Forget(ctx, link("a.css").Target)
						s.List(ctx, 3)
					}
				}
			})
		}
		wg.Wait()
	})
	if opts.Advance == nil {
		return
	}
	t.Run("Expiry", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k", public("a.css"))
		opts.Advance(opts.TTL / 2)
		if got := get(t, s, "k"); got != "a.css" {
			t.Fatalf("expired too early: %s", got)
		}
		opts.Advance(opts.TTL)
		if got := get(t, s, "k"); got != "<none>" {
			t.Fatalf("still %s after the TTL", got)
		}
	})
	t.Run("ObservationRefreshesExpiry", func(t *testing.T) {
		s := newStore(t)
		observe(t, s, "k", public("a.css"))
		opts.Advance(opts.TTL * 3 / 4)
		observe(t, s, "k", public("a.css"))
		opts.Advance(opts.TTL * 3 / 4)
		if got := get(t, s, "k"); got != "a.css" {
			t.Fatalf("a fresh observation did not extend the life: %s", got)
		}
	})
}
