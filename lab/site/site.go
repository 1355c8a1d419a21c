package site

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ThirdPartyPrefix is the path prefix that reaches a third-party resource
// without its Host header: /_3p/{host}/{path}.
const ThirdPartyPrefix = "/_3p/"

// Options are the strategy knobs of a Site. The zero value serves the
// profile as is.
type Options struct {
	// Think overrides the profile's think time for the document when
	// positive; negative means no think time; 0 keeps the profile's.
	Think time.Duration
	// PreloadInHTML adds <link rel=preload|modulepreload|preconnect> for
	// the hinted resources at the top of <head> (the "preload" strategy).
	// The document keeps its size: the text padding shrinks.
	PreloadInHTML bool
	// LinkHeaders sends the same hints as Link headers on the document's
	// 200, where a proxy learns them.
	LinkHeaders bool
	// MaxLog bounds the request log; 0 = 100000 entries. Requests past the
	// bound are counted by Dropped, not logged.
	MaxLog int
	// Logger receives serving errors; nil = slog.Default().
	Logger *slog.Logger
}

// Validate reports whether o is usable.
func (o Options) Validate() error {
	if o.MaxLog < 0 {
		return fmt.Errorf("%w: negative MaxLog", ErrBadOptions)
	}
	return nil
}

// LogEntry records one request. The times carry Go's monotonic clock
// reading, so differences between them are exact.
type LogEntry struct {
	Method string
	Host   string
	// Path is the request target (path and query).
	Path   string
	Proto  string
	Status int
	// Start is when the handler was called; FirstByte when the response
	// header was written (after any think time or wait); End when the body
	// was written.
	Start, FirstByte, End time.Time
	// Bytes counts the body bytes written.
	Bytes int
	// Canceled is set when the client went away during the wait.
	Canceled bool
}

type served struct {
	res    Resource
	body   []byte
	etag   string
	header http.Header // complete response header, shared read-only
	wait   time.Duration
	status int
}

type routeKey struct{ host, path string }

// Site is the origin under test. It is safe for concurrent use.
type Site struct {
	profile  *Profile
	opts     Options
	logger   *slog.Logger
	doc      *served
	routes   map[routeKey]*served
	tpHosts  map[string]bool
	manifest Manifest

	mu      sync.Mutex
	log     []LogEntry
	dropped int
}

var _ http.Handler = (*Site)(nil)

// New builds the site of p (copied) with the strategy opts. It generates
// every body up front.
func New(p *Profile, opts Options) (*Site, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.Clone()
	s := &Site{
		profile: p,
		opts:    opts,
		logger:  opts.Logger,
		routes:  make(map[routeKey]*served, len(p.Resources)),
		tpHosts: map[string]bool{},
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	think := p.Think
	switch {
	case opts.Think > 0:
		think = opts.Think
	case opts.Think < 0:
		think = 0
	}

	var doc []byte
	var offsets map[string]int
	if p.HTML != nil {
		doc, offsets = p.HTML, offsetsIn(p, p.HTML)
	} else {
		d := renderHTML(p, opts, false)
		doc, offsets = d.doc, d.offsets
	}
	docHeader := http.Header{}
	for k, v := range p.Header {
		docHeader[k] = append([]string(nil), v...)
	}
	if opts.LinkHeaders {
		for _, h := range hintsFor(p, nil) {
			docHeader.Add("Link", h.header())
		}
	}
	s.doc = newServed(Resource{Path: p.htmlPath(), ContentType: "text/html; charset=utf-8", CacheControl: "no-cache"},
		doc, think, docHeader)
	s.routes[routeKey{"", p.htmlPath()}] = s.doc

	for _, r := range p.Resources {
		h := http.Header{}
		for k, v := range r.Header {
			h[k] = append([]string(nil), v...)
		}
		// Fonts, modules and fetches from another origin need CORS, and
		// Resource Timing reports sizes only with Timing-Allow-Origin.
		if h.Get("Access-Control-Allow-Origin") == "" {
			h.Set("Access-Control-Allow-Origin", "*")
		}
		h.Set("Timing-Allow-Origin", "*")
		sv := newServed(r, generateBody(p, r), r.Wait, h)
		host := r.Host()
		if host != "" {
			s.tpHosts[host] = true
		}
		s.routes[routeKey{host, r.Path}] = sv
	}
	s.manifest = buildManifest(p, doc, offsets, think)
	return s, nil
}

func newServed(r Resource, body []byte, wait time.Duration, h http.Header) *served {
	sum := sha256.Sum256(body)
	sv := &served{
		res: r, body: body, wait: wait, status: r.status(), header: h,
		etag: `"` + hex.EncodeToString(sum[:12]) + `"`,
	}
	h.Set("Content-Type", r.contentType())
	h.Set("Cache-Control", r.cacheControl())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("ETag", sv.etag)
	return sv
}

// Profile returns a copy of the profile the site serves.
func (s *Site) Profile() *Profile { return s.profile.Clone() }

// Manifest returns the manifest of the site as served with its options.
func (s *Site) Manifest() Manifest { return s.manifest }

// Critical returns the render-blocking resources.
func (s *Site) Critical() []Resource { return s.profile.Critical() }

// Document returns the document as served.
func (s *Site) Document() []byte { return s.doc.body }

// Body returns the body and ETag served for the resource with URL u (as
// returned by Resource.URL, or the document's path).
func (s *Site) Body(u string) (body []byte, etag string, ok bool) {
	if u == s.profile.htmlPath() {
		return s.doc.body, s.doc.etag, true
	}
	for _, r := range s.profile.Resources {
		if r.URL() == u {
			sv := s.routes[routeKey{r.Host(), r.Path}]
			return sv.body, sv.etag, true
		}
	}
	return nil, "", false
}

// Log returns a copy of the request log, oldest first.
func (s *Site) Log() []LogEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogEntry(nil), s.log...)
}

// Dropped returns how many requests were not logged because the log was
// full.
func (s *Site) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// ResetLog empties the request log (between runs).
func (s *Site) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log, s.dropped = nil, 0
}

func (s *Site) record(e LogEntry) {
	limit := s.opts.MaxLog
	if limit == 0 {
		limit = 100000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) >= limit {
		s.dropped++
		return
	}
	s.log = append(s.log, e)
}

// route finds what answers r: a third-party resource by Host or by
// ThirdPartyPrefix, else a first-party path whatever the Host.
func (s *Site) route(r *http.Request) *served {
	target := r.URL.EscapedPath()
	if target == "" {
		target = "/"
	}
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	if rest, ok := strings.CutPrefix(target, ThirdPartyPrefix); ok {
		host, path, _ := strings.Cut(rest, "/")
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		return s.lookup(strings.ToLower(host), "/"+path)
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	if s.tpHosts[host] {
		if sv := s.lookup(host, target); sv != nil {
			return sv
		}
	}
	return s.lookup("", target)
}

func (s *Site) lookup(host, target string) *served {
	if sv, ok := s.routes[routeKey{host, target}]; ok {
		return sv
	}
	// A query the profile does not know (a cache buster) still finds the
	// resource.
	if path, _, ok := strings.Cut(target, "?"); ok {
		return s.routes[routeKey{host, path}]
	}
	return nil
}

// ServeHTTP serves the document and resources of the profile.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := LogEntry{Method: r.Method, Host: r.Host, Path: r.URL.RequestURI(), Proto: r.Proto, Start: time.Now()}
	defer func() {
		e.End = time.Now()
		if e.FirstByte.IsZero() {
			e.FirstByte = e.End
		}
		s.record(e)
	}()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		e.Status = http.StatusMethodNotAllowed
		http.Error(w, "method not allowed: use GET or HEAD", e.Status)
		return
	}
	sv := s.route(r)
	if sv == nil {
		w.Header().Set("Cache-Control", "no-store")
		e.Status = http.StatusNotFound
		http.Error(w, "not found: this path is not part of the page profile", e.Status)
		return
	}
	if sv.wait > 0 {
		t := time.NewTimer(sv.wait)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			e.Canceled = true
			return
		}
	}
	h := w.Header()
	for k, v := range sv.header {
		// A copy: a middleware may append to the slices.
		h[k] = append([]string(nil), v...)
	}
	status := sv.status
	if inm := r.Header.Get("If-None-Match"); inm != "" && status == http.StatusOK && etagMatch(inm, sv.etag) {
		status = http.StatusNotModified
		h.Del("Content-Length")
		h.Del("Content-Type")
	}
	e.Status = status
	e.FirstByte = time.Now()
	w.WriteHeader(status)
	if r.Method == http.MethodHead || status == http.StatusNotModified || status == http.StatusNoContent {
		return
	}
	n, err := w.Write(sv.body)
	e.Bytes = n
	if err != nil {
		s.logger.Debug("site: writing body", "path", e.Path, "written", n, "err", err)
	}
}

// etagMatch implements the weak comparison of If-None-Match.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
