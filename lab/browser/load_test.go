package browser

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const ms = time.Millisecond

func load(t *testing.T, s *testSite, cfg Config) *Result {
	t.Helper()
	cfg.TLS = s.tls()
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	res, err := Load(context.Background(), s.url(cfg.Proto), cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return res
}

func entryOf(t *testing.T, res *Result, s *testSite, proto, path string) Entry {
	t.Helper()
	e, ok := res.Entry(strings.TrimSuffix(s.url(proto), "/") + path)
	if !ok {
		t.Fatalf("no entry for %s in %+v", path, res.Entries)
	}
	return e
}

// TestLoad_Waterfall checks the model on the tiny site against times
// computed by hand. The shape comes from the server: think T = 100 ms,
// every asset 50 ms (x_R).
//
//	no hints:    HTML at T; CSS and JS discovered then, in at T+50 → render 150 ms
//	early hints: CSS and JS preloaded at 0, in at 50; HTML at T    → render 100 ms
//	             saving = min(T, x_R) = 50 ms
//	the image is found in the body at T and in at T+50 either way → load 150 ms
//
// h1 and h2 run on a fake clock over in-memory connections, where the times
// are exact. h3 needs real UDP sockets: there the times are lower bounds
// (server delays are minimums; a loaded machine only adds to them).
func TestLoad_Waterfall(t *testing.T) {
	tests := []struct {
		proto        string
		hints        bool
		wantRender   time.Duration
		hintsHonored bool
	}{
		{H2, false, 150 * ms, false},
		{H2, true, 100 * ms, true},
		{H3, false, 150 * ms, false},
		{H3, true, 100 * ms, true},
		{H1, true, 150 * ms, false}, // Chrome ignores 103 over HTTP/1.1
	}
	for _, tt := range tests {
		name := tt.proto
		if tt.hints {
			name += "/early-hints"
		}
		t.Run(name, func(t *testing.T) {
			if tt.proto == H3 {
				s := tinySite(t, tt.hints)
				res := load(t, s, Config{Proto: tt.proto, UseEarlyHints: true})
				if res.RenderTime < tt.wantRender || res.LoadTime < 150*ms || res.HTMLFirstByte < 100*ms {
					t.Errorf("render %v load %v HTML %v, want at least %v, 150ms and 100ms", res.RenderTime, res.LoadTime, res.HTMLFirstByte, tt.wantRender)
				}
				checkWaterfall(t, res, s, tt.proto, tt.hints, tt.hintsHonored, s.url(tt.proto))
				return
			}
			synctest.Test(t, func(t *testing.T) {
				s := tinyFixture(tt.hints)
				res := loadVirtual(t, serveVirtual(t, s), Config{Proto: tt.proto, UseEarlyHints: true})
				if res.RenderTime != tt.wantRender || res.LoadTime != 150*ms || res.HTMLFirstByte != 100*ms {
					t.Errorf("render %v load %v HTML %v, want %v, 150ms and 100ms", res.RenderTime, res.LoadTime, res.HTMLFirstByte, tt.wantRender)
				}
				checkWaterfall(t, res, s, tt.proto, tt.hints, tt.hintsHonored, virtualURL)
			})
		})
	}
}

// checkWaterfall checks what does not depend on time: order, initiators,
// connections and bytes.
func checkWaterfall(t *testing.T, res *Result, s *testSite, proto string, hints, hintsHonored bool, base string) {
	t.Helper()
	entry := func(path string) Entry {
		t.Helper()
		e, ok := res.Entry(strings.TrimSuffix(base, "/") + path)
		if !ok {
			t.Fatalf("no entry for %s in %+v", path, res.Entries)
		}
		return e
	}
	if res.HTMLEnd < res.HTMLFirstByte {
		t.Errorf("HTML first byte %v after its end %v", res.HTMLFirstByte, res.HTMLEnd)
	}
	if res.EarlyHints != hints || (hints && res.EarlyHintsAt >= res.HTMLFirstByte) {
		t.Errorf("EarlyHints %v at %v (HTML at %v)", res.EarlyHints, res.EarlyHintsAt, res.HTMLFirstByte)
	}
	css := entry("/a.css")
	js := entry("/b.js")
	img := entry("/c.jpg")
	for _, e := range []Entry{css, js} {
		if !e.RenderBlocking || !e.Used || e.Wasted {
			t.Errorf("%s: blocking %v used %v wasted %v", e.URL, e.RenderBlocking, e.Used, e.Wasted)
		}
		wantInit := InitParser
		if hintsHonored {
			wantInit = InitEarlyHints
			if e.Start >= res.HTMLFirstByte {
				t.Errorf("%s preloaded at %v, after the HTML's first byte %v", e.URL, e.Start, res.HTMLFirstByte)
			}
		}
		if e.Initiator != wantInit {
			t.Errorf("%s initiator %q, want %q", e.URL, e.Initiator, wantInit)
		}
	}
	if img.RenderBlocking || img.Initiator != InitParser || img.Bytes != 2000 {
		t.Errorf("image entry %+v", img)
	}
	wantConns := 1
	if proto == H1 {
		if res.Connections < 1 || res.Connections > 6 {
			t.Errorf("h1 connections = %d", res.Connections)
		}
	} else if res.Connections != wantConns {
		t.Errorf("connections = %d, want one per origin", res.Connections)
	}
	if res.WastedBytes != 0 {
		t.Errorf("WastedBytes = %d", res.WastedBytes)
	}
	if want := int64(len(s.html) + 15 + 8 + 2000); res.Bytes != want {
		t.Errorf("Bytes = %d, want %d", res.Bytes, want)
	}
}

func TestLoad_UnusedHintIsWasted(t *testing.T) {
	s := tinySite(t, true)
	s.hints = append(s.hints, "</unused.js>; rel=preload; as=script", "</c.jpg>; rel=preload; as=image")
	s.assets["/unused.js"] = asset{body: "unused()", ctype: "text/javascript"}
	res := load(t, s, Config{Proto: H2, UseEarlyHints: true})
	u := entryOf(t, res, s, H2, "/unused.js")
	if u.Used || !u.Wasted || u.WastedBytes != 8 || res.WastedBytes != 8 {
		t.Errorf("unused hint: %+v, total wasted %d", u, res.WastedBytes)
	}
	if img := entryOf(t, res, s, H2, "/c.jpg"); !img.Used || img.Initiator != InitEarlyHints {
		t.Errorf("hinted image: %+v", img)
	}
	if n := s.count("/c.jpg"); n != 1 {
		t.Errorf("image fetched %d times, want once (the hint is claimed)", n)
	}
}

func TestLoad_OnlyFirstEarlyHints(t *testing.T) {
	s := tinySite(t, false)
	// Two 103s: only the first one's links are acted on.
	s.hints = []string{"</a.css>; rel=preload; as=style"}
	res := load(t, s, Config{Proto: H2})
	if res.EarlyHints != true {
		t.Fatal("103 not seen")
	}
	if css := entryOf(t, res, s, H2, "/a.css"); css.Initiator != InitParser {
		t.Errorf("UseEarlyHints off but hint acted on: %+v", css)
	}
}

func TestLoad_CSSDiscovery(t *testing.T) {
	s := tinySite(t, false)
	s.assets["/a.css"] = asset{ctype: "text/css", delay: 20 * ms, body: `@import "/i.css";
@font-face{font-family:x;src:url(/f.woff2) format("woff2"),url(/f.woff) format("woff")}
.hero{background:url('/bg.png')}`}
	s.assets["/i.css"] = asset{ctype: "text/css", body: "p{margin:0}"}
	s.assets["/f.woff2"] = asset{ctype: "font/woff2", body: "wOF2"}
	s.assets["/bg.png"] = asset{ctype: "image/png", body: "png"}
	res := load(t, s, Config{Proto: H2})
	css := entryOf(t, res, s, H2, "/a.css")
	for _, tc := range []struct {
		path     string
		kind     string
		blocking bool
	}{{"/i.css", KindStyle, true}, {"/f.woff2", KindFont, false}, {"/bg.png", KindImage, false}} {
		e := entryOf(t, res, s, H2, tc.path)
		if e.Initiator != InitCSS || e.Kind != tc.kind || e.RenderBlocking != tc.blocking || e.Start < css.End {
			t.Errorf("%s: %+v (stylesheet ended %v)", tc.path, e, css.End)
		}
	}
	if s.count("/f.woff") != 0 {
		t.Error("second @font-face source fetched")
	}
	if imp := entryOf(t, res, s, H2, "/i.css"); res.RenderTime < imp.End {
		t.Errorf("render %v before the imported stylesheet %v", res.RenderTime, imp.End)
	}
}

func TestLoad_ConnectionLimitH1(t *testing.T) {
	var b strings.Builder
	b.WriteString("<html><head></head><body>")
	s := &testSite{assets: map[string]asset{}}
	for i := range 20 {
		p := "/img" + string(rune('a'+i)) + ".jpg"
		b.WriteString(`<img src="` + p + `">`)
		s.assets[p] = asset{ctype: "image/jpeg", body: "x", delay: 30 * ms}
	}
	s.html = b.String()
	newTestSite(t, s)
	res := load(t, s, Config{Proto: H1, DelayableWhileBlocking: -1})
	if res.Connections < 2 || res.Connections > 6 {
		t.Errorf("h1 opened %d connections, want 2..6", res.Connections)
	}
	if s.peak > 6 {
		t.Errorf("server saw %d requests at once, want ≤ 6 on HTTP/1.1", s.peak)
	}
	// 20 images × 30 ms over 6 connections need at least 4 rounds.
	if res.LoadTime < 120*ms {
		t.Errorf("LoadTime %v is faster than 6 connections allow", res.LoadTime)
	}
	res2 := load(t, s, Config{Proto: H2, DelayableWhileBlocking: -1})
	if res2.Connections != 1 {
		t.Errorf("h2 opened %d connections, want 1", res2.Connections)
	}
}

func TestLoad_TightMode(t *testing.T) {
	s := tinyFixture(false)
	s.html = `<html><head><link rel="stylesheet" href="/a.css"></head><body>` +
		`<img src="/i1.jpg"><img src="/i2.jpg"><img src="/i3.jpg"></body></html>`
	s.assets["/a.css"] = asset{ctype: "text/css", body: "p{}", delay: 150 * ms}
	for _, p := range []string{"/i1.jpg", "/i2.jpg", "/i3.jpg"} {
		s.assets[p] = asset{ctype: "image/jpeg", body: "i", delay: 50 * ms}
	}
	tests := []struct {
		name      string
		delayable int
		serial    bool
	}{{"tight", 0, true}, {"unbounded", -1, false}}
	for _, tt := range tests {
		// On a fake clock, so "in flight at once" does not depend on how
		// fast the machine starts the second request.
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res := loadVirtual(t, serveVirtual(t, s), Config{Proto: H2, DelayableWhileBlocking: tt.delayable})
				entry := func(path string) Entry {
					e, ok := res.Entry("https://site.test" + path)
					if !ok {
						t.Fatalf("no entry for %s", path)
					}
					return e
				}
				css, i1, i2, i3 := entry("/a.css"), entry("/i1.jpg"), entry("/i2.jpg"), entry("/i3.jpg")
				if i1.Start < css.Start {
					t.Errorf("image requested at %v before the stylesheet at %v", i1.Start, css.Start)
				}
				// While the stylesheet is in flight, two images go at once
				// and the third waits for one of them.
				if i2.Start != i1.Start {
					t.Errorf("i2 starts %v, i1 %v: want both at once", i2.Start, i1.Start)
				}
				if serial := i3.Start >= i1.End; serial != tt.serial {
					t.Errorf("i3 starts %v, i1 ends %v: serial = %v, want %v", i3.Start, i1.End, serial, tt.serial)
				}
			})
		})
	}
}
