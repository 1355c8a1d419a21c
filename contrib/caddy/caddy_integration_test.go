//go:build integration

package caddyearlyhints

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/earlyhints/earlyhints/internal/redistest"
)

// TestCaddy_SecondNavigationGetsLearnedHints: behind Caddy's encode and
// header, over HTTP/2 and HTTP/3, the first navigation of a page teaches
// its subresources and the second gets them in one 103 carrying Link alone,
// none of which reaches the final response.
func TestCaddy_SecondNavigationGetsLearnedHints(t *testing.T) {
	s := newSite(t)
	s.load(s.caddyfile(composed))
	for _, tc := range []struct {
		name   string
		client client
		major  int
	}{
		{"h2", s.h2Client("127.1.0.1"), 2},
		{"h3", s.h3Client("127.2.0.1"), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := s.base + "/" + tc.name + "/"
			learned := metric(t, learnedMetric)
			first := tc.client.navigate(t, url, nil)
			if first.resp.ProtoMajor != tc.major {
				t.Fatalf("came over %s, want HTTP/%d", first.resp.Proto, tc.major)
			}
			if len(first.hints) != 0 {
				t.Fatalf("the first navigation got %d 103s before anything was learned", len(first.hints))
			}
			waitMetric(t, learnedMetric, learned+1)

			second := tc.client.navigate(t, url, nil)
			if got := second.links(t); !slices.Equal(got, wantLinks) {
				t.Errorf("103 links:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLinks, "\n"))
			}
			for k := range second.hints[0] {
				if k != "Link" {
					t.Errorf("the 103 carries %s: %q", k, second.hints[0][k])
				}
			}
			checkFinal(t, second)
		})
	}
	t.Run("access log", func(t *testing.T) {
		entry := waitAccessLog(t, s.accessLog, func(e map[string]any) bool {
			req, _ := e["request"].(map[string]any)
			return req["uri"] == "/h2/" && e["hinted"] == true
		})
		if entry["hint_links"] != float64(len(wantLinks)) {
			t.Errorf("hint_links = %v, want %d", entry["hint_links"], len(wantLinks))
		}
	})
}

// checkFinal: the final response is the origin's page as encode and header
// made it, without a field of the 103.
func checkFinal(t *testing.T, n navigation) {
	t.Helper()
	if n.resp.StatusCode != 200 || n.body != page {
		t.Errorf("final response %d, body %d bytes, want 200 and the page (%d bytes)", n.resp.StatusCode, len(n.body), len(page))
	}
	if l := n.resp.Header.Values("Link"); len(l) != 0 {
		t.Errorf("the final response carries Link %q", l)
	}
	if n.resp.Header.Get("X-Origin-Early") != "" {
		t.Errorf("the origin's 103 field reached the final response")
	}
	if n.resp.Header.Get("X-Site") != "caddy" || n.resp.Header.Get("X-Late") != "deferred" {
		t.Errorf("X-Site %q, X-Late %q: the header directives did not apply", n.resp.Header.Get("X-Site"), n.resp.Header.Get("X-Late"))
	}
	if !n.resp.Uncompressed {
		t.Errorf("the page was not gzip-encoded: the encode directive did not apply")
	}
}

// waitAccessLog waits, a bounded while, for an entry of Caddy's JSON access
// log at path that match accepts.
func waitAccessLog(t *testing.T, path string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for range 200 {
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var e map[string]any
				if json.Unmarshal(sc.Bytes(), &e) == nil && match(e) {
					_ = f.Close()
					return e
				}
			}
			_ = f.Close()
		}
		time.Sleep(25 * time.Millisecond)
	}
	data, _ := os.ReadFile(path)
	t.Fatalf("no matching access log entry in:\n%s", data)
	return nil
}

// TestCaddy_OriginsOwn103: reverse_proxy forwards the origin's own 103;
// the client still gets one 103, with Link alone, and the final response
// none of its fields; once learned, the middleware's 103 is the one.
func TestCaddy_OriginsOwn103(t *testing.T) {
	s := newSite(t)
	s.load(s.caddyfile(composed))
	c := s.h2Client("127.1.0.1")
	learned := metric(t, learnedMetric)
	first := c.navigate(t, s.base+"/own103", nil)
	if got := first.links(t); !slices.Equal(got, []string{"</static/own.css>; rel=preload; as=style"}) {
		t.Errorf("forwarded 103 links %q, want the origin's", got)
	}
	for k := range first.hints[0] {
		if k != "Link" {
			t.Errorf("the forwarded 103 carries %s: %q", k, first.hints[0][k])
		}
	}
	checkFinal(t, first)
	waitMetric(t, learnedMetric, learned+1)

	second := c.navigate(t, s.base+"/own103", nil)
	links := strings.Join(second.links(t), ",")
	for _, want := range []string{"/static/site.css", "/static/app.js"} {
		if !strings.Contains(links, want) {
			t.Errorf("learned 103 %q lacks %s", links, want)
		}
	}
	checkFinal(t, second)
}

// TestCaddy_ReloadKeepsLearnedHints: a config reload keeps the store and
// its learned hints, and writes its snapshot; stopping Caddy closes the
// store, which writes the snapshot again; the next start reads it.
func TestCaddy_ReloadKeepsLearnedHints(t *testing.T) {
	s := newSite(t)
	snapshot := filepath.Join(s.dir, "hints.json")
	block := func(extra string) string {
		return "\tearly_hints {\n\t\tstore file:" + snapshot + "\n\t\tsnapshot-interval 1h\n" + extra + "\t}\n"
	}
	s.load(s.caddyfile(block("")))
	c := s.h2Client("127.1.0.1")
	c.navigate(t, s.base+"/kept", nil)
	waitMetric(t, learnedMetric, 1)
	if _, err := os.Stat(snapshot); err == nil {
		t.Fatal("a snapshot was written before any reload or stop (snapshot-interval is 1h)")
	}

	s.load(s.caddyfile(block("\t\tmax-preconnects 2\n") + "\theader X-Config second\n"))
	c.close()
	after := c.navigate(t, s.base+"/kept", nil)
	if after.resp.Header.Get("X-Config") != "second" {
		t.Fatalf("the reloaded config is not the one serving")
	}
	if got := after.links(t); !slices.Equal(got, wantLinks) {
		t.Errorf("after the reload, 103 links %q, want %q", got, wantLinks)
	}
	if data, err := os.ReadFile(snapshot); err != nil || !strings.Contains(string(data), "/static/site.css") {
		t.Errorf("no snapshot with the learned hints after the reload: %v\n%s", err, data)
	}
	if err := os.Remove(snapshot); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(snapshot); err != nil || !strings.Contains(string(data), "/static/site.css") {
		t.Fatalf("stopping Caddy wrote no snapshot with the learned hints: %v\n%s", err, data)
	}
	s.load(s.caddyfile(block("")))
	c.close()
	if got := c.navigate(t, s.base+"/kept", nil).links(t); !slices.Equal(got, wantLinks) {
		t.Errorf("after a restart, 103 links %q, want %q", got, wantLinks)
	}
}

// TestCaddy_PrivateQuorumCountsCaddysClientIP: behind a load balancer
// Caddy trusts (trusted_proxies), the visitors of a personal page are told
// apart by the client address Caddy resolved from X-Forwarded-For, not by
// the balancer's: three people on three networks make a quorum, three on
// one network do not. reverse_proxy still sees the balancer as the peer.
func TestCaddy_PrivateQuorumCountsCaddysClientIP(t *testing.T) {
	s := newSite(t)
	s.load(s.caddyfile("\tearly_hints {\n\t\tprivate-quorum 3\n\t}"))
	balancer := s.h2Client("127.1.0.1")
	// visit loads path for user on client's network and, when learned,
	// waits for the observation to be stored. (A second visitor from one
	// network within the learn interval is not learned from at all.)
	visit := func(path, client, user string, learned bool) navigation {
		before := metric(t, learnedMetric)
		n := balancer.navigate(t, s.base+path, http.Header{"X-Forwarded-For": {client}, "Cookie": {"user=" + user}})
		if n.resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, n.resp.StatusCode)
		}
		if learned {
			waitMetric(t, learnedMetric, before+1)
		}
		return n
	}

	for i, user := range []string{"alice", "bob", "carol"} {
		visit("/account/one-network", fmt.Sprintf("10.9.0.%d", i+1), user, i == 0)
	}
	if n := visit("/account/one-network", "10.4.0.1", "dave", false); len(n.hints) != 0 {
		t.Errorf("three visitors of one network made a quorum: dave got %q", n.hints[0].Values("Link"))
	}

	for i, user := range []string{"alice", "bob", "carol"} {
		visit("/account/three-networks", fmt.Sprintf("10.%d.0.1", i+1), user, true)
	}
	n := visit("/account/three-networks", "10.4.0.1", "dave", false)
	links := strings.Join(n.links(t), ",")
	if !strings.Contains(links, "/static/site.css") {
		t.Errorf("the stylesheet three visitors share is not hinted: %s", links)
	}
	if strings.Contains(links, "avatars") {
		t.Errorf("a personal URL was hinted to someone else: %s", links)
	}
	if got, want := n.resp.Header.Get("X-Seen-Forwarded-For"), "10.4.0.1, 127.1.0.1"; got != want {
		t.Errorf("the origin got X-Forwarded-For %q, want %q (reverse_proxy must see the balancer as the peer)", got, want)
	}
}

// TestCaddy_RedisStoreKeepsHintsAcrossReloads: with store redis://, a
// reload keeps the store, and a reload that changes the store's settings
// (a new client) finds the hints in Redis.
func TestCaddy_RedisStoreKeepsHintsAcrossReloads(t *testing.T) {
	r := redistest.Start(t)
	s := newSite(t)
	block := func(timeout string) string {
		// A generous redis-timeout: a loaded test machine must not make
		// the first read of a route fall back to no hints.
		return "\tearly_hints {\n\t\tstore " + r.URL + "\n\t\tredis-timeout " + timeout + "\n\t\tredis-key-prefix caddytest:\n\t}\n"
	}
	s.load(s.caddyfile(block("2s")))
	c := s.h2Client("127.1.0.1")
	c.navigate(t, s.base+"/shared", nil)
	waitMetric(t, learnedMetric, 1)

	for i, b := range []string{block("2s") + "\theader X-Config 2\n", block("3s") + "\theader X-Config 3\n"} {
		s.load(s.caddyfile(b))
		c.close()
		n := c.navigate(t, s.base+"/shared", nil)
		if got, want := n.resp.Header.Get("X-Config"), fmt.Sprint(i+2); got != want {
			t.Fatalf("config %s serving, want %s", got, want)
		}
		if got := n.links(t); !slices.Equal(got, wantLinks) {
			t.Errorf("after reload %d, 103 links %q, want %q", i+1, got, wantLinks)
		}
	}
}

// TestCaddy_FileServer: pages file_server serves are learned like the
// origin's, with encode and header around.
func TestCaddy_FileServer(t *testing.T) {
	s := newSite(t)
	root := filepath.Join(s.dir, "www")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	s.backend = "root * " + root + "\n\tfile_server"
	s.load(s.caddyfile(composed))
	c := s.h3Client("127.1.0.1")
	c.navigate(t, s.base+"/", nil)
	waitMetric(t, learnedMetric, 1)
	n := c.navigate(t, s.base+"/", nil)
	if got := n.links(t); !slices.Equal(got, wantLinks) {
		t.Errorf("103 links %q, want %q", got, wantLinks)
	}
	checkFinal(t, n)
}

// TestCaddy_ModeOff: with mode off, nothing is learned or sent, and the
// origin's own 103 passes as Caddy's reverse_proxy forwards it.
func TestCaddy_ModeOff(t *testing.T) {
	s := newSite(t)
	s.load(s.caddyfile("\tearly_hints {\n\t\tmode off\n\t}"))
	c := s.h2Client("127.1.0.1")
	for range 2 {
		if n := c.navigate(t, s.base+"/off/", nil); len(n.hints) != 0 {
			t.Fatalf("mode off sent a 103: %v", n.hints)
		}
	}
	n := c.navigate(t, s.base+"/own103", nil)
	if got := n.links(t); !slices.Equal(got, []string{"</static/own.css>; rel=preload; as=style"}) {
		t.Errorf("the origin's 103 came as %q", got)
	}
	if metric(t, learnedMetric) != 0 {
		t.Errorf("mode off learned")
	}
}
