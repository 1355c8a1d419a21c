package browser

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/net/html"

	"github.com/earlyhints/earlyhints/linkheader"
	"github.com/earlyhints/earlyhints/scan"
)

// docStream holds the document's bytes as they arrive and lets several
// readers (the preload scanner and the parser walk) consume them at their
// own pace, each blocking until more bytes arrive.
type docStream struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte
	done bool
	err  error
}

func newDocStream() *docStream {
	d := &docStream{}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *docStream) write(p []byte) {
	d.mu.Lock()
	d.buf = append(d.buf, p...)
	d.cond.Broadcast()
	d.mu.Unlock()
}

func (d *docStream) close(err error) {
	d.mu.Lock()
	if !d.done {
		d.done, d.err = true, err
	}
	d.cond.Broadcast()
	d.mu.Unlock()
}

func (d *docStream) reader() io.Reader { return &docReader{d: d} }

type docReader struct {
	d   *docStream
	off int
}

func (r *docReader) Read(p []byte) (int, error) {
	d := r.d
	d.mu.Lock()
	defer d.mu.Unlock()
	for r.off >= len(d.buf) && !d.done {
		d.cond.Wait()
	}
	if r.off >= len(d.buf) {
		if d.err != nil {
			return 0, d.err
		}
		return 0, io.EOF
	}
	n := copy(p, d.buf[r.off:])
	r.off += n
	return n, nil
}

// maxTokens bounds the parser walk over one document.
const maxTokens = 1 << 20

// processDocument discovers the document's resources as its bytes arrive.
// The head is the preload scanner's (package scan): its links are fetched
// the moment it returns, right after </head>. The walk over the tokens
// classifies what the head makes render-blocking and fetches what the
// scanner left out, then finds the body's resources (images, scripts,
// stylesheets) as the parser reaches them.
func (p *page) processDocument(d *docStream, h http.Header) {
	scanned := make(chan struct{})
	p.spawn(func() {
		defer close(scanned)
		links, kinds := p.runScan(d.reader(), h)
		for i, l := range links {
			// An async or defer script leaves at its own low priority,
			// as from Chrome's preload scanner, which reads the attributes.
			low := i < len(kinds) && kinds[i] == scan.KindDeferred
			p.actOnLinkLow(l, InitParser, low)
		}
	})

	r := d.reader()
	if strings.EqualFold(h.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			p.log.Debug("browser: document is not valid gzip", "url", p.url, "err", err)
			<-scanned
			p.mu.Lock()
			p.inHead = false
			p.pump()
			p.mu.Unlock()
			return
		}
		r = zr
	}
	w := walker{p: p, base: p.url, inHead: true}
	z := html.NewTokenizer(io.LimitReader(r, MaxBodyBytes))
	z.SetMaxBuf(1 << 20)
	leave := func() {
		if !w.inHead {
			return
		}
		w.inHead = false
		<-scanned
		for _, ref := range w.head {
			p.discover(ref.u, ref.kind, InitParser, ref.prio)
			p.settlePriority(ref.u, ref.prio)
		}
		p.mu.Lock()
		p.inHead = false
		p.pump()
		p.mu.Unlock()
	}
	for range maxTokens {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			if w.inHead && !headElement[tag] {
				leave()
			}
			w.element(tag, attrsOf(z, hasAttr))
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "head" {
				leave()
			}
		}
	}
	leave()
}

// runScan runs the preload scanner, turning a panic in it into a logged
// failure so that a scanner bug costs discovery time, not the load.
func (p *page) runScan(r io.Reader, h http.Header) (links []linkheader.Link, kinds []scan.Kind) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Warn("browser: preload scanner failed; the parser walk discovers the head instead", "url", p.url, "panic", fmt.Sprint(v))
			links, kinds = nil, nil
		}
	}()
	res, err := scan.Scan(r, scan.Options{
		Base:            p.url,
		ContentEncoding: h.Get("Content-Encoding"),
		ContentType:     h.Get("Content-Type"),
		MaxBytes:        1 << 20,
		BodyBudget:      1, // return at </head>: the walk finds the body
	})
	if err != nil {
		p.log.Debug("browser: preload scanner", "url", p.url, "err", err)
	}
	return res.Links, res.Kinds
}

// headElement lists the elements that may appear in <head>; any other
// start tag means the parser is in the body.
var headElement = map[string]bool{
	"html": true, "head": true, "title": true, "meta": true, "link": true, "script": true,
	"style": true, "base": true, "noscript": true, "template": true,
}

type ref struct {
	u    *url.URL
	kind string
	prio int
}

// walker is the parser's view of the document.
type walker struct {
	p      *page
	base   *url.URL
	inHead bool
	head   []ref
}

func attrsOf(z *html.Tokenizer, more bool) map[string]string {
	a := map[string]string{}
	for n := 0; more && n < 64; n++ {
		var k, v []byte
		k, v, more = z.TagAttr()
		if _, dup := a[string(k)]; !dup {
			a[string(k)] = string(v)
		}
	}
	return a
}

func (w *walker) resolve(s string) *url.URL {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	u, err := w.base.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil
	}
	u.Fragment = ""
	return u
}

// element handles one start tag.
func (w *walker) element(tag string, a map[string]string) {
	p := w.p
	var r ref
	blocking := false
	switch tag {
	case "base":
		if u := w.resolve(a["href"]); u != nil && w.inHead {
			w.base = u
		}
		return
	case "link":
		rels := strings.Fields(strings.ToLower(a["rel"]))
		has := func(s string) bool { return sliceHas(rels, s) }
		r.u = w.resolve(a["href"])
		if r.u == nil {
			return
		}
		switch {
		case has("stylesheet") && !has("alternate"):
			if _, disabled := a["disabled"]; disabled {
				return
			}
			r.kind, r.prio = KindStyle, prioBlocking
			blocking = w.inHead && mediaMatches(a["media"])
			if !mediaMatches(a["media"]) {
				r.prio = prioOther
			}
		case has("preload"):
			r.kind = kindFromAs(a["as"])
			r.prio = priorityOf(r.kind, a["fetchpriority"], false)
		case has("modulepreload"):
			r.kind, r.prio = KindScript, prioScript
		case has("preconnect"):
			p.f.preconnect(hostPort(r.u))
			return
		default:
			return
		}
	case "script":
		r.u = w.resolve(a["src"])
		if r.u == nil {
			return
		}
		if _, nomodule := a["nomodule"]; nomodule {
			return
		}
		typ := strings.ToLower(strings.TrimSpace(a["type"]))
		_, async := a["async"]
		_, deferred := a["defer"]
		switch {
		case typ == "module":
			r.kind, r.prio = KindScript, prioScript
		case typ != "" && !strings.Contains(typ, "javascript") && typ != "text/ecmascript":
			return // data blocks (JSON-LD, templates) are not fetched
		case async || deferred:
			r.kind, r.prio = KindScript, prioAsync
		default:
			r.kind, r.prio = KindScript, prioBlocking
			blocking = w.inHead
		}
	case "img":
		src := a["src"]
		if src == "" {
			src, _, _ = strings.Cut(strings.TrimSpace(a["srcset"]), " ")
		}
		r.u = w.resolve(src)
		if r.u == nil {
			return
		}
		r.kind = KindImage
		r.prio = priorityOf(KindImage, a["fetchpriority"], false)
	default:
		return
	}
	if blocking {
		p.mu.Lock()
		p.blocking[r.u.String()] = true
		p.mu.Unlock()
	}
	if w.inHead {
		// Fetched once the preload scanner has returned, if it missed it.
		w.head = append(w.head, r)
		return
	}
	p.discover(r.u, r.kind, InitParser, r.prio)
}

func mediaMatches(media string) bool {
	m := strings.ToLower(strings.TrimSpace(media))
	return m == "" || m == "all" || !strings.Contains(m, "print") || strings.Contains(m, "screen")
}

func sliceHas(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
