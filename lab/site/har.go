package site

import (
	"bufio"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Bounds on a HAR file, so that a hostile or accidental capture cannot
// exhaust memory.
const (
	MaxHARBytes   = 50 << 20
	MaxHAREntries = 5000
	// MaxReplayBytes bounds the bodies a replay serves in total.
	MaxReplayBytes = 256 << 20
	// MaxReplayWait bounds one entry's wait; longer waits are clamped.
	MaxReplayWait = 30 * time.Second
)

// Replay is a real page load captured as a HAR file, turned into a profile:
// the same URLs (paths on the page's host, ThirdParty for other hosts), the
// same sizes, content types, statuses and server waits (timings.wait).
//
// Bodies the capture holds (content.text) are served verbatim, so a
// captured document references its resources exactly as the real one did.
// When the document's text is missing, a document of the captured size is
// generated that references the resources where the capture suggests:
// stylesheets in the head (render-blocking); scripts in the head when
// Chrome's _priority is High or VeryHigh (render-blocking), async when Low,
// at the end of the body otherwise; fonts from the first stylesheet with
// room; the first image at the start of the body (fetchpriority=high when
// its priority was high), others in the middle; entries a script initiated
// (Chrome's _initiator) and JSON or other types as fetched by scripts.
//
// Only GET entries with a status are replayed, of the document's page load
// when the file holds several (pageref); the first URL wins when a capture
// fetched it twice. A status 304 (the capture was warm) is served
// as 200 with the recorded size.
type Replay struct {
	Profile *Profile
	// PageURL is the URL of the captured document.
	PageURL string
	// Hosts lists the hosts of the capture, the page's first; route all of
	// them to the replay's listener.
	Hosts []string
	// Warnings says where the replay departs from the capture.
	Warnings []string
}

// NewSite builds the site serving rp.
func (rp *Replay) NewSite(opts Options) (*Site, error) { return New(rp.Profile, opts) }

type harFile struct {
	Log struct {
		Version string `json:"version"`
		Creator struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"creator"`
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	Request struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
	Response struct {
		Status   int         `json:"status"`
		Headers  []harHeader `json:"headers"`
		BodySize float64     `json:"bodySize"`
		Content  struct {
			Size     float64 `json:"size"`
			MimeType string  `json:"mimeType"`
			Text     *string `json:"text"`
			Encoding string  `json:"encoding"`
		} `json:"content"`
	} `json:"response"`
	Timings struct {
		Wait float64 `json:"wait"`
	} `json:"timings"`
	// PageRef names the page load of log.pages the entry belongs to.
	PageRef      string `json:"pageref"`
	ResourceType string `json:"_resourceType"`
	Priority     string `json:"_priority"`
	// Initiator is Chrome DevTools' {"type", "url"}; chrome-har,
	// sitespeed.io and WebPageTest write the URL as a string and the type
	// in _initiator_type.
	Initiator     *harInitiator `json:"_initiator"`
	InitiatorType string        `json:"_initiator_type"`
}

type harInitiator struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// UnmarshalJSON accepts the object of DevTools' exports and the string of
// other tools'.
func (in *harInitiator) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &in.URL)
	}
	type plain harInitiator
	return json.Unmarshal(b, (*plain)(in))
}

type harHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// replayedHeaders are the response headers a replay keeps; the others
// (Date, Server, Set-Cookie, Content-Encoding, ...) describe the capture,
// not the page.
var replayedHeaders = []string{"Location", "Link", "Vary", "Access-Control-Allow-Origin", "Timing-Allow-Origin"}

// LoadHAR reads a HAR 1.2 file, gzip-compressed or not (at most
// MaxHARBytes once decompressed, MaxHAREntries entries), and returns its
// replay.
func LoadHAR(r io.Reader) (*Replay, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrBadHAR, err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxHARBytes+1))
	if err != nil {
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: gzip: %w; compress the file again or give it uncompressed", ErrBadHAR, err)
		}
		return nil, fmt.Errorf("site: reading HAR: %w", err)
	}
	if len(data) > MaxHARBytes {
		return nil, fmt.Errorf("%w: over %d MB; capture fewer requests or strip response bodies", ErrHARTooLarge, MaxHARBytes>>20)
	}
	var f harFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadHAR, err)
	}
	entries := f.Log.Entries
	if len(entries) > MaxHAREntries {
		return nil, fmt.Errorf("%w: %d entries over %d; capture one page load only", ErrHARTooLarge, len(entries), MaxHAREntries)
	}
	if err := checkInjection(entries); err != nil {
		return nil, err
	}
	docIdx := -1
	for i, e := range entries {
		if e.Response.Status == http.StatusOK && isHTML(e) {
			docIdx = i
			break
		}
	}
	if docIdx < 0 {
		return nil, fmt.Errorf("%w: no HTML document with status 200; record the page load from its first request", ErrBadHAR)
	}
	doc := entries[docIdx]
	page, err := url.Parse(doc.Request.URL)
	if err != nil || (page.Scheme != "http" && page.Scheme != "https") || page.Host == "" {
		return nil, fmt.Errorf("%w: document URL %q is not an http(s) URL", ErrBadHAR, doc.Request.URL)
	}
	page.Fragment, page.RawFragment = "", ""
	rp := &Replay{PageURL: page.String(), Hosts: []string{page.Host}}
	p := &Profile{
		Name:     page.String(),
		Source:   fmt.Sprintf("HAR %s capture of %s by %s %s", f.Log.Version, page.String(), f.Log.Creator.Name, f.Log.Creator.Version),
		HTMLPath: target(page),
		Think:    harWait(doc.Timings.Wait),
	}
	docBody, docSize, err := harBody(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: document: %w", ErrBadHAR, err)
	}
	p.HTML, p.HTMLSize = docBody, docSize
	p.Header = harHeaders(doc.Response.Headers, page)
	total := docSize

	seen := map[string]bool{}
	hosts := map[string]bool{page.Host: true}
	var res []Resource
	var prio []string
	var initiators []*struct{ Type, URL string }
	for i, e := range entries {
		if i == docIdx || e.Response.Status <= 0 || !strings.EqualFold(e.Request.Method, http.MethodGet) {
			continue
		}
		if doc.PageRef != "" && e.PageRef != "" && e.PageRef != doc.PageRef {
			continue // another page load of the file (WebPageTest's repeat view, a later navigation)
		}
		u, err := url.Parse(e.Request.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue // data:, blob:, chrome-extension: and broken URLs
		}
		r := Resource{Path: target(u)}
		// Any port or scheme of the page's host name is first-party: the
		// site routes third parties by host name.
		if !strings.EqualFold(u.Hostname(), page.Hostname()) {
			r.ThirdParty = u.Scheme + "://" + u.Host
			if !hosts[u.Host] {
				hosts[u.Host] = true
				rp.Hosts = append(rp.Hosts, u.Host)
			}
		}
		if seen[r.URL()] || (r.ThirdParty == "" && r.Path == p.HTMLPath) || checkPath(r.Path) != nil || (r.ThirdParty != "" && checkOrigin(r.ThirdParty) != nil) {
			continue
		}
		seen[r.URL()] = true
		body, size, err := harBody(e)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d (%s): %w", ErrBadHAR, i, e.Request.URL, err)
		}
		total += size
		if total > MaxReplayBytes {
			return nil, fmt.Errorf("%w: bodies add up to more than %d MB", ErrHARTooLarge, MaxReplayBytes>>20)
		}
		r.Body, r.Size = body, size
		r.Status = e.Response.Status
		if r.Status == http.StatusNotModified {
			r.Status = http.StatusOK
		}
		if r.Status < 200 || r.Status > 599 {
			continue
		}
		r.ContentType = sanitizeHeader(e.Response.Content.MimeType)
		r.Type = typeOf(e.Response.Content.MimeType, e.ResourceType)
		r.Wait = harWait(e.Timings.Wait)
		r.Header = harHeaders(e.Response.Headers, page)
		r.CacheControl = sanitizeHeader(harHeader0(e.Response.Headers, "Cache-Control"))
		if r.CacheControl == "" {
			r.CacheControl = "no-cache"
		}
		res = append(res, r)
		prio = append(prio, e.Priority)
		if e.Initiator != nil {
			typ := e.Initiator.Type
			if typ == "" {
				typ = e.InitiatorType
			}
			initiators = append(initiators, &struct{ Type, URL string }{typ, e.Initiator.URL})
		} else {
			initiators = append(initiators, nil)
		}
	}
	if len(res) > MaxResources {
		return nil, fmt.Errorf("%w: %d resources over %d", ErrHARTooLarge, len(res), MaxResources)
	}
	p.Resources = res
	placeResources(p, prio, initiators, page)
	if p.HTML == nil {
		// The markup must fit: a capture of a tiny document with many
		// resources gets a larger document rather than missing references.
		if need := len(renderHTML(p, Options{PreloadInHTML: true}, true).doc); need > p.HTMLSize {
			rp.Warnings = append(rp.Warnings, fmt.Sprintf("document grown from %d to %d bytes to hold its references", p.HTMLSize, need))
			p.HTMLSize = need
		}
	}
	rp.Profile = p
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("site: HAR replay: %w", err)
	}
	return rp, nil
}

// placeResources decides Where, From and the attributes of each resource
// (see Replay).
func placeResources(p *Profile, prio []string, initiators []*struct{ Type, URL string }, page *url.URL) {
	room := map[string]int{} // bytes left for references in a generated parent
	index := map[string]int{}
	for i, r := range p.Resources {
		index[r.URL()] = i
		if r.Body == nil && (r.Type == TypeCSS || r.Type == TypeJS) {
			room[r.URL()] = r.Size
		}
	}
	// A parent that is generated must carry the reference: charge its room.
	fits := func(parent string, child Resource) bool {
		pi, ok := index[parent]
		if !ok || p.Resources[pi].Status != 0 && p.Resources[pi].Status != http.StatusOK {
			return false
		}
		if p.Resources[pi].Body != nil {
			return true
		}
		probe := *p
		probe.Resources = []Resource{p.Resources[pi], child}
		probe.Resources[1].From = parent
		probe.Resources[1].Where = WhereInjected
		if p.Resources[pi].Type == TypeCSS {
			probe.Resources[1].Where = WhereCSS
		}
		// The slack covers names that grow with the child's index.
		need := len(referencesIn(&probe, p.Resources[pi])) + 8
		if room[parent] < need {
			return false
		}
		room[parent] -= need
		return true
	}
	firstOf := func(t Type) string {
		for _, r := range p.Resources {
			if r.Type == t && r.Where != WhereInjected && r.Where != WhereCSS && r.status() == http.StatusOK {
				return r.URL()
			}
		}
		return ""
	}
	normalize := func(u string) string { // initiator URLs are absolute
		if x, err := url.Parse(u); err == nil && x.Host == page.Host {
			return target(x)
		}
		return u
	}
	firstImage := true
	for i := range p.Resources {
		r := &p.Resources[i]
		high := prio[i] == "High" || prio[i] == "VeryHigh"
		ok := r.status() == http.StatusOK
		if in := initiators[i]; in != nil && in.Type == "script" && ok {
			r.Where = WhereInjected
			if from := normalize(in.URL); from != "" {
				// The parent, placed already, must itself be reached from
				// the document.
				if pi, found := index[from]; found && pi < i && (p.Resources[pi].Type == TypeJS || p.Resources[pi].Type == TypeModule) &&
					(p.Resources[pi].inHTML() || p.Resources[pi].From != "") && fits(from, *r) {
					r.From = from
				}
			}
			continue
		}
		switch {
		case r.Type == TypeCSS && ok:
			r.Where, r.RenderBlocking = WhereHead, true
		case (r.Type == TypeJS || r.Type == TypeModule) && ok:
			switch {
			case high && r.Type == TypeJS:
				r.Where, r.RenderBlocking = WhereHead, true
			case prio[i] == "Low":
				r.Where, r.Async = WhereHead, true
			default:
				r.Where = WhereBodyEnd
			}
		case r.Type == TypeFont && ok:
			r.Where = WhereHead // the author's own preload, unless a stylesheet has room
			if css := firstOf(TypeCSS); css != "" && fits(css, *r) {
				r.Where, r.From = WhereCSS, css
			}
		case r.Type == TypeImage && ok:
			r.Where = WhereBodyMiddle
			if firstImage {
				r.Where = WhereBodyStart
				if high {
					r.FetchPriority = "high"
				}
				firstImage = false
			}
		default:
			// Unknown, JSON and error responses: fetched by a script.
			r.Where = WhereInjected
			if r.Type != TypeJSON && r.Type != TypeOther {
				r.Type = TypeOther
			}
			if js := firstOf(TypeJS); js != "" && ok && fits(js, *r) {
				r.From = js
			}
		}
	}
}

func isHTML(e harEntry) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(e.Response.Content.MimeType)), "text/html") ||
		e.ResourceType == "document"
}

func typeOf(mime, resourceType string) Type {
	m := strings.ToLower(mime)
	switch {
	case strings.Contains(m, "css"):
		return TypeCSS
	case strings.Contains(m, "javascript") || strings.Contains(m, "ecmascript"):
		return TypeJS
	case strings.HasPrefix(m, "font/") || strings.Contains(m, "woff") || strings.Contains(m, "opentype") || strings.Contains(m, "truetype"):
		return TypeFont
	case strings.HasPrefix(m, "image/"):
		return TypeImage
	case strings.Contains(m, "json"):
		return TypeJSON
	}
	switch resourceType {
	case "stylesheet":
		return TypeCSS
	case "script":
		return TypeJS
	case "font":
		return TypeFont
	case "image":
		return TypeImage
	}
	return TypeOther
}

// target returns the path and query of u as the replay keys it.
func target(u *url.URL) string {
	t := u.EscapedPath()
	if t == "" {
		t = "/"
	}
	if u.RawQuery != "" {
		t += "?" + u.RawQuery
	}
	return t
}

// harBody returns the verbatim body when the capture holds it, and the size
// to serve.
func harBody(e harEntry) ([]byte, int, error) {
	c := e.Response.Content
	if c.Text != nil {
		var body []byte
		if strings.EqualFold(c.Encoding, "base64") {
			b, err := base64.StdEncoding.DecodeString(*c.Text)
			if err != nil {
				return nil, 0, fmt.Errorf("content.text: %w", err)
			}
			body = b
		} else {
			body = []byte(*c.Text)
		}
		if len(body) > MaxBodySize {
			return nil, 0, fmt.Errorf("body of %d bytes over the %d MB limit", len(body), MaxBodySize>>20)
		}
		// Some tools record an empty text for bodies they did not keep.
		if len(body) > 0 || c.Size <= 0 {
			return body, len(body), nil
		}
	}
	size := c.Size
	if size < 0 {
		size = e.Response.BodySize
	}
	if size < 0 || math.IsNaN(size) {
		size = 0
	}
	if size > MaxBodySize {
		return nil, 0, fmt.Errorf("body of %.0f bytes over the %d MB limit", size, MaxBodySize>>20)
	}
	return nil, int(size), nil
}

func harWait(ms float64) time.Duration {
	if ms <= 0 || math.IsNaN(ms) {
		return 0 // -1 means "not applicable" in HAR 1.2
	}
	if ms >= float64(MaxReplayWait/time.Millisecond) {
		return MaxReplayWait
	}
	return time.Duration(ms * float64(time.Millisecond))
}

func harHeader0(hs []harHeader, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return strings.ReplaceAll(h.Value, "\n", ", ")
		}
	}
	return ""
}

// harHeaders returns the replayed headers of hs. URLs on the page's own
// host in Link and Location become paths: the replay serves the page on
// the lab's origin, and an absolute URL would name another one (a
// preload of the real origin's stylesheet is a second download there).
func harHeaders(hs []harHeader, page *url.URL) http.Header {
	var out http.Header
	for _, h := range hs {
		for _, keep := range replayedHeaders {
			if !strings.EqualFold(h.Name, keep) {
				continue
			}
			for v := range strings.SplitSeq(h.Value, "\n") {
				switch keep {
				case "Link":
					v = firstPartyPaths(v, page)
				case "Location":
					if u, err := url.Parse(strings.TrimSpace(v)); err == nil && strings.EqualFold(u.Hostname(), page.Hostname()) {
						v = target(u)
					}
				}
				if v = sanitizeHeader(v); v != "" {
					if out == nil {
						out = http.Header{}
					}
					out.Add(keep, v)
				}
			}
		}
	}
	return out
}

// sanitizeHeader drops a value that could not be sent as a header field.
func sanitizeHeader(v string) string {
	v = strings.TrimSpace(v)
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return ""
		}
	}
	return v
}

// checkInjection refuses a capture whose response header fields or MIME
// types hold a carriage return or NUL (or a line break where Chrome never
// writes one): no browser records one (HTTP parsers reject them), so the
// file was edited to smuggle headers into the replay.
func checkInjection(entries []harEntry) error {
	bad := func(v string) bool { return strings.ContainsAny(v, "\r\n\x00") }
	for i, e := range entries {
		if bad(e.Response.Content.MimeType) {
			return fmt.Errorf("%w: entry %d (%s): mimeType holds a line break or NUL; export the capture again from the browser",
				ErrUnsafeHAR, i, truncate(e.Request.URL))
		}
		for _, h := range e.Response.Headers {
			// Chrome's protocol joins a repeated field's values with "\n"
			// (harHeaders splits them); a carriage return or NUL is never
			// recorded.
			if bad(h.Name) || strings.ContainsAny(h.Value, "\r\x00") {
				return fmt.Errorf("%w: entry %d (%s): response header %q holds a line break or NUL; export the capture again from the browser",
					ErrUnsafeHAR, i, truncate(e.Request.URL), truncate(h.Name))
			}
		}
	}
	return nil
}

// truncate shortens a value quoted in an error.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// LoadHARFile reads the HAR file at path (see LoadHAR).
func LoadHARFile(path string) (*Replay, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the capture
	if err != nil {
		return nil, fmt.Errorf("site: open HAR: %w", err)
	}
	defer f.Close()
	rp, err := LoadHAR(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rp, nil
}

// firstPartyPaths rewrites the <URI-reference>s of a Link field value that
// name the page's host as paths.
func firstPartyPaths(v string, page *url.URL) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(v, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(v[open:], '>')
		if end < 0 {
			break
		}
		ref := v[open+1 : open+end]
		if u, err := url.Parse(ref); err == nil && u.IsAbs() && strings.EqualFold(u.Hostname(), page.Hostname()) {
			ref = target(u)
		}
		b.WriteString(v[:open+1])
		b.WriteString(ref)
		b.WriteByte('>')
		v = v[open+end+1:]
	}
	b.WriteString(v)
	return b.String()
}
