//go:build chromium

package chromium

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/lab/netem"
	"github.com/earlyhints/earlyhints/proxy"
	"github.com/earlyhints/earlyhints/server"
)

// The network the end-to-end tests emulate: the proxy (the edge) is near
// the browser, the origin is far from the proxy, as with a CDN in front of
// a distant origin. Relays on loopback give both paths a real round trip.
//
// The browser side needs one even where no delay is wanted: on loopback the
// 103 comes back within microseconds of the request, before Chromium's
// HTTP/2 stream has started waiting for the response headers, and Chromium
// then drops it (SpdyHttpStream::OnEarlyHintsReceived only wakes a pending
// read; the final response overwrites the stored 103). About a third of
// navigations lost their hints that way on this machine; any real path has
// a round trip and never does.
const (
	edgeRTT   = 20 * time.Millisecond  // browser <-> proxy
	originRTT = 280 * time.Millisecond // proxy <-> origin
	thinkTime = 300 * time.Millisecond // the origin generating the page
)

// stackConfig says how to build one system under test.
type stackConfig struct {
	hints earlyhints.Config
	think time.Duration
}

// stack is origin -> relay -> proxy -> earlyhints -> server -> relays, all
// on loopback.
type stack struct {
	log  *ServerLog // the origin's request log
	hold *pageHold  // armed, the page waits for its hinted assets
	srv  *server.Server
	spki string
	// h2Base is https://127.0.0.1:port through the TCP relay; h3Base and
	// h3Origin the same through the UDP relay.
	h2Base, h3Base, h3Origin string

	mu     sync.Mutex
	events []earlyhints.Event
}

func quietLogger() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

func newRelay(t testing.TB, network, target string, rtt time.Duration) *netem.Relay {
	t.Helper()
	half := netem.LinkConfig{Delay: rtt / 2}
	r, err := netem.NewRelay(t.Context(), netem.RelayConfig{
		Profile: netem.Profile{Name: "test", Up: half, Down: half},
		Target:  target, Network: network, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatalf("%s relay to %s: %v", network, target, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func newStack(t testing.TB, cfg stackConfig) *stack {
	t.Helper()
	st := &stack{hold: newPageHold()}
	st.log = NewServerLog(originSite(cfg.think, st.hold))
	origin := &http.Server{Handler: st.log, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = origin.Serve(ln) }() // returns when the cleanup closes it
	t.Cleanup(func() { origin.Close() })
	far := newRelay(t, "tcp", ln.Addr().String(), originRTT)

	p, err := proxy.New(proxy.Config{Default: &url.URL{Scheme: "http", Host: far.Addr().String()}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hc := cfg.hints
	hc.Logger = quietLogger()
	hc.Observer = earlyhints.ObserverFunc(func(e earlyhints.Event) {
		st.mu.Lock()
		st.events = append(st.events, e)
		st.mu.Unlock()
	})
	mw, err := earlyhints.New(p, hc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mw.Close() })
	st.srv, err = server.New(visitorNetworks(mw), server.Config{Addr: "127.0.0.1:0", Logger: quietLogger(), ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.srv.Serve(ctx) // ends with the cleanup's cancel
	}()
	t.Cleanup(func() { cancel(); <-done })
	st.spki = server.SPKIHash(st.srv.Certificate())

	tcp := newRelay(t, "tcp", st.srv.Addr(), edgeRTT)
	udp := newRelay(t, "udp", st.srv.UDPAddr(), edgeRTT)
	st.h2Base = "https://" + tcp.Addr().String()
	st.h3Origin = udp.Addr().String()
	st.h3Base = "https://" + st.h3Origin
	return st
}

// eventsSince returns the middleware's decisions after mark (a count).
func (st *stack) eventsSince(mark int) []earlyhints.Event {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]earlyhints.Event(nil), st.events[min(mark, len(st.events)):]...)
}

func (st *stack) eventCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.events)
}

// waitLearned waits (up to 5s: learning runs off the request path) until
// the middleware has learned from a response after mark, with at least
// minLinks hints stored (a private page may store none yet).
func (st *stack) waitLearned(t testing.TB, mark, minLinks int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range st.eventsSince(mark) {
			if e.Kind == earlyhints.EventLearned && e.Links >= minLinks {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the middleware learned nothing within 5s; events: %+v", st.eventsSince(mark))
}

// sent103 counts the 103s the middleware sent after mark, by protocol.
func (st *stack) sent103(mark int) map[string]int {
	out := map[string]int{}
	for _, e := range st.eventsSince(mark) {
		if e.Kind == earlyhints.EventSent {
			out[e.Proto]++
		}
	}
	return out
}

// proto names the browser's protocol in the tests.
type proto string

const (
	h1 proto = "http/1.1"
	h2 proto = "h2"
	h3 proto = "h3"
)

// base is the page origin for p; browser makes a Config speaking p.
func (st *stack) base(p proto) string {
	if p == h3 {
		return st.h3Base
	}
	return st.h2Base
}

func (st *stack) browser(t testing.TB, p proto) Config {
	t.Helper()
	cfg := browserConfig(t, st.spki)
	switch p {
	case h1:
		cfg.HTTP1 = true
	case h3:
		cfg.QUICOrigins = []string{st.h3Origin}
	}
	return cfg
}

// launch starts a browser with a fresh profile (cold cache, no connection)
// and closes it when the test ends.
func launch(t testing.TB, cfg Config) *Browser {
	t.Helper()
	b, err := Launch(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// visit navigates and returns the visit with the origin's log of it.
func (st *stack) visit(t testing.TB, b *Browser, url string) (*Visit, []ServerRequest) {
	t.Helper()
	st.hold.reset()
	mark := st.log.Len()
	v, err := b.Navigate(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	// Requests started by the page may still be in flight at the load
	// event (the favicon); they do not matter to the callers.
	return v, st.log.Since(mark)
}

// served returns the origin's log entries for path.
func served(log []ServerRequest, path string) []ServerRequest {
	var out []ServerRequest
	for _, e := range log {
		if e.Path == path {
			out = append(out, e)
		}
	}
	return out
}

// The origin: a page with render-blocking CSS and a synchronous script in
// the head, and a personalised page.
const (
	pagePath = "/"
	cssPath  = "/static/app.css"
	jsPath   = "/static/app.js"
	mePath   = "/me"

	fontPagePath = "/fonts-page"
	fontCSSPath  = "/static/fonts.css"
	fontPath     = "/static/body.ttf"
)

// originSite serves the test origin. Assets are cacheable: Chromium hands
// an Early Hints preload to the page through its HTTP cache, so an
// uncacheable one is fetched twice and Resource Timing says "link", not
// "early-hints".
// visitorNetworks gives each user of the test site (its "user" cookie) a
// network of its own: every browser reaches the server through one local
// relay, while the privacy rule tells people apart by their network.
func visitorNetworks(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("user"); err == nil && c.Value != "" {
			h := fnv.New32a()
			h.Write([]byte(c.Value))
			n := h.Sum32()
			r.RemoteAddr = fmt.Sprintf("127.%d.%d.1:40000", 1+n%250, (n>>8)%250)
		}
		next.ServeHTTP(w, r)
	})
}

func originSite(think time.Duration, hold *pageHold) http.Handler {
	mux := http.NewServeMux()
	asset := func(ctype, body string, private bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			hold.saw(r.URL.Path)
			w.Header().Set("Content-Type", ctype)
			if private {
				w.Header().Set("Cache-Control", "private, max-age=3600")
			} else {
				w.Header().Set("Cache-Control", "public, max-age=3600")
			}
			_, _ = io.WriteString(w, body)
		}
	}
	pad := strings.Repeat("/* padding so the file is not trivially small */\n", 40)
	mux.Handle("GET "+cssPath, asset("text/css", pad+"body{font:16px sans-serif;color:#123}h1{color:#a00}\n", false))
	mux.Handle("GET "+jsPath, asset("text/javascript", pad+"document.documentElement.dataset.js='1';\n", false))
	mux.HandleFunc("GET "+pagePath+"{$}", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(think)
		hold.wait(r.Context(), cssPath, jsPath)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// no-cache, not no-store: every visit reaches the origin, and the
		// page stays public (no-store would make it private to the
		// middleware).
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = io.WriteString(w, `<!doctype html><html><head><meta charset=utf-8><title>Early Hints</title>
<link rel=stylesheet href=`+cssPath+`>
<script src=`+jsPath+`></script>
</head><body><h1>Hello</h1><p>This text paints once the stylesheet and the script are in.</p></body></html>`)
	})
	// The personalised page: who you are comes from a cookie, and the page
	// links your own avatar and settings script.
	mux.HandleFunc("GET "+mePath, func(w http.ResponseWriter, r *http.Request) {
		user := "anonymous"
		if c, err := r.Cookie("user"); err == nil && c.Value != "" {
			user = c.Value
		}
		time.Sleep(think)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "private, no-cache")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset=utf-8><title>%[1]s</title>
<link rel=stylesheet href=%[2]s>
<script src=%[3]s></script>
</head><body><h1>Hello %[1]s</h1><img src=%[4]s alt="" fetchpriority=high width=1 height=1></body></html>`,
			user, cssPath, userScript(user), avatar(user))
	})
	// A page whose font is named only inside its stylesheet: the head scan
	// cannot see it, the browser's fetch can.
	mux.HandleFunc("GET "+fontPagePath, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(think)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = io.WriteString(w, `<!doctype html><html><head><meta charset=utf-8><title>Fonts</title>
<link rel=stylesheet href=`+fontCSSPath+`></head><body><p>Text set in the page's own font.</p></body></html>`)
	})
	mux.Handle("GET "+fontCSSPath, asset("text/css", pad+"@font-face{font-family:Body;src:url("+fontPath+") format('truetype')}body{font:16px Body,sans-serif}\n", false))
	mux.HandleFunc("GET "+fontPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "font/ttf")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write(fontBytes())
	})
	mux.HandleFunc("GET /avatars/{file}", asset("image/gif", string(gif1x1), true))
	mux.HandleFunc("GET /u/{user}/prefs.js", asset("text/javascript", "window.prefs={};\n", true))
	return mux
}

// fontBytes is a real font (Debian's fonts-liberation, which the tests
// install), so that Chromium uses what it fetched.
func fontBytes() []byte {
	b, err := os.ReadFile("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")
	if err != nil {
		return []byte("not a font")
	}
	return b
}

// pageHold, once armed, makes the origin's page wait until the assets it
// names have reached the origin during the current visit. Then "the hinted
// files reached the origin before the page left it" is a matter of order,
// not of how fast a loaded machine runs the browser: with working hints the
// page goes out as soon as they arrive; without, it waits out maxPageHold
// and the order check fails.
type pageHold struct {
	mu      sync.Mutex
	armed   bool
	seen    map[string]bool
	changed chan struct{}
}

// maxPageHold only bounds a hang when hints do not work.
const maxPageHold = 20 * time.Second

func newPageHold() *pageHold {
	return &pageHold{seen: map[string]bool{}, changed: make(chan struct{})}
}

func (h *pageHold) arm() {
	h.mu.Lock()
	h.armed = true
	h.mu.Unlock()
}

// reset forgets the assets seen: a visit starts.
func (h *pageHold) reset() {
	h.mu.Lock()
	h.seen = map[string]bool{}
	h.mu.Unlock()
}

func (h *pageHold) saw(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[path] = true
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *pageHold) wait(ctx context.Context, paths ...string) {
	ctx, cancel := context.WithTimeout(ctx, maxPageHold)
	defer cancel()
	for {
		h.mu.Lock()
		done := !h.armed
		if !done {
			done = true
			for _, p := range paths {
				done = done && h.seen[p]
			}
		}
		changed := h.changed
		h.mu.Unlock()
		if done {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

func avatar(user string) string     { return "/avatars/" + user + ".gif" }
func userScript(user string) string { return "/u/" + user + "/prefs.js" }

// gif1x1 is a transparent 1×1 GIF.
var gif1x1 = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// browserConfig returns a Config for a test, failing under CI when the
// browser is missing.
func browserConfig(t testing.TB, spki string) Config {
	t.Helper()
	if _, err := FindBinary(Config{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v", err)
		}
		t.Skip(err)
	}
	return Config{SPKIHashes: []string{spki}, Timeout: 60 * time.Second, Logger: quietLogger()}
}
