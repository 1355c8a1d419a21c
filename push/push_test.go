package push_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/push"
)

const pageHTML = `<!doctype html><html><head>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js"></script>
<link rel="preconnect" href="https://fonts.example.net">
</head><body>page</body></html>`

// site is a small origin whose stylesheet version can change.
type site struct {
	cssVersion atomic.Int32
	nopushJS   atomic.Bool
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		time.Sleep(20 * time.Millisecond)
		if s.nopushJS.Load() {
			w.Header().Set("Link", "</static/app.js>; rel=preload; as=script; nopush")
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, pageHTML)
	case "/static/site.css":
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", fmt.Sprintf(`"css-%d"`, s.cssVersion.Load()))
		_, _ = io.WriteString(w, strings.Repeat("body{color:red}", 100))
	case "/static/app.js":
		w.Header().Set("Content-Type", "text/javascript")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", `"js-1"`)
		_, _ = io.WriteString(w, strings.Repeat("console.log(1);", 100))
	default:
		http.NotFound(w, r)
	}
}

// counter counts the events of both the middleware and push.
type counter struct {
	mu     sync.Mutex
	kinds  map[earlyhints.EventKind]int
	pushes map[push.EventKind]int
	ch     chan fmt.Stringer // the kinds, as they come
}

func (c *counter) Observe(e earlyhints.Event) {
	c.mu.Lock()
	c.kinds[e.Kind]++
	c.mu.Unlock()
	c.notify(e.Kind)
}

func (c *counter) ObservePush(e push.Event) {
	c.mu.Lock()
	c.pushes[e.Kind]++
	c.mu.Unlock()
	c.notify(e.Kind)
}

func (c *counter) notify(k fmt.Stringer) {
	select {
	case c.ch <- k:
	default:
	}
}

func (c *counter) get(k push.EventKind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pushes[k]
}

// wait waits for an event of kind k (an earlyhints.EventKind or a
// push.EventKind).
func (c *counter) wait(t *testing.T, k fmt.Stringer) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-c.ch:
			if got == k {
				return
			}
		case <-deadline:
			t.Fatalf("no %v event", k)
		}
	}
}

// setup serves the site behind the middleware in push mode over HTTP/2 and
// primes it with one navigation so the hints are learned.
func setup(t *testing.T, mode push.Mode) (*httptest.Server, *site, *counter) {
	t.Helper()
	obs := &counter{kinds: map[earlyhints.EventKind]int{}, pushes: map[push.EventKind]int{}, ch: make(chan fmt.Stringer, 256)}
	p, err := push.New(push.Config{Mode: mode, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	s := &site{}
	s.cssVersion.Store(1)
	h, err := earlyhints.New(s, earlyhints.Config{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewUnstartedServer(p.Wrap(h))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	for _, path := range []string{"/", "/static/site.css", "/static/app.js"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if path == "/" {
			req.Header.Set("Sec-Fetch-Mode", "navigate")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if path == "/" {
			obs.wait(t, earlyhints.EventLearned)
		}
	}
	return srv, s, obs
}

func needNghttp(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("nghttp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nghttp not found: install nghttp2-client (make test does)")
		}
		t.Skip("nghttp not found; install nghttp2-client")
	}
	return path
}

// nghttp runs Debian's nghttp against url and returns its frame log.
func nghttp(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	args = append([]string{"-nv", "-H", "sec-fetch-mode: navigate", "-H", "accept: text/html"}, append(args, url)...)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp %v: %v\n%s", args, err, out)
	}
	return string(out)
}

var pathLine = regexp.MustCompile(`:path: (\S+)`)

// pushedPaths returns the promised paths: nghttp prints a promise's header
// fields before its "recv PUSH_PROMISE frame" line.
func pushedPaths(log string) []string {
	var paths []string
	chunks := strings.Split(log, "recv PUSH_PROMISE frame")
	for _, c := range chunks[:len(chunks)-1] {
		if m := pathLine.FindAllStringSubmatch(c, -1); len(m) > 0 {
			paths = append(paths, m[len(m)-1][1])
		}
	}
	return paths
}

func TestPush_PromisesBeforeThePage(t *testing.T) {
	bin := needNghttp(t)
	srv, _, obs := setup(t, push.Plain)
	log := nghttp(t, bin, srv.URL+"/")
	got := strings.Join(pushedPaths(log), ",")
	if got != "/static/site.css,/static/app.js" {
		t.Fatalf("promised %q, want the stylesheet and the script\n%s", got, log)
	}
	if strings.Contains(log, "fonts.example.net") && strings.Contains(log, ":authority: fonts.example.net") {
		t.Fatal("a cross-origin resource was promised")
	}
	firstPromise := strings.Index(log, "recv PUSH_PROMISE")
	status200 := strings.Index(log, ":status: 200")
	if firstPromise < 0 || status200 < firstPromise {
		t.Fatalf("promises must precede the page's 200\n%s", log)
	}
	for _, want := range []string{":method: GET", ":scheme: https", ":authority: "} {
		if !strings.Contains(log[firstPromise:], want) {
			t.Errorf("promise lacks %s", want)
		}
	}
	// The preconnect cannot be pushed: it still goes out as a 103.
	if !strings.Contains(log, ":status: 103") || !strings.Contains(log, "fonts.example.net") {
		t.Errorf("preconnect not sent as Early Hints alongside the push\n%s", log)
	}
	obs.wait(t, push.EventPushed)
}

func TestPush_ClientWithPushDisabledGetsHints(t *testing.T) {
	bin := needNghttp(t)
	srv, _, _ := setup(t, push.Plain)
	log := nghttp(t, bin, srv.URL+"/", "--no-push")
	if p := pushedPaths(log); len(p) != 0 {
		t.Fatalf("client refused push but got promises %v", p)
	}
	if !strings.Contains(log, ":status: 200") {
		t.Fatal("no page")
	}
	if !strings.Contains(log, ":status: 103") || !strings.Contains(log, "site.css") {
		t.Fatalf("fallback to Early Hints missing\n%s", log)
	}
}

var setCookie = regexp.MustCompile(`set-cookie: (eh_digest=[^;\s]+)`)

func TestPush_DigestSuppressesRepeatAndRepushesChanged(t *testing.T) {
	bin := needNghttp(t)
	srv, s, obs := setup(t, push.CacheAware)

	first := nghttp(t, bin, srv.URL+"/")
	if got := pushedPaths(first); len(got) != 2 {
		t.Fatalf("first visit pushed %v, want 2 assets", got)
	}
	m := setCookie.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("no digest cookie set\n%s", first)
	}

	second := nghttp(t, bin, srv.URL+"/", "-H", "cookie: "+m[1])
	if got := pushedPaths(second); len(got) != 0 {
		t.Fatalf("unchanged assets pushed again: %v", got)
	}
	if obs.get(push.EventSkipped) < 2 {
		t.Errorf("digest skips not reported: %d", obs.get(push.EventSkipped))
	}

	// A deploy changes the stylesheet: its new version is pushed again.
	s.cssVersion.Store(2)
	resp, err := srv.Client().Get(srv.URL + "/static/site.css") // the proxy sees the new ETag
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	third := nghttp(t, bin, srv.URL+"/", "-H", "cookie: "+m[1])
	if got := strings.Join(pushedPaths(third), ","); got != "/static/site.css" {
		t.Fatalf("after a change pushed %q, want only the changed stylesheet", got)
	}
}

func TestPush_MalformedDigestIsIgnored(t *testing.T) {
	bin := needNghttp(t)
	srv, _, _ := setup(t, push.CacheAware)
	log := nghttp(t, bin, srv.URL+"/", "-H", "cookie: eh_digest=%%%garbage")
	if got := pushedPaths(log); len(got) != 2 {
		t.Fatalf("a malformed cookie must count as an empty cache; pushed %v", got)
	}
}

// TestPush_HonoursNopush: a target the origin marks nopush is hinted but
// never pushed.
func TestPush_HonoursNopush(t *testing.T) {
	bin := needNghttp(t)
	srv, s, _ := setup(t, push.Plain)
	s.nopushJS.Store(true)
	nghttp(t, bin, srv.URL+"/") // the origin's nopush mark is seen on this response
	log := nghttp(t, bin, srv.URL+"/")
	if got := strings.Join(pushedPaths(log), ","); got != "/static/site.css" {
		t.Fatalf("pushed %q, want only the stylesheet (app.js is nopush)", got)
	}
}
