package scan

import (
	"net/url"
	"strings"

	"golang.org/x/net/html"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// maxCandidates bounds what one scan collects before ordering; a page with
// more links than this is hostile or generated, and the rest is ignored.
const maxCandidates = 1024

// maxHighImages bounds the fetchpriority=high images kept: Chromium boosts
// only the first few, and more than one LCP candidate is already a guess.
const maxHighImages = 2

// scanner walks the token stream. It looks at tag names in the raw bytes
// and reads attributes only for the few elements it acts on, so that the
// common case (a tag it does not care about) costs no allocation.
type scanner struct {
	z    *html.Tokenizer
	body *body
	opts Options
	res  resolver
	base *url.URL
	// docOrigin is the origin of the document itself, which decides what
	// is third-party.
	docOrigin string
	// secure is set for an https: document: browsers block its http:
	// scripts, stylesheets and fonts, and upgrade its http: images.
	secure bool

	pos int // decoded bytes tokenized so far
	// counted is the markup the body budget is measured in: the bytes of
	// tags and text, not of comments, inline scripts and styles (JSON-LD,
	// inlined CSS), SVG/MathML or templates, which can be large and hold
	// nothing a browser fetches early.
	counted   int
	budgetEnd int  // counted bytes where the scan stops; -1 while in the head
	inBody    bool // a body element (or content) has started
	// afterBody is set once a <body> or <img> tag was seen: Chromium's
	// preload scanner marks the stylesheets and scripts after it as
	// in-body (they block only what follows them), not render-blocking,
	// whereas content that merely implies a body (an SVG sprite, a <div>
	// before <body>) does not change how it counts them.
	afterBody bool
	baseSeen  bool

	templateDepth int // inside <template>: inert content
	foreignDepth  int // inside <svg>/<math>
	pictureDepth  int // inside <picture>: the <img> is chosen by <source>s

	done      bool
	truncated bool
	tokErr    error
	// rawText is set after a <script> or <style> start tag: the next text
	// token is its content.
	rawText bool
	// styleOpen is set inside a <style> whose media matches: its text is
	// parsed for @font-face and @import.
	styleOpen bool
	css       inlineCSS

	a          attrs
	cands      []candidate
	highImages int
	skipped    []Skip
}

func newScanner(b *body, opts Options) *scanner {
	s := &scanner{
		z:         html.NewTokenizer(b),
		body:      b,
		opts:      opts,
		base:      opts.Base,
		budgetEnd: -1,
	}
	s.res = newResolver(opts.Base, b.enc)
	s.css.vp = opts.Viewport
	if s.res.base != nil {
		s.docOrigin = s.res.base.Origin()
		s.secure = strings.HasPrefix(s.docOrigin, "https:")
	}
	return s
}

func (s *scanner) run() {
	for !s.done {
		tt := s.z.Next()
		raw := s.z.Raw()
		s.pos += len(raw)
		inert := s.templateDepth > 0 || s.foreignDepth > 0
		rawText := s.rawText
		s.rawText = false
		switch tt {
		case html.ErrorToken:
			s.tokErr = s.z.Err()
			s.truncated = s.budgetEnd < 0 && s.body.decoded.hit
			s.finish()
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			s.startTag(tt, raw)
		case html.EndTagToken:
			s.endTag(raw)
		case html.TextToken:
			if rawText && s.styleOpen && !inert {
				s.inlineStyle(raw)
			}
		}
		if !inert && !rawText && tt != html.CommentToken && tt != html.DoctypeToken {
			s.counted += len(raw)
		}
		if s.budgetEnd >= 0 && s.counted >= s.budgetEnd {
			s.done = true
		}
	}
	s.finish()
}

// Names of the elements the scanner distinguishes.
type element uint8

const (
	elemOther element = iota
	elemHeadContent
	elemHead
	elemBody
	elemHTML
	elemLink
	elemScript
	elemImg
	elemBase
	elemTemplate
	elemForeign
	elemPicture
	elemStyle
)

// elementOf reads the tag name from a token's raw bytes ("<name" or
// "</name"), case-insensitively, without allocating.
func elementOf(raw []byte) element {
	i := 1
	if len(raw) > 1 && raw[1] == '/' {
		i = 2
	}
	var buf [10]byte
	n := 0
	for ; i < len(raw); i++ {
		c := raw[i]
		if httpx.IsHTMLSpace(c) || c == '/' || c == '>' {
			break
		}
		if n == len(buf) {
			return elemOther
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "link":
		return elemLink
	case "script":
		return elemScript
	case "img", "image": // the parser turns <image> into <img>
		return elemImg
	case "base":
		return elemBase
	case "head":
		return elemHead
	case "body":
		return elemBody
	case "html":
		return elemHTML
	case "template":
		return elemTemplate
	case "svg", "math":
		return elemForeign
	case "picture":
		return elemPicture
	case "style":
		return elemStyle
	case "meta", "title", "noscript", "noframes", "basefont", "bgsound":
		return elemHeadContent
	}
	return elemOther
}

func (s *scanner) startTag(tt html.TokenType, raw []byte) {
	el := elementOf(raw)
	open := tt == html.StartTagToken
	if s.templateDepth > 0 {
		if el == elemTemplate && open {
			s.templateDepth++
		}
		return
	}
	if s.foreignDepth > 0 {
		if !breaksOutOfForeign(raw) {
			if el == elemForeign && open {
				s.foreignDepth++
			}
			// In SVG and MathML, <style> and <script> hold markup, not
			// raw text: let the tokenizer see their end tags as tags.
			s.z.NextIsNotRawText()
			return
		}
		s.foreignDepth = 0
	}
	switch el {
	case elemTemplate:
		if open {
			s.templateDepth = 1
		}
	case elemForeign:
		s.enterBody()
		if open {
			s.foreignDepth = 1
		}
	case elemLink:
		s.link()
	case elemScript:
		s.rawText = open
		s.script()
	case elemStyle:
		s.rawText = open
		s.styleElement(open)
	case elemBase:
		s.baseElement()
	case elemImg:
		s.enterBody()
		s.afterBody = true
		s.img()
	case elemPicture:
		s.enterBody()
		if open {
			s.pictureDepth++
		}
	case elemHead, elemHTML, elemHeadContent:
		// Allowed before the body; they do not end the head.
	case elemBody:
		s.enterBody()
		s.afterBody = true
	case elemOther:
		// The tree builder ends the head at an element such as <iframe>
		// or <div>, but Chromium's preload scanner keeps taking what
		// follows as head content until a <body> or an <img>
		// (seen_body_, seen_img_), and so does the render-blocking
		// status of the scripts after it. The look-ahead into the body
		// starts at </head>, <body> or an <img>; a document with none of
		// them is read to MaxBytes.
		s.inBody = true
	}
}

func (s *scanner) endTag(raw []byte) {
	el := elementOf(raw)
	switch {
	case s.templateDepth > 0:
		if el == elemTemplate {
			s.templateDepth--
		}
	case s.foreignDepth > 0:
		if el == elemForeign {
			s.foreignDepth--
		}
	case el == elemHead || el == elemBody || el == elemHTML:
		s.endHead()
	case el == elemStyle:
		s.styleOpen = false
	case el == elemPicture:
		if s.pictureDepth > 0 {
			s.pictureDepth--
		}
	}
}

// enterBody marks the start of the body: the head (and its synchronous
// scripts) is over, and the post-head budget starts.
func (s *scanner) enterBody() {
	s.inBody = true
	s.endHead()
}

func (s *scanner) endHead() {
	if s.budgetEnd < 0 {
		s.budgetEnd = s.counted + s.opts.BodyBudget
	}
}

// breaksOutOfForeign reports the HTML elements that end SVG/MathML content
// when they appear inside it (the HTML standard's "breakout" list), so an
// unclosed <svg> does not hide the rest of the page.
func breaksOutOfForeign(raw []byte) bool {
	var buf [12]byte
	n := 0
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		if httpx.IsHTMLSpace(c) || c == '/' || c == '>' {
			break
		}
		if n == len(buf) {
			return false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt",
		"em", "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li",
		"listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span",
		"strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var":
		return true
	}
	return false
}

// baseElement applies the first <base href>: it changes how everything
// after it resolves.
func (s *scanner) baseElement() {
	s.readAttrs()
	if s.baseSeen || !s.a.has(attrHref) {
		return
	}
	s.baseSeen = true
	t, ok := s.res.resolve(s.a.href)
	if !ok {
		return // an unusable base leaves the document URL in force
	}
	u, err := url.Parse(t.String())
	if err != nil {
		return
	}
	s.base = u
	s.res = resolver{base: &t, enc: s.res.enc}
}

// mixed reports an http: target of an https: document: a browser blocks
// it, or (an image) fetches its https: form instead.
func (s *scanner) mixed(uri string) bool {
	return s.secure && strings.HasPrefix(uri, "http:")
}
