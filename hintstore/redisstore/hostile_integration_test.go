//go:build integration

package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/redisstore"
	"github.com/earlyhints/earlyhints/internal/redistest"
)

// TestStore_FloodWithinMaxmemory: a flood of one-off paths, read and
// learned, keeps a size-capped Redis within its maxmemory under either
// documented policy, every script runs, and the pages seen often keep
// their hints. (Tracking each key read, as default client-side caching
// does, filled the server with a table it cannot evict.)
func TestStore_FloodWithinMaxmemory(t *testing.T) {
	for _, policy := range []string{"volatile-ttl", "allkeys-lru"} {
		t.Run(policy, func(t *testing.T) {
			srv := redistest.StartWith(t, "--maxmemory", "2mb", "--maxmemory-policy", policy)
			s := open(t, srv, redisstore.Config{})
			ctx := t.Context()
			hot := func(i int) string { return fmt.Sprintf("https://a.test/hot/%d", i) }
			learnHot := func() {
				for i := range 10 {
					if _, err := s.Observe(ctx, hot(i), page); err != nil {
						t.Fatalf("observe a hot page: %v", err)
					}
				}
			}
			learnHot()
			const flood = 12000
			for i := range flood {
				key := fmt.Sprintf("https://a.test/once/%d?q=%d", i, i)
				if _, _, err := s.Get(ctx, key); err != nil {
					t.Fatalf("read %d: %v", i, err)
				}
				if i%3 == 0 {
					if _, err := s.Observe(ctx, key, page); err != nil {
						t.Fatalf("observe %d: %v (health %+v)", i, err, s.Health())
					}
				}
				if i%500 == 0 {
					learnHot()
				}
			}
			learnHot()
			// Redis evicts before each command, so it may be over by what
			// the last one added.
			used, _ := strconv.Atoi(srv.Info("used_memory"))
			if limit := 2<<20 + 64<<10; used > limit {
				t.Errorf("Redis uses %d bytes after the flood, over its maxmemory of 2 MiB", used)
			}
			if n := srv.Info("tracking_total_keys"); n != "0" {
				t.Errorf("Redis tracks %s keys for clients; want none (prefix broadcast)", n)
			}
			if h := s.Health(); !h.Up || h.Errors != 0 || h.Dropped != 0 {
				t.Errorf("health after the flood %+v, want up without errors", h)
			}
			if policy != "volatile-ttl" {
				// allkeys-lru keeps what Redis saw read last, and the
				// reads of hot pages stay in the nodes' copies; its clock
				// counts seconds, longer than this test.
				return
			}
			// A node that starts now reads what Redis holds.
			fresh := open(t, srv, redisstore.Config{KeyPrefix: s.Prefix()})
			for i := range 10 {
				if _, ok, err := fresh.Get(ctx, hot(i)); !ok || err != nil {
					t.Errorf("hot page %d lost its hints (%v)", i, err)
				}
			}
		})
	}
}

// TestStore_RefusedWrites: a Redis that refuses writes (full with
// noeviction, or a read-only replica) is reported by Health, Unavailable
// (so /healthz and metrics show it) and one log line, the store keeps
// serving what it holds, and getting the identity key does not fail.
func TestStore_RefusedWrites(t *testing.T) {
	cases := []struct {
		name   string
		refuse func(srv *redistest.Server)
		accept func(srv *redistest.Server)
		want   string
	}{
		{"full", func(srv *redistest.Server) {
			srv.MustDo("CONFIG", "SET", "maxmemory-policy", "noeviction")
			srv.MustDo("CONFIG", "SET", "maxmemory", "1")
		}, func(srv *redistest.Server) { srv.MustDo("CONFIG", "SET", "maxmemory", "64mb") }, "OOM"},
		{"read-only", func(srv *redistest.Server) {
			// A replica of a server that is not there: it keeps its data
			// and refuses writes.
			srv.MustDo("REPLICAOF", "127.0.0.1", "1")
		}, func(srv *redistest.Server) { srv.MustDo("REPLICAOF", "NO", "ONE") }, "READONLY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			s := open(t, srv, redisstore.Config{Logger: logger})
			ctx := t.Context()
			if _, err := s.Observe(ctx, "known", page); err != nil {
				t.Fatal(err)
			}
			tc.refuse(srv)
			for i := range 5 {
				if _, err := s.Observe(ctx, fmt.Sprint("new", i), page); err == nil {
					t.Fatalf("observation %d recorded by a server that refuses writes (maxmemory %s, policy %s)", i, srv.Info("maxmemory"), srv.Info("maxmemory_policy"))
				}
			}
			h := s.Health()
			if h.Up || !h.WritesRefused || !strings.Contains(h.Err, tc.want) {
				t.Fatalf("health %+v, want down with writes refused (%s)", h, tc.want)
			}
			if err := s.Unavailable(); err == nil || !strings.Contains(err.Error(), "refuses writes") {
				t.Fatalf("Unavailable() = %v, want the refusal", err)
			}
			if n := strings.Count(logs.String(), "refuses writes"); n != 1 {
				t.Fatalf("%d log lines about the refusal, want 1:\n%s", n, logs.String())
			}
			if _, ok, err := s.Get(ctx, "known"); !ok || err != nil {
				t.Fatalf("the hints Redis holds are not served (%v)", err)
			}
			// A node that starts now starts, and gets a key.
			other := open(t, srv, redisstore.Config{KeyPrefix: s.Prefix(), Logger: logger})
			if key, err := other.IdentityKey(ctx); err != nil || len(key) < 16 {
				t.Fatalf("IdentityKey on a server that refuses writes: %x, %v", key, err)
			}
			tc.accept(srv)
			until(t, "writes are accepted again", func() bool {
				_, err := s.Observe(ctx, "after", page)
				return err == nil
			})
			if h := s.Health(); !h.Up || h.WritesRefused {
				t.Fatalf("health %+v after the server accepts writes again", h)
			}
			if !strings.Contains(logs.String(), "accepts writes again") {
				t.Fatalf("no recovery line:\n%s", logs.String())
			}
		})
	}
}

// TestStore_KeysHaveTTL: every key the store writes expires.
func TestStore_KeysHaveTTL(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redisstore.Config{MaxRoutes: 2})
	ctx := t.Context()
	if _, err := s.IdentityKey(ctx); err != nil {
		t.Fatal(err)
	}
	priv := hintstore.Observation{Links: []hintstore.Link{{Target: "https://a.test/p.js", Value: "</p.js>; rel=preload; as=script"}}, Private: true, Requester: hintstore.Requester{Network: "n1"}}
	for i := range 4 { // over MaxRoutes: evictions counted in stats, a doorkeeper
		for range 2 {
			if _, err := s.Observe(ctx, fmt.Sprint("k", i), page); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Observe(ctx, "k3", priv); err != nil {
		t.Fatal(err)
	}
	keys := strings.Fields(srv.MustDo("KEYS", s.Prefix()+"*"))
	for _, want := range []string{"identity", "routes", "stats", "r:k3", "s:k3", "t:https://a.test/a.css"} {
		if !strings.Contains(" "+strings.Join(keys, " ")+" ", " "+s.Prefix()+want+" ") {
			t.Errorf("no key %s among %v", want, keys)
		}
	}
	for _, k := range keys {
		if ttl := srv.MustDo("PTTL", k); ttl == "-1" {
			t.Errorf("key %s has no TTL", k)
		}
	}
}

// TestStore_IdentitySurvivesRestart: after Redis restarts (or is
// flushed) empty while the fleet is idle, a node started then and a node
// that was running agree on one identity key, and one person seen
// through both nodes never makes a quorum alone.
func TestStore_IdentitySurvivesRestart(t *testing.T) {
	for _, how := range []string{"restart", "flush"} {
		t.Run(how, func(t *testing.T) {
			srv := redistest.Start(t)
			cfg := redisstore.Config{KeyPrefix: "id:"}
			a := open(t, srv, cfg)
			ctx := t.Context()
			keyA, err := a.IdentityKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if how == "restart" {
				srv.Restart()
			} else {
				srv.MustDo("FLUSHALL")
			}
			b := open(t, srv, cfg)
			keyB, err := b.IdentityKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			until(t, "both nodes use one identity key", func() bool {
				return bytes.Equal(a.CurrentIdentityKey(), b.CurrentIdentityKey())
			})
			// The person's hashes as each node's request path made them,
			// with the key each node was given at its start.
			person := func(key []byte) hintstore.Requester {
				return hintstore.Requester{Network: fmt.Sprintf("%x", key[:4]) + "-alice"}
			}
			priv := func(r hintstore.Requester) hintstore.Observation {
				return hintstore.Observation{Links: []hintstore.Link{{Target: "https://a.test/me.js", Value: "</me.js>; rel=preload; as=script"}}, Private: true, Requester: r, Quorum: 2}
			}
			_, _ = a.Observe(ctx, "personal", priv(person(keyA)))
			e, _ := b.Observe(ctx, "personal", priv(person(keyB)))
			if len(e.Links) != 0 {
				t.Fatalf("one person made a quorum through two nodes: %+v", e)
			}
			if _, ok, _ := b.Get(ctx, "personal"); ok {
				t.Fatal("a personal link is hinted")
			}
			// With the fleet's key, the request path of either node hashes
			// alike, and two people do make a quorum.
			fleet, id := a.CurrentIdentity()
			if id != hintstore.KeyID(fleet) {
				t.Fatalf("CurrentIdentity id %s, KeyID %s", id, hintstore.KeyID(fleet))
			}
			bob := hintstore.Requester{Network: "bob", Key: id}
			carol := hintstore.Requester{Network: "carol", Key: id}
			if _, err := a.Observe(ctx, "shared", priv(bob)); err != nil {
				t.Fatal(err)
			}
			if e, err := b.Observe(ctx, "shared", priv(carol)); err != nil || len(e.Links) != 1 {
				t.Fatalf("two people through two nodes with the fleet's key: %+v, %v", e, err)
			}
		})
	}
}

// TestStore_RequestReadBudget: the reads of one request together wait on
// Redis at most ReadTimeout: once a request's budget is spent, its next
// read does not ask Redis; and a route's browser-learned key comes in the
// same round trip as the route.
func TestStore_RequestReadBudget(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redisstore.Config{ReadTimeout: 100 * time.Millisecond})
	ctx := t.Context()
	if _, err := s.Observe(ctx, "page", page); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Observe(ctx, hintstore.ObservedKey("page"), page); err != nil {
		t.Fatal(err)
	}
	// One round trip: the route and its observed key.
	if _, ok, err := s.Get(ctx, "page"); !ok || err != nil {
		t.Fatalf("Get page: %v", err)
	}
	srv.Freeze()
	t.Cleanup(srv.Thaw)
	if _, ok, err := s.Get(ctx, hintstore.ObservedKey("page")); !ok || err != nil {
		t.Fatalf("the observed key was not read with its route (%v)", err)
	}
	if h := s.Health(); h.Errors != 0 {
		t.Fatalf("health %+v: the observed key needed a round trip of its own", h)
	}
	// A request whose first read used up the budget.
	rctx := hintstore.WithReadStart(ctx, time.Now())
	if _, _, err := s.Get(rctx, "slow-1"); err == nil {
		t.Fatal("a frozen server answered")
	}
	errs := s.Health().Errors
	if _, _, err := s.Get(rctx, "slow-2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second read of a request past its budget: %v, want context.DeadlineExceeded", err)
	}
	if _, err := s.Hinted(rctx, "https://a.test/x.css"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hinted past the request's budget: %v, want context.DeadlineExceeded", err)
	}
	if h := s.Health(); h.Errors != errs {
		t.Fatalf("health %+v: a read past the request's budget asked Redis", h)
	}
}

// TestStore_UnreadableValues: a key of a route that Redis holds in a form
// this version cannot read (not JSON, another type) is treated as absent:
// no error on the request path, overwritten by the next observation, and
// purged.
func TestStore_UnreadableValues(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redisstore.Config{})
	ctx := t.Context()
	p := s.Prefix()
	spoil := map[string][]string{
		"text":      {"SET", p + "r:text", "not json"},
		"number":    {"SET", p + "r:number", "42"},
		"hash":      {"HSET", p + "r:hash", "f", "v"},
		"state":     {"SET", p + "s:state", "{broken"},
		"statelist": {"RPUSH", p + "s:statelist", "x"},
		"target":    {"SET", p + "t:https://a.test/a.css", "x"},
	}
	for route, cmd := range spoil {
		srv.MustDo(cmd...)
		srv.MustDo("ZADD", p+"routes", "99999999999999", route)
		t.Run(route, func(t *testing.T) {
			if _, ok, err := s.Get(ctx, route); ok || err != nil {
				t.Fatalf("Get of an unreadable route: ok %v, %v; want a plain miss", ok, err)
			}
			e, err := s.Observe(ctx, route, page)
			if err != nil || len(e.Links) != 1 {
				t.Fatalf("Observe over an unreadable value: %+v, %v", e, err)
			}
			if _, ok, err := s.Get(ctx, route); !ok || err != nil {
				t.Fatalf("no hints after the observation (%v)", err)
			}
		})
	}
	srv.MustDo("SET", p+"r:purge-me", "not json")
	srv.MustDo("SET", p+"s:purge-me", "[[[")
	srv.MustDo("ZADD", p+"routes", "99999999999999", "purge-me")
	if err := s.Purge(ctx, "purge-me"); err != nil {
		t.Fatalf("purge of an unreadable route: %v", err)
	}
	if n := srv.MustDo("EXISTS", p+"r:purge-me", p+"s:purge-me"); n != "0" {
		t.Fatalf("%s keys of the purged route left", n)
	}
	if err := s.Forget(ctx, "https://a.test/a.css"); err != nil {
		t.Fatalf("forget with unreadable routes about: %v", err)
	}
	if _, err := s.List(ctx, 0); err != nil {
		t.Fatal(err)
	}
}

// TestStore_MisshapenValues: JSON of the right kind with fields of the
// wrong types or lengths is read as far as it makes sense and rewritten.
func TestStore_MisshapenValues(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redisstore.Config{})
	ctx := t.Context()
	p := s.Prefix()
	for i, v := range []string{
		`{"u":"x","e":{},"p":[1,"a",[3],["only"]],"q":null,"y":[1,{}]}`,
		`{"p":[["https://a.test/x.css",""]],"e":99999999999999}`,
		`[]`,
	} {
		route := fmt.Sprint("misshapen", i)
		srv.MustDo("SET", p+"r:"+route, v)
		srv.MustDo("SET", p+"s:"+route, `{"w":[["a","b","c",5],7],"i":[1,"x"],"k":3}`)
		if e, ok, err := s.Get(ctx, route); err != nil || (ok && len(e.Links) > 0) {
			t.Fatalf("%s: Get %+v, %v; want no links", v, e, err)
		}
		priv := hintstore.Observation{Links: page.Links, Private: true, Requester: hintstore.Requester{Network: "n"}}
		if _, err := s.Observe(ctx, route, priv); err != nil {
			t.Fatalf("%s: private observation: %v", v, err)
		}
		if e, err := s.Observe(ctx, route, page); err != nil || len(e.Links) != 1 {
			t.Fatalf("%s: Observe %+v, %v", v, e, err)
		}
	}
}
