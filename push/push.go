// Package push is legacy HTTP/2 Server Push, plain and cache-aware, as a
// measured mode of the earlyhints middleware.
//
// Browsers removed push (Chrome 106, Firefox 132) and never had it over
// HTTP/3; it is here so that its cost can be measured next to Early Hints,
// and for the rare push-capable non-browser client. For each navigation of
// a client that allows push, the route's learned same-origin preloads are
// pushed through http.Pusher; Go's HTTP/2 server then serves each promised
// request through the same handler chain (so through the proxy to the
// origin) concurrently with the page. Clients that refuse push, and
// HTTP/1.1 and HTTP/3, fall back to Early Hints or to nothing.
//
// In cache-aware mode ("push-digest") a cookie carries a Golomb-coded set
// of the asset versions (URL + ETag) already pushed to the client, as H2O's
// CASPer does, so they are not pushed again; a changed asset has a new ETag
// and is pushed again. A false positive means a needed asset is not pushed:
// the browser fetches it normally, one round trip later. A client that
// cleared its cache but kept the cookie is not pushed what it lacks until
// the asset changes or the cookie expires (MaxAge).
package push

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/internal/responsewriter"
	"github.com/earlyhints/earlyhints/internal/weburl"
	"github.com/earlyhints/earlyhints/linkheader"
)

// Mode says whether and how to push.
type Mode int

// The modes.
const (
	// Plain pushes the route's hints on every navigation.
	Plain Mode = iota + 1
	// CacheAware pushes only what the client's cache digest cookie lacks.
	CacheAware
)

// When says at what moment assets are pushed.
type When int

// The moments.
const (
	// AtArrival pushes the learned hints as soon as the navigation arrives,
	// before the origin is asked: Go's HTTP/2 server serves the pushed
	// streams concurrently, so they travel while the origin thinks.
	AtArrival When = iota
	// WithResponse pushes what the origin's 200 lists in Link: rel=preload
	// (classic Link-driven push), when its headers arrive.
	WithResponse
)

// Defaults applied to zero fields of Config.
const (
	DefaultMaxPushes  = 10
	DefaultMaxBytes   = 1 << 20
	DefaultCookie     = "eh_digest"
	DefaultCapacity   = 100
	DefaultFPRate     = 0.01
	DefaultCookieLife = 7 * 24 * time.Hour
)

// Config configures a Pusher. The zero value pushes plainly at arrival and
// falls back to Early Hints.
type Config struct {
	// Mode is Plain or CacheAware. 0 means Plain.
	Mode Mode
	// When is AtArrival (default) or WithResponse.
	When When
	// MaxPushes caps the streams promised for one navigation. 0 means 10.
	MaxPushes int
	// MaxBytes caps the bytes pushed for one navigation, counted with the
	// sizes seen in earlier responses of the same assets. 0 means 1 MiB.
	MaxBytes int64
	// NoFallback sends nothing to clients that cannot be pushed; by default
	// they get Early Hints.
	NoFallback bool
	// CookieName names the digest cookie. "" means "eh_digest".
	CookieName string
	// Capacity is how many assets the digest remembers. 0 means 100.
	Capacity int
	// FalsePositiveRate of the digest. 0 means 0.01.
	FalsePositiveRate float64
	// CookieMaxAge is the digest cookie's lifetime. 0 means 7 days.
	CookieMaxAge time.Duration
	// Observer receives push events (pushed, skipped by digest, cancelled).
	// Nil means none.
	Observer Observer
	// Logger receives warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	switch {
	case c.Mode < 0 || c.Mode > CacheAware:
		return fmt.Errorf("push: unknown mode %d (use Plain or CacheAware)", c.Mode)
	case c.When < AtArrival || c.When > WithResponse:
		return fmt.Errorf("push: unknown moment %d (use AtArrival or WithResponse)", c.When)
	case c.MaxPushes < 0 || c.MaxBytes < 0 || c.Capacity < 0 || c.CookieMaxAge < 0:
		return errors.New("push: limits must not be negative")
	case c.FalsePositiveRate < 0 || c.FalsePositiveRate >= 1:
		return fmt.Errorf("push: false-positive rate %v out of range (0, 1)", c.FalsePositiveRate)
	case c.Capacity > maxDigestItems:
		return fmt.Errorf("push: digest capacity %d over %d (a cookie holds at most 4 KiB)", c.Capacity, maxDigestItems)
	}
	return nil
}

// pushMarker marks the requests that Go's HTTP/2 server synthesises for a
// promise, so that Wrap can count them; it is removed before the request
// goes further.
const pushMarker = "X-Earlyhints-Pushed"

// Pusher pushes learned hints. Put Wrap around the earlyhints.Handler: the
// writer it gives the Handler is an earlyhints.HintTaker, so the Handler
// hands it each navigation's hints before the 103.
type Pusher struct {
	cfg Config
	p   uint8

	mu     sync.Mutex
	assets map[string]asset // target URL → what its last response said
	nopush map[string]bool  // targets the origin's Link headers mark nopush
}

type asset struct {
	validator string
	size      int64
	cacheable bool
}

const maxAssets = 1 << 14

// New returns a Pusher.
func New(cfg Config) (*Pusher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mode == 0 {
		cfg.Mode = Plain
	}
	if cfg.MaxPushes == 0 {
		cfg.MaxPushes = DefaultMaxPushes
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookie
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.FalsePositiveRate == 0 {
		cfg.FalsePositiveRate = DefaultFPRate
	}
	if cfg.CookieMaxAge == 0 {
		cfg.CookieMaxAge = DefaultCookieLife
	}
	if cfg.Observer == nil {
		cfg.Observer = ObserverFunc(func(Event) {})
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pusher{cfg: cfg, p: ParamForRate(cfg.FalsePositiveRate), assets: make(map[string]asset), nopush: make(map[string]bool)}, nil
}

// state carries one navigation's digest from TakeHints to the final
// response.
type state struct {
	client   *Digest  // what the client says it has (nil: nothing)
	keys     []uint64 // the client's keys still valid plus what was pushed now
	pushed   int
	modified bool
}

var _ earlyhints.HintTaker = (*recorder)(nil)

// TakeHints implements earlyhints.HintTaker: it pushes the hints that push
// can deliver and returns those still to be sent as a 103 (preconnects,
// cross-origin targets, and all of them for a client that cannot be pushed
// unless NoFallback).
func (rw *recorder) TakeHints(r *http.Request, hints []hintstore.Link) []hintstore.Link {
	p, st := rw.p, rw.st
	if p.cfg.When != AtArrival || r.ProtoMajor != 2 {
		return p.fallback(r, hints)
	}
	origin := originOf(r)
	var rest []hintstore.Link
	pushed, budget := 0, p.cfg.MaxBytes
	for i, h := range hints {
		path, ok := p.pushable(origin, h)
		if !ok {
			rest = append(rest, h)
			continue
		}
		if pushed >= p.cfg.MaxPushes {
			continue
		}
		a, seen := p.asset(h.Target)
		if seen && !a.cacheable || budget-a.size < 0 {
			// A response the client may not store would be pushed on every
			// page view; the browser fetches it itself instead.
			continue
		}
		if p.cfg.Mode == CacheAware && st != nil {
			key := ItemKey(h.Target, a.validator)
			if st.client != nil && st.client.Contains(key) {
				p.cfg.Observer.ObservePush(Event{Kind: EventSkipped, Target: h.Target, Proto: r.Proto, Reason: ReasonDigest})
				continue
			}
			st.keys = append(st.keys, key)
			st.modified = true
		}
		err := rw.Push(path, &http.PushOptions{Header: pushHeader(r)})
		if errors.Is(err, http.ErrNotSupported) && pushed == 0 {
			// The client disabled push (SETTINGS_ENABLE_PUSH=0).
			if st != nil {
				st.modified = false
			}
			return p.fallback(r, hints[i:])
		}
		if err != nil {
			p.cfg.Logger.Debug("push: promise refused", "target", path, "err", err)
			continue
		}
		pushed++
		budget -= a.size
	}
	if st != nil {
		st.pushed = pushed
	}
	return rest
}

func (p *Pusher) fallback(r *http.Request, hints []hintstore.Link) []hintstore.Link {
	if p.cfg.NoFallback {
		return nil
	}
	return hints
}

// pushable reports whether h can be pushed to the client of a request on
// origin (nil when the request's URL is unusable): a same-origin preload
// not marked nopush. It returns the path to promise.
func (p *Pusher) pushable(origin *weburl.URL, h hintstore.Link) (string, bool) {
	if h.Preconnect || origin == nil {
		return "", false // an origin, not a resource; or no origin to push on
	}
	p.mu.Lock()
	no := p.nopush[h.Target]
	p.mu.Unlock()
	if no {
		return "", false
	}
	// Learned targets are canonical; one from elsewhere is resolved.
	t, ok := weburl.Split(h.Target)
	if !ok {
		var err error
		if t, err = weburl.Resolve(h.Target, nil); err != nil {
			return "", false
		}
	}
	if !t.SameOrigin(origin) {
		return "", false // never push another origin's resource
	}
	return t.Rest, true
}

// originOf is the canonical origin of r, which a pushed target must share
// an origin with, or nil.
func originOf(r *http.Request) *weburl.URL {
	u, err := weburl.OriginOf(earlyhints.RequestURL(r))
	if err != nil {
		return nil
	}
	return &u
}

// pushHeader is the header of a promised request: what the navigation's
// client would send for a subresource.
func pushHeader(r *http.Request) http.Header {
	h := http.Header{pushMarker: {"1"}}
	for _, k := range []string{"User-Agent", "Accept-Encoding", "Accept-Language"} {
		if v := r.Header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	return h
}

func (p *Pusher) asset(target string) (asset, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.assets[target]
	return a, ok
}

func (p *Pusher) rememberAsset(target string, a asset) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.assets) >= maxAssets {
		clear(p.assets) // a rare full reset beats an LRU on this legacy path
	}
	p.assets[target] = a
}

// Wrap returns next with the bookkeeping push needs: the digest cookie read
// from each navigation and written on its response, the assets' validators
// and sizes, and the counting of pushed streams (bytes, cancellations).
func (p *Pusher) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(pushMarker) != "" {
			p.servePushed(next, w, r)
			return
		}
		var st *state
		if p.cfg.Mode == CacheAware && earlyhints.IsNavigation(r) {
			st = &state{}
			if c, err := r.Cookie(p.cfg.CookieName); err == nil {
				d, err := DecodeDigest(c.Value)
				if err != nil {
					p.cfg.Logger.Debug("push: ignoring a malformed digest cookie", "err", err)
				} else {
					st.client = d
				}
			}
		}
		rw := &recorder{Counter: responsewriter.NewCounter(w), p: p, r: r, st: st}
		next.ServeHTTP(responsewriter.WithHijacker(rw), r)
	})
}

// servePushed serves a promised request and counts it.
func (p *Pusher) servePushed(next http.Handler, w http.ResponseWriter, r *http.Request) {
	r.Header.Del(pushMarker)
	rw := &recorder{Counter: responsewriter.NewCounter(w), p: p, r: r}
	next.ServeHTTP(rw, r)
	target := earlyhints.RequestURL(r).String()
	if err := r.Context().Err(); err != nil {
		p.cfg.Observer.ObservePush(Event{Kind: EventCancelled, Target: target, Proto: r.Proto, Bytes: int(rw.Bytes)})
		return
	}
	p.cfg.Observer.ObservePush(Event{Kind: EventPushed, Target: target, Proto: r.Proto, Bytes: int(rw.Bytes)})
}

// recorder watches one response for Wrap, and takes a navigation's hints
// from the Handler inside.
type recorder struct {
	responsewriter.Counter
	p  *Pusher
	r  *http.Request
	st *state // the digest of a cache-aware navigation, else nil
}

func (rw *recorder) WriteHeader(code int) {
	if responsewriter.Informational(code) || rw.Status != 0 {
		rw.Counter.WriteHeader(code)
		return
	}
	hdr := rw.Header()
	if code == http.StatusOK {
		a := asset{validator: hdr.Get("Etag"), cacheable: cacheable(hdr)}
		if a.validator == "" {
			a.validator = hdr.Get("Last-Modified")
		}
		if n, err := strconv.ParseInt(hdr.Get("Content-Length"), 10, 64); err == nil {
			a.size = n
		}
		rw.p.rememberAsset(earlyhints.RequestURL(rw.r).String(), a)
	}
	if code == http.StatusOK && earlyhints.IsNavigation(rw.r) {
		rw.p.rememberNoPush(earlyhints.RequestURL(rw.r), hdr.Values("Link"))
		if rw.p.cfg.When == WithResponse {
			rw.pushFromLinks(hdr)
		}
	}
	if rw.st != nil && rw.st.modified {
		d := rw.st.client
		if d == nil || d.p != rw.p.p || d.capacity != rw.p.cfg.Capacity {
			d = NewDigest(rw.p.p, rw.p.cfg.Capacity) // none yet, or made with other settings
		}
		d.Add(rw.st.keys...)
		// Secure only over TLS: browsers drop a Secure cookie set over
		// plain HTTP (h2c), and the digest would never come back.
		c := &http.Cookie{ //nolint:gosec // Secure is set whenever the request came over TLS
			Name: rw.p.cfg.CookieName, Value: d.Encode(), Path: "/", MaxAge: int(rw.p.cfg.CookieMaxAge / time.Second),
			Secure: rw.r.TLS != nil, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		}
		hdr.Add("Set-Cookie", c.String())
	}
	rw.Counter.WriteHeader(code)
}

// pushFromLinks pushes the same-origin preloads of the 200's Link header
// (classic Link-driven push).
func (rw *recorder) pushFromLinks(hdr http.Header) {
	pusher, ok := rw.ResponseWriter.(http.Pusher)
	if !ok || !earlyhints.IsNavigation(rw.r) {
		return
	}
	hints, _ := earlyhints.ParseHints(hdr.Values("Link"), earlyhints.RequestURL(rw.r), false)
	origin := originOf(rw.r)
	n := 0
	for _, h := range hints {
		path, ok := rw.p.pushable(origin, hintstore.Link{Target: h.URL, Preconnect: h.Rel == earlyhints.RelPreconnect})
		if !ok || n >= rw.p.cfg.MaxPushes {
			continue
		}
		if err := pusher.Push(path, &http.PushOptions{Header: pushHeader(rw.r)}); err != nil {
			return
		}
		n++
	}
}

// rememberNoPush records which targets of a page's Link headers the origin
// marks nopush (H2O's convention), and forgets the mark when it goes away.
// The mark never reaches a 103: Chromium drops a link with an attribute it
// does not know.
func (p *Pusher) rememberNoPush(page *url.URL, values []string) {
	if len(values) == 0 {
		return
	}
	links, _ := linkheader.Parse(values...)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range links {
		h, err := earlyhints.HintFromLink(l, page, false)
		if err != nil {
			continue
		}
		if _, no := l.Param("nopush"); no {
			if len(p.nopush) < maxAssets {
				p.nopush[h.URL] = true
			}
		} else {
			delete(p.nopush, h.URL)
		}
	}
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.Status == 0 {
		rw.WriteHeader(http.StatusOK)
	}
	return rw.Counter.Write(b)
}

func cacheable(hdr http.Header) bool {
	cc := httpx.ParseCacheControl(hdr)
	return !cc.NoStore && !cc.Private && hdr.Get("Set-Cookie") == ""
}
