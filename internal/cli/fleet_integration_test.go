//go:build integration

package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/hintstore/redisstore"
	"github.com/earlyhints/earlyhints/internal/redistest"
)

var fleetPrefixes atomic.Int64

// fleetOrigin serves public pages that name /site.css and a personal page "/account"
// (Cache-Control: private) that names the visitor's own avatar.
func fleetOrigin(t *testing.T) string {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/account":
			c, _ := r.Cookie("user")
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "private")
			fmt.Fprintf(w, `<!doctype html><head><link rel=stylesheet href=/shared.css><link rel=preload as=image href=/avatars/%s.png></head><body>hi</body>`, c.Value)
		case strings.HasSuffix(r.URL.Path, ".css") || strings.HasSuffix(r.URL.Path, ".png"):
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Cache-Control", "public, max-age=3600")
			_, _ = io.WriteString(w, "body{}")
		default:
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<!doctype html><head><link rel=stylesheet href=/site.css></head><body>hi</body>`)
		}
	}))
	t.Cleanup(origin.Close)
	return origin.URL
}

// fleet is N proxies on one origin and one Redis.
type fleet struct {
	redis *redistest.Server
	nodes []*fleetNode
}

type fleetNode struct {
	st    *stack
	base  string // https://127.0.0.1:PORT
	admin string // http://127.0.0.1:PORT
}

func (n *fleetNode) store() *redisstore.Store { return n.st.store.(*redisstore.Store) }

func startFleet(t *testing.T, nodes int) *fleet {
	t.Helper()
	f := &fleet{redis: redistest.Start(t)}
	origin := fleetOrigin(t)
	prefix := fmt.Sprintf("fleet%d:", fleetPrefixes.Add(1))
	for range nodes {
		s := defaultSettings()
		s.Origin, s.Listen, s.Admin, s.HTTP3 = origin, "127.0.0.1:0", "127.0.0.1:0", false
		s.Store, s.RedisKeyPrefix, s.PrivateQuorum = f.redis.URL, prefix, 2
		// Behaviour, not speed, is under test: a busy machine must not
		// turn a slow reply into an outage.
		s.RedisTimeout = 2 * time.Second
		st := serveStack(t, s)
		f.nodes = append(f.nodes, &fleetNode{st: st, base: st.srv.URL(), admin: "http://" + st.adminLn.Addr().String()})
	}
	return f
}

// visit loads path from node as a navigation over HTTP/2, from a client
// socket bound to ip (a visitor's network), with a user cookie when set.
func visit(t *testing.T, n *fleetNode, ip, path, user string) navigation {
	t.Helper()
	return fleetNavigate(t, n, http.MethodGet, ip, path, user)
}

// look is visit with HEAD: the node hints the page but learns nothing from
// it, so nothing it does after the look can re-learn a purged route.
func look(t *testing.T, n *fleetNode, ip, path string) navigation {
	t.Helper()
	return fleetNavigate(t, n, http.MethodHead, ip, path, "")
}

func fleetNavigate(t *testing.T, n *fleetNode, method, ip, path, user string) navigation {
	t.Helper()
	var p http.Protocols
	p.SetHTTP2(true)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{Protocols: &p, DialContext: d.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the stack's generated certificate
	defer tr.CloseIdleConnections()
	var nav navigation
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				nav.hints = append(nav.hints, http.Header(h).Clone())
			}
			return nil
		},
	})
	req, err := http.NewRequestWithContext(ctx, method, n.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	if user != "" {
		req.Header.Set("Cookie", "user="+user)
	}
	res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", n.base, path, err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	_ = res.Body.Close()
	nav.status, nav.body = res.StatusCode, body.String()
	return nav
}

func (nav navigation) links() string {
	var out []string
	for _, h := range nav.hints {
		out = append(out, h.Values("Link")...)
	}
	return strings.Join(out, ", ")
}

// routeKey is the store key of path on n.
func (n *fleetNode) routeKey(path string) string {
	r, _ := http.NewRequest(http.MethodGet, n.base+path, nil)
	r.TLS = &tls.ConnectionState{}
	return n.st.mw.RouteKey(r)
}

// until polls cond, bounded in count: the fleet's propagation is
// asynchronous, and its speed is a benchmark's business, not a test's.
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

// learn visits path on a until b hints it (a proxy analyses a public
// page at most once a second, so one visit may not be enough).
func learn(t *testing.T, a, b *fleetNode, path string) {
	t.Helper()
	until(t, "B sees what A learned", func() bool {
		visit(t, a, "127.200.0.1", path, "")
		return b.hinted(path)
	})
}

func (n *fleetNode) hinted(path string) bool {
	_, ok, _ := n.store().Get(context.Background(), n.routeKey(path))
	return ok
}

// TestFleet_LearnOnAHintOnB: a page learned by one proxy is hinted by
// the other, whose first visitor gets the 103.
func TestFleet_LearnOnAHintOnB(t *testing.T) {
	f := startFleet(t, 2)
	a, b := f.nodes[0], f.nodes[1]
	if nav := visit(t, b, "127.1.0.1", "/", ""); len(nav.hints) != 0 {
		t.Fatalf("B hinted a page nobody had seen: %s", nav.links())
	}
	// B read the route (and found nothing) before A learns it: what it
	// keeps locally must be replaced when A writes.
	visit(t, a, "127.2.0.1", "/", "")
	until(t, "B sees what A learned", func() bool { return b.hinted("/") })
	nav := visit(t, b, "127.3.0.1", "/", "")
	if nav.status != http.StatusOK || !strings.Contains(nav.links(), "/site.css") {
		t.Fatalf("B's visitor got %d with 103 links %q, want /site.css learned on A", nav.status, nav.links())
	}
}

// TestFleet_QuorumAcrossNodes: two visitors on distinct networks, one on
// each proxy, make a quorum of two; what only one of them produced is
// never hinted.
func TestFleet_QuorumAcrossNodes(t *testing.T) {
	f := startFleet(t, 2)
	a, b := f.nodes[0], f.nodes[1]
	visit(t, a, "127.1.0.1", "/account", "alice")
	until(t, "A recorded alice's links", func() bool {
		st, err := a.store().Stats(context.Background())
		return err == nil && st.Bytes > 0
	})
	if a.hinted("/account") || b.hinted("/account") {
		t.Fatal("one visitor made a quorum")
	}
	// The same person through the other proxy, another cookie: still one.
	visit(t, b, "127.1.0.1", "/account", "alice-again")
	visit(t, b, "127.2.0.1", "/account", "bob")
	until(t, "the quorum of alice (on A) and bob (on B)", func() bool { return b.hinted("/account") && a.hinted("/account") })
	nav := visit(t, a, "127.3.0.1", "/account", "carol")
	links := nav.links()
	if !strings.Contains(links, "/shared.css") {
		t.Fatalf("carol got %q, want /shared.css that alice and bob shared", links)
	}
	if strings.Contains(links, "/avatars/") {
		t.Fatalf("carol got a link only one visitor produced: %q", links)
	}
}

// TestFleet_PurgeReachesEveryNode: a purge on A's admin, of one route or
// of all, is gone on B.
func TestFleet_PurgeReachesEveryNode(t *testing.T) {
	f := startFleet(t, 2)
	a, b := f.nodes[0], f.nodes[1]
	for _, purge := range []string{"route=" + url.QueryEscape(a.routeKey("/")), "all=1"} {
		learn(t, a, b, "/")
		// B's views are looks: a view B learned from could land after the
		// purge and bring the route back.
		if nav := look(t, b, "127.2.0.1", "/"); !strings.Contains(nav.links(), "/site.css") {
			t.Fatalf("B did not hint the page: %q", nav.links())
		}
		req, _ := http.NewRequest(http.MethodDelete, a.admin+"/api/hints?"+purge, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE ?%s on A: %d", purge, res.StatusCode)
		}
		until(t, "B forgets the purged route", func() bool { return !b.hinted("/") })
		if nav := look(t, b, "127.3.0.1", "/"); len(nav.hints) != 0 {
			t.Fatalf("after ?%s on A, B still hinted %q", purge, nav.links())
		}
	}
}

// TestFleet_RedisKilledAndRestarted: with Redis gone every request is
// still answered, without hints, and once the store knows it is down no
// request asks Redis again (its error count stops); after a restart the
// fleet learns and hints again.
func TestFleet_RedisKilledAndRestarted(t *testing.T) {
	f := startFleet(t, 2)
	a, b := f.nodes[0], f.nodes[1]
	learn(t, a, b, "/")
	key, err := a.store().IdentityKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	f.redis.Kill()
	paths := []string{"/", "/other", "/third"}
	serve := func(round int) {
		for i := range 12 {
			n := f.nodes[i%2]
			nav := visit(t, n, fmt.Sprintf("127.%d.0.1", 10+i), paths[i%len(paths)], "")
			if nav.status != http.StatusOK || !strings.Contains(nav.body, "hi") {
				t.Fatalf("round %d request %d during the outage: %d %q", round, i, nav.status, nav.body)
			}
		}
	}
	serve(1)
	until(t, "both stores notice the outage", func() bool { return !a.store().Health().Up && !b.store().Health().Up })
	if got := get(t, a.admin+"/healthz"); !strings.HasPrefix(got, "ok\n") || !strings.Contains(got, "store: hintstore: store unavailable") {
		t.Fatalf("/healthz during the outage: %q", got)
	}
	errs := a.store().Health().Errors + b.store().Health().Errors
	serve(2)
	if after := a.store().Health().Errors + b.store().Health().Errors; after != errs {
		t.Fatalf("requests still asked the dead Redis: %d failed calls, then %d", errs, after)
	}
	if nav := visit(t, b, "127.4.0.1", "/", ""); len(nav.hints) != 0 {
		t.Fatalf("hints served from a copy Redis can no longer keep exact: %q", nav.links())
	}

	f.redis.Restart()
	until(t, "both stores reconnect", func() bool { return a.store().Health().Up && b.store().Health().Up })
	// A node started now must hash visitors as the running ones do.
	if again, err := b.store().IdentityKey(t.Context()); err != nil || !bytes.Equal(again, key) {
		t.Fatalf("identity key after Redis restarted empty: %x, %v; want the fleet's %x", again, err, key)
	}
	learn(t, a, b, "/")
	if m := get(t, a.admin+"/metrics"); !strings.Contains(m, "earlyhints_store_up 1") || !strings.Contains(m, "earlyhints_store_outages_total 1") {
		t.Errorf("/metrics after the restart lacks the store's state:\n%s", m)
	}
	if got := get(t, a.admin+"/healthz"); strings.TrimSpace(got) != "ok" {
		t.Fatalf("/healthz after the restart: %q", got)
	}
	if nav := visit(t, b, "127.6.0.1", "/", ""); !strings.Contains(nav.links(), "/site.css") {
		t.Fatalf("after the restart B hinted %q", nav.links())
	}
}
