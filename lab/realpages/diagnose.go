package realpages

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"

	"github.com/earlyhints/earlyhints/linkheader"
	"github.com/earlyhints/earlyhints/scan"
)

// scanView is what the product's scanner finds in a page: with the
// product's bounds, and with none (the whole page, any number of links),
// which tells a file the bounds cut off from one the scanner never takes.
type scanView struct {
	bounded, unbounded       map[string]linkheader.Link // preload targets
	connBounded, connUnbound map[string]bool            // preconnect origins
	bound                    int
}

// unboundedLinks is the link limit of the unbounded scan.
const unboundedLinks = 4096

func scanPage(html []byte, base *url.URL, bound int) *scanView {
	if bound == 0 {
		bound = scan.DefaultMaxBytes
	}
	sv := &scanView{bound: bound}
	sv.bounded, sv.connBounded = scanLinks(html, base, scan.Options{MaxBytes: bound})
	sv.unbounded, sv.connUnbound = scanLinks(html, base, scan.Options{MaxBytes: scan.MaxMaxBytes, BodyBudget: scan.MaxMaxBytes, MaxLinks: unboundedLinks})
	return sv
}

func scanLinks(html []byte, base *url.URL, o scan.Options) (map[string]linkheader.Link, map[string]bool) {
	o.Base, o.ContentType = base, "text/html"
	r, _ := scan.Scan(bytes.NewReader(html), o) // a partial result is still what the product would use
	pre, conn := map[string]linkheader.Link{}, map[string]bool{}
	for _, l := range r.Links {
		u := normURL(l.URI, base)
		switch {
		case u == "":
		case l.HasRel("preconnect"):
			conn[originOf(u)] = true
		default:
			pre[u] = l
		}
	}
	return pre, conn
}

// has reports whether set holds u, or u as written with http: (the
// browser upgraded it to https:).
func has(set map[string]linkheader.Link, u string) (l linkheader.Link, found, insecure bool) {
	if l, ok := set[u]; ok {
		return l, true, false
	}
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		if l, ok := set["http://"+rest]; ok {
			return l, true, true
		}
	}
	return linkheader.Link{}, false, false
}

// beyondScan reports whether offset i lies where the bounded scan does not
// read: past its byte bound, or in the body past the part of it the scan
// reads for the hero image. "" when it lies within.
func beyondScan(html []byte, sv *scanView, i int) (string, string) {
	if i >= sv.bound {
		return "past the scan bound", fmt.Sprintf("named at byte %d, the scan reads %d KiB", i, sv.bound>>10)
	}
	low := bytes.ToLower(html[:i])
	head := bytes.Index(low, []byte("</head"))
	if b := bytes.Index(low, []byte("<body")); b >= 0 && (head < 0 || b < head) {
		head = b
	}
	if head >= 0 && i-head > scan.DefaultBodyBudget {
		return "in the body past the scan's look-ahead", fmt.Sprintf("named at byte %d, %d bytes into the body; the scan reads %d KiB of it", i, i-head, scan.DefaultBodyBudget>>10)
	}
	return "", ""
}

// sameSiteReason guesses why the 103 left out u: what the scanner found,
// then what the middleware did with it.
func sameSiteReason(html []byte, base *url.URL, sv *scanView, u string, c Category, s *Score, cfg ScoreConfig) (string, string) {
	if l, found, insecure := has(sv.bounded, u); found {
		media, _ := l.Param("media")
		_, srcset := l.Param("imagesrcset")
		switch {
		case media != "":
			return "media attribute", "media=" + media
		case srcset:
			return "responsive image (imagesrcset)", ""
		case insecure:
			return "named with http:", "the scanner keeps http:, the browser fetched https:"
		case len(s.Preloads) >= cfg.MaxPreloads:
			return "count cap", fmt.Sprintf("the 103 holds %d preloads", len(s.Preloads))
		case s.OverBudget > 0:
			return "document budget", fmt.Sprintf("the 103s left out %d hints over the budget", s.OverBudget)
		case !s.Got103:
			return "no 103", ""
		}
		return "scanned, left out by the middleware", ""
	}
	i, _ := mention(html, base, u)
	if _, found, _ := has(sv.unbounded, u); found {
		if why, detail := beyondScan(html, sv, i); why != "" {
			return why, detail
		}
		return "crowded out of the scan", fmt.Sprintf("the scan keeps %d links", scan.DefaultMaxLinks)
	}
	if i < 0 {
		switch c {
		case Font:
			return "font named only in a stylesheet", "not learned from browsers' fetches"
		case LCPImage:
			return "image not named in the HTML", "set by a stylesheet or a script"
		}
		return "not named in the HTML", "loaded by a script or @import; not learned from browsers' fetches"
	}
	tag, inStyle := tagAt(html, i)
	switch {
	case inStyle && c == Font:
		return "font declared in an inline <style>", ""
	case strings.HasPrefix(tag, "<link") && strings.Contains(tag, "media=") && !slices.Contains([]string{"all", ""}, attr(tag, "media")):
		return "media attribute", "media=" + attr(tag, "media")
	case strings.HasPrefix(tag, "<link") && strings.Contains(tag, "onload"):
		return "stylesheet loaded by onload", ""
	case c == LCPImage:
		_, detail := notTaken(html, i)
		return "LCP image not taken by the scanner", detail
	}
	return notTaken(html, i)
}

// thirdPartyReason guesses why the 103 did not cover a third party's u.
func thirdPartyReason(html []byte, sv *scanView, u string, s *Score, cfg ScoreConfig) (string, string) {
	o := originOf(u)
	insecureOrigin := "http://" + strings.TrimPrefix(o, "https://")
	switch {
	case !s.Got103:
		return "no 103", ""
	case sv.connBounded[o] || sv.connBounded[insecureOrigin]:
		if len(s.Preconnects) >= cfg.MaxPreconnects {
			return "preconnect cap", fmt.Sprintf("the 103 holds %d preconnects", len(s.Preconnects))
		}
		if !sv.connBounded[o] {
			return "named with http:", "the scanner keeps http:, the browser fetched https:"
		}
		return "scanned, left out by the middleware", ""
	case sv.connUnbound[o] || sv.connUnbound[insecureOrigin]:
		at := bytes.Index(bytes.ToLower(html), []byte("//"+hostOf(u)))
		if why, detail := beyondScan(html, sv, at); why != "" {
			return why, o + ": " + detail
		}
		return "crowded out of the scan", fmt.Sprintf("preconnects rank after %d preloads", scan.DefaultMaxLinks)
	}
	i := bytes.Index(bytes.ToLower(html), []byte("//"+hostOf(u)))
	if i < 0 {
		return "origin not named in the HTML", o
	}
	return notTaken(html, i)
}

// headElements are the elements an HTML parser keeps in the head; any
// other start tag there begins the body.
var headElements = map[string]bool{
	"html": true, "head": true, "meta": true, "link": true, "script": true, "style": true,
	"title": true, "base": true, "noscript": true, "template": true, "basefont": true, "bgsound": true,
}

// where says what holds offset i of the page, as the tokenizer reads it: a
// tag ("<script>"), an inline script's text, a comment; and the first
// element before i that began the body as HTML parsers read it ("" when
// none did, or the page's <body> came first).
func where(page []byte, i int) (holder, bodyStart string, bodyAt int) {
	bodyAt = -1
	z := html.NewTokenizer(bytes.NewReader(page[:min(len(page), i+4096)]))
	z.SetMaxBuf(0)
	off, inScript := 0, false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return "", bodyStart, bodyAt
		}
		raw := len(z.Raw())
		name, _ := z.TagName()
		n := string(name)
		if off+raw > i {
			switch {
			case tt == html.TextToken && inScript:
				return "inline script", bodyStart, bodyAt
			case tt == html.CommentToken:
				return "comment", bodyStart, bodyAt
			case tt == html.StartTagToken || tt == html.SelfClosingTagToken:
				return "<" + n + ">", bodyStart, bodyAt
			}
			return "text", bodyStart, bodyAt
		}
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			inScript = n == "script"
			if bodyAt < 0 && !headElements[n] {
				bodyStart, bodyAt = "<"+n+">", off
				if n == "body" {
					bodyStart = ""
				}
			}
		case html.EndTagToken:
			inScript = false
		}
		off += raw
	}
}

// notTaken says why the scanner passed over a mention at offset i.
func notTaken(page []byte, i int) (string, string) {
	holder, body, at := where(page, i)
	explicitBody := bytes.Index(bytes.ToLower(page[:i]), []byte("<body"))
	switch {
	case holder == "inline script":
		return "named inside an inline script", fmt.Sprintf("at byte %d", i)
	case holder == "comment":
		return "named inside a comment", fmt.Sprintf("at byte %d", i)
	case body != "" && at < i && (explicitBody < 0 || at < explicitBody):
		return "in the head after an element that begins the body",
			fmt.Sprintf("%s at byte %d follows a %s at byte %d: parsers end the head there; Chromium still counts it render-blocking", holder, i, body, at)
	case holder == "<script>" && explicitBody >= 0:
		return "synchronous script in the body", fmt.Sprintf("at byte %d; Chromium counts it render-blocking", i)
	}
	return "named where the scanner does not take it", fmt.Sprintf("%s at byte %d", holder, i)
}
