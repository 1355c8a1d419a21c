package scan

import "github.com/earlyhints/earlyhints/linkheader"

// styleElement opens a <style>: its text is read when the element applies
// to a browser window (its media matches, its type is CSS).
func (s *scanner) styleElement(open bool) {
	s.readAttrs()
	a := &s.a
	s.styleOpen = open &&
		(!a.has(attrType) || isCSSType(a.typ)) &&
		matchMedia(cleanParam(a.media), s.opts.Viewport) == matchYes
}

// inlineStyle reads the text of a <style>: its @import rules are
// render-blocking stylesheets, found where a browser finds them.
func (s *scanner) inlineStyle(text []byte) {
	before := len(s.css.imports)
	s.css.parse(text)
	for _, im := range s.css.imports[before:] {
		uri, org, ok := s.res.resolveString([]byte(im.url))
		if !ok {
			continue
		}
		p := params{{Key: "as", Value: "style"}}
		switch {
		case s.mixed(uri):
			s.skip(ReasonMixedContent, "preload", uri, p)
		case matchMedia(cleanParam([]byte(im.media)), s.opts.Viewport) != matchYes:
			p.add("media", cleanParam([]byte(im.media)))
			s.skip(ReasonMedia, "preload", uri, p)
		case s.afterBody:
			s.addPreload(classOther, uri, org, p, false)
		default:
			s.addPreload(classBlocking, uri, org, p, false)
		}
	}
}

// finish adds what is known only at the end of the scan: the web fonts the
// inline CSS declares and uses.
func (s *scanner) finish() {
	if len(s.css.faces) == 0 {
		return
	}
	used, unused := s.css.usedFonts(s.opts.ReportSkipped)
	for _, u := range used {
		uri, org, ok := s.res.resolveString([]byte(u))
		if !ok {
			continue
		}
		// Fonts are fetched in CORS mode.
		p := params{{Key: "as", Value: "font"}, {Key: "crossorigin"}}
		if s.mixed(uri) {
			s.skip(ReasonMixedContent, "preload", uri, p)
			continue
		}
		s.add(candidate{
			class:  classFont,
			link:   linkheader.Link{URI: uri, Rel: []string{"preload"}, Params: p},
			origin: org,
			cors:   true,
		})
	}
	for _, u := range unused {
		if uri, _, ok := s.res.resolveString([]byte(u)); ok {
			s.skip(ReasonNotHintable, "preload", uri, params{{Key: "as", Value: "font"}, {Key: "crossorigin"}})
		}
	}
}
