package browser

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseCSSURLs(t *testing.T) {
	tests := []struct {
		name string
		css  string
		want []CSSRef
	}{
		{
			"import forms", `@import url("a.css"); @import 'b.css' screen; @IMPORT url(c.css);`,
			[]CSSRef{{"a.css", CSSImport}, {"b.css", CSSImport}, {"c.css", CSSImport}},
		},
		{
			"font-face takes the first src", `@font-face{font-family:x;src:url(f.woff2) format("woff2"),url(f.woff) format("woff")}`,
			[]CSSRef{{"f.woff2", CSSFont}},
		},
		{
			"two font faces", `@font-face{src:url(a.woff2)}@font-face{src:local(x),url("b.woff2")}`,
			[]CSSRef{{"a.woff2", CSSFont}, {"b.woff2", CSSFont}},
		},
		{
			"background and nesting", `@media screen{.a{background:url( 'bg.png' )}} .b{cursor:url(c.cur),auto}`,
			[]CSSRef{{"bg.png", CSSImage}, {"c.cur", CSSImage}},
		},
		{
			"comments and strings hide urls", `/* url(no.png) */ .a::after{content:"url(no2.png)"} .b{background:url(yes.png)}`,
			[]CSSRef{{"yes.png", CSSImage}},
		},
		{
			"data urls and duplicates dropped", `.a{background:url(data:image/png;base64,AAA)} .b{background:url(x.png)} .c{background:url(x.png)}`,
			[]CSSRef{{"x.png", CSSImage}},
		},
		{
			"escapes", `.a{background:url(sp\ ace.png)} .b{background:url("q\"uote.png")} .c{background:url("\41 .png")}`,
			[]CSSRef{{"sp ace.png", CSSImage}, {`q"uote.png`, CSSImage}, {"A.png", CSSImage}},
		},
		{
			"identifier ending in url is not url()", `.a{--myurl(x.png)} .b{background:URL(y.png)}`,
			[]CSSRef{{"y.png", CSSImage}},
		},
		{"unterminated", `.a{background:url(x.png`, nil},
		{"bad url skipped", `.a{background:url(a"b.png)} .b{background:url(ok.png)}`, []CSSRef{{"ok.png", CSSImage}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseCSSURLs([]byte(tt.css)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseCSSURLs_bounds(t *testing.T) {
	var b strings.Builder
	for i := range MaxCSSRefs + 50 {
		b.WriteString(".c{background:url(i")
		b.WriteString(strings.Repeat("z", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(".png)}\n")
	}
	if n := len(ParseCSSURLs([]byte(b.String()))); n > MaxCSSRefs {
		t.Errorf("%d refs, want at most %d", n, MaxCSSRefs)
	}
}

func FuzzParseCSSURLs(f *testing.F) {
	for _, s := range []string{
		`@import "a.css";@font-face{src:url(f.woff2)}.a{background:url('b.png')}`,
		`/* c */ url(`, `@font-face{`, `}}}{{{`, `\`, `url("\`, `"unterminated`, `@import url(`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, css []byte) {
		refs := ParseCSSURLs(css)
		if len(refs) > MaxCSSRefs {
			t.Fatalf("%d refs", len(refs))
		}
		seen := map[CSSRef]bool{}
		for _, r := range refs {
			if r.URL == "" || seen[r] {
				t.Fatalf("empty or duplicate ref %q", r)
			}
			seen[r] = true
			switch r.Kind {
			case CSSImport, CSSFont, CSSImage:
			default:
				t.Fatalf("kind %q", r.Kind)
			}
		}
	})
}
