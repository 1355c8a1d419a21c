package inspect

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestCheck_Learn checks a page with Learn and asserts which links the
// preview's 103 names and which it leaves out, with the reason.
func TestCheck_Learn(t *testing.T) {
	tests := []struct {
		name     string
		page     string
		header   http.Header // of the check's requests
		setCook  bool        // the page sets a cookie
		wantHint []string    // targets the 103 names (substrings of its values)
		wantOut  map[string]string
		first    string // what the 103 names first, if set
	}{
		{
			name:     "public page",
			page:     testPage,
			wantHint: []string{"</app.css>", "</app.js>"},
			wantOut:  map[string]string{},
		},
		{
			name: "cross-site and media",
			page: `<!doctype html><html><head>
<link rel=stylesheet href=/app.css>
<link rel=stylesheet href="https://cdn.other.example/lib.css">
<link rel=preload as=image href=/hero.jpg imagesrcset="/hero.jpg 1x, /hero2.jpg 2x">
<link rel=stylesheet href=/print.css media=print>
<link rel=stylesheet href=/screen.css media="screen, projection">
<script src="http://127.0.0.1:1/old.js"></script>
</head><body></body></html>`,
			wantHint: []string{"</app.css>", "</screen.css>; rel=preload; as=style", "<https://cdn.other.example>; rel=preconnect"},
			wantOut: map[string]string{
				"https://cdn.other.example/lib.css": LeftOutCrossSite, "/hero.jpg": LeftOutMedia,
				"/print.css": LeftOutMedia, "old.js": LeftOutMixedContent,
			},
		},
		{
			name:     "link bound to the request",
			page:     `<!doctype html><html><head><link rel=stylesheet href=/app.css><script src="/u/alice/data.js"></script></head></html>`,
			header:   http.Header{"Cookie": {"user=alice"}},
			wantHint: []string{"</app.css>"},
			wantOut:  map[string]string{"/u/alice/data.js": LeftOutPrivate},
		},
		{
			name:     "many files past the caps",
			page:     `<!doctype html><html><head>` + strings.Repeat(`<link rel=preload as=image href=/hero.jpg>`, 1) + manyImagePreloads(80) + `<link rel=stylesheet href=/app.css></head></html>`,
			wantHint: []string{"</app.css>"},
			first:    "</app.css>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startOrigin(t, site{page: tt.page})
			rep, err := Check(context.Background(), "https://"+srv.Addr()+"/", Config{
				Protos: []string{H2}, Insecure: true, Learn: true, Header: tt.header,
			})
			if err != nil {
				t.Fatal(err)
			}
			l := rep.Learn
			if l == nil {
				t.Fatalf("no Learn in the report: %+v", rep.Results)
			}
			joined := strings.Join(l.Hints, "\n")
			for _, w := range tt.wantHint {
				if !strings.Contains(joined, w) {
					t.Errorf("103 lacks %s:\n%s", w, joined)
				}
			}
			if tt.first != "" && (len(l.Hints) == 0 || !strings.HasPrefix(l.Hints[0], tt.first)) {
				t.Errorf("the 103 does not start with %s: %q", tt.first, l.Hints)
			}
			if len(l.Hints) > 0 && l.Bytes <= 0 {
				t.Errorf("Bytes = %d for %d hints", l.Bytes, len(l.Hints))
			}
			for target, reason := range tt.wantOut {
				i := slices.IndexFunc(l.LeftOut, func(lo LeftOut) bool { return strings.Contains(lo.Link, target) })
				if i < 0 {
					t.Errorf("%s not listed as left out: %+v", target, l.LeftOut)
					continue
				}
				if got := l.LeftOut[i].Reason; got != reason {
					t.Errorf("%s left out for %q, want %q", target, got, reason)
				}
			}
			for _, lo := range l.LeftOut {
				if strings.Contains(joined, lo.Link) {
					t.Errorf("%s both hinted and left out", lo.Link)
				}
			}
			var out strings.Builder
			if err := WriteText(&out, rep, false); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "The proxy would learn") {
				t.Errorf("text report lacks the learn section:\n%s", out.String())
			}
		})
	}
}

func manyImagePreloads(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `<link rel=preload as=image href="/img%d.jpg">`, i)
	}
	return b.String()
}
