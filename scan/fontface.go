package scan

import (
	"strconv"
	"strings"
)

// Inline CSS: the <style> elements of the head declare web fonts
// (@font-face) and import stylesheets (@import). A browser fetches a
// declared font only when text is drawn with it, so a face is hinted only
// when a rule of the same inline CSS uses its family (font-family or font,
// directly or through a custom property), and then only the face the CSS
// font matching algorithm picks for the weight and style that rule asks
// for. A face limited by unicode-range to characters outside Latin letters
// is fetched only by pages that draw them, and is left out.

// Bounds on what inline CSS may cost.
const (
	maxInlineCSSBytes = 512 << 10 // CSS text parsed per document
	maxFontFaces      = 64        // faces remembered
	maxFontUses       = 64        // (family, weight, style) uses remembered
	maxInlineFonts    = 6         // font preloads taken from inline CSS
	maxCSSDepth       = 8         // nested blocks followed
)

type fontFace struct {
	family     string // lower case
	minW, maxW float64
	style      string // normal, italic, oblique
	url        string // the first source a browser can use, as written
	latin      bool   // the face covers Latin letters
}

type fontUse struct {
	family string // lower case, or a var(--name) reference
	weight float64
	style  string
}

// inlineCSS collects what the <style> elements of a document declare.
type inlineCSS struct {
	vp      Viewport // the window @media rules are matched against
	parsed  int
	faces   []fontFace
	uses    []fontUse
	vars    map[string]string // custom properties: --name -> value
	imports []cssImport
	rules   bool // a rule other than @charset/@import was seen: later @imports are invalid
}

type cssImport struct {
	url, media string
}

// parse reads one style sheet's text. Text that names no font and
// imports nothing (most inlined critical CSS) is not parsed.
func (c *inlineCSS) parse(css []byte) {
	if c.parsed+len(css) > maxInlineCSSBytes || !mentionsFontOrImport(css) {
		return
	}
	c.parsed += len(css)
	c.block(stripComments(string(css)), 0, true, "")
}

// block reads a list of rules (topLevel) or of declarations and nested rules.
func (c *inlineCSS) block(s string, depth int, topLevel bool, selector string) {
	if depth > maxCSSDepth {
		return
	}
	var r ruleFonts
	for s != "" {
		prelude, body, hasBlock, rest := nextItem(s)
		s = rest
		prelude = strings.TrimSpace(prelude)
		if !hasBlock {
			if prelude == "" {
				continue
			}
			if topLevel && prelude[0] == '@' {
				c.atStatement(prelude)
				continue
			}
			c.declare(&r, prelude)
			continue
		}
		c.rules = c.rules || topLevel
		name := ""
		if prelude != "" && prelude[0] == '@' {
			name = strings.ToLower(prelude[1:])
			if i := strings.IndexAny(name, " \t\n\r\f("); i >= 0 {
				name = name[:i]
			}
		}
		switch name {
		case "font-face":
			c.fontFace(body)
		case "":
			c.block(body, depth+1, false, prelude)
		case "media":
			// Rules for print, or for a width the window may not have,
			// draw nothing on first paint for sure.
			if matchMedia(strings.TrimSpace(prelude[len("@media"):]), c.vp) == matchYes {
				c.block(body, depth+1, true, "")
			}
		case "supports", "layer", "container", "document", "scope", "starting-style":
			c.block(body, depth+1, true, "")
		}
	}
	if !onlyOnInteraction(selector) {
		c.endRule(&r)
	}
}

// onlyOnInteraction reports a selector list whose every selector applies
// only after the user acts (hover, focus, ...) or to text the page does
// not draw on load: fonts it names are not fetched on first paint.
func onlyOnInteraction(selector string) bool {
	if selector == "" || !strings.Contains(selector, ":") {
		return false
	}
	for _, sel := range splitTop(selector, ',') {
		sel = strings.ToLower(sel)
		state := false
		for _, p := range [...]string{":hover", ":focus", ":active", ":visited", "::placeholder", "::selection", ":checked", ":invalid", ":target", ":disabled"} {
			if strings.Contains(sel, p) {
				state = true
				break
			}
		}
		if !state {
			return false
		}
	}
	return true
}

// atStatement handles @import (valid only before any rule) and ignores
// the other statements.
func (c *inlineCSS) atStatement(s string) {
	name, rest, _ := strings.Cut(s[1:], " ")
	if i := strings.IndexAny(name, "\"'("); i >= 0 { // @import"x.css"
		name, rest = name[:i], name[i:]+" "+rest
	}
	switch strings.ToLower(name) {
	case "charset":
		return
	case "import":
		if c.rules || len(c.imports) >= maxFontFaces {
			return
		}
		u, media, ok := cssURL(strings.TrimSpace(rest))
		if !ok {
			return
		}
		c.imports = append(c.imports, cssImport{url: u, media: strings.TrimSpace(media)})
	default:
		c.rules = true // @namespace, @layer a, b; ...
	}
}

// fontFace reads the descriptors of one @font-face rule.
func (c *inlineCSS) fontFace(body string) {
	if len(c.faces) >= maxFontFaces {
		return
	}
	f := fontFace{minW: 400, maxW: 400, style: "normal", latin: true}
	var src string
	for _, d := range splitTop(body, ';') {
		name, value, ok := declaration(d)
		if !ok {
			continue
		}
		switch name {
		case "font-family":
			if fams := families(value); len(fams) == 1 {
				f.family = fams[0]
			}
		case "src":
			src = value // the last declaration wins
		case "font-weight":
			f.minW, f.maxW = weightRange(value)
		case "font-style":
			f.style = fontStyle(value)
		case "unicode-range":
			f.latin = coversLatin(value)
		}
	}
	if f.family == "" || src == "" || f.minW <= 0 {
		return
	}
	f.url = firstSource(src)
	if f.url == "" {
		return
	}
	c.faces = append(c.faces, f)
}

// firstSource returns the URL of the first src entry a browser can use:
// local() fonts are assumed absent (web fonts are rarely installed), a
// url() with a format() or tech() a browser does not support is skipped.
func firstSource(src string) string {
	for _, item := range splitTop(src, ',') {
		item = strings.TrimSpace(item)
		u, rest, ok := cssURL(item)
		if !ok || strings.HasPrefix(u, "data:") || strings.HasPrefix(u, "#") {
			continue
		}
		if supportedFormat(rest) {
			return u
		}
	}
	return ""
}

// supportedFormat reads the format() and tech() hints after a url().
func supportedFormat(hints string) bool {
	hints = strings.ToLower(hints)
	if i := strings.Index(hints, "format("); i >= 0 {
		f := hints[i+len("format("):]
		end := strings.IndexByte(f, ')')
		if end < 0 {
			return false
		}
		switch strings.Trim(strings.TrimSpace(f[:end]), `"'`) {
		case "woff2", "woff", "truetype", "opentype", "collection", "woff2-variations", "woff-variations",
			"truetype-variations", "opentype-variations":
		default:
			return false // embedded-opentype, svg, or unknown
		}
	}
	if i := strings.Index(hints, "tech("); i >= 0 {
		t := hints[i+len("tech("):]
		end := strings.IndexByte(t, ')')
		if end < 0 {
			return false
		}
		for _, tech := range strings.Split(t[:end], ",") {
			switch strings.TrimSpace(tech) {
			case "variations", "features-opentype", "features-aat", "color-colrv0", "color-colrv1", "color-cbdt", "color-sbix", "palettes", "incremental":
			default:
				return false
			}
		}
	}
	return true
}

// families reads a font-family list: quoted names and runs of identifiers,
// lower-cased; generic families are left out.
func families(value string) []string {
	var out []string
	for _, f := range splitTop(value, ',') {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f[0] == '"' || f[0] == '\'' {
			if len(f) >= 2 && f[len(f)-1] == f[0] {
				out = append(out, strings.ToLower(f[1:len(f)-1]))
			}
			continue
		}
		if strings.HasPrefix(strings.ToLower(f), "var(") {
			out = append(out, strings.ToLower(f))
			continue
		}
		name := strings.ToLower(strings.Join(strings.Fields(f), " "))
		switch name {
		case "serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "ui-serif",
			"ui-sans-serif", "ui-monospace", "ui-rounded", "emoji", "math", "fangsong",
			"inherit", "initial", "unset", "revert", "revert-layer", "-apple-system", "blinkmacsystemfont":
			continue
		}
		out = append(out, name)
	}
	return out
}

// weightRange reads a font-weight descriptor ("bold", "300", "100 900").
func weightRange(v string) (float64, float64) {
	f := strings.Fields(strings.ToLower(v))
	if len(f) == 0 || len(f) > 2 {
		return 0, 0
	}
	lo := weight(f[0])
	hi := lo
	if len(f) == 2 {
		hi = weight(f[1])
	}
	if lo <= 0 || hi <= 0 {
		return 0, 0
	}
	return min(lo, hi), max(lo, hi)
}

// weight reads one font weight; 0 when it is not absolute.
func weight(v string) float64 {
	switch v {
	case "normal":
		return 400
	case "bold":
		return 700
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 1 || n > 1000 {
		return 0
	}
	return n
}

func fontStyle(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case strings.HasPrefix(v, "italic"):
		return "italic"
	case strings.HasPrefix(v, "oblique"):
		return "oblique"
	}
	return "normal"
}

// coversLatin reports whether a unicode-range includes Latin letters
// (A-Z, a-z): faces split by script load only the subsets the text needs.
func coversLatin(v string) bool {
	for _, r := range strings.Split(v, ",") {
		r = strings.ToUpper(strings.TrimSpace(r))
		r, ok := strings.CutPrefix(r, "U+")
		if !ok {
			continue
		}
		var lo, hi uint64
		if a, b, dash := strings.Cut(r, "-"); dash {
			x, err1 := strconv.ParseUint(a, 16, 32)
			y, err2 := strconv.ParseUint(b, 16, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			lo, hi = x, y
		} else if strings.Contains(r, "?") {
			x, err1 := strconv.ParseUint(strings.ReplaceAll(r, "?", "0"), 16, 32)
			y, err2 := strconv.ParseUint(strings.ReplaceAll(r, "?", "F"), 16, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			lo, hi = x, y
		} else {
			x, err := strconv.ParseUint(r, 16, 32)
			if err != nil {
				continue
			}
			lo, hi = x, x
		}
		if lo <= 'z' && hi >= 'A' {
			return true
		}
	}
	return false
}

// ruleFonts is what a style rule's declarations say about fonts.
type ruleFonts struct {
	families  string // the font-family value, or the font shorthand's
	shorthand bool
	weight    float64
	style     string
}

// declare reads one declaration of a style rule; custom properties are
// remembered for var().
func (c *inlineCSS) declare(r *ruleFonts, d string) {
	name, value, ok := declaration(d)
	if !ok || len(name) < 3 {
		return
	}
	switch {
	case name[0] == '-' && name[1] == '-':
		if c.vars == nil {
			c.vars = map[string]string{}
		}
		if len(c.vars) < maxFontUses {
			c.vars[name] = value
		}
	case name == "font-family":
		r.families, r.shorthand = value, false
	case name == "font":
		r.families, r.shorthand = value, true
	case name == "font-weight":
		switch v := strings.ToLower(value); v {
		case "bolder":
			r.weight = 700
		case "lighter":
			r.weight = 300
		default:
			if n := weight(v); n > 0 {
				r.weight = n
			}
		}
	case name == "font-style":
		r.style = fontStyle(value)
	}
}

// endRule records the fonts a style rule uses, with the weight and style
// it asks for (400 and normal unless it says otherwise).
func (c *inlineCSS) endRule(r *ruleFonts) {
	if r.families == "" {
		return
	}
	w, style := 400.0, "normal"
	var fams []string
	if r.shorthand {
		var fw float64
		var fs string
		fams, fw, fs = fontShorthand(r.families)
		if fw > 0 {
			w = fw
		}
		if fs != "" {
			style = fs
		}
	} else {
		fams = families(r.families)
	}
	if r.weight > 0 {
		w = r.weight
	}
	if r.style != "" {
		style = r.style
	}
	for _, f := range fams {
		if len(c.uses) >= maxFontUses {
			return
		}
		c.uses = append(c.uses, fontUse{family: f, weight: w, style: style})
	}
}

// fontShorthand reads the family list, weight and style of a font shorthand
// ("italic 700 1rem/1.5 Inter, sans-serif").
func fontShorthand(v string) (fams []string, w float64, style string) {
	parts := splitTop(v, ',')
	first := strings.Fields(parts[0])
	for i, tok := range first {
		lt := strings.ToLower(tok)
		if lt == "italic" || lt == "oblique" {
			style = lt
			continue
		}
		if n := weight(lt); n > 0 && lt != "normal" && !strings.ContainsAny(lt, ".") {
			w = n
			continue
		}
		if isFontSize(lt) {
			rest := strings.Join(first[i+1:], " ")
			if strings.HasPrefix(rest, "/") { // line height
				f := strings.Fields(rest[1:])
				if len(f) > 0 {
					rest = strings.Join(f[1:], " ")
				}
			}
			parts[0] = rest
			return families(strings.Join(parts, ",")), w, style
		}
	}
	return nil, 0, ""
}

func isFontSize(t string) bool {
	t, _, _ = strings.Cut(t, "/")
	switch t {
	case "xx-small", "x-small", "small", "medium", "large", "x-large", "xx-large", "xxx-large", "smaller", "larger":
		return true
	}
	switch {
	case strings.HasPrefix(t, "calc(") || strings.HasPrefix(t, "clamp(") || strings.HasPrefix(t, "var("):
		return true
	case t == "" || !isDigit(t[0]) && t[0] != '.':
		return false
	}
	return strings.TrimLeft(t, "0123456789.") != "" // a length or a percentage, not a weight
}

// usedFonts returns the URLs of the faces the rules use, in the order of
// their first use, at most maxInlineFonts; with unused, also the URLs of
// the faces left out.
func (c *inlineCSS) usedFonts(unused bool) (used, left []string) {
	taken := make([]bool, len(c.faces))
	for _, u := range c.uses {
		fam := u.family
		if strings.HasPrefix(fam, "var(") {
			fam = c.resolveVar(fam)
		}
		for _, i := range c.match(fam, u.weight, u.style) {
			if taken[i] || len(used) == maxInlineFonts {
				continue
			}
			taken[i] = true
			used = append(used, c.faces[i].url)
		}
	}
	if unused {
		for i := range c.faces {
			if !taken[i] {
				left = append(left, c.faces[i].url)
			}
		}
	}
	return used, left
}

// resolveVar resolves var(--name[, fallback]) to the first family it names.
func (c *inlineCSS) resolveVar(ref string) string {
	inner := strings.TrimSuffix(strings.TrimPrefix(ref, "var("), ")")
	name, fallback, _ := strings.Cut(inner, ",")
	for range 4 { // var() chains, bounded
		v, ok := c.vars[strings.TrimSpace(name)]
		if !ok {
			v = fallback
		}
		fams := families(v)
		if len(fams) == 0 {
			return ""
		}
		if !strings.HasPrefix(fams[0], "var(") {
			return fams[0]
		}
		inner = strings.TrimSuffix(strings.TrimPrefix(fams[0], "var("), ")")
		name, fallback, _ = strings.Cut(inner, ",")
	}
	return ""
}

// match picks, among the faces of family, those the CSS font matching
// algorithm selects for weight w and style: style first, then the nearest
// weight (CSS Fonts 4, 5.2), then every face of that descriptor whose
// unicode-range covers Latin letters.
func (c *inlineCSS) match(family string, w float64, style string) []int {
	var cand []int
	for i := range c.faces {
		if c.faces[i].family == family {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return nil
	}
	order := map[string][]string{
		"normal":  {"normal", "oblique", "italic"},
		"italic":  {"italic", "oblique", "normal"},
		"oblique": {"oblique", "italic", "normal"},
	}[style]
	for _, st := range order {
		var same []int
		for _, i := range cand {
			if c.faces[i].style == st {
				same = append(same, i)
			}
		}
		if len(same) > 0 {
			cand = same
			break
		}
	}
	best, bestRank := -1.0, 1e18
	for _, i := range cand {
		f := &c.faces[i]
		d := weightRank(w, f.minW, f.maxW)
		if d < bestRank {
			best, bestRank = f.minW, d
		}
	}
	var out []int
	for _, i := range cand {
		f := &c.faces[i]
		if weightRank(w, f.minW, f.maxW) == bestRank && f.minW == best && f.latin {
			out = append(out, i)
		}
	}
	return out
}

// weightRank orders faces for a desired weight as CSS Fonts 4 does: a face
// that contains it first; for 400-500, heavier faces up to 500, then
// lighter ones, then heavier; below 400 lighter first; above 500 heavier
// first. Lower is better.
func weightRank(w, lo, hi float64) float64 {
	if lo <= w && w <= hi {
		return 0
	}
	const band = 10000
	switch {
	case w >= 400 && w <= 500:
		if lo > w && lo <= 500 {
			return lo - w
		}
		if hi < w {
			return band + (w - hi)
		}
		return 2*band + (lo - w)
	case w < 400:
		if hi < w {
			return w - hi
		}
		return band + (lo - w)
	default:
		if lo > w {
			return lo - w
		}
		return band + (w - hi)
	}
}
