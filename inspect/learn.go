package inspect

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	earlyhints "github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/linkheader"
	"github.com/earlyhints/earlyhints/scan"
)

// Reasons a file the page names stays out of the 103 the proxy would send.
// They are a contract of the JSON report, like the finding codes.
const (
	// LeftOutBudget: past the 103's caps (the byte budget of the route's
	// think time, the count and size bounds), after what matters more.
	LeftOutBudget = "budget"
	// LeftOutMedia: a media query a browser window does not match, or a
	// responsive image (srcset) that a 103 cannot name faithfully.
	LeftOutMedia = "media"
	// LeftOutCrossSite: a preload of another site's file (browsers drop it;
	// the 103 preconnects to its origin instead).
	LeftOutCrossSite = "cross-site"
	// LeftOutPrivate: a link made for the request (a value of its query,
	// cookies or path), or one of a private response that too few distinct
	// visitors have shared.
	LeftOutPrivate = "private"
	// LeftOutInvalid: a link no browser would act on (a bad URL, an `as`
	// Chromium does not accept, a font face no text of the head uses).
	LeftOutInvalid = "invalid"
	// LeftOutMixedContent: an http: script, stylesheet or font on an
	// https: page, which browsers block.
	LeftOutMixedContent = "mixed-content"
)

// skipReasons maps the scanner's reasons to the report's.
var skipReasons = map[scan.Reason]string{
	scan.ReasonMedia:        LeftOutMedia,
	scan.ReasonMixedContent: LeftOutMixedContent,
	scan.ReasonNotHintable:  LeftOutInvalid,
	scan.ReasonOverBound:    LeftOutBudget,
}

// Learned is what the proxy would learn from the page and send on the next
// navigation to it (check --learn).
type Learned struct {
	// Proto is the protocol of the response it was learned from.
	Proto string `json:"proto"`
	// Private is true when the response was private (cookies, credentials,
	// Cache-Control private): its links need distinct visitors.
	Private bool `json:"private,omitempty"`
	// Hints are the Link values of the 103, in the order they would go out.
	Hints []string `json:"hints"`
	// Bytes is the size of the 103's Link field.
	Bytes int `json:"bytes"`
	// LeftOut are the files the page names that the 103 would not.
	LeftOut []LeftOut `json:"left_out"`
	// MissedBlocking are the files the browser's first render waited for
	// that the 103 would not name (with Config.Browser).
	MissedBlocking []string `json:"missed_blocking,omitempty"`
}

// LeftOut is one file the 103 would not name, and why.
type LeftOut struct {
	Link   string `json:"link"`
	Reason string `json:"reason"`
	// Detail says more where there is more to say.
	Detail string `json:"detail,omitempty"`
}

// learnVisitors is how many distinct visitors teach the preview: the
// proxy's default quorum, so that a private page shows what it would get
// once that many people have seen it.
const learnVisitors = earlyhints.DefaultPrivateQuorum

// learn runs the product's own middleware on the response p saw: a replay
// of it is taught by learnVisitors navigations from distinct networks, and
// the next navigation's 103 is what the proxy would send. Nothing is sent
// to the server.
func learn(ctx context.Context, p *probe, cfg *Config) (*Learned, error) {
	ex := p.first
	if ex == nil || ex.resp == nil {
		return nil, errors.New("no response to learn from")
	}
	store, err := hintstore.NewMemory(hintstore.MemoryConfig{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = store.Close() }()
	var mu sync.Mutex
	var events []earlyhints.Event
	mcfg := earlyhints.Config{
		Store:         store,
		LearnInterval: -1,
		Logger:        slog.New(slog.DiscardHandler),
		Observer: earlyhints.ObserverFunc(func(e earlyhints.Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		}),
	}
	teacher, err := earlyhints.New(replay(ex), mcfg)
	if err != nil {
		return nil, err
	}
	for i := range learnVisitors {
		req := previewRequest(ctx, p.page, cfg.Header, i+1)
		teacher.ServeHTTP(&hintRecorder{}, req)
	}
	_ = teacher.Close() // waits for the learning; the store stays open
	mcfg.Observer = nil
	hinter, err := earlyhints.New(replay(ex), mcfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = hinter.Close() }()
	rec := &hintRecorder{}
	hinter.ServeHTTP(rec, previewRequest(ctx, p.page, cfg.Header, learnVisitors+1))

	out := &Learned{Proto: p.res.Proto, Hints: rec.links, LeftOut: []LeftOut{}}
	if out.Hints == nil {
		out.Hints = []string{}
	}
	for _, v := range out.Hints {
		out.Bytes += len(v) + 2
	}
	out.Bytes = max(0, out.Bytes-2)
	mu.Lock()
	defer mu.Unlock()
	out.Private = earlyhints.IsPrivate(navigationRequest(p.page, cfg.Header).Header, ex.resp.Header)
	out.LeftOut = leftOut(p, out, events)
	return out, nil
}

// leftOut lists what the page names (its Link fields and what the scanner
// found) that the 103 does not, with the reason.
func leftOut(p *probe, l *Learned, events []earlyhints.Event) []LeftOut {
	sent := map[string]bool{}
	for _, h := range preloadsOf(l.Hints, p.page) {
		sent[h.target.String()] = true
	}
	for _, v := range l.Hints {
		if links, _ := linkheader.Parse(v); len(links) == 1 {
			sent[canonical(links[0], p.page)] = true
		}
	}
	// The learner reports what it refused with errors that name the target.
	refused := map[string]string{}
	for _, e := range events {
		switch {
		case e.Err == nil:
		case e.Kind == earlyhints.EventNotLearned && e.Reason == earlyhints.ReasonCrossSite:
			refused[e.Err.Error()] = LeftOutCrossSite
		case e.Kind == earlyhints.EventNotLearned && e.Reason == earlyhints.ReasonPersonal:
			refused[e.Err.Error()] = LeftOutPrivate
		case e.Kind == earlyhints.EventInvalid:
			refused[e.Err.Error()] = LeftOutInvalid
		}
	}
	reasonOf := func(target string) (string, string) {
		for msg, reason := range refused {
			if containsTarget(msg, target) {
				return reason, msg
			}
		}
		return "", ""
	}
	links, _ := linkheader.Parse(p.res.Links...)
	links = append(links, p.scan.Links...)
	var out []LeftOut
	seen := map[string]bool{}
	for _, ln := range links {
		target := canonical(ln, p.page)
		if sent[target] || seen[target] {
			continue
		}
		seen[target] = true
		lo := LeftOut{Link: ln.String()}
		h, err := earlyhints.HintFromLink(ln, p.page, true)
		switch {
		case err != nil:
			lo.Reason, lo.Detail = LeftOutInvalid, err.Error()
		case h.Media != "" || h.ImageSrcset != "" || h.ImageSizes != "":
			lo.Reason = LeftOutMedia
			lo.Detail = "a 103 link with media, imagesrcset or imagesizes is dropped by Chromium; the page's own markup loads it"
		default:
			if reason, detail := reasonOf(h.URL); reason != "" {
				lo.Reason, lo.Detail = reason, detail
			} else if l.Private && h.Rel != earlyhints.RelPreconnect {
				lo.Reason = LeftOutPrivate
				lo.Detail = fmt.Sprintf("a private response's links are hinted once %d distinct visitors' responses name them", learnVisitors)
			} else {
				lo.Reason = LeftOutBudget
				lo.Detail = "past the 103's caps, after the files rendering waits for"
			}
		}
		out = append(out, lo)
	}
	for _, sk := range p.scan.Skipped {
		target := canonical(sk.Link, p.page)
		if sent[target] || seen[target] {
			continue
		}
		seen[target] = true
		lo := LeftOut{Link: sk.Link.String(), Reason: skipReasons[sk.Reason]}
		if lo.Reason == "" {
			lo.Reason = LeftOutInvalid
		}
		if sk.Reason == scan.ReasonOverBound {
			lo.Detail = "past the scanner's bound on links, after what matters more"
		}
		out = append(out, lo)
	}
	if out == nil {
		out = []LeftOut{}
	}
	return out
}

// containsTarget reports whether an error message names target as a whole
// (followed by the end, a space or punctuation).
func containsTarget(msg, target string) bool {
	for rest := msg; ; {
		j := strings.Index(rest, target)
		if j < 0 {
			return false
		}
		rest = rest[j+len(target):]
		if rest == "" || strings.ContainsRune(` ":,)`, rune(rest[0])) {
			return true
		}
	}
}

// replay answers every request with the response ex saw, as far as it was
// read: its status, its end-to-end fields and the start of its body.
func replay(ex *exchange) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hop := httpx.HopByHopFields(ex.resp.Header)
		for k, v := range ex.resp.Header {
			if slices.Contains(hop, k) || k == "Content-Length" || k == "Content-Encoding" && len(ex.raw) == 0 {
				continue
			}
			hdr[k] = slices.Clone(v)
		}
		hdr.Set("Content-Length", strconv.Itoa(len(ex.raw)))
		w.WriteHeader(ex.resp.StatusCode)
		_, _ = w.Write(ex.raw)
	})
}

// previewRequest is the navigation of visitor n (each from its own network)
// as the proxy would receive it over HTTP/2.
func previewRequest(ctx context.Context, page *url.URL, extra http.Header, n int) *http.Request {
	req := navigationRequest(page, extra).WithContext(ctx)
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/2.0", 2, 0
	req.RequestURI = page.RequestURI()
	req.RemoteAddr = fmt.Sprintf("127.%d.0.1:443", n)
	if c := req.Header.Get("Cookie"); c != "" {
		// Distinct people: another network and other cookies. The page's
		// own cookies stay, so links bound to them are still seen as such.
		req.Header.Set("Cookie", fmt.Sprintf("%s; earlyhints-preview-visitor=%d", c, n))
	}
	if page.Scheme == "https" {
		req.TLS = &tls.ConnectionState{HandshakeComplete: true, NegotiatedProtocol: "h2"}
	}
	return req
}

// hintRecorder is a ResponseWriter that keeps the Link values of the first
// 103 and discards the rest.
type hintRecorder struct {
	hdr   http.Header
	links []string
	got   bool
	wrote bool
}

func (r *hintRecorder) Header() http.Header {
	if r.hdr == nil {
		r.hdr = http.Header{}
	}
	return r.hdr
}

func (r *hintRecorder) WriteHeader(code int) {
	if code == http.StatusEarlyHints && !r.got && !r.wrote {
		r.got = true
		r.links = slices.Clone(r.hdr.Values("Link"))
		return
	}
	if code >= 200 {
		r.wrote = true
	}
}

func (r *hintRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return io.Discard.Write(b)
}

// learnedOf picks what the report shows for --learn: the preview of the
// last hop (the page itself when redirects were followed), from its HTTP/2
// response if there is one, else HTTP/3, else HTTP/1.1; with browser
// results, the render-blocking files its 103 would not name.
func learnedOf(probes []*probe, browser []BrowserResult) *Learned {
	var best *probe
	rank := map[string]int{H2: 3, H3: 2, H1: 1}
	for _, p := range probes {
		if p.learned == nil {
			continue
		}
		if best == nil || p.hop > best.hop || p.hop == best.hop && rank[p.res.Proto] > rank[best.res.Proto] {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	l := *best.learned
	named := map[string]bool{}
	for _, h := range preloadsOf(l.Hints, best.page) {
		named[h.target.String()] = true
	}
	// A third party's file cannot be preloaded from a 103; a preconnect to
	// its origin is what the 103 can do for it.
	links, _ := linkheader.Parse(l.Hints...)
	for _, ln := range links {
		if slices.Contains(ln.Rel, "preconnect") {
			if u, err := best.page.Parse(ln.URI); err == nil {
				named[u.Scheme+"://"+u.Host] = true
			}
		}
	}
	covered := func(file string) bool {
		if named[file] {
			return true
		}
		u, err := url.Parse(file)
		return err == nil && u.Host != best.page.Host && named[u.Scheme+"://"+u.Host]
	}
	for _, br := range browser {
		for _, b := range br.Blocking {
			if !covered(b) && !slices.Contains(l.MissedBlocking, b) {
				l.MissedBlocking = append(l.MissedBlocking, b)
			}
		}
	}
	return &l
}
