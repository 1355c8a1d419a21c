package earlyhints_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
)

// events collects what a Handler reports, and lets a test wait for one kind.
type events struct {
	mu  sync.Mutex
	all []earlyhints.Event
	ch  chan earlyhints.Event
}

func newEvents() *events { return &events{ch: make(chan earlyhints.Event, 1024)} }

func (e *events) Observe(ev earlyhints.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	select {
	case e.ch <- ev:
	default:
	}
}

func (e *events) wait(t *testing.T, kind earlyhints.EventKind) earlyhints.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-e.ch:
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event within 5s", kind)
		}
	}
}

// last returns the last event of kind (the zero Event if none).
func (e *events) last(kind earlyhints.EventKind) earlyhints.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.all) - 1; i >= 0; i-- {
		if e.all[i].Kind == kind {
			return e.all[i]
		}
	}
	return earlyhints.Event{}
}

func (e *events) count(kind earlyhints.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

const page = `<!doctype html><html><head>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js"></script>
</head><body><h1>hello</h1></body></html>`

// startH2 serves h over HTTP/2 with TLS on loopback.
func startH2(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// visit is one navigation as a browser makes it, recording the 1xx.
type visit struct {
	earlyAt   []time.Duration
	early     []textproto.MIMEHeader
	finalAt   time.Duration
	resp      *http.Response
	body      string
	protoSeen string
}

func navigate(t *testing.T, c *http.Client, url string, hdr http.Header) visit {
	t.Helper()
	return navigateNotify(t, c, url, hdr, nil)
}

// navigateNotify is navigate calling onEarly (when not nil) as each 103
// reaches the client.
func navigateNotify(t *testing.T, c *http.Client, url string, hdr http.Header, onEarly func()) visit {
	t.Helper()
	var v visit
	start := time.Now()
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusEarlyHints {
			v.earlyAt = append(v.earlyAt, time.Since(start))
			v.early = append(v.early, h)
			if onEarly != nil {
				onEarly()
			}
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Accept", "text/html")
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if host := hdr.Get("Host"); host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	v.finalAt = time.Since(start)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	v.resp, v.body, v.protoSeen = resp, string(b), resp.Proto
	return v
}

func newHandler(t *testing.T, next http.Handler, cfg earlyhints.Config) (*earlyhints.Handler, *events) {
	t.Helper()
	ev := newEvents()
	cfg.Observer = ev
	h, err := earlyhints.New(next, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, ev
}

func htmlOrigin(think time.Duration, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(think)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, body)
	}
}

func TestHandler_SendsLearnedHintsOverHTTP2BeforeSlowPage(t *testing.T) {
	const think = 300 * time.Millisecond
	// Once armed, the origin does not even start thinking until the client
	// holds the 103: a middleware that waited for the page would stall it
	// until holdLimit, which only bounds the hang.
	const holdLimit = 20 * time.Second
	var armed, stalled atomic.Bool
	got103 := make(chan struct{})
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if armed.Load() {
			select {
			case <-got103:
			case <-time.After(holdLimit):
				stalled.Store(true)
			}
		}
		htmlOrigin(think, page)(w, r)
	})
	h, ev := newHandler(t, origin, earlyhints.Config{})
	srv := startH2(t, h)
	c := srv.Client()

	first := navigate(t, c, srv.URL+"/", nil)
	if len(first.early) != 0 {
		t.Fatalf("first visit got %d 103s before anything was learned", len(first.early))
	}
	if first.protoSeen != "HTTP/2.0" {
		t.Fatalf("proto = %s, want HTTP/2.0", first.protoSeen)
	}
	if got := ev.wait(t, earlyhints.EventLearned); got.Links != 2 {
		t.Fatalf("learned %d links, want 2", got.Links)
	}

	armed.Store(true)
	var once sync.Once
	second := navigateNotify(t, c, srv.URL+"/", nil, func() { once.Do(func() { close(got103) }) })
	if len(second.early) != 1 {
		t.Fatalf("got %d 103 responses, want exactly 1", len(second.early))
	}
	links := second.early[0].Values("Link")
	want := []string{"</static/site.css>; rel=preload; as=style", "</static/app.js>; rel=preload; as=script"}
	if strings.Join(links, "\n") != strings.Join(want, "\n") {
		t.Fatalf("103 links:\n%s\nwant:\n%s", strings.Join(links, "\n"), strings.Join(want, "\n"))
	}
	// The 103 must not wait for the page: the origin held the page until
	// the client had it.
	if stalled.Load() {
		t.Errorf("the origin waited %v for the 103 without it reaching the client: the 103 waits for the page", holdLimit)
	}
	if second.finalAt < think {
		t.Errorf("200 arrived after %v, before the think time %v", second.finalAt, think)
	}
	if l := second.resp.Header.Values("Link"); len(l) != 0 {
		t.Errorf("final response carries hint headers: %q", l)
	}
	if second.body != page {
		t.Errorf("body changed by the middleware")
	}
}

// TestHandler_OnlyLinksChromiumAcceptsIn103: a link with media, srcset or
// integrity would be dropped whole by Chromium's 103 parser.
func TestHandler_OnlyLinksChromiumAcceptsIn103(t *testing.T) {
	body := `<!doctype html><html><head>
<link rel="stylesheet" href="/all.css">
<link rel="stylesheet" href="/wide.css" media="(min-width: 800px)">
<script src="/app.js" integrity="sha384-abc" crossorigin="anonymous"></script>
<link rel="preload" as="image" href="/hero.jpg" imagesrcset="/hero-1x.jpg 1x, /hero-2x.jpg 2x">
</head><body></body></html>`
	h, ev := newHandler(t, htmlOrigin(0, body), earlyhints.Config{})
	srv := startH2(t, h)
	navigate(t, srv.Client(), srv.URL+"/", nil)
	ev.wait(t, earlyhints.EventLearned)
	v := navigate(t, srv.Client(), srv.URL+"/", nil)
	if len(v.early) != 1 {
		t.Fatalf("%d 103s", len(v.early))
	}
	got := strings.Join(v.early[0].Values("Link"), "\n")
	for _, bad := range []string{"wide.css", "hero", "integrity", "media="} {
		if strings.Contains(got, bad) {
			t.Errorf("103 carries %q, which Chromium would drop:\n%s", bad, got)
		}
	}
	for _, want := range []string{"</all.css>", "</app.js>"} {
		if !strings.Contains(got, want) {
			t.Errorf("103 misses %s:\n%s", want, got)
		}
	}
}

func TestHandler_NoHintsOverHTTP1ByDefault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   earlyhints.Config
		wantN int
	}{
		{"default", earlyhints.Config{}, 0},
		{"AllowHTTP1", earlyhints.Config{AllowHTTP1: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ev := newHandler(t, htmlOrigin(0, page), tc.cfg)
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			navigate(t, srv.Client(), srv.URL+"/", nil)
			ev.wait(t, earlyhints.EventLearned) // HTTP/1.1 responses still teach
			v := navigate(t, srv.Client(), srv.URL+"/", nil)
			if len(v.early) != tc.wantN {
				t.Fatalf("got %d 103s over HTTP/1.1, want %d", len(v.early), tc.wantN)
			}
		})
	}
}

// TestHandler_OneEarlyHintsResponse checks that a 103 of the wrapped
// handler is forwarded when nothing was learned, suppressed once the
// middleware sent its own, and that its links are learned either way.
func TestHandler_OneEarlyHintsResponse(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</static/font.woff2>; rel=preload; as=font; crossorigin")
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hop")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Del("Connection")
		w.Header().Del("X-Secret")
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, page)
	})
	h, ev := newHandler(t, origin, earlyhints.Config{})
	srv := startH2(t, h)

	first := navigate(t, srv.Client(), srv.URL+"/", nil)
	if len(first.early) != 1 {
		t.Fatalf("first visit: %d 103s, want the origin's one", len(first.early))
	}
	if got := first.early[0].Get("Link"); !strings.Contains(got, "font.woff2") {
		t.Fatalf("forwarded 103 lost its Link: %q", got)
	}
	if got := first.early[0].Get("X-Secret"); got != "" {
		t.Fatalf("forwarded 103 carries a hop-by-hop field: X-Secret=%q", got)
	}
	ev.wait(t, earlyhints.EventLearned)

	second := navigate(t, srv.Client(), srv.URL+"/", nil)
	if len(second.early) != 1 {
		t.Fatalf("second visit: %d 103s, want exactly 1", len(second.early))
	}
	links := strings.Join(second.early[0].Values("Link"), ",")
	for _, want := range []string{"font.woff2", "site.css", "app.js"} {
		if !strings.Contains(links, want) {
			t.Errorf("learned 103 misses %s: %s", want, links)
		}
	}
	if ev.count(earlyhints.EventSuppressed) != 1 {
		t.Errorf("origin's second-visit 103 not reported as suppressed")
	}
}

// clientFrom returns a client of srv whose connections leave from ip, so
// that tests can play visitors on distinct networks (all of 127/8 is
// loopback on Linux).
func clientFrom(srv *httptest.Server, ip string) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr.DialContext = d.DialContext
	return &http.Client{Transport: tr}
}

// TestHandler_PrivateHintsNeedQuorum: what requester A's personal page
// references is never hinted to requester B, and one person rotating
// cookies counts once.
func TestHandler_PrivateHintsNeedQuorum(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("user")
		if err != nil {
			http.Error(w, "no user", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "private")
		name, _, _ := strings.Cut(c.Value, "-")
		fmt.Fprintf(w, `<html><head><link rel="stylesheet" href="/static/site.css">
<link rel="preload" as="image" href="/avatars/%s.png"></head><body></body></html>`, name)
	})
	h, ev := newHandler(t, origin, earlyhints.Config{LearnInterval: -1})
	srv := startH2(t, h)
	as := func(cookie string) http.Header { return http.Header{"Cookie": {"user=" + cookie}} }
	alice, bob, carol, dave := clientFrom(srv, "127.1.0.1"), clientFrom(srv, "127.2.0.1"), clientFrom(srv, "127.3.0.1"), clientFrom(srv, "127.4.0.1")

	// One person, three cookies (and a neighbour on her /24): one requester.
	for _, c := range []string{"alice-1", "alice-2", "alice-3"} {
		navigate(t, alice, srv.URL+"/account", as(c))
		ev.wait(t, earlyhints.EventLearned)
	}
	navigate(t, clientFrom(srv, "127.1.0.77"), srv.URL+"/account", as("alice-4"))
	ev.wait(t, earlyhints.EventLearned)
	if v := navigate(t, bob, srv.URL+"/account", as("bob")); len(v.early) != 0 {
		t.Fatalf("bob got hints learned from alice alone: %q", v.early[0].Values("Link"))
	}
	ev.wait(t, earlyhints.EventLearned)
	if v := navigate(t, carol, srv.URL+"/account", as("carol")); len(v.early) != 0 {
		t.Fatalf("carol got hints that only two requesters produced: %q", v.early[0].Values("Link"))
	}
	ev.wait(t, earlyhints.EventLearned)

	v := navigate(t, dave, srv.URL+"/account", as("dave"))
	if len(v.early) != 1 {
		t.Fatalf("dave got %d 103s; the stylesheet shared by alice, bob and carol should be hinted", len(v.early))
	}
	links := strings.Join(v.early[0].Values("Link"), ",")
	if !strings.Contains(links, "/static/site.css") {
		t.Errorf("shared stylesheet not hinted: %s", links)
	}
	if strings.Contains(links, "avatars") {
		t.Errorf("a personal URL was hinted to someone else: %s", links)
	}
}

func TestHandler_ForgetsTargetThatWentAway(t *testing.T) {
	for _, tc := range []struct {
		name string
		gone func(w http.ResponseWriter, r *http.Request)
		// pageHost and fileHost are the Host headers of the navigation and
		// of the file's request ("" the URL's).
		pageHost, fileHost string
	}{
		{"404", http.NotFound, "", ""},
		{"410", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }, "", ""},
		{"no-store", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			_, _ = io.WriteString(w, "ok")
		}, "", ""},
		// A host is the same in any case and with its default port.
		{"404, host spelt otherwise", http.NotFound, "shop.example", "Shop.EXAMPLE:443"},
	} {
		t.Run(tc.name, func(t *testing.T) { testForget(t, tc.gone, tc.pageHost, tc.fileHost) })
	}
}

func testForget(t *testing.T, goneHandler http.HandlerFunc, pageHost, fileHost string) {
	gone := false
	var mu sync.Mutex
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/":
			if gone {
				time.Sleep(10 * time.Millisecond)
			}
			htmlOrigin(0, page)(w, r)
		case "/static/app.js":
			if gone {
				goneHandler(w, r)
				return
			}
			_, _ = io.WriteString(w, "ok")
		default:
			_, _ = io.WriteString(w, "body{}")
		}
	})
	h, ev := newHandler(t, origin, earlyhints.Config{DisableLearning: false})
	srv := startH2(t, h)
	var hdr http.Header
	if pageHost != "" {
		hdr = http.Header{"Host": {pageHost}}
	}
	navigate(t, srv.Client(), srv.URL+"/", hdr)
	ev.wait(t, earlyhints.EventLearned)

	mu.Lock()
	gone = true
	mu.Unlock()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/static/app.js", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = fileHost
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ev.wait(t, earlyhints.EventDropped)

	key := httptest.NewRequest("GET", srv.URL+"/", nil)
	if pageHost != "" {
		key.Host = pageHost
	}
	e, ok, err := h.Store().Get(t.Context(), h.RouteKey(key))
	if err != nil || !ok {
		t.Fatalf("entry gone entirely: ok=%v err=%v", ok, err)
	}
	for _, l := range e.Links {
		if strings.Contains(l.Target, "app.js") {
			t.Fatalf("404 target still hinted: %+v", e.Links)
		}
	}
}

func TestHandler_BadInputNeverBreaksResponse(t *testing.T) {
	tests := []struct {
		name, link, body string
	}{
		{"malformed Link", `<broken; rel=preload, </ok.css>; rel=preload; as=style`, page},
		{"hostile html", `</ok.css>; rel=preload; as=style`, "<html><head><script>" + strings.Repeat("<", 1<<16)},
		{"huge Link", strings.Repeat("</x.css>; rel=preload; as=style, ", 2000), page},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", tc.link)
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, tc.body)
			})
			h, ev := newHandler(t, origin, earlyhints.Config{})
			srv := startH2(t, h)
			v := navigate(t, srv.Client(), srv.URL+"/", nil)
			if v.body != tc.body || v.resp.StatusCode != 200 {
				t.Fatalf("response altered: status %d, %d bytes", v.resp.StatusCode, len(v.body))
			}
			ev.wait(t, earlyhints.EventLearned)
			v = navigate(t, srv.Client(), srv.URL+"/", nil)
			if len(v.early) == 1 {
				total := 0
				for _, l := range v.early[0].Values("Link") {
					total += len(l)
				}
				if total > earlyhints.DefaultMaxHeaderBytes {
					t.Errorf("103 carries %d bytes of Link, cap is %d", total, earlyhints.DefaultMaxHeaderBytes)
				}
			}
		})
	}
}

func TestHandler_KeepsOptionalInterfaces(t *testing.T) {
	var gotHijacker, gotFlusher bool
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, gotHijacker = w.(http.Hijacker)
		_, gotFlusher = w.(http.Flusher)
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("ResponseController through the middleware: %v", err)
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, page)
	})
	h, _ := newHandler(t, next, earlyhints.Config{})
	for _, tc := range []struct {
		name         string
		srv          func() *httptest.Server
		wantHijacker bool
	}{
		{"HTTP/1.1", func() *httptest.Server { s := httptest.NewServer(h); t.Cleanup(s.Close); return s }, true},
		{"HTTP/2", func() *httptest.Server { return startH2(t, h) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.srv()
			navigate(t, s.Client(), s.URL+"/", nil)
			if gotHijacker != tc.wantHijacker || !gotFlusher {
				t.Errorf("Hijacker=%v Flusher=%v, want Hijacker=%v Flusher=true", gotHijacker, gotFlusher, tc.wantHijacker)
			}
		})
	}
}

func TestSend(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := earlyhints.Send(w, earlyhints.Hint{Rel: earlyhints.RelPreload, URL: "https://example.com/a.css", As: "style"})
		if err != nil {
			t.Error(err)
		}
		_, _ = io.WriteString(w, "ok")
	})
	srv := startH2(t, next)
	v := navigate(t, srv.Client(), srv.URL, nil)
	if len(v.early) != 1 || !strings.Contains(v.early[0].Get("Link"), "a.css") {
		t.Fatalf("Send: 103s %v", v.early)
	}
	if v.resp.Header.Get("Link") != "" {
		t.Fatalf("Send leaked Link into the final response")
	}
}

// TestHandler_LearnInterval: a busy page is analysed at most once per
// interval; with a negative interval every view teaches (and a deploy
// that renames assets is picked up at once).
func TestHandler_LearnInterval(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		want     string
	}{
		{"once per interval", time.Hour, "app.v1.js"},
		{"every view", -1, "app.v2.js"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var version atomic.Int32
			version.Store(1)
			origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, `<html><head><script src="/app.v%d.js"></script></head></html>`, version.Load())
			})
			h, ev := newHandler(t, origin, earlyhints.Config{LearnInterval: tc.interval})
			srv := startH2(t, h)
			navigate(t, srv.Client(), srv.URL+"/", nil)
			ev.wait(t, earlyhints.EventLearned)
			version.Store(2) // a deploy
			navigate(t, srv.Client(), srv.URL+"/", nil)
			if tc.interval < 0 {
				ev.wait(t, earlyhints.EventLearned)
			}
			v := navigate(t, srv.Client(), srv.URL+"/", nil)
			if len(v.early) != 1 || !strings.Contains(v.early[0].Get("Link"), tc.want) {
				t.Fatalf("103 %v, want it to name %s", v.early, tc.want)
			}
		})
	}
}
