package browser

import (
	"testing"
	"testing/synctest"
)

// TestPriorityField: the fields Chromium 156 sent for the same requests
// (logged by a Go HTTP/2 server it loaded a page from).
func TestPriorityField(t *testing.T) {
	tests := []struct {
		name      string
		kind      string
		initiator string
		prio      int
		want      string
	}{
		{"document", KindDocument, InitNavigation, -1, "u=0, i"},
		{"stylesheet", KindStyle, InitParser, prioBlocking, "u=0"},
		{"synchronous script", KindScript, InitParser, prioBlocking, "u=1"},
		{"preloaded script", KindScript, InitEarlyHints, prioBlocking, "u=1"},
		{"font from a stylesheet", KindFont, InitCSS, prioHigh, "u=0"},
		{"fetchpriority=high image", KindImage, InitParser, prioHigh, "u=1, i"},
		{"image", KindImage, InitParser, prioImage, "u=2, i"},
		{"stylesheet's image", KindImage, InitCSS, prioImage, "u=3, i"},
		{"preloaded image", KindImage, InitEarlyHints, prioImage, "u=3, i"},
		{"module script", KindScript, InitParser, prioScript, "u=1"},
		{"async script", KindScript, InitParser, prioAsync, "u=3"},
		{"print stylesheet", KindStyle, InitParser, prioOther, "u=4"},
	}
	for _, tt := range tests {
		if got := priorityField(tt.kind, tt.initiator, tt.prio); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPriorityOf(t *testing.T) {
	tests := []struct {
		kind, fp string
		low      bool
		want     int
	}{
		{KindStyle, "", false, prioBlocking},
		{KindScript, "", false, prioBlocking},
		{KindScript, "", true, prioAsync},
		{KindFont, "", false, prioHigh},
		{KindImage, "high", false, prioHigh},
		{KindImage, "", false, prioImage},
		{KindFetch, "", false, prioOther},
	}
	for _, tt := range tests {
		if got := priorityOf(tt.kind, tt.fp, tt.low); got != tt.want {
			t.Errorf("priorityOf(%s, %q, %v) = %d, want %d", tt.kind, tt.fp, tt.low, got, tt.want)
		}
	}
}

// asyncFixture has a render-blocking stylesheet, async and defer scripts
// in the head (after a synchronous script when sync), and two images in
// the body.
func asyncFixture(sync bool) *testSite {
	s := tinyFixture(false)
	head := `<link rel="stylesheet" href="/a.css">`
	if sync {
		head += `<script src="/b.js"></script>`
	}
	s.html = `<html><head>` + head +
		`<script async src="/async.js"></script><script defer src="/defer.js"></script></head><body>` +
		`<img src="/i1.jpg"><img src="/i2.jpg"></body></html>`
	s.assets["/a.css"] = asset{ctype: "text/css", body: "p{}", delay: 150 * ms}
	s.assets["/b.js"] = asset{ctype: "text/javascript", body: "1", delay: 200 * ms}
	for _, p := range []string{"/async.js", "/defer.js"} {
		s.assets[p] = asset{ctype: "text/javascript", body: "1", delay: 20 * ms}
	}
	for _, p := range []string{"/i1.jpg", "/i2.jpg"} {
		s.assets[p] = asset{ctype: "image/jpeg", body: "i", delay: 200 * ms}
	}
	return s
}

// TestLoad_AsyncScriptsWait: as in Chromium, async and defer scripts wait
// until the parser reaches the body, which a synchronous script of the
// head holds up until it arrives; without one they leave once the head is
// parsed, with the stylesheet still in flight. Images are bounded, not
// held: two go at once.
func TestLoad_AsyncScriptsWait(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(map[bool]string{true: "sync script", false: "no sync script"}[sync], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := asyncFixture(sync)
				res := loadVirtual(t, serveVirtual(t, s), Config{Proto: H2})
				at := func(path string) Entry {
					e, ok := res.Entry("https://site.test" + path)
					if !ok {
						t.Fatalf("no entry for %s", path)
					}
					return e
				}
				css, i1, i2 := at("/a.css"), at("/i1.jpg"), at("/i2.jpg")
				if i1.Start != i2.Start || i1.Start >= css.End {
					t.Errorf("images start %v and %v, stylesheet ends %v: want together, before it", i1.Start, i2.Start, css.End)
				}
				for _, p := range []string{"/async.js", "/defer.js"} {
					e := at(p)
					if sync && e.Start != at("/b.js").End {
						t.Errorf("%s starts %v, want when the synchronous script ends (%v)", p, e.Start, at("/b.js").End)
					}
					if !sync && e.Start >= css.End {
						t.Errorf("%s starts %v, want before the stylesheet ends (%v)", p, e.Start, css.End)
					}
				}
				// Each request says how urgent it is, as Chrome's do.
				want := map[string]string{"/": "u=0, i", "/a.css": "u=0", "/i1.jpg": "u=2, i", "/async.js": "u=3", "/defer.js": "u=3"}
				if sync {
					want["/b.js"] = "u=1"
				}
				s.mu.Lock()
				defer s.mu.Unlock()
				for p, u := range want {
					if got := s.priority[p]; got != u {
						t.Errorf("%s sent Priority %q, want %q", p, got, u)
					}
				}
			})
		})
	}
}

// TestLoad_HintedImageNotHeld: a 103's preloads are the browser's, not the
// page's, so tight mode never holds them back.
func TestLoad_HintedImageNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := asyncFixture(false)
		s.html = `<html><head><link rel="stylesheet" href="/a.css"></head><body>` +
			`<img src="/i1.jpg"><img src="/i2.jpg"><img src="/i3.jpg"></body></html>`
		s.assets["/i3.jpg"] = asset{ctype: "image/jpeg", body: "i", delay: 200 * ms}
		s.hints = []string{
			"</a.css>; rel=preload; as=style", "</i1.jpg>; rel=preload; as=image",
			"</i2.jpg>; rel=preload; as=image", "</i3.jpg>; rel=preload; as=image",
		}
		res := loadVirtual(t, serveVirtual(t, s), Config{Proto: H2, UseEarlyHints: true})
		for _, p := range []string{"/a.css", "/i1.jpg", "/i2.jpg", "/i3.jpg"} {
			e, ok := res.Entry("https://site.test" + p)
			if !ok || e.Initiator != InitEarlyHints || e.Start != res.EarlyHintsAt {
				t.Errorf("%s: %+v, want preloaded when the 103 came (%v)", p, e, res.EarlyHintsAt)
			}
		}
	})
}
