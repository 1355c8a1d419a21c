package site

import (
	"bytes"
	"html"
	"strings"
)

const (
	inlineStyleOpen  = "<style>"
	inlineStyleClose = "</style>\n"
)

// hintLink is one preload or preconnect the page announces, in the HTML or
// in a Link header.
type hintLink struct {
	URL           string
	Rel           string // preload, modulepreload, preconnect
	As            string
	Type          string
	CrossOrigin   bool
	FetchPriority string
}

func hintOf(r Resource) hintLink {
	h := hintLink{URL: r.URL(), Rel: "preload", FetchPriority: r.FetchPriority}
	switch r.Type {
	case TypeCSS:
		h.As = "style"
	case TypeJS:
		h.As = "script"
	case TypeModule:
		h.Rel = "modulepreload"
	case TypeFont:
		// Fonts are always fetched in CORS mode; a preload without
		// crossorigin would be fetched twice.
		h.As, h.Type, h.CrossOrigin = "font", r.contentType(), true
	case TypeImage:
		h.As = "image"
	case TypeJSON:
		h.As, h.CrossOrigin = "fetch", true
	}
	return h
}

// hintsFor returns the preloads (render-blocking first) then the
// preconnects to third-party origins not in skip.
func hintsFor(p *Profile, skip []string) []hintLink {
	var out []hintLink
	hinted := p.HintedResources()
	for _, r := range hinted {
		if r.RenderBlocking {
			out = append(out, hintOf(r))
		}
	}
	for _, r := range hinted {
		if !r.RenderBlocking {
			out = append(out, hintOf(r))
		}
	}
	skipped := map[string]bool{}
	for _, o := range skip {
		skipped[o] = true
	}
	for _, o := range p.ThirdPartyOrigins() {
		if !skipped[o] {
			out = append(out, hintLink{URL: o, Rel: "preconnect"})
		}
	}
	return out
}

func (h hintLink) tag() string {
	var b strings.Builder
	b.WriteString(`<link rel="` + h.Rel + `" href="` + html.EscapeString(h.URL) + `"`)
	if h.As != "" {
		b.WriteString(` as="` + h.As + `"`)
	}
	if h.Type != "" {
		b.WriteString(` type="` + html.EscapeString(h.Type) + `"`)
	}
	if h.CrossOrigin {
		b.WriteString(" crossorigin")
	}
	if h.FetchPriority != "" {
		b.WriteString(` fetchpriority="` + h.FetchPriority + `"`)
	}
	b.WriteString(">\n")
	return b.String()
}

// header returns h as a Link field value.
func (h hintLink) header() string {
	u := strings.NewReplacer("<", "%3C", ">", "%3E").Replace(h.URL)
	var b strings.Builder
	b.WriteString("<" + u + ">; rel=" + h.Rel)
	if h.As != "" {
		b.WriteString("; as=" + h.As)
	}
	if h.Type != "" {
		b.WriteString(`; type="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(h.Type) + `"`)
	}
	if h.CrossOrigin {
		b.WriteString("; crossorigin")
	}
	if h.FetchPriority != "" {
		b.WriteString("; fetchpriority=" + h.FetchPriority)
	}
	return b.String()
}

// referenceTag returns the markup that references r from the HTML.
func referenceTag(r Resource) string {
	u := html.EscapeString(r.URL())
	fp := ""
	if r.FetchPriority != "" {
		fp = ` fetchpriority="` + r.FetchPriority + `"`
	}
	switch r.Type {
	case TypeCSS:
		return `<link rel="stylesheet" href="` + u + `"` + fp + ">\n"
	case TypeJS, TypeModule:
		attrs := ""
		if r.Type == TypeModule {
			attrs += ` type="module"`
		}
		if r.Async {
			attrs += " async"
		}
		if r.Defer {
			attrs += " defer"
		}
		return `<script` + attrs + ` src="` + u + `"` + fp + "></script>\n"
	case TypeFont:
		// A font named by the HTML itself is the author's own preload.
		return hintOf(r).tag()
	case TypeImage:
		return `<img src="` + u + `" alt="" width="640" height="360"` + fp + ">\n"
	}
	return ""
}

type htmlDoc struct {
	doc []byte
	// offsets maps a resource URL to the byte offset of its first reference.
	offsets map[string]int
}

// renderHTML builds the document of p. With skeleton set it leaves out the
// text padding, which measures the smallest document p can have.
func renderHTML(p *Profile, opts Options, skeleton bool) htmlDoc {
	type part struct {
		text []byte
		url  string // the resource referenced by text, if any
	}
	var head, bodyStart, bodyMiddle, bodyEnd []part
	add := func(dst *[]part, s, url string) { *dst = append(*dst, part{[]byte(s), url}) }

	add(&head, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"+
		"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"+
		"<title>"+html.EscapeString(p.Name)+"</title>\n", "")
	for _, o := range p.Preconnect {
		add(&head, hintLink{URL: o, Rel: "preconnect"}.tag(), "")
	}
	if opts.PreloadInHTML {
		for _, h := range hintsFor(p, p.Preconnect) {
			add(&head, h.tag(), h.URL)
		}
	}
	rng := newRand(p.Name, p.htmlPath())
	if p.HeadInlineSize > 0 {
		fill := p.HeadInlineSize - len(inlineStyleOpen) - len(inlineStyleClose)
		add(&head, inlineStyleOpen+string(commentFill(rng, fill))+inlineStyleClose, "")
	}
	for _, r := range p.Resources {
		tag := referenceTag(r)
		switch r.Where {
		case WhereHead:
			add(&head, tag, r.URL())
		case WhereBodyStart:
			add(&bodyStart, tag, r.URL())
		case WhereBodyMiddle:
			add(&bodyMiddle, tag, r.URL())
		case WhereBodyEnd:
			add(&bodyEnd, tag, r.URL())
		}
	}
	add(&head, "</head>\n<body>\n", "")
	add(&bodyEnd, "</body>\n</html>\n", "")

	size := 0
	for _, ps := range [][]part{head, bodyStart, bodyMiddle, bodyEnd} {
		for _, x := range ps {
			size += len(x.text)
		}
	}
	pad := 0
	if !skeleton {
		pad = max(p.HTMLSize-size, 0)
	}
	first := pad / 2
	parts := append(append([]part{}, head...), bodyStart...)
	parts = append(parts, part{text: textFill(rng, first)})
	parts = append(parts, bodyMiddle...)
	parts = append(parts, part{text: textFill(rng, pad-first)})
	parts = append(parts, bodyEnd...)

	d := htmlDoc{offsets: map[string]int{}}
	var b bytes.Buffer
	b.Grow(size + pad)
	for _, x := range parts {
		if _, seen := d.offsets[x.url]; x.url != "" && !seen {
			d.offsets[x.url] = b.Len()
		}
		b.Write(x.text)
	}
	d.doc = b.Bytes()
	return d
}

// textFill returns exactly n bytes of paragraph text: words of random
// letters, so the body reads like an article to a parser.
func textFill(rng interface{ Uint64() uint64 }, n int) []byte {
	const open, closing = "<p>", "</p>\n"
	if n < len(open)+len(closing)+1 {
		return bytes.Repeat([]byte("\n"), n)
	}
	b := make([]byte, 0, n)
	b = append(b, open...)
	words := n - len(open) - len(closing)
	for i := 0; i < words; {
		x := rng.Uint64()
		wl := 2 + int(x%9)
		x >>= 4
		for j := 0; j < wl && i < words; j++ {
			b = append(b, byte('a'+x%26))
			x /= 26
			i++
		}
		if i < words {
			b = append(b, ' ')
			i++
		}
	}
	return append(b, closing...)
}
