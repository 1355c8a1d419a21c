package scan

import (
	"strconv"
	"strings"
)

// Viewport is the browser window a media query is matched against, in CSS
// pixels. The zero value is a window of unknown size: queries on its width
// or height are then decided only where every real window gives the same
// answer.
type Viewport struct {
	Width, Height int
}

// match is a three-valued answer: a media query that depends on what is not
// known (the window's width, the user's preferences) is neither true nor
// false, and such a stylesheet is not render-blocking for sure.
type match uint8

const (
	matchNo match = iota
	matchUnknown
	matchYes
)

func (m match) not() match { return matchYes - m }

func (m match) and(o match) match { return min(m, o) }

func (m match) or(o match) match { return max(m, o) }

// Window widths every browser has at least (the narrowest phones are 320
// CSS pixels wide) and none has (8K screens are 7680 device pixels, fewer
// CSS pixels): a width query beyond them answers the same everywhere.
const (
	minWindowWidth = 320
	maxWindowWidth = 10000
)

// maxMediaBytes bounds the media query lists evaluated; a longer one is
// not something a browser window is matched against in practice.
const maxMediaBytes = 1024

// matchMedia evaluates a media query list (Media Queries level 4) the way a
// browser window of size vp does: a comma-separated list matches when one
// of its queries does, and a query that does not parse is "not all".
func matchMedia(list string, vp Viewport) match {
	if len(list) > maxMediaBytes {
		return matchNo
	}
	var buf [32]mediaToken
	toks := lexMedia(buf[:0], list)
	if len(toks) == 0 {
		return matchYes // an empty list is "all"
	}
	result := matchNo
	for start := 0; start <= len(toks); {
		end := start
		depth := 0
		for end < len(toks) && (toks[end].kind != ',' || depth > 0) {
			switch toks[end].kind {
			case '(':
				depth++
			case ')':
				depth--
			}
			end++
		}
		p := mediaParser{toks: toks[start:end], vp: vp}
		if m, ok := p.query(); ok && p.i == len(p.toks) {
			result = result.or(m)
		}
		start = end + 1
	}
	return result
}

type mediaToken struct {
	kind byte // 'i' ident, 'n' number (with unit), '(' ')' ',' ':' '/', '<' '>' '=' (with le/ge as 'l' 'g'), '?' other
	text string
	num  float64
}

// lexMedia splits a media query list into tokens; identifiers and units are
// lower-cased (media queries are ASCII case-insensitive).
func lexMedia(toks []mediaToken, s string) []mediaToken {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return toks
			}
			i += end + 4
		case c == '(' || c == ')' || c == ',' || c == ':' || c == '/':
			toks = append(toks, mediaToken{kind: c})
			i++
		case c == '<' || c == '>':
			k := c
			i++
			if i < len(s) && s[i] == '=' {
				k = 'l'
				if c == '>' {
					k = 'g'
				}
				i++
			}
			toks = append(toks, mediaToken{kind: k})
		case c == '=':
			toks = append(toks, mediaToken{kind: '='})
			i++
		case isDigit(c) || c == '.' || (c == '-' || c == '+') && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '.'):
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
				j++
			}
			n, err := strconv.ParseFloat(s[i:j], 64)
			k := j
			for k < len(s) && isIdentByte(s[k]) && s[k] != '-' {
				k++
			}
			if k < len(s) && s[k] == '%' {
				k++
			}
			if err != nil {
				toks = append(toks, mediaToken{kind: '?'})
			} else {
				toks = append(toks, mediaToken{kind: 'n', num: n, text: strings.ToLower(s[j:k])})
			}
			i = k
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, mediaToken{kind: 'i', text: strings.ToLower(s[i:j])})
			i = j
		default:
			toks = append(toks, mediaToken{kind: '?'})
			i++
		}
	}
	return toks
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '-' || c == '_' || c >= 0x80
}

type mediaParser struct {
	toks []mediaToken
	i    int
	vp   Viewport
}

func (p *mediaParser) peek() mediaToken {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return mediaToken{}
}

func (p *mediaParser) ident(word string) bool {
	if t := p.peek(); t.kind == 'i' && t.text == word {
		p.i++
		return true
	}
	return false
}

// query parses one media query: [only | not] type [and condition], or a
// bare condition.
func (p *mediaParser) query() (match, bool) {
	if p.peek().kind == '(' || p.peek().kind == 'i' && p.peek().text == "not" && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == '(' {
		return p.condition(true)
	}
	negate := p.ident("not")
	if !negate {
		p.ident("only")
	}
	t := p.peek()
	if t.kind != 'i' {
		return matchNo, false
	}
	p.i++
	var m match
	switch t.text {
	case "all", "screen":
		m = matchYes
	case "not", "only", "and", "or", "layer":
		return matchNo, false
	default:
		// print, speech, and the media types Media Queries 4 deprecated
		// (tv, projection, handheld, ...) match no browser window; an
		// unknown type matches nothing either.
		m = matchNo
	}
	if p.ident("and") {
		c, ok := p.condition(false)
		if !ok {
			return matchNo, false
		}
		m = m.and(c)
	}
	if negate {
		m = m.not()
	}
	return m, true
}

// condition parses "not (..)" or "(..) and (..) ..." or "(..) or (..) ...";
// orAllowed is false after a media type, where only "and" may follow.
func (p *mediaParser) condition(orAllowed bool) (match, bool) {
	if p.ident("not") {
		m, ok := p.inParens()
		return m.not(), ok
	}
	m, ok := p.inParens()
	if !ok {
		return matchNo, false
	}
	joiner := ""
	for {
		t := p.peek()
		if t.kind != 'i' || (t.text != "and" && t.text != "or") {
			return m, true
		}
		if joiner != "" && t.text != joiner || t.text == "or" && !orAllowed {
			return matchNo, false // and/or mixed without parentheses
		}
		joiner = t.text
		p.i++
		n, ok := p.inParens()
		if !ok {
			return matchNo, false
		}
		if joiner == "and" {
			m = m.and(n)
		} else {
			m = m.or(n)
		}
	}
}

// inParens parses "( condition )" or "( feature )".
func (p *mediaParser) inParens() (match, bool) {
	if p.peek().kind != '(' {
		return matchNo, false
	}
	p.i++
	// A nested condition starts with "(" or "not (".
	if t := p.peek(); t.kind == '(' || t.kind == 'i' && t.text == "not" && p.i+1 < len(p.toks) && p.toks[p.i+1].kind == '(' {
		m, ok := p.condition(true)
		if !ok || p.peek().kind != ')' {
			return matchNo, false
		}
		p.i++
		return m, true
	}
	end := p.i
	for end < len(p.toks) && p.toks[end].kind != ')' {
		if p.toks[end].kind == '(' {
			return matchNo, false // general-enclosed: never true
		}
		end++
	}
	if end == len(p.toks) {
		return matchNo, false
	}
	m, ok := p.feature(p.toks[p.i:end])
	p.i = end + 1
	return m, ok
}

// feature evaluates "(name)", "(name: value)" or a range form such as
// "(width >= 600px)" or "(400px < width <= 700px)".
func (p *mediaParser) feature(t []mediaToken) (match, bool) {
	switch {
	case len(t) == 1 && t[0].kind == 'i':
		return p.boolean(t[0].text)
	case len(t) >= 3 && t[0].kind == 'i' && t[1].kind == ':':
		name := t[0].text
		op := byte('=')
		if rest, ok := strings.CutPrefix(name, "-webkit-"); ok { // -webkit-min-device-pixel-ratio
			name = rest
		}
		switch {
		case strings.HasPrefix(name, "min-"):
			name, op = name[4:], 'g'
		case strings.HasPrefix(name, "max-"):
			name, op = name[4:], 'l'
		}
		return p.compare(name, op, t[2:])
	case len(t) >= 3 && t[0].kind == 'i' && isComparison(t[1].kind):
		return p.compare(t[0].text, t[1].kind, t[2:])
	}
	// value op name [op value]
	for i := 1; i < len(t)-1; i++ {
		if t[i].kind != 'i' || !isComparison(t[i-1].kind) {
			continue
		}
		j := i + 1
		if j < len(t) && !isComparison(t[j].kind) {
			return matchNo, false
		}
		m, ok := p.compare(t[i].text, flip(t[i-1].kind), t[:i-1])
		if !ok {
			return matchNo, false
		}
		if j < len(t) {
			n, ok := p.compare(t[i].text, t[j].kind, t[j+1:])
			if !ok {
				return matchNo, false
			}
			m = m.and(n)
		}
		return m, true
	}
	return matchNo, false
}

func isComparison(k byte) bool { return k == '<' || k == '>' || k == 'l' || k == 'g' || k == '=' }

// flip turns "value op name" into "name op' value".
func flip(op byte) byte {
	switch op {
	case '<':
		return '>'
	case '>':
		return '<'
	case 'l':
		return 'g'
	case 'g':
		return 'l'
	}
	return op
}

// boolean evaluates a feature named without a value: true when the
// feature's value would not be zero or none.
func (p *mediaParser) boolean(name string) (match, bool) {
	switch name {
	case "width", "height", "device-width", "device-height", "color", "resolution",
		"aspect-ratio", "device-aspect-ratio", "-webkit-device-pixel-ratio", "device-pixel-ratio":
		return matchYes, true
	case "monochrome", "grid", "color-index":
		return matchNo, true
	case "update", "scripting":
		return matchYes, true
	case "orientation", "hover", "any-hover", "pointer", "any-pointer", "prefers-reduced-motion",
		"prefers-color-scheme", "prefers-contrast", "prefers-reduced-transparency",
		"prefers-reduced-data", "forced-colors", "inverted-colors", "display-mode",
		"dynamic-range", "video-dynamic-range", "color-gamut", "overflow-block", "overflow-inline":
		return matchUnknown, true
	}
	return matchNo, false // an unknown feature makes the query "not all"
}

// compare evaluates "name op value" for a browser window.
func (p *mediaParser) compare(name string, op byte, value []mediaToken) (match, bool) {
	switch name {
	case "width", "device-width":
		px, ok := length(value)
		if !ok {
			return matchNo, false
		}
		if p.vp.Width > 0 {
			return cmp(float64(p.vp.Width), op, px), true
		}
		return windowBound(op, px, minWindowWidth, maxWindowWidth), true
	case "height", "device-height":
		px, ok := length(value)
		if !ok {
			return matchNo, false
		}
		if p.vp.Height > 0 {
			return cmp(float64(p.vp.Height), op, px), true
		}
		return windowBound(op, px, 0, maxWindowWidth), true
	case "resolution", "-moz-device-pixel-ratio", "device-pixel-ratio":
		dppx, ok := resolution(name, value)
		if !ok {
			return matchNo, false
		}
		// Every screen has at least one device pixel per CSS pixel.
		return windowBound(op, dppx, 1, 1e9), true
	case "color":
		n, ok := integer(value)
		if !ok {
			return matchNo, false
		}
		return windowBound(op, n, 8, 1e9), true // 8 bits per component at least
	case "monochrome", "grid", "color-index":
		n, ok := integer(value)
		if !ok {
			return matchNo, false
		}
		return cmp(0, op, n), true
	case "scripting":
		return keywordIs(value, "enabled", "none", "initial-only")
	case "update":
		return keywordIs(value, "fast", "none", "slow")
	case "display-mode":
		// A page opened in a tab; an installed web app may differ.
		return keywordIs(value, "browser", "fullscreen", "standalone", "minimal-ui", "window-controls-overlay", "picture-in-picture")
	case "orientation", "aspect-ratio", "device-aspect-ratio", "hover", "any-hover", "pointer", "any-pointer",
		"prefers-reduced-motion", "prefers-color-scheme", "prefers-contrast", "prefers-reduced-transparency",
		"prefers-reduced-data", "forced-colors", "inverted-colors", "dynamic-range", "video-dynamic-range",
		"color-gamut", "overflow-block", "overflow-inline":
		if len(value) == 0 {
			return matchNo, false
		}
		return matchUnknown, true
	}
	return matchNo, false
}

// keywordIs matches an enumerated feature: yes for the value every browser
// tab has, no for the other known values.
func keywordIs(value []mediaToken, yes string, no ...string) (match, bool) {
	if len(value) != 1 || value[0].kind != 'i' {
		return matchNo, false
	}
	if value[0].text == yes {
		return matchYes, true
	}
	for _, n := range no {
		if value[0].text == n {
			return matchNo, true
		}
	}
	return matchNo, false
}

// windowBound answers "x op v" for an x known only to lie in [lo, hi].
func windowBound(op byte, v, lo, hi float64) match {
	switch op {
	case 'g':
		if lo >= v {
			return matchYes
		}
		if hi < v {
			return matchNo
		}
	case '>':
		if lo > v {
			return matchYes
		}
		if hi <= v {
			return matchNo
		}
	case 'l':
		if hi <= v {
			return matchYes
		}
		if lo > v {
			return matchNo
		}
	case '<':
		if hi < v {
			return matchYes
		}
		if lo >= v {
			return matchNo
		}
	case '=':
		if v < lo || v > hi {
			return matchNo
		}
	}
	return matchUnknown
}

func cmp(x float64, op byte, v float64) match {
	var b bool
	switch op {
	case 'g':
		b = x >= v
	case '>':
		b = x > v
	case 'l':
		b = x <= v
	case '<':
		b = x < v
	default:
		b = x == v
	}
	if b {
		return matchYes
	}
	return matchNo
}

// length reads a CSS length in pixels (font-relative units at the initial
// 16px font size, which is what media queries use).
func length(value []mediaToken) (float64, bool) {
	if len(value) != 1 || value[0].kind != 'n' {
		return 0, false
	}
	n := value[0].num
	switch value[0].text {
	case "px":
		return n, true
	case "":
		return n, n == 0 // only zero may go without a unit
	case "em", "rem":
		return n * 16, true
	case "in":
		return n * 96, true
	case "cm":
		return n * 96 / 2.54, true
	case "mm":
		return n * 96 / 25.4, true
	case "pt":
		return n * 96 / 72, true
	case "pc":
		return n * 16, true
	}
	return 0, false
}

// resolution reads a resolution in dots per CSS pixel.
func resolution(name string, value []mediaToken) (float64, bool) {
	if len(value) != 1 || value[0].kind != 'n' {
		return 0, false
	}
	n := value[0].num
	if name != "resolution" { // the prefixed pixel-ratio features take a number
		return n, value[0].text == ""
	}
	switch value[0].text {
	case "dppx", "x":
		return n, true
	case "dpi":
		return n / 96, true
	case "dpcm":
		return n * 2.54 / 96, true
	}
	return 0, false
}

func integer(value []mediaToken) (float64, bool) {
	if len(value) != 1 || value[0].kind != 'n' || value[0].text != "" || value[0].num != float64(int64(value[0].num)) {
		return 0, false
	}
	return value[0].num, true
}
