package earlyhints_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints"
)

// TestHandler_RealPageRules teaches pages shaped like real sites' heads
// and asserts what the 103 names and in which order: render-blocking
// files first (even past the old count cap), a long head scanned to its
// end, the hero image after a sprite in the body, legacy media lists.
func TestHandler_RealPageRules(t *testing.T) {
	many := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	tests := []struct {
		name  string
		page  string
		want  []string // in this order, among the 103's links
		never []string
	}{
		{
			name: "render-blocking first, whatever the document order",
			page: `<!doctype html><html><head>` + many(20, `<link rel=preload as=image href="/i%d.jpg">`) +
				`<link rel=preload as=font href=/f.woff2 crossorigin><script src=/a.js async></script>` +
				many(40, `<link rel=stylesheet href="/s%d.css">`) + `</head><body></body></html>`,
			want: []string{"</s0.css>", "</s39.css>", "</f.woff2>", "</a.js>"},
		},
		{
			name: "a head past 64 KiB of inline data",
			page: `<!doctype html><html><head><script type="application/ld+json">` + strings.Repeat(`{"a":"xxxxxxxxxxxxxxxx"},`, 6000) +
				`</script><style>` + strings.Repeat(".c{color:red}", 6000) + `</style><link rel=stylesheet href=/late.css></head><body></body></html>`,
			want: []string{"</late.css>"},
		},
		{
			name: "legacy media lists match a window; print does not",
			page: `<!doctype html><html><head><link rel=stylesheet href=/a.css media="screen, projection">` +
				`<link rel=stylesheet href=/b.css media="handheld, screen"><link rel=stylesheet href=/p.css media=print></head></html>`,
			want:  []string{"</a.css>", "</b.css>"},
			never: []string{"/p.css", "media="},
		},
		{
			name: "the hero image after an inline sprite at the top of the body",
			page: `<!doctype html><html><head><link rel=stylesheet href=/a.css></head><body><svg style="display:none">` +
				strings.Repeat(`<symbol id="i"><path d="M0 0h24v24H0z"/></symbol>`, 300) + `</svg>` +
				`<img src=/hero.jpg fetchpriority=high width=1200 height=600></body></html>`,
			want: []string{"</a.css>", "</hero.jpg>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ev := newHandler(t, htmlOrigin(0, tt.page), earlyhints.Config{})
			srv := startH2(t, h)
			navigate(t, srv.Client(), srv.URL+"/", nil)
			ev.wait(t, earlyhints.EventLearned)
			v := navigate(t, srv.Client(), srv.URL+"/", nil)
			if len(v.early) != 1 {
				t.Fatalf("%d 103s", len(v.early))
			}
			links := v.early[0].Values("Link")
			at := func(s string) int {
				return slices.IndexFunc(links, func(l string) bool { return strings.HasPrefix(l, s) })
			}
			last := -1
			for _, w := range tt.want {
				i := at(w)
				if i < 0 {
					t.Errorf("103 lacks %s:\n%s", w, strings.Join(links, "\n"))
					continue
				}
				if i < last {
					t.Errorf("%s at %d, before what comes earlier in %q", w, i, tt.want)
				}
				last = i
			}
			for _, n := range tt.never {
				if strings.Contains(strings.Join(links, "\n"), n) {
					t.Errorf("103 carries %s", n)
				}
			}
		})
	}
}
