package inspect

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/linkheader"
)

// findings applies the rules to every probe, then the rules across
// protocols.
func findings(probes []*probe, cfg *Config) []Finding {
	var out []Finding
	advertised, known := false, false
	for _, p := range probes {
		if p.res.Proto != H3 && p.first.resp != nil {
			known = true
			advertised = advertised || advertisesH3(p.first.resp.Header.Values("Alt-Svc"))
		}
	}
	h3OK := false
	for _, p := range probes {
		if p.res.Proto == H3 && known {
			p.res.Advertised = &advertised
		}
		out = append(out, p.findings(cfg, advertised || !known)...)
		h3OK = h3OK || p.res.Proto == H3 && p.first.resp != nil
	}
	if h3OK && known && !advertised {
		out = append(out, Finding{
			Code: CodeH3NotAdvertised, Severity: SeverityWarn, Proto: H3,
			Message: `HTTP/3 answers over UDP, but no HTTP/1.1 or HTTP/2 response advertises it, so browsers never try it: add Alt-Svc: h3=":443"; ma=86400 (with your port) to your responses`,
		})
	}
	return out
}

func (p *probe) findings(cfg *Config, h3Expected bool) []Finding {
	var out []Finding
	proto := p.res.Proto
	add := func(code string, sev Severity, link, format string, args ...any) {
		out = append(out, Finding{Code: code, Severity: sev, Proto: proto, Link: link, Message: fmt.Sprintf(format, args...)})
	}
	if err := p.first.err; err != nil {
		code, advice := classify(err)
		if proto == H2 && noALPN(err) {
			add(CodeH2Unavailable, SeverityWarn, "", "the server does not offer HTTP/2 (%s): browsers act on Early Hints only over HTTP/2 and HTTP/3; enable HTTP/2 on the TLS listener", describe(err))
			return out
		}
		if proto == H3 && !h3Expected && code != CodeTooMany1xx && code != CodeProtocolError {
			add(CodeH3Unavailable, SeverityInfo, "", "no HTTP/3 here (%s), and none is advertised: browsers use HTTP/2, where Early Hints work too (serving HTTP/3 saves a round trip on new connections)", describe(err))
			return out
		}
		add(code, SeverityError, p.res.URL, "%s: %s", describe(err), advice)
		return out
	}
	hints := p.res.EarlyHints
	status := p.res.Status
	if len(hints) > 0 && proto == H1 {
		add(Code103OnHTTP1, SeverityWarn, "", "a 103 over HTTP/1.1: browsers ignore it there, and some old clients and proxies break on it; send Early Hints over HTTP/2 and HTTP/3 only")
	}
	if len(hints) > 1 {
		var later []string
		for _, eh := range hints[1:] {
			for _, v := range eh.Links {
				if !slices.Contains(hints[0].Links, v) && !slices.Contains(later, v) {
					later = append(later, v)
				}
			}
		}
		msg := fmt.Sprintf("%d 103 responses: browsers act on the first only; send one 103 with every link", len(hints))
		if len(later) > 0 {
			msg += "; ignored because only in a later 103: " + strings.Join(later, ", ")
		}
		add(CodeMultiple103, SeverityWarn, "", "%s", msg)
	}
	for i, in := range p.first.interims {
		if in.status != http.StatusEarlyHints {
			continue
		}
		if hop := httpx.HopByHopFields(in.header); len(hop) > 0 {
			// HTTP/2 and HTTP/3 forbid them: Chromium fails the response.
			sev := SeverityError
			if proto == H1 {
				sev = SeverityWarn
			}
			add(CodeHopByHopIn103, sev, "", "103 #%d carries connection-specific fields (%s): HTTP/2 and HTTP/3 forbid them (Chromium fails such a response) and a proxy must not forward them; drop them from the 103", i+1, strings.Join(hop, ", "))
			break
		}
	}
	switch {
	case status >= 300 && status < 400:
		if len(hints) > 0 {
			cross := ""
			if next, err := p.page.Parse(p.res.Location); err == nil && (next.Host != p.page.Host || next.Scheme != p.page.Scheme) {
				cross = " to another origin, where Chromium drops what the 103 named"
			}
			add(Code103BeforeRedirect, SeverityWarn, p.res.Location, "a 103 before a %d redirect%s: its files are for a page that is not shown; send no 103 on redirects", status, cross)
		}
		if !cfg.Follow {
			add(CodeRedirect, SeverityInfo, p.res.Location, "the page answers %d and redirects to %s: check that URL, or pass --follow", status, p.res.Location)
		}
	case len(hints) > 0 && (status == http.StatusUnauthorized || status == http.StatusForbidden):
		add(Code103BeforeError, SeverityError, "", "a 103 before a %d: it tells a visitor who may not see the page which files the page uses; send Early Hints only for responses that will succeed", status)
	case len(hints) > 0 && status >= 500:
		add(Code103BeforeError, SeverityWarn, "", "a 103 before a %d: the browser fetches files for a page that failed; if the error is not a passing one, send no 103 for it", status)
	case status >= 400:
		add(CodeErrorStatus, SeverityWarn, p.res.URL, "the page answers %d: check the URL (and -H for cookies or authorization)", status)
	}
	if len(hints) > 0 {
		out = append(out, p.linkFindings(hints[0].Links)...)
		if t, final := hints[0].TMS, p.res.FinalHeadersMS; final >= float64(DefaultMinThink.Milliseconds()) && t >= DefaultLateRatio*final {
			add(CodeLate103, SeverityWarn, "", "the 103 came at %.1f ms, %.0f%% of the %.1f ms wait for the final headers: most of the time it could save is gone; send it as soon as the request arrives, before the page is computed", t, 100*t/final, final)
		}
	}
	if status != http.StatusOK {
		return out
	}
	if !p.html {
		add(CodeNotHTML, SeverityInfo, "", "the response is %q, not HTML: Early Hints are for pages a browser navigates to", p.res.ContentType)
		return out
	}
	if p.scan.Truncated {
		add(CodeHeadTooLarge, SeverityWarn, "", "the document's <head> does not end within %d KiB: browsers discover what follows late, and hints are learned from the first %d KiB only; move inline data out of the head", earlyhints.DefaultScanBytes>>10, earlyhints.DefaultScanBytes>>10)
	}
	if _, errs := linkheader.Parse(p.res.Links...); len(errs) > 0 {
		for _, err := range errs {
			add(CodeMalformedLink, SeverityWarn, "", "the final response's Link field: %v; browsers skip that link", err)
		}
	}
	p.res.Suggested = p.suggest()
	if len(hints) == 0 {
		if proto == H1 {
			return out
		}
		if len(p.res.Suggested) == 0 {
			add(CodeNo103, SeverityInfo, "", "no 103 Early Hints, and the page names nothing a 103 could hint (no stylesheet, head script, font or image found in its head)")
			return out
		}
		add(CodeNo103, SeverityWarn, "", "no 103 Early Hints although the final headers took %.1f ms: that wait is on the table; send a 103 at once with %s", p.res.FinalHeadersMS, strings.Join(p.res.Suggested, ", "))
		return out
	}
	return append(out, p.hintFindings()...)
}

// linkFindings checks the links of the first 103 against what Chromium
// accepts.
func (p *probe) linkFindings(values []string) []Finding {
	var out []Finding
	add := func(code string, sev Severity, link, format string, args ...any) {
		out = append(out, Finding{Code: code, Severity: sev, Proto: p.res.Proto, Link: link, Message: fmt.Sprintf(format, args...)})
	}
	links, errs := linkheader.Parse(values...)
	for _, err := range errs {
		add(CodeMalformedLink, SeverityError, "", "%v: browsers skip it; write links as <url>; rel=preload; as=style", err)
	}
	var preloads, preconnects, size int
	for _, v := range values {
		size += len(v) + 2
	}
	for _, l := range links {
		v := l.String()
		preload, module := l.HasRel("preload"), l.HasRel("modulepreload")
		if preload || module {
			preloads++
		} else if l.HasRel("preconnect") {
			preconnects++
		}
		as, hasAs := l.Param("as")
		_, cors := l.Param("crossorigin")
		switch {
		case preload && (!hasAs || as == ""):
			add(CodePreloadMissingAs, SeverityError, v, "a preload without as=: Chromium ignores it; add as=style, script, font, image or fetch")
		case preload && !earlyhints.AcceptedDestination(as):
			add(CodeAsNotAccepted, SeverityError, v, "as=%s: Chromium preloads only style, script, font, image and fetch from a 103 and drops this link; use one of those or leave it out", as)
		case module && hasAs && as != "" && !strings.EqualFold(as, "script"):
			add(CodeAsNotAccepted, SeverityError, v, "a modulepreload with as=%s: use as=script or none", as)
		case preload && strings.EqualFold(as, "font") && !cors:
			add(CodeFontMissingCrossorigin, SeverityError, v, "a font preload without crossorigin: fonts are fetched in CORS mode, so this copy is not used and the font downloads twice; add crossorigin")
		}
		if preload || module || l.HasRel("preconnect") {
			if dropped := earlyhints.DroppedAttributes(l); len(dropped) > 0 {
				add(CodeAttributeDropped, SeverityError, v, "Chromium drops a 103 link carrying %s (it understands only as, crossorigin, type and fetchpriority there); remove %s from the 103, or leave the link to the page", strings.Join(dropped, ", "), pluralThem(dropped))
			}
		}
		_, err := earlyhints.HintFromLink(l, p.page, true)
		switch {
		case err == nil, errors.Is(err, earlyhints.ErrMissingAs):
		case errors.Is(err, earlyhints.ErrUnsupportedRel):
			add(CodeRelIgnored, SeverityWarn, v, "rel=%s: a 103 is acted on for preload, modulepreload and preconnect only; this link does nothing there", strings.Join(l.Rel, " "))
		case errors.Is(err, earlyhints.ErrBadAttribute):
			add(CodeAttributeDropped, SeverityError, v, "%v", err)
		default:
			add(CodeBadLinkTarget, SeverityError, v, "%v", err)
		}
	}
	if preloads > earlyhints.DefaultMaxPreloads || preconnects > earlyhints.DefaultMaxPreconnects || size > earlyhints.DefaultMaxHeaderBytes {
		add(CodeTooManyHints, SeverityWarn, "", "the 103 has %d preloads, %d preconnects and %d bytes of Link: over %d, %d or %d bytes, browsers and CDNs drop hints and the extra downloads compete with the page; hint the critical files only",
			preloads, preconnects, size, earlyhints.DefaultMaxPreloads, earlyhints.DefaultMaxPreconnects, earlyhints.DefaultMaxHeaderBytes)
	}
	return out
}

func pluralThem(s []string) string {
	if len(s) == 1 {
		return "it"
	}
	return "them"
}

// hintFindings checks the first 103's files against the page: their
// status and cacheability, whether the page uses them, and what the page
// needs that they leave out.
func (p *probe) hintFindings() []Finding {
	var out []Finding
	add := func(code string, sev Severity, link, format string, args ...any) {
		out = append(out, Finding{Code: code, Severity: sev, Proto: p.res.Proto, Link: link, Message: fmt.Sprintf(format, args...)})
	}
	for _, t := range p.res.Targets {
		switch {
		case t.Error != "":
			add(CodeHintTargetError, SeverityError, t.URL, "the hinted file could not be fetched (%s): fix its URL or the server", t.Error)
		case t.Status >= 300 && t.Status < 400:
			add(CodeHintTargetError, SeverityError, t.URL, "the hinted file redirects (%d to %s): the early copy is not what the page asks for; hint the final URL", t.Status, t.Location)
		case t.Status >= 400:
			add(CodeHintTargetError, SeverityError, t.URL, "the hinted file answers %d: every visit downloads an error; remove the hint or fix the file", t.Status)
		}
	}
	for _, tp := range p.targetProblems {
		add(CodeHintNotCacheable, SeverityWarn, tp.target, "%s; hinted files need a lifetime (Cache-Control: max-age) to be used from the 103", tp.reason)
	}
	hinted := map[string]bool{}
	for _, h := range preloadsOf(p.res.EarlyHints[0].Links, p.page) {
		hinted[canonical(h.link, p.page)] = true
		if used, known := p.referenced(h.target); known && !used {
			add(CodeHintUnused, SeverityWarn, h.value, "the page never references %s: the 103 spends the visitor's bandwidth on it; remove the hint", h.target)
		}
	}
	critical := slices.Clone(p.scan.Links[:p.scan.Blocking])
	for _, f := range p.fonts {
		critical = append(critical, linkheader.Link{URI: f.String(), Rel: []string{"preload"}, Params: []linkheader.Param{{Key: "as", Value: "font"}, {Key: "crossorigin"}}})
	}
	for _, l := range critical {
		if c := canonical(l, p.page); !hinted[c] {
			hinted[c] = true // reported once
			v := l.String()
			if h, err := earlyhints.HintFromLink(l, p.page, true); err == nil {
				v = h.Format(p.page)
			}
			add(CodeCriticalNotHinted, SeverityWarn, v, "the page needs %s before it can render, and no hint names it: add this link to the 103", l.URI)
		}
	}
	return out
}

// canonical is the URL a browser would request for l's target.
func canonical(l linkheader.Link, page *url.URL) string {
	if h, err := earlyhints.HintFromLink(linkheader.Link{URI: l.URI, Rel: []string{"preload"}, Params: []linkheader.Param{{Key: "as", Value: "fetch"}}}, page, true); err == nil {
		return h.URL
	}
	if u, err := page.Parse(l.URI); err == nil {
		return u.String()
	}
	return l.URI
}

// suggest is what this project would hint for the page: the 103 the
// product's own middleware sends once it has learned from this response
// (see learn).
func (p *probe) suggest() []string {
	if p.learned == nil {
		return nil
	}
	return p.learned.Hints
}
