package inspect

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/internal/weburl"
	"github.com/earlyhints/earlyhints/linkheader"
)

// hinted is one preload of the first 103, resolved against the page.
type hinted struct {
	link   linkheader.Link
	value  string // as sent
	target *url.URL
	as     string
	cors   bool
}

// preloadsOf resolves the preload and modulepreload links of values.
func preloadsOf(values []string, page *url.URL) []hinted {
	links, _ := linkheader.Parse(values...)
	var out []hinted
	for _, l := range links {
		if !l.HasRel("preload") && !l.HasRel("modulepreload") {
			continue
		}
		t, ok := resolveOn(page, l.URI)
		if !ok {
			continue
		}
		as, _ := l.Param("as")
		if l.HasRel("modulepreload") && as == "" {
			as = "script"
		}
		_, cors := l.Param("crossorigin")
		out = append(out, hinted{link: l, value: l.String(), target: t, as: strings.ToLower(as), cors: cors || l.HasRel("modulepreload")})
	}
	return out
}

// resolveOn resolves ref against base as a browser does (the canonicaliser
// that learning and the middleware use), for a request.
func resolveOn(base *url.URL, ref string) (*url.URL, bool) {
	b, err := weburl.FromURL(base)
	if err != nil {
		return nil, false
	}
	t, err := weburl.Resolve(ref, &b)
	if err != nil {
		return nil, false
	}
	u, err := url.Parse(t.String())
	return u, err == nil
}

// destination is the Sec-Fetch-Dest of a preload with this as= value.
func destination(as string) string {
	switch as {
	case "style", "script", "font", "image", "track", "audio", "video":
		return as
	}
	return "empty"
}

// subresourceRequest is a request for a hinted file as the page would make it.
func subresourceRequest(method string, h hinted, page *url.URL, extra http.Header) *http.Request {
	mode := "no-cors"
	if h.cors {
		mode = "cors"
	}
	site := "same-origin"
	if !sameOrigin(h.target, page) {
		site = "cross-site"
	}
	hdr := http.Header{
		"Accept":         {"*/*"},
		"Referer":        {page.String()},
		"Sec-Fetch-Dest": {destination(h.as)},
		"Sec-Fetch-Mode": {mode},
		"Sec-Fetch-Site": {site},
		"User-Agent":     navigationHeader["User-Agent"],
	}
	if site == "same-origin" {
		// extra is what the navigation carried (nothing on an origin
		// other than the one asked): cookies and credentials go to that
		// origin only.
		for k, v := range extra {
			if k = http.CanonicalHeaderKey(k); k != "Host" {
				hdr[k] = v
			}
		}
	}
	return &http.Request{Method: method, URL: h.target, Host: h.target.Host, Header: hdr}
}

// checkTargets fetches each hinted file of p's first 103 (HEAD, then GET
// when HEAD is refused) and the stylesheets and scripts the page and its
// hints name, whose text shows what the page references. Up to MaxFetches
// requests are in flight at once, so files that never answer cost one
// Timeout per MaxFetches of them, not one each.
func checkTargets(ctx context.Context, p *probe, others *client, cfg *Config) {
	if len(p.res.EarlyHints) == 0 {
		return
	}
	clientFor := func(u *url.URL) *client {
		if sameOrigin(u, p.page) {
			return p.client
		}
		return others
	}
	var files []hinted
	seen := map[string]bool{}
	for _, h := range preloadsOf(p.res.EarlyHints[0].Links, p.page) {
		if seen[h.target.String()] || len(files) >= MaxTargets {
			continue
		}
		seen[h.target.String()] = true
		files = append(files, h)
	}
	targets := make([]Target, len(files))
	problems := make([]*targetProblem, len(files))
	parallel(len(files), func(i int) {
		h := files[i]
		c := clientFor(h.target)
		t := Target{URL: h.target.String(), As: h.as, Method: http.MethodHead}
		ex := c.do(ctx, subresourceRequest(http.MethodHead, h, p.page, p.header), cfg.Timeout, 0)
		if ex.err == nil && ex.resp.StatusCode >= 400 {
			// Many servers refuse HEAD (405, 501, or a 403 from a CDN)
			// where a browser's GET succeeds: the GET decides.
			t.Method = http.MethodGet
			ex = c.do(ctx, subresourceRequest(http.MethodGet, h, p.page, p.header), cfg.Timeout, 1)
		}
		if ex.err != nil {
			t.Error = describe(ex.err)
		} else {
			t.Status = ex.resp.StatusCode
			t.CacheControl = strings.Join(ex.resp.Header.Values("Cache-Control"), ", ")
			t.Location = ex.resp.Header.Get("Location")
			if reason := uncacheable(ex.resp.Header, time.Now(), DefaultMinLifetime); reason != "" {
				problems[i] = &targetProblem{target: t.URL, value: h.value, reason: reason}
			}
		}
		targets[i] = t
	})
	p.res.Targets = append(p.res.Targets, targets...)
	for _, tp := range problems {
		if tp != nil {
			p.targetProblems = append(p.targetProblems, *tp)
		}
	}
	// Texts that reference files: stylesheets name fonts and images,
	// scripts name modules.
	var texts []hinted
	done := map[string]bool{}
	for _, h := range append(preloadsOf(p.res.EarlyHints[0].Links, p.page), preloadsOf(p.res.Suggested, p.page)...) {
		if h.as != "style" && h.as != "script" || done[h.target.String()] || len(texts) >= 8 {
			continue
		}
		done[h.target.String()] = true
		texts = append(texts, h)
	}
	bodies := make([]*text, len(texts))
	parallel(len(texts), func(i int) {
		h := texts[i]
		ex := clientFor(h.target).do(ctx, subresourceRequest(http.MethodGet, h, p.page, p.header), cfg.Timeout, MaxBodyBytes)
		if ex.err == nil && ex.resp.StatusCode == http.StatusOK {
			bodies[i] = &text{url: h.target.String(), body: string(ex.raw)}
		}
	})
	for i, t := range bodies {
		if t == nil {
			continue
		}
		p.texts = append(p.texts, *t)
		if texts[i].as == "style" {
			p.fonts = append(p.fonts, cssFonts(t.body, texts[i].target)...)
		}
	}
}

// parallel calls f(0) … f(n-1), at most MaxFetches at once, and returns
// when all have returned. Each f bounds its own time (once the check's
// context has ended, the calls not yet started fail at once and say why).
func parallel(n int, f func(i int)) {
	sem := make(chan struct{}, MaxFetches)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// text is a fetched file that may reference others.
type text struct{ url, body string }

// targetProblem is a hinted file that is not cacheable.
type targetProblem struct {
	target, value, reason string
}

// referenced reports whether the page can be seen to use u: the scanner
// found it, or its file name appears in the document or in a stylesheet or
// script it uses. known is false when the document could not be searched.
func (p *probe) referenced(u *url.URL) (used, known bool) {
	s := u.String()
	for _, l := range p.scan.Links {
		if l.URI == s {
			return true, true
		}
	}
	name := u.EscapedPath()
	if i := strings.LastIndexByte(name, '/'); i >= 0 && i < len(name)-1 {
		name = name[i+1:]
	}
	for _, t := range append([]text{{url: p.page.String(), body: p.text}}, p.texts...) {
		if t.url == s {
			continue // a file does not make itself used
		}
		if strings.Contains(t.body, name) {
			return true, true
		}
		if un, err := url.PathUnescape(name); err == nil && un != name && strings.Contains(t.body, un) {
			return true, true
		}
	}
	return false, p.searchable
}
