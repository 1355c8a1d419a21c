package browser

import (
	"bytes"
	"strconv"
	"strings"
)

// CSS reference kinds.
const (
	CSSImport = "import" // @import: another stylesheet
	CSSFont   = "font"   // the first url() of an @font-face src
	CSSImage  = "image"  // any other url(): background images, cursors, ...
)

// Bounds of ParseCSSURLs.
const (
	MaxCSSBytes = 4 << 20
	MaxCSSRefs  = 1000
)

// CSSRef is one resource a stylesheet references.
type CSSRef struct {
	URL  string // as written, unresolved, escapes decoded
	Kind string // CSSImport, CSSFont or CSSImage
}

// ParseCSSURLs returns the resources a stylesheet makes the browser fetch,
// in order: @import targets, for each @font-face the first url() of its
// src (browsers take the first format they support, and the lab serves
// woff2 first), and every other url(). data: URLs and duplicates are
// dropped. Input beyond MaxCSSBytes is ignored and at most MaxCSSRefs
// references are returned. It is a tokenizer, not a CSS parser: it skips
// comments and strings correctly and tracks blocks, which is all discovery
// needs.
func ParseCSSURLs(css []byte) []CSSRef {
	if len(css) > MaxCSSBytes {
		css = css[:MaxCSSBytes]
	}
	p := cssParser{s: css, seen: make(map[CSSRef]bool)}
	p.run()
	return p.refs
}

type cssParser struct {
	s    []byte
	i    int
	refs []CSSRef
	seen map[CSSRef]bool

	depth            int
	pendingFontFace  bool
	fontFaceDepth    int // block depth of the open @font-face, 0 if none
	fontFaceHasFirst bool
}

func (p *cssParser) add(u, kind string) {
	u = strings.TrimSpace(u)
	if u == "" || len(p.refs) >= MaxCSSRefs || strings.HasPrefix(strings.ToLower(u), "data:") || strings.HasPrefix(u, "#") {
		return
	}
	r := CSSRef{URL: u, Kind: kind}
	if !p.seen[r] {
		p.seen[r] = true
		p.refs = append(p.refs, r)
	}
}

func (p *cssParser) run() {
	for p.i < len(p.s) && len(p.refs) < MaxCSSRefs {
		c := p.s[p.i]
		switch {
		case c == '/' && p.peek(1) == '*':
			end := indexFrom(p.s, p.i+2, "*/")
			if end < 0 {
				return
			}
			p.i = end + 2
		case c == '"' || c == '\'':
			p.str()
		case c == '\\':
			p.i += 2
		case c == '@':
			p.i++
			name := strings.ToLower(p.ident())
			switch name {
			case "import":
				p.ws()
				if u, ok := p.urlFunc(); ok {
					p.add(u, CSSImport)
				} else if p.i < len(p.s) && (p.s[p.i] == '"' || p.s[p.i] == '\'') {
					p.add(p.str(), CSSImport)
				}
			case "font-face":
				p.pendingFontFace = true
			}
		case c == '{':
			p.depth++
			if p.pendingFontFace && p.fontFaceDepth == 0 {
				p.fontFaceDepth = p.depth
				p.fontFaceHasFirst = false
			}
			p.pendingFontFace = false
			p.i++
		case c == '}':
			if p.depth == p.fontFaceDepth {
				p.fontFaceDepth = 0
			}
			if p.depth > 0 {
				p.depth--
			}
			p.i++
		case c == ';':
			p.pendingFontFace = false
			p.i++
		case (c == 'u' || c == 'U') && (p.i == 0 || !isIdentByte(p.s[p.i-1])):
			if u, ok := p.urlFunc(); ok {
				if p.fontFaceDepth > 0 {
					if !p.fontFaceHasFirst {
						p.fontFaceHasFirst = true
						p.add(u, CSSFont)
					}
				} else {
					p.add(u, CSSImage)
				}
			} else {
				p.i++
			}
		default:
			p.i++
		}
	}
}

func (p *cssParser) peek(k int) byte {
	if p.i+k < len(p.s) {
		return p.s[p.i+k]
	}
	return 0
}

func (p *cssParser) ws() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

func (p *cssParser) ident() string {
	start := p.i
	for p.i < len(p.s) && isIdentByte(p.s[p.i]) {
		p.i++
	}
	return string(p.s[start:p.i])
}

// urlFunc reads url( ... ) at p.i; on failure p.i is unchanged.
func (p *cssParser) urlFunc() (string, bool) {
	if p.i+4 > len(p.s) || !strings.EqualFold(string(p.s[p.i:p.i+4]), "url(") {
		return "", false
	}
	save := p.i
	p.i += 4
	p.ws()
	if p.i < len(p.s) && (p.s[p.i] == '"' || p.s[p.i] == '\'') {
		u := p.str()
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ')' {
			p.i++
		}
		return u, true
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ')':
			p.i++
			return b.String(), true
		case c == '\\':
			b.WriteString(p.escape())
		case isSpace(c):
			p.ws()
		case c == '"' || c == '\'' || c == '(':
			// Invalid unquoted url: skip it (a "bad url" token).
			end := indexFrom(p.s, p.i, ")")
			if end < 0 {
				p.i = len(p.s)
			} else {
				p.i = end + 1
			}
			return "", true
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	p.i = save + 4
	return "", false
}

// str reads a quoted string at p.i and returns its decoded value.
func (p *cssParser) str() string {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case q:
			p.i++
			return b.String()
		case '\n':
			return b.String() // unterminated: a bad string ends at the newline
		case '\\':
			b.WriteString(p.escape())
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return b.String()
}

// escape decodes a CSS escape at p.i (the backslash).
func (p *cssParser) escape() string {
	p.i++
	if p.i >= len(p.s) {
		return ""
	}
	if p.s[p.i] == '\n' {
		p.i++
		return ""
	}
	start := p.i
	for p.i < len(p.s) && p.i-start < 6 && isHex(p.s[p.i]) {
		p.i++
	}
	if p.i > start {
		n, _ := strconv.ParseUint(string(p.s[start:p.i]), 16, 32)
		if p.i < len(p.s) && isSpace(p.s[p.i]) {
			p.i++
		}
		if n == 0 || n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF) {
			return "\uFFFD"
		}
		return string(rune(n))
	}
	c := p.s[p.i]
	p.i++
	return string(c)
}

func indexFrom(s []byte, from int, sub string) int {
	if from >= len(s) {
		return -1
	}
	i := bytes.Index(s[from:], []byte(sub))
	if i < 0 {
		return -1
	}
	return from + i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isIdentByte(c byte) bool {
	return c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}
