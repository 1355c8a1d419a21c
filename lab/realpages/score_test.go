package realpages

import (
	"net/url"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/linkheader"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestScorePage(t *testing.T) {
	html := `<html><head><link rel=stylesheet href="/a.css"><link rel=stylesheet href="/print.css" media="print">` +
		`<link rel=stylesheet media="screen" href="/screen.css"><script src="https://cdn.other.net/lib.js"></script>` +
		`<style>@font-face{src:url(/f.woff2)}</style></head><body><img src="http://www.example.com/hero.png"></body></html>`
	p := &Page{Name: "p", URL: "https://www.example.com/", HTML: []byte(html)}
	tr := &Truth{
		URL: "https://www.example.com/",
		Requests: []Fetch{
			{URL: "https://www.example.com/", Dest: "document"},
			{URL: "https://www.example.com/a.css"},
			{URL: "https://www.example.com/screen.css"},
			{URL: "https://cdn.other.net/lib.js"},
			{URL: "https://www.example.com/f.woff2", Dest: "font"},
			{URL: "https://www.example.com/hero.png"},
			{URL: "https://fonts.third.org/g.woff2", Dest: "font"},
		},
		Blocking: []string{"https://www.example.com/a.css", "https://www.example.com/screen.css", "https://cdn.other.net/lib.js"},
		Fonts:    []string{"https://www.example.com/f.woff2", "https://fonts.third.org/g.woff2"},
		LCP:      "https://www.example.com/hero.png",
	}
	r := &Result{Got103: true, Hints: []string{
		"</a.css>; rel=preload; as=style, </gone.js>; rel=preload; as=script",
		"<https://cdn.other.net>; rel=preconnect",
	}}
	s := ScorePage(p, tr, r, ScoreConfig{})
	if got := s.SameSiteAll(); got != (Ratio{1, 4}) {
		t.Errorf("same-site %v, want 1/4", got)
	}
	if got := s.SameSite[RenderBlocking]; got != (Ratio{1, 2}) {
		t.Errorf("same-site render-blocking %v, want 1/2", got)
	}
	if got := s.ThirdPartyAll(); got != (Ratio{1, 2}) {
		t.Errorf("third-party %v, want 1/2 (the script's origin preconnected, the font's not)", got)
	}
	if s.Precision != (Ratio{1, 2}) {
		t.Errorf("precision %v, want 1/2", s.Precision)
	}
	reasons := map[string]string{}
	for _, m := range s.Misses {
		reasons[m.URL] = m.Reason
	}
	// Reasons that do not depend on what the scanner makes of the page
	// (TestSameSiteReason covers those).
	for u, want := range map[string]string{
		"https://fonts.third.org/g.woff2": "origin not named in the HTML",
		"https://www.example.com/gone.js": "preloaded, never fetched",
	} {
		if reasons[u] != want {
			t.Errorf("miss %s: reason %q, want %q", u, reasons[u], want)
		}
	}
	pooled := Pool([]*Score{s, {Name: "q", HintableHead: true}})
	if pooled.Pages != 2 || pooled.Got103 != 1 || pooled.NoHintsHintable != 1 || pooled.SameSiteAll() != (Ratio{1, 4}) {
		t.Errorf("pooled %+v", pooled)
	}
}

func TestSameSiteReason(t *testing.T) {
	base := mustURL(t, "https://www.example.com/")
	html := []byte(`<head><link rel=stylesheet href="/a.css"><style>@font-face{src:url(/f.woff2)}</style>` +
		`<link rel=stylesheet media="(min-width: 900px)" href="/wide.css"></head><body>` + strings.Repeat(" ", 70<<10) + `<link rel=stylesheet href="/late.css">`)
	link := func(v string) linkheader.Link {
		l, _ := linkheader.Parse(v)
		return l[0]
	}
	sv := &scanView{
		bounded: map[string]linkheader.Link{
			"https://www.example.com/a.css":    link("</a.css>; rel=preload; as=style"),
			"https://www.example.com/wide.css": link("</wide.css>; rel=preload; as=style; media=\"(min-width: 900px)\""),
			"http://www.example.com/hero.png":  link("<http://www.example.com/hero.png>; rel=preload; as=image"),
		},
		unbounded: map[string]linkheader.Link{"https://www.example.com/late.css": {}},
		bound:     64 << 10,
	}
	for _, tc := range []struct {
		u     string
		c     Category
		score Score
		want  string
	}{
		{"https://www.example.com/a.css", RenderBlocking, Score{Got103: true, Preloads: make([]string, 10)}, "count cap"},
		{"https://www.example.com/a.css", RenderBlocking, Score{Got103: true, OverBudget: 2}, "document budget"},
		{"https://www.example.com/a.css", RenderBlocking, Score{}, "no 103"},
		{"https://www.example.com/wide.css", RenderBlocking, Score{Got103: true}, "media attribute"},
		{"https://www.example.com/hero.png", LCPImage, Score{Got103: true}, "named with http:"},
		{"https://www.example.com/late.css", RenderBlocking, Score{Got103: true}, "past the scan bound"},
		{"https://www.example.com/f.woff2", Font, Score{Got103: true}, "font declared in an inline <style>"},
		{"https://www.example.com/nowhere.woff2", Font, Score{Got103: true}, "font named only in a stylesheet"},
	} {
		t.Run(tc.u+"/"+tc.want, func(t *testing.T) {
			got, _ := sameSiteReason(html, base, sv, tc.u, tc.c, &tc.score, ScoreConfig{MaxPreloads: 10, MaxPreconnects: 4})
			if got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}
