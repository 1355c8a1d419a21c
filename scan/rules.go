package scan

import (
	"bytes"
	"strings"

	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/linkheader"
)

// class orders candidates as a browser prioritises them (see the package
// documentation).
type class uint8

const (
	// classBlocking holds render-blocking stylesheets and synchronous
	// scripts of the head, in document order: the browser runs them in
	// that order, and a script waits for the stylesheets before it.
	classBlocking class = iota
	classFont
	classImage
	classModule
	classOther
	// classAsync blocks nothing: async and defer scripts, stylesheets
	// loaded asynchronously (preload as=style with onload, media=print
	// with onload).
	classAsync
	// classCriticalPreconnect is a derived preconnect for a third-party
	// origin of a render-blocking file or a font.
	classCriticalPreconnect
	classPreconnect
	classDerivedPreconnect
	classDNSPrefetch
)

// classSkippedMedia marks, while a rule decides, a link left out for its
// media; no candidate has it.
const classSkippedMedia = classDNSPrefetch + 1

// classKinds maps classes to what the caller sees.
var classKinds = [...]Kind{
	classBlocking: KindRenderBlocking, classFont: KindFont, classImage: KindImage,
	classModule: KindModule, classOther: KindDeferred, classAsync: KindDeferred,
	classCriticalPreconnect: KindPreconnect, classPreconnect: KindPreconnect,
	classDerivedPreconnect: KindPreconnect, classDNSPrefetch: KindDNSPrefetch,
}

// isConnect reports the classes counted against Options.MaxConnects.
func (c class) isConnect() bool { return c >= classCriticalPreconnect }

type candidate struct {
	class class
	link  linkheader.Link
	// same identifies the resource for deduplication when the URI alone
	// does not: a responsive image is its srcset, whichever URL was
	// picked for the Link's target.
	same   string
	origin string // origin of the target; "" when relative
	// cors marks a fetch in CORS mode: its connection is the anonymous
	// one, so a preconnect for it needs crossorigin.
	cors       bool
	highImage  bool
	firstImage bool
}

func (s *scanner) add(c candidate) {
	if len(s.cands) < maxCandidates {
		s.cands = append(s.cands, c)
	}
}

// params builds a Link's parameters, skipping empty values.
type params []linkheader.Param

func (p *params) add(key, value string) {
	if value != "" {
		*p = append(*p, linkheader.Param{Key: key, Value: value})
	}
}

// crossOrigin appends the CORS setting as a browser reads it: a missing or
// invalid value is "anonymous", written as the bare attribute.
func (p *params) crossOrigin(a *attrs, force bool) bool {
	if !a.has(attrCrossorigin) {
		if force {
			*p = append(*p, linkheader.Param{Key: "crossorigin"})
		}
		return force
	}
	if keyword(a.crossorigin) == "use-credentials" {
		*p = append(*p, linkheader.Param{Key: "crossorigin", Value: "use-credentials"})
	} else {
		*p = append(*p, linkheader.Param{Key: "crossorigin"})
	}
	return true
}

func (p *params) fetchPriority(a *attrs) {
	if v := keyword(a.fetchpriority); v == "high" || v == "low" {
		p.add("fetchpriority", v)
	}
}

func (s *scanner) link() {
	s.readAttrs()
	a := &s.a
	var stylesheet, alternate, preload, modulepreload, preconnect, dnsPrefetch bool
	for rest := a.rel; len(rest) > 0; {
		for len(rest) > 0 && httpx.IsHTMLSpace(rest[0]) {
			rest = rest[1:]
		}
		end := 0
		for end < len(rest) && !httpx.IsHTMLSpace(rest[end]) {
			end++
		}
		r := rest[:end]
		rest = rest[end:]
		switch {
		case bytes.EqualFold(r, []byte("stylesheet")):
			stylesheet = true
		case bytes.EqualFold(r, []byte("alternate")):
			alternate = true
		case bytes.EqualFold(r, []byte("preload")):
			preload = true
		case bytes.EqualFold(r, []byte("modulepreload")):
			modulepreload = true
		case bytes.EqualFold(r, []byte("preconnect")):
			preconnect = true
		case bytes.EqualFold(r, []byte("dns-prefetch")):
			dnsPrefetch = true
		}
	}
	switch {
	case stylesheet && !alternate:
		s.stylesheet()
	case preload:
		s.preloadLink()
	case modulepreload:
		s.module(classModule, a.href)
	case preconnect:
		s.connect(classPreconnect, "preconnect")
	case dnsPrefetch:
		s.connect(classDNSPrefetch, "dns-prefetch")
	}
}

func (s *scanner) stylesheet() {
	a := &s.a
	if a.has(attrDisabled) || a.has(attrType) && !isCSSType(a.typ) {
		return
	}
	cl := classBlocking
	var media string
	switch {
	case a.has(attrOnload):
		// The media=print onload="this.media='all'" pattern: fetched now
		// at low priority, applied when loaded; it blocks nothing.
		cl = classAsync
	case a.has(attrMedia):
		if media = cleanParam(a.media); matchMedia(media, s.opts.Viewport) != matchYes {
			// Not for this window, or not for every window: the
			// browser does not wait for it.
			if !s.opts.ReportSkipped {
				return
			}
			cl = classSkippedMedia
		}
	}
	if cl == classBlocking && s.afterBody {
		cl = classOther // in the body: it blocks only what follows it
	}
	uri, org, ok := s.res.resolveString(a.href)
	if !ok {
		return
	}
	p := params{{Key: "as", Value: "style"}}
	cors := p.crossOrigin(a, false)
	p.fetchPriority(a)
	p.add("integrity", cleanParam(a.integrity))
	switch {
	case s.mixed(uri):
		s.skip(ReasonMixedContent, "preload", uri, p)
	case cl == classSkippedMedia:
		p.add("media", media)
		s.skip(ReasonMedia, "preload", uri, p)
	default:
		s.addPreload(cl, uri, org, p, cors)
	}
}

func isCSSType(t []byte) bool {
	k := keyword(t)
	if i := strings.IndexByte(k, ';'); i >= 0 {
		k = strings.TrimSpace(k[:i])
	}
	return k == "" || k == "text/css"
}

// preloadClasses maps the preload destinations Chromium acts on in a 103
// (style, script, font, image, fetch) to their priority class. Other "as"
// values are not hinted.
var preloadClasses = map[string]class{
	"style": classBlocking, "script": classBlocking, "font": classFont, "image": classImage,
	"fetch": classOther,
}

func (s *scanner) preloadLink() {
	a := &s.a
	as := keyword(a.as)
	cl, known := preloadClasses[as]
	if !known {
		if as != "" {
			if uri, _, ok := s.res.resolveString(a.href); ok {
				s.skip(ReasonNotHintable, "preload", uri, params{{Key: "as", Value: as}})
			}
		}
		return
	}
	image := as == "image"
	uri, org, srcset, ok := s.res.resolveImage(a.href, a.imagesrcset, image && a.has(attrImagesrcset), image && s.secure)
	if !ok {
		return
	}
	p := params{{Key: "as", Value: as}}
	p.add("type", cleanParam(a.typ))
	// Fonts are always fetched in CORS mode; without crossorigin the
	// preloaded copy would not match and be fetched twice.
	cors := p.crossOrigin(a, as == "font")
	cors = cors || as == "fetch"
	p.fetchPriority(a)
	if srcset != "" {
		p.add("imagesrcset", srcset)
		p.add("imagesizes", cleanParam(a.imagesizes))
	}
	p.add("integrity", cleanParam(a.integrity))
	if s.mixed(uri) {
		s.skip(ReasonMixedContent, "preload", uri, p)
		return
	}
	// A preload with media is fetched only when its query matches.
	if media := cleanParam(a.media); matchMedia(media, s.opts.Viewport) != matchYes {
		p.add("media", media)
		s.skip(ReasonMedia, "preload", uri, p)
		return
	}
	switch {
	case keyword(a.fetchpriority) == "low":
		cl = classOther // the author says it can wait
	case as == "style" && a.has(attrOnload):
		cl = classAsync // onload="this.rel='stylesheet'": loaded without blocking
	}
	s.add(candidate{
		class:  cl,
		link:   linkheader.Link{URI: uri, Rel: []string{"preload"}, Params: p},
		same:   srcset,
		origin: org,
		cors:   cors,
	})
}

func (s *scanner) addPreload(cl class, uri, org string, p params, cors bool) {
	s.add(candidate{
		class:  cl,
		link:   linkheader.Link{URI: uri, Rel: []string{"preload"}, Params: p},
		origin: org,
		cors:   cors,
	})
}

// module adds a modulepreload for a module script or a modulepreload link.
// Module scripts are always fetched in CORS mode.
func (s *scanner) module(cl class, target []byte) {
	a := &s.a
	uri, org, ok := s.res.resolveString(target)
	if !ok {
		return
	}
	if s.mixed(uri) {
		s.skip(ReasonMixedContent, "modulepreload", uri, nil)
		return
	}
	var p params
	if cl == classModule && a.has(attrAs) {
		p.add("as", keyword(a.as))
	}
	if a.has(attrCrossorigin) {
		p.crossOrigin(a, false)
	}
	p.fetchPriority(a)
	p.add("integrity", cleanParam(a.integrity))
	s.add(candidate{
		class:  cl,
		link:   linkheader.Link{URI: uri, Rel: []string{"modulepreload"}, Params: p},
		origin: org,
		cors:   true,
	})
}

// connect adds an explicit preconnect or dns-prefetch, reduced to its origin.
func (s *scanner) connect(cl class, rel string) {
	a := &s.a
	_, o, ok := s.res.resolveString(a.href)
	if !ok || o == "" {
		return
	}
	if s.mixed(o) {
		s.skip(ReasonMixedContent, rel, o, nil)
		return
	}
	var p params
	cors := false
	if rel == "preconnect" {
		cors = p.crossOrigin(a, false)
	}
	s.add(candidate{
		class:  cl,
		link:   linkheader.Link{URI: o, Rel: []string{rel}, Params: p},
		origin: o,
		cors:   cors,
	})
}

// jsTypes are the script types that mean a classic script (the HTML
// standard's JavaScript MIME type essences).
var jsTypes = map[string]bool{
	"": true, "application/ecmascript": true, "application/javascript": true,
	"application/x-ecmascript": true, "application/x-javascript": true,
	"text/ecmascript": true, "text/javascript": true, "text/javascript1.0": true,
	"text/javascript1.1": true, "text/javascript1.2": true, "text/javascript1.3": true,
	"text/javascript1.4": true, "text/javascript1.5": true, "text/jscript": true,
	"text/livescript": true, "text/x-ecmascript": true, "text/x-javascript": true,
}

func (s *scanner) script() {
	s.readAttrs()
	a := &s.a
	if !a.has(attrSrc) {
		return
	}
	typ := keyword(a.typ)
	if typ == "module" {
		s.module(classModule, a.src)
		return
	}
	// Data blocks (JSON, templates), import maps and nomodule fallbacks
	// are never fetched by a modern browser.
	if !jsTypes[typ] || a.has(attrNomodule) {
		return
	}
	cl := classBlocking
	switch {
	case a.has(attrAsync) || a.has(attrDefer):
		cl = classAsync
	case s.afterBody:
		// A synchronous script of the body blocks the parser, and
		// Chromium holds the first paint for the ones it meets before
		// it; the preload scanner fetches it early. It ranks after the
		// head's critical path, with what else the page fetches.
		cl = classOther
	}
	uri, org, ok := s.res.resolveString(a.src)
	if !ok {
		return
	}
	p := params{{Key: "as", Value: "script"}}
	cors := p.crossOrigin(a, false)
	p.fetchPriority(a)
	p.add("integrity", cleanParam(a.integrity))
	if s.mixed(uri) {
		s.skip(ReasonMixedContent, "preload", uri, p)
		return
	}
	s.addPreload(cl, uri, org, p, cors)
}

// img considers an image as the LCP candidate: any fetchpriority=high
// image, else the first image of the body that is neither lazy, nor
// low priority, nor a tracking pixel.
func (s *scanner) img() {
	s.readAttrs()
	a := &s.a
	if s.pictureDepth > 0 || keyword(a.loading) == "lazy" {
		return
	}
	prio := keyword(a.fetchpriority)
	high := prio == "high"
	switch {
	case high && s.highImages >= maxHighImages:
		return
	case !high && (prio == "low" || s.hasFirstImage()):
		return
	case tiny(a.width) && tiny(a.height):
		return
	case !high && small(a.width, a.height):
		// A logo, an icon or an avatar: drawn, but rarely the largest
		// content of the first screen. The hero image after it is.
		return
	}
	uri, org, srcset, ok := s.res.resolveImage(a.src, a.srcset, a.has(attrSrcset), s.secure)
	if !ok {
		return
	}
	p := params{{Key: "as", Value: "image"}}
	cors := p.crossOrigin(a, false)
	if high {
		p.add("fetchpriority", "high")
		s.highImages++
	}
	if srcset != "" {
		p.add("imagesrcset", srcset)
		p.add("imagesizes", cleanParam(a.sizes))
	}
	s.add(candidate{
		class:      classImage,
		link:       linkheader.Link{URI: uri, Rel: []string{"preload"}, Params: p},
		same:       srcset,
		origin:     org,
		cors:       cors,
		highImage:  high,
		firstImage: !high,
	})
}

func (s *scanner) hasFirstImage() bool {
	for i := range s.cands {
		if s.cands[i].firstImage {
			return true
		}
	}
	return false
}

// tiny reports a dimension of at most one pixel (a tracking pixel).
func tiny(v []byte) bool {
	n, ok := dimension(v)
	return ok && n <= 1
}

// smallImageArea is the area, in CSS pixels, under which an image with
// explicit dimensions is not taken for the LCP candidate (a 128x128 box).
const smallImageArea = 128 * 128

// small reports explicit dimensions of a small image.
func small(width, height []byte) bool {
	w, okW := dimension(width)
	h, okH := dimension(height)
	return okW && okH && w*h < smallImageArea
}

// dimension reads a width or height attribute's leading integer, as the
// HTML standard's rules for dimension values do; ok is false without one.
func dimension(v []byte) (int, bool) {
	v = bytes.TrimLeft(v, httpx.HTMLSpace)
	if len(v) == 0 || v[0] < '0' || v[0] > '9' {
		return 0, false
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		if n > 1<<20 {
			return n, true
		}
	}
	return n, true
}
