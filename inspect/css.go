package inspect

import (
	"net/url"
	"strings"
)

// maxCSSFonts bounds the fonts taken from one stylesheet: a stylesheet
// declares every weight it might use, and the first ones are the likeliest
// to render the text above the fold.
const maxCSSFonts = 2

// cssFonts returns the first source of each @font-face rule of css, in
// order, resolved against the stylesheet's URL (at most maxCSSFonts): the
// source a browser tries first is the one it downloads.
func cssFonts(css string, sheet *url.URL) []*url.URL {
	var out []*url.URL
	lower := asciiLower(css) // same length as css, so indexes agree
	for len(out) < maxCSSFonts {
		i := strings.Index(lower, "@font-face")
		if i < 0 {
			break
		}
		lower, css = lower[i+len("@font-face"):], css[i+len("@font-face"):]
		end := strings.IndexByte(lower, '}')
		if end < 0 {
			end = len(lower)
		}
		block, blockLower := css[:end], lower[:end]
		lower, css = lower[end:], css[end:]
		j := strings.Index(blockLower, "url(")
		if j < 0 {
			continue
		}
		ref := block[j+len("url("):]
		k := strings.IndexByte(ref, ')')
		if k < 0 {
			continue
		}
		ref = strings.Trim(strings.TrimSpace(ref[:k]), `"'`)
		if ref == "" || strings.HasPrefix(strings.ToLower(ref), "data:") {
			continue
		}
		if u, ok := resolveOn(sheet, ref); ok {
			out = append(out, u)
		}
	}
	return out
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
