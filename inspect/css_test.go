package inspect

import (
	"net/url"
	"slices"
	"testing"
)

func TestCSSFonts(t *testing.T) {
	sheet, _ := url.Parse("https://a.test/css/site.css")
	tests := []struct {
		css  string
		want []string
	}{
		{`@font-face{font-family:A;src:url(/f/a.woff2) format("woff2"),url(/f/a.woff)}`, []string{"https://a.test/f/a.woff2"}},
		{`@FONT-FACE { src: url( "../f/b.woff2#x" ) } body{background:url(bg.png)}`, []string{"https://a.test/f/b.woff2"}},
		{`@font-face{src:url(data:font/woff2;base64,AAAA)}@font-face{src:url('c.woff2')}`, []string{"https://a.test/css/c.woff2"}},
		{`@font-face{src:url(1.woff2)}@font-face{src:url(2.woff2)}@font-face{src:url(3.woff2)}`, []string{"https://a.test/css/1.woff2", "https://a.test/css/2.woff2"}},
		{`body{} @font-face{src:local(A)}`, nil},
		{`@font-face{src:url(unclosed`, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, u := range cssFonts(tt.css, sheet) {
			got = append(got, u.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("cssFonts(%q) = %q, want %q", tt.css, got, tt.want)
		}
	}
}

func FuzzCSSFonts(f *testing.F) {
	for _, s := range []string{`@font-face{src:url(/a.woff2)}`, `@font-face{`, `@font-face}url(`, `@font-faceurl()`} {
		f.Add(s)
	}
	sheet, _ := url.Parse("https://a.test/s.css")
	f.Fuzz(func(t *testing.T, css string) {
		if got := cssFonts(css, sheet); len(got) > maxCSSFonts {
			t.Fatalf("%d fonts", len(got))
		}
	})
}
