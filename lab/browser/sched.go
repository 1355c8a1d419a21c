package browser

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/earlyhints/earlyhints/lab/browser/h2push"
)

// Scheduling classes (Entry.Priority), in the order Chrome's priorities
// put them: Blink's VeryHigh and High (stylesheets, fonts, synchronous
// scripts, fetchpriority=high images), Medium (the first images of a page,
// which Chrome boosts from Low), then Low (async and defer scripts).
const (
	prioBlocking = 0 // stylesheets, synchronous scripts
	prioHigh     = 1 // fonts, fetchpriority=high images
	prioImage    = 2 // images: delayable
	prioScript   = 3 // module scripts and modulepreloads
	prioAsync    = 4 // async and defer classic scripts: delayable
	prioOther    = 5 // the rest (stylesheets for other media): delayable
)

// delayable reports whether tight mode bounds a request: an image or a
// low-priority request the page (not the browser, as for a 103's
// preloads) asked for.
func (e *entry) delayable() bool {
	return e.Initiator != InitEarlyHints && (e.Priority == prioImage || e.Priority == prioOther)
}

// waitsForBody reports whether a request waits until the parser reaches
// the body: the page's async and defer scripts, which Chromium 156 was
// measured to hold back until then.
func (e *entry) waitsForBody() bool {
	return e.Initiator != InitEarlyHints && e.Priority == prioAsync
}

// beforeBody reports whether the parser has not reached the body yet: the
// head is being parsed, or a synchronous script of the head has not
// arrived (with the stylesheets it waits for). p.mu held.
func (p *page) beforeBody() bool {
	if p.inHead {
		return true
	}
	if p.critical == 0 {
		return false
	}
	for _, e := range p.entries {
		if e.Kind == KindScript && p.blocking[e.URL] && !e.done {
			return true
		}
	}
	return false
}

// priorityField is the RFC 9218 Priority field Chromium 156 was seen to
// send for a request (HTTP/2 carries the urgency as the RFC 7540 weight
// Chrome derives from it): "u=0, i" for the document; 0 for stylesheets
// and fonts (net HIGHEST); 1 for synchronous and module scripts and
// high-priority images (MEDIUM); 2 for the page's images (LOW); 3 for
// images found in a stylesheet or preloaded, and for async and defer
// scripts (LOWEST; Chrome leaves the field out then, RFC 9218's default);
// 4 for the rest (IDLE). Images and the document are incremental.
func priorityField(kind, initiator string, prio int) string {
	u := 4
	switch prio {
	case -1:
		u = 0
	case prioBlocking, prioHigh:
		u = 1
		if kind == KindStyle || kind == KindFont {
			u = 0
		}
	case prioImage:
		u = 2
		if initiator == InitCSS || initiator == InitEarlyHints {
			u = 3
		}
	case prioScript:
		u = 1
	case prioAsync:
		u = 3
	}
	if kind == KindDocument || kind == KindImage {
		return "u=" + strconv.Itoa(u) + ", i"
	}
	return "u=" + strconv.Itoa(u)
}

func kindFromAs(as string) string {
	switch strings.ToLower(as) {
	case "style":
		return KindStyle
	case "script":
		return KindScript
	case "font":
		return KindFont
	case "image":
		return KindImage
	case "fetch":
		return KindFetch
	}
	return KindOther
}

// priorityOf maps a resource to its scheduling class. A script found
// through a preload (or a 103) is assumed synchronous unless the preload
// scanner saw it async or deferred (lowScript).
func priorityOf(kind, fetchPriority string, lowScript bool) int {
	high := strings.EqualFold(fetchPriority, "high")
	switch kind {
	case KindStyle:
		return prioBlocking
	case KindScript:
		if lowScript {
			return prioAsync
		}
		return prioBlocking
	case KindFont:
		return prioHigh
	case KindImage:
		if high {
			return prioHigh
		}
		return prioImage
	}
	return prioOther
}

func isUse(initiator string) bool { return initiator == InitParser || initiator == InitCSS }

// discover is the single entry point for every resource the page learns
// about. A URL already known is claimed (a hint or push becomes used)
// rather than fetched twice.
func (p *page) discover(u *url.URL, kind, initiator string, prio int) {
	u.Fragment = ""
	key := u.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.byURL[key]; e != nil {
		if isUse(initiator) && !e.Used {
			e.Used = true
			p.onUsed(e)
		}
		if !e.started && prio < e.Priority {
			e.Priority = prio
			p.pump()
		}
		return
	}
	p.seq++
	e := &entry{
		Entry: Entry{URL: key, Kind: kind, Initiator: initiator, Priority: prio, Used: isUse(initiator)},
		u:     u, host: hostPort(u), seq: p.seq,
	}
	p.entries = append(p.entries, e)
	p.byURL[key] = e
	if c, ok := p.cache.lookup(key); ok {
		if c.fresh {
			now := p.since()
			e.Initiator, e.FromCache, e.Status = InitCache, true, http.StatusOK
			e.Start, e.FirstByte, e.End = now, now, now
			e.header, e.body, e.done, e.started = c.header, c.body, true, true
			if e.Used {
				p.onUsed(e)
			}
			return
		}
		if c.etag != "" {
			e.etag, e.stale = c.etag, &c
		}
	}
	p.queue[e.host] = append(p.queue[e.host], e)
	p.pump()
}

// settlePriority gives a queued entry the class the document assigns it
// (the scanner cannot tell an async head script from a blocking one).
func (p *page) settlePriority(u *url.URL, prio int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.byURL[u.String()]; e != nil && !e.started && e.Priority != prio {
		e.Priority = prio
		p.pump()
	}
}

// onUsed runs when an entry becomes used: a completed push enters the
// HTTP cache and a completed stylesheet is searched for references.
// p.mu held.
func (p *page) onUsed(e *entry) {
	if !e.done {
		return
	}
	if e.push != nil && e.Error == "" {
		p.cache.store(e.URL, e.Status, e.header, e.body)
	}
	p.parseCSS(e)
}

// parseCSS discovers the references of a used, complete stylesheet once.
// p.mu held.
func (p *page) parseCSS(e *entry) {
	if e.Kind != KindStyle || e.parsed || e.Error != "" || !e.Used {
		return
	}
	e.parsed = true
	body, header, base, blocking := e.body, e.header, e.u, p.blocking[e.URL]
	p.spawnLocked(func() {
		css := body
		if strings.EqualFold(header.Get("Content-Encoding"), "gzip") {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return
			}
			css, _ = io.ReadAll(io.LimitReader(zr, MaxCSSBytes))
		}
		for _, ref := range ParseCSSURLs(css) {
			u, err := base.Parse(ref.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
				continue
			}
			switch ref.Kind {
			case CSSImport:
				if blocking {
					p.mu.Lock()
					p.blocking[u.String()] = true
					p.mu.Unlock()
				}
				p.discover(u, KindStyle, InitCSS, prioBlocking)
			case CSSFont:
				p.discover(u, KindFont, InitCSS, prioHigh)
			default:
				p.discover(u, KindImage, InitCSS, prioImage)
			}
		}
	})
}

// pump starts queued requests that the connection rules and priorities
// allow. p.mu held.
//
// Priority model: every request carries the priority Chrome gives it
// (urgency; over HTTP/2 as the stream's weight, over HTTP/3 as the
// Priority field), which the server acts on. On the client side the model
// follows Chrome's resource scheduler: requests leave in priority order
// (then discovery order), at most MaxConnsPerHost at a time per host on
// HTTP/1.1 and MaxStreamsPerConn on h2/h3, and while the head is parsed or
// a priority-0 request is in flight, at most DelayableWhileBlocking images
// of the page are in flight, whatever their host ("tight mode"); async and
// defer scripts wait until the parser reaches the body (after the head's
// synchronous scripts).
func (p *page) pump() {
	limit := p.cfg.MaxStreamsPerConn
	if p.cfg.Proto == H1 {
		limit = p.cfg.MaxConnsPerHost
	}
	tight := p.cfg.DelayableWhileBlocking >= 0 && (p.inHead || p.critical > 0)
	beforeBody := tight && p.beforeBody()
	// One pass over the page's queue in priority order, as Chrome's
	// scheduler scans its pending requests: the tight-mode bound is the
	// page's, so the most urgent delayable request gets it, whatever its
	// host; a request held back does not hold back the non-delayable ones
	// behind it.
	var all []*entry
	for _, q := range p.queue {
		all = append(all, q...)
	}
	slices.SortStableFunc(all, func(a, b *entry) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		return a.seq - b.seq
	})
	started := false
	for _, e := range all {
		if p.inflight[e.host] >= limit {
			continue
		}
		delayable := e.delayable()
		if delayable && tight && p.delayed >= p.cfg.DelayableWhileBlocking {
			continue
		}
		if beforeBody && e.waitsForBody() {
			continue
		}
		if !p.spawnLocked(func() { p.fetch(e) }) {
			break
		}
		started = true
		e.started = true
		e.Start = p.since()
		e.ticket = p.sendNext[e.host]
		p.sendNext[e.host]++
		p.inflight[e.host]++
		if delayable {
			e.heldBack = true
			p.delayed++
		}
		if e.Priority == prioBlocking {
			p.critical++
		}
	}
	if !started {
		return
	}
	for host, q := range p.queue {
		q = slices.DeleteFunc(q, func(e *entry) bool { return e.started })
		if len(q) == 0 {
			delete(p.queue, host)
		} else {
			p.queue[host] = q
		}
	}
}

// fetch sends one request and records its timing.
func (p *page) fetch(e *entry) {
	p.mu.Lock()
	req := p.newRequest(e)
	if e.etag != "" {
		req.Header.Set("If-None-Match", e.etag)
	}
	// A host's requests leave in the order the scheduler started them, as
	// a browser writes them, most urgent first: the server sees them in
	// that order, not in the order their goroutines happen to run.
	for p.sendTurn[e.host] != e.ticket && p.ctx.Err() == nil {
		p.sendCond.Wait()
	}
	p.mu.Unlock()
	var once sync.Once
	sent := func() {
		once.Do(func() {
			p.mu.Lock()
			p.sendTurn[e.host]++
			p.sendCond.Broadcast()
			p.mu.Unlock()
		})
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{WroteHeaders: sent}))
	resp, err := p.f.RoundTrip(req)
	sent()
	var raw []byte
	var n int64
	if err == nil {
		firstByte := p.since()
		n, raw, err = p.readBody(resp.Body, nil)
		resp.Body.Close()
		p.mu.Lock()
		e.FirstByte, e.Status, e.header, e.Bytes, e.body = firstByte, resp.StatusCode, resp.Header, n, raw
		if resp.StatusCode == http.StatusNotModified && e.stale != nil {
			p.cache.refresh(e.URL, resp.Header)
			e.FromCache, e.Revalidated = true, true
			e.header, e.body = e.stale.header, e.stale.body
			e.Status = http.StatusOK
		} else if err == nil {
			p.cache.store(e.URL, resp.StatusCode, resp.Header, raw)
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		e.Error = err.Error()
	}
	e.End = p.since()
	e.done = true
	p.inflight[e.host]--
	if e.heldBack {
		p.delayed--
	}
	if e.Priority == prioBlocking {
		p.critical--
	}
	if e.Used {
		p.parseCSS(e)
	}
	p.pump()
}

// onPush decides about a PUSH_PROMISE on the h2push read loop, without
// blocking: a push of a fresh cached resource is refused with
// RST_STREAM(CANCEL), as Chrome did; any other push is read into the push
// cache (the entry table), where a later discovery claims it.
func (p *page) onPush(push *h2push.Push) {
	u := push.Request.URL
	u.Fragment = ""
	key := u.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushes++
	p.seq++
	e := &entry{
		Entry: Entry{URL: key, Kind: kindFromPath(u.Path), Initiator: InitPush, Priority: prioOther, Start: push.PromisedAt.Sub(p.start)},
		u:     u, host: hostPort(u), seq: p.seq, started: true, push: push,
	}
	p.entries = append(p.entries, e)
	if p.cache.Contains(key) {
		p.pushesCancelled++
		e.Cancelled, e.done = true, true
		e.End = e.Start
		push.Cancel()
		return
	}
	if p.byURL[key] == nil {
		p.byURL[key] = e
	}
	// A push for a URL the page already requested stays unclaimed: wasted.
	if !p.spawnLocked(func() { p.readPush(e) }) {
		push.Cancel()
	}
}

func (p *page) readPush(e *entry) {
	resp, err := e.push.Response(p.ctx)
	var raw []byte
	var n int64
	if err == nil {
		p.mu.Lock()
		e.FirstByte = p.since()
		p.mu.Unlock()
		// A pushed response's cookies count as if the page had asked for
		// it: the server may set state (a cache digest) on any response.
		keepCookies(p.cfg.Jar, e.push.Request.URL, resp)
		n, raw, err = p.readBody(resp.Body, nil)
		resp.Body.Close()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		e.Error = err.Error()
	} else {
		e.Status, e.header, e.body = resp.StatusCode, resp.Header, raw
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			e.Kind = kindFromContentType(ct, e.Kind)
		}
	}
	e.Bytes = n
	e.End = p.since()
	e.done = true
	if e.Used {
		p.onUsed(e)
	}
}

func kindFromPath(path string) string {
	switch {
	case strings.HasSuffix(path, ".css"):
		return KindStyle
	case strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".mjs"):
		return KindScript
	case strings.HasSuffix(path, ".woff2") || strings.HasSuffix(path, ".woff") || strings.HasSuffix(path, ".ttf"):
		return KindFont
	case strings.HasSuffix(path, ".jpg") || strings.HasSuffix(path, ".png") || strings.HasSuffix(path, ".webp") ||
		strings.HasSuffix(path, ".avif") || strings.HasSuffix(path, ".gif") || strings.HasSuffix(path, ".svg"):
		return KindImage
	}
	return KindOther
}

func kindFromContentType(ct, fallback string) string {
	ct = strings.ToLower(ct)
	switch {
	case strings.HasPrefix(ct, "text/css"):
		return KindStyle
	case strings.Contains(ct, "javascript"):
		return KindScript
	case strings.HasPrefix(ct, "font/"):
		return KindFont
	case strings.HasPrefix(ct, "image/"):
		return KindImage
	}
	return fallback
}
