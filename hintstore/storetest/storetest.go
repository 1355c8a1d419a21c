// Package storetest is the conformance suite that every hintstore.Store
// backend passes, so that the learning rules (see the hintstore package
// documentation) are the same whatever keeps the hints.
package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
)

// Options adapt the suite to a backend. The zero value runs every test
// that needs neither the store's time to live nor control of its clock.
type Options struct {
	// TTL is the time to live the store was configured with. Zero skips the
	// tests that need it.
	TTL time.Duration
	// Advance moves the store's clock forward (a fake clock for the memory
	// store). Nil skips the tests that wait for expiry; a backend whose
	// clock cannot be moved still runs the tests that use Observation.At.
	Advance func(d time.Duration)
}

// Run runs the suite. newStore returns an empty store for each subtest;
// stores that need closing register it with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) hintstore.Store, opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs&needTTL != 0 && o.TTL <= 0 {
				t.Skip("needs Options.TTL")
			}
			if tc.needs&needClock != 0 && (o.Advance == nil || o.TTL <= 0) {
				t.Skip("needs Options.Advance and Options.TTL")
			}
			tc.run(t, &suite{t: t, s: newStore(t), opts: o})
		})
	}
}

type need int

const (
	needTTL need = 1 << iota
	needClock
)

type testCase struct {
	name  string
	needs need
	run   func(t *testing.T, s *suite)
}

// suite wraps the store under test with helpers that fail the test on
// errors and describe hints by their short names.
type suite struct {
	t    *testing.T
	s    hintstore.Store
	opts Options
}

const origin = "https://a.test/"

// link is the hint for name, e.g. "a.css".
func link(name string) hintstore.Link {
	return hintstore.Link{Target: origin + name, Value: "</" + name + ">; rel=preload; as=style"}
}

func public(names ...string) hintstore.Observation {
	var o hintstore.Observation
	for _, n := range names {
		o.Links = append(o.Links, link(n))
	}
	return o
}

func private(who string, names ...string) hintstore.Observation {
	o := public(names...)
	o.Private, o.Requester, o.Quorum = true, hintstore.Requester{Network: who}, 2
	return o
}

// privateAs is private with a full requester: network and account.
func privateAs(network, account string, names ...string) hintstore.Observation {
	o := private(network, names...)
	o.Requester.Account = account
	return o
}

func (s *suite) hinted(target string) bool {
	s.t.Helper()
	ok, err := s.s.Hinted(s.t.Context(), target)
	if err != nil {
		s.t.Fatalf("Hinted(%q): %v", target, err)
	}
	return ok
}

// names describes links by their short names, "a.css,b.js".
func names(links []hintstore.Link) string {
	s := make([]string, len(links))
	for i, l := range links {
		s[i] = strings.TrimPrefix(l.Target, origin)
	}
	return strings.Join(s, ",")
}

func (s *suite) observe(key string, obs hintstore.Observation) hintstore.Entry {
	s.t.Helper()
	e, err := s.s.Observe(s.t.Context(), key, obs)
	if err != nil {
		s.t.Fatalf("Observe(%q): %v", key, err)
	}
	return e
}

// get returns the short names of key's hints, or "<none>".
func (s *suite) get(key string) string {
	s.t.Helper()
	e, ok := s.entry(key)
	if !ok {
		return "<none>"
	}
	return names(e.Links)
}

func (s *suite) entry(key string) (hintstore.Entry, bool) {
	s.t.Helper()
	e, ok, err := s.s.Get(s.t.Context(), key)
	if err != nil {
		s.t.Fatalf("Get(%q): %v", key, err)
	}
	if ok && len(e.Links) == 0 && len(e.Vary) == 0 {
		s.t.Fatalf("Get(%q) returned ok with no links and no Vary", key)
	}
	if ok && e.Key != key {
		s.t.Fatalf("Get(%q) returned the entry of %q", key, e.Key)
	}
	return e, ok
}

func (s *suite) want(key, want string) {
	s.t.Helper()
	if got := s.get(key); got != want {
		s.t.Fatalf("Get(%q) = %s, want %s", key, got, want)
	}
}

func (s *suite) stats() hintstore.Stats {
	s.t.Helper()
	st, err := s.s.Stats(s.t.Context())
	if err != nil {
		s.t.Fatalf("Stats: %v", err)
	}
	return st
}

func (s *suite) list(limit int) []hintstore.Entry {
	s.t.Helper()
	l, err := s.s.List(s.t.Context(), limit)
	if err != nil {
		s.t.Fatalf("List(%d): %v", limit, err)
	}
	return l
}

func (s *suite) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *suite) advance(d time.Duration) { s.opts.Advance(d) }

var cases = []testCase{
	{name: "GetUnknown", run: func(t *testing.T, s *suite) {
		s.want("https://a.test/", "<none>")
		if st := s.stats(); st.Misses != 1 || st.Hits != 0 || st.Entries != 0 {
			t.Fatalf("stats %+v, want one miss", st)
		}
	}},
	{name: "ObservePublic", run: func(t *testing.T, s *suite) {
		e := s.observe("k", public("a.css", "b.js", "a.css"))
		if e.Key != "k" || names(e.Links) != "a.css,b.js" {
			t.Fatalf("Observe returned %q %s, want k a.css,b.js", e.Key, names(e.Links))
		}
		if e.Updated.IsZero() || !e.Expires.After(e.Updated) {
			t.Fatalf("Observe returned Updated %v Expires %v", e.Updated, e.Expires)
		}
		s.want("k", "a.css,b.js")
	}},
	{name: "DedupeByTargetFirstWins", run: func(t *testing.T, s *suite) {
		obs := public("a.css")
		font := hintstore.Link{Target: link("a.css").Target, Value: "</a.css>; rel=preload; as=font; crossorigin"}
		obs.Links = append(obs.Links, font)
		s.observe("k", obs)
		e, _ := s.entry("k")
		if len(e.Links) != 1 || e.Links[0] != link("a.css") {
			t.Fatalf("got %+v, want only the first link for the target", e.Links)
		}
	}},
	{name: "GetReportsHits", run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		for want := uint64(1); want <= 3; want++ {
			if e, _ := s.entry("k"); e.Hits != want {
				t.Fatalf("Hits = %d, want %d", e.Hits, want)
			}
		}
	}},
	{name: "NewerPublicReplaces", run: func(t *testing.T, s *suite) {
		s.observe("k", public("app.1111.js", "a.css"))
		s.observe("k", public("app.2222.js", "a.css"))
		s.want("k", "app.2222.js,a.css")
	}},
	{name: "NewerPublicReplacesQuorumPrivate", run: func(t *testing.T, s *suite) {
		s.observe("k", private("alice", "p.js"))
		s.observe("k", private("bob", "p.js"))
		s.want("k", "p.js")
		s.observe("k", public("a.css"))
		s.want("k", "a.css")
	}},
	{name: "EmptyPublicClears", run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		if e := s.observe("k", public()); len(e.Links) != 0 {
			t.Fatalf("Observe returned %s for a page with no hints", names(e.Links))
		}
		s.want("k", "<none>")
		if st := s.stats(); st.Entries != 0 {
			t.Fatalf("%d entries after the only route lost its hints", st.Entries)
		}
		if l := s.list(0); len(l) != 0 {
			t.Fatalf("List returned %d routes", len(l))
		}
	}},
	{name: "ObserveCopiesLinks", run: func(t *testing.T, s *suite) {
		obs := public("a.css")
		s.observe("k", obs)
		obs.Links[0] = link("changed.css")
		s.want("k", "a.css")
	}},
	{name: "ReturnedLinksStayStable", run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css", "b.css"))
		e, _ := s.entry("k")
		s.observe("k", public("c.css", "d.css"))
		s.must(s.s.Forget(t.Context(), link("c.css").Target))
		s.observe("k", private("alice", "p.js"))
		s.observe("k", private("bob", "p.js"))
		if got := names(e.Links); got != "a.css,b.css" {
			t.Fatalf("links returned earlier changed to %s", got)
		}
	}},
	{name: "PrivateNeedsQuorum", run: func(t *testing.T, s *suite) {
		s.observe("k", private("alice", "shared.css", "alice.png"))
		s.observe("k", private("alice", "shared.css", "alice.png"))
		s.want("k", "<none>")
		s.observe("k", private("bob", "shared.css", "bob.png"))
		s.want("k", "shared.css")
		for range 5 {
			s.observe("k", private("alice", "shared.css", "alice.png"))
		}
		s.want("k", "shared.css")
	}},
	{name: "OnePersonCountsOnce", run: func(t *testing.T, s *suite) {
		// One network rotating cookies (three accounts), then one account
		// from a second network: still one person.
		s.observe("k", privateAs("net1", "cookie-a", "alice.css"))
		s.observe("k", privateAs("net1", "cookie-b", "alice.css"))
		s.observe("k", privateAs("net1", "", "alice.css"))
		s.observe("k", privateAs("net2", "cookie-a", "alice.css"))
		s.want("k", "<none>")
		// Another network with other credentials is someone else.
		s.observe("k", privateAs("net3", "cookie-z", "alice.css"))
		s.want("k", "alice.css")
	}},
	{name: "VaryMarksRoute", run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		s.observe("k", hintstore.Observation{Vary: []string{"User-Agent"}})
		e, ok := s.entry("k")
		if !ok || len(e.Links) != 0 || strings.Join(e.Vary, ",") != "User-Agent" {
			t.Fatalf("Get = %+v, %v; want the Vary mark and no links", e, ok)
		}
		mobile, desktop := hintstore.VariantKey("k", "mobile"), hintstore.VariantKey("k", "desktop")
		s.observe(mobile, public("m.css"))
		s.observe(desktop, public("d.css"))
		s.want(mobile, "m.css")
		s.want(desktop, "d.css")
		// The route stops varying: the mark goes, its own links are back.
		s.observe("k", public("a.css"))
		if e, _ := s.entry("k"); len(e.Vary) != 0 || names(e.Links) != "a.css" {
			t.Fatalf("after a response without Vary: %+v", e)
		}
	}},
	{name: "HintedFollowsLinks", run: func(t *testing.T, s *suite) {
		a, b := link("a.css").Target, link("b.css").Target
		if s.hinted(a) {
			t.Fatal("Hinted on an empty store")
		}
		s.observe("k1", public("a.css", "b.css"))
		s.observe("k2", public("a.css"))
		if !s.hinted(a) || !s.hinted(b) {
			t.Fatal("stored targets not Hinted")
		}
		s.observe("k1", public("c.css"))
		if s.hinted(b) || !s.hinted(a) {
			t.Fatalf("after k1 changed: Hinted(b) %v, Hinted(a) %v; want false, true (k2 keeps a)", s.hinted(b), s.hinted(a))
		}
		s.must(s.s.Forget(t.Context(), a))
		if s.hinted(a) {
			t.Fatal("forgotten target still Hinted")
		}
		s.want("k2", "<none>")
		s.must(s.s.Purge(t.Context(), "k1"))
		if s.hinted(link("c.css").Target) {
			t.Fatal("target of a purged route still Hinted")
		}
	}},
	{name: "QuorumBelowTwoMeansTwo", run: func(t *testing.T, s *suite) {
		for _, q := range []int{-1, 0, 1} {
			key := fmt.Sprint("k", q)
			o := private("alice", "alice.png")
			o.Quorum = q
			s.observe(key, o)
			s.want(key, "<none>")
		}
	}},
	{name: "QuorumThree", run: func(t *testing.T, s *suite) {
		for i, who := range []string{"a", "b", "c"} {
			o := private(who, "x.css")
			o.Quorum = 3
			s.observe("k", o)
			want := "<none>"
			if i == 2 {
				want = "x.css"
			}
			s.want("k", want)
		}
	}},
	{name: "PrivateQuorumNeedsSameValue", run: func(t *testing.T, s *suite) {
		s.observe("k", private("alice", "x.css"))
		o := private("bob")
		o.Links = []hintstore.Link{{Target: link("x.css").Target, Value: "</x.css?u=bob>; rel=preload; as=style"}}
		s.observe("k", o)
		s.want("k", "<none>")
	}},
	{name: "PrivateQuorumPerRoute", run: func(t *testing.T, s *suite) {
		s.observe("k1", private("alice", "x.css"))
		s.observe("k2", private("bob", "x.css"))
		s.want("k1", "<none>")
		s.want("k2", "<none>")
	}},
	{name: "PublicThenPrivate", run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		s.observe("k", private("u1", "a.css", "q.js", "p.js"))
		s.observe("k", private("u2", "p.js", "q.js"))
		s.want("k", "a.css,p.js,q.js")
	}},
	{name: "PendingSurvivesPublic", run: func(t *testing.T, s *suite) {
		s.observe("k", private("alice", "p.js"))
		s.observe("k", public("a.css"))
		s.observe("k", private("bob", "p.js"))
		s.want("k", "a.css,p.js")
	}},
	{name: "PendingFloodDoesNotBlockLearning", run: func(t *testing.T, s *suite) {
		for i := range 3 * hintstore.MaxPendingLinks / 10 {
			var ls []string
			for j := range 10 {
				ls = append(ls, fmt.Sprintf("mallory-%d-%d.png", i, j))
			}
			s.observe("k", private("mallory", ls...))
		}
		s.observe("k", private("alice", "p.js"))
		s.observe("k", private("bob", "p.js"))
		s.want("k", "p.js")
	}},
	{name: "Forget", run: func(t *testing.T, s *suite) {
		s.observe("k1", public("a.css", "gone.js"))
		s.observe("k2", public("gone.js", "b.css"))
		s.observe("k3", public("gone.js"))
		s.observe("k4", private("alice", "gone.js", "p.js"))
		s.observe("k4", private("bob", "p.js"))
		s.observe("k5", private("alice", "gone.js"))
		s.must(s.s.Forget(t.Context(), link("gone.js").Target))
		s.must(s.s.Forget(t.Context(), "https://never.test/seen.js"))
		s.want("k1", "a.css")
		s.want("k2", "b.css")
		s.want("k3", "<none>")
		s.want("k4", "p.js")
		// The waiting link was forgotten: bob alone does not make a quorum.
		s.observe("k4", private("bob", "gone.js"))
		s.observe("k5", private("bob", "gone.js"))
		s.want("k4", "p.js")
		s.want("k5", "<none>")
		if st := s.stats(); st.Entries != 3 {
			t.Fatalf("stats %+v, want 3 routes with hints", st)
		}
	}},
	{name: "ForgetQuorumPrivate", run: func(t *testing.T, s *suite) {
		s.observe("k", private("alice", "p.js"))
		s.observe("k", private("bob", "p.js"))
		s.must(s.s.Forget(t.Context(), link("p.js").Target))
		s.want("k", "<none>")
	}},
	{name: "List", run: func(t *testing.T, s *suite) {
		for i := range 5 {
			s.observe(fmt.Sprint("k", i), public(fmt.Sprint(i, ".css")))
		}
		s.observe("waiting", private("alice", "p.js"))
		all := s.list(0)
		if len(all) != 5 {
			t.Fatalf("List(0) = %d routes, want 5 (a route with only waiting links is not listed)", len(all))
		}
		seen := map[string]bool{}
		for _, e := range all {
			want := strings.TrimPrefix(e.Key, "k") + ".css"
			if seen[e.Key] || names(e.Links) != want {
				t.Fatalf("List entry %q has %s (or is repeated)", e.Key, names(e.Links))
			}
			seen[e.Key] = true
		}
		if l := s.list(2); len(l) != 2 {
			t.Fatalf("List(2) = %d routes", len(l))
		}
		if l := s.list(-1); len(l) != 5 {
			t.Fatalf("List(-1) = %d routes, want all 5", len(l))
		}
	}},
	{name: "Purge", run: func(t *testing.T, s *suite) {
		s.observe("k0", public("a.css"))
		s.observe("k1", public("a.css"))
		s.must(s.s.Purge(t.Context(), "k0"))
		s.must(s.s.Purge(t.Context(), "never-seen"))
		s.want("k0", "<none>")
		s.want("k1", "a.css")
		s.observe("p", private("alice", "p.js"))
		s.must(s.s.PurgeAll(t.Context()))
		s.want("k1", "<none>")
		// Purging forgets waiting links too.
		s.observe("p", private("bob", "p.js"))
		s.want("p", "<none>")
		if st := s.stats(); st.Entries != 0 || len(s.list(0)) != 0 {
			t.Fatalf("stats %+v after PurgeAll", st)
		}
	}},
	{name: "Stats", run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		s.observe("k2", public("b.css"))
		s.observe("w", private("alice", "p.js"))
		s.get("k")
		s.get("k")
		s.get("k2")
		s.get("nope")
		s.get("w")
		st := s.stats()
		if st.Entries != 2 || st.Hits != 3 || st.Misses != 2 || st.Bytes <= 0 {
			t.Fatalf("stats %+v, want 2 entries, 3 hits, 2 misses, some bytes", st)
		}
		s.must(s.s.PurgeAll(t.Context()))
		if st := s.stats(); st.Hits != 3 || st.Misses != 2 {
			t.Fatalf("stats %+v: PurgeAll must not reset the counters", st)
		}
	}},
	{name: "Concurrent", run: runConcurrent},
	{name: "ObservedAtSetsExpiry", needs: needTTL, run: func(t *testing.T, s *suite) {
		now := s.observe("now", public("a.css")).Updated
		at := now.Add(-s.opts.TTL / 2)
		e := s.observe("recent", hintstore.Observation{Links: public("a.css").Links, At: at})
		if !e.Updated.Equal(at) || !e.Expires.Equal(at.Add(s.opts.TTL)) {
			t.Fatalf("Updated %v Expires %v, want %v and one TTL later", e.Updated, e.Expires, at)
		}
		s.want("recent", "a.css")
		s.observe("old", hintstore.Observation{Links: public("a.css").Links, At: now.Add(-2 * s.opts.TTL)})
		s.want("old", "<none>")
	}},
	{name: "Expiry", needs: needClock, run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		s.advance(s.opts.TTL / 2)
		s.want("k", "a.css")
		s.advance(s.opts.TTL)
		s.want("k", "<none>")
		if st := s.stats(); st.Expired != 1 || st.Entries != 0 {
			t.Fatalf("stats %+v, want one expiry and no entries", st)
		}
		s.want("k", "<none>")
		if l := s.list(0); len(l) != 0 {
			t.Fatalf("List returned %d expired routes", len(l))
		}
	}},
	{name: "ObservationRefreshesExpiry", needs: needClock, run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		s.advance(s.opts.TTL * 3 / 4)
		s.observe("k", public("a.css"))
		s.advance(s.opts.TTL * 3 / 4)
		s.want("k", "a.css")
	}},
	{name: "ExpiredRouteLearnsAgain", needs: needClock, run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		s.advance(2 * s.opts.TTL)
		s.observe("k", private("alice", "p.js"))
		s.want("k", "<none>")
		s.observe("k", public("b.css"))
		s.want("k", "b.css")
	}},
	{name: "PendingExpires", needs: needClock, run: func(t *testing.T, s *suite) {
		s.observe("k", private("alice", "p.js"))
		s.advance(s.opts.TTL + time.Second)
		s.observe("k", private("bob", "p.js"))
		s.want("k", "<none>")
		s.advance(s.opts.TTL / 2)
		s.observe("k", private("carol", "p.js"))
		s.want("k", "p.js")
	}},
	{name: "QuorumPrivateExpires", needs: needClock, run: func(t *testing.T, s *suite) {
		s.observe("k", private("alice", "p.js"))
		s.observe("k", private("bob", "p.js"))
		s.advance(s.opts.TTL * 3 / 4)
		// Confirming a quorum link restarts the time to live.
		s.observe("k", private("carol", "p.js"))
		s.advance(s.opts.TTL * 3 / 4)
		s.want("k", "p.js")
		s.advance(s.opts.TTL / 2)
		s.want("k", "<none>")
	}},
	{name: "UnconfirmingPrivateDoesNotRefresh", needs: needClock, run: func(t *testing.T, s *suite) {
		s.observe("k", public("a.css"))
		s.advance(s.opts.TTL * 3 / 4)
		s.observe("k", private("alice", "a.css", "alice.png"))
		s.advance(s.opts.TTL * 3 / 4)
		s.want("k", "<none>")
	}},
}
