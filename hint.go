package earlyhints

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/earlyhints/earlyhints/linkheader"
)

// Rel is a relation type that browsers act on in a 103 response.
type Rel string

// The relations a Hint can carry.
const (
	RelPreload       Rel = "preload"
	RelModulePreload Rel = "modulepreload"
	RelPreconnect    Rel = "preconnect"
)

// Hint is one validated early hint. Construct it with HintFromLink or set the
// fields and call Validate.
type Hint struct {
	Rel Rel
	// URL is the absolute target (an origin for preconnect).
	URL string
	// As is the request destination of a preload (style, script, font, ...).
	As            string
	Type          string
	CrossOrigin   string // "", "anonymous" or "use-credentials"; "anonymous" is written as the bare attribute
	Media         string
	FetchPriority string
	ImageSrcset   string
	ImageSizes    string
	Integrity     string
	// NoPush keeps the origin's "nopush": browsers ignore it, legacy push
	// honours it.
	NoPush bool
}

// destinations are the preload destinations Chromium fetches from a Link
// header (its "as" values); others are ignored by the browser, so they are
// rejected here.
var destinations = map[string]bool{
	"style": true, "script": true, "font": true, "image": true,
	"fetch": true, "track": true, "json": true,
}

// HintFromLink validates l as a hint for the page at page (which must be
// absolute; pass the effective base when the document has <base href>),
// resolving its target against page.
func HintFromLink(l linkheader.Link, page *url.URL, allowCrossSite bool) (Hint, error) {
	var h Hint
	for _, r := range l.Rel {
		switch r {
		case "preload":
			h.Rel = RelPreload
		case "modulepreload":
			h.Rel = RelModulePreload
		case "preconnect", "dns-prefetch":
			h.Rel = RelPreconnect
		default:
			continue
		}
		break
	}
	if h.Rel == "" {
		return Hint{}, fmt.Errorf("%w: rel=%q for %q", ErrUnsupportedRel, strings.Join(l.Rel, " "), l.URI)
	}
	target, err := page.Parse(strings.TrimSpace(l.URI))
	if err != nil {
		return Hint{}, fmt.Errorf("%w: %q: %w", ErrBadTarget, l.URI, err)
	}
	target.Fragment, target.RawFragment = "", ""
	for _, p := range l.Params {
		switch p.Key {
		case "as":
			h.As = strings.ToLower(p.Value)
		case "type":
			h.Type = p.Value
		case "crossorigin":
			h.CrossOrigin = p.Value
			if h.CrossOrigin == "" {
				h.CrossOrigin = "anonymous" // the bare attribute
			}
		case "media":
			h.Media = p.Value
		case "fetchpriority":
			h.FetchPriority = strings.ToLower(p.Value)
		case "imagesrcset":
			h.ImageSrcset = p.Value
		case "imagesizes":
			h.ImageSizes = p.Value
		case "integrity":
			h.Integrity = p.Value
		case "nopush":
			h.NoPush = true
		}
	}
	if h.Rel == RelPreconnect {
		h.URL = (&url.URL{Scheme: target.Scheme, Host: target.Host}).String()
		h.As, h.Type, h.Media, h.FetchPriority, h.ImageSrcset, h.ImageSizes, h.Integrity = "", "", "", "", "", "", ""
	} else {
		h.URL = target.String()
	}
	if h.Rel == RelModulePreload && h.As == "" {
		h.As = "script"
	}
	h.normalize()
	if err := h.Validate(); err != nil {
		return Hint{}, err
	}
	if h.Rel == RelPreconnect {
		if target.Scheme != "https" && !sameOrigin(target, page) && !isLoopback(target.Hostname()) {
			return Hint{}, fmt.Errorf("%w: preconnect to %s needs https", ErrBadTarget, h.URL)
		}
	} else if !allowCrossSite && !sameSite(target, page) {
		return Hint{}, fmt.Errorf("%w: %s from %s", ErrCrossSite, h.URL, page.Host)
	}
	return h, nil
}

// normalize applies what browsers do implicitly.
func (h *Hint) normalize() {
	switch strings.ToLower(h.CrossOrigin) {
	case "", "anonymous":
		h.CrossOrigin = strings.ToLower(h.CrossOrigin)
	case "use-credentials":
		h.CrossOrigin = "use-credentials"
	default:
		h.CrossOrigin = "anonymous" // an invalid value is the anonymous state
	}
	if h.As == "font" && h.CrossOrigin == "" {
		// Fonts are always fetched in CORS mode; a preload without it is
		// a second, wasted download.
		h.CrossOrigin = "anonymous"
	}
	switch h.FetchPriority {
	case "high", "low", "auto":
	default:
		h.FetchPriority = ""
	}
}

// ParseHints parses Link field values into hints; each bad link is reported
// on its own and never drops the good ones. Duplicates are removed.
func ParseHints(values []string, page *url.URL, allowCrossSite bool) ([]Hint, []error) {
	links, errs := linkheader.Parse(values...)
	hints := make([]Hint, 0, len(links))
	seen := make(map[hintID]bool, len(links))
	for _, l := range links {
		h, err := HintFromLink(l, page, allowCrossSite)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if id := (hintID{h.Rel, h.URL}); !seen[id] {
			seen[id] = true
			hints = append(hints, h)
		}
	}
	return hints, errs
}

// Validate reports whether h is a hint a browser acts on.
func (h Hint) Validate() error {
	switch h.Rel {
	case RelPreload, RelModulePreload, RelPreconnect:
	default:
		return fmt.Errorf("%w: rel=%q", ErrUnsupportedRel, h.Rel)
	}
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %q", ErrBadTarget, h.URL)
	}
	if strings.ContainsAny(h.URL, "\r\n\x00") {
		return fmt.Errorf("%w: control character in %q", ErrBadTarget, h.URL)
	}
	if h.Rel == RelPreload && !destinations[h.As] {
		return fmt.Errorf("%w: %s as=%q", ErrMissingAs, h.URL, h.As)
	}
	return nil
}

// Link returns h as a linkheader.Link with an absolute target.
func (h Hint) Link() linkheader.Link { return h.link(h.URL) }

func (h Hint) link(target string) linkheader.Link {
	l := linkheader.Link{URI: target, Rel: []string{string(h.Rel)}}
	add := func(k, v string) {
		if v != "" {
			l.Params = append(l.Params, linkheader.Param{Key: k, Value: v})
		}
	}
	if h.Rel != RelModulePreload || h.As != "script" {
		add("as", h.As)
	}
	add("type", h.Type)
	switch h.CrossOrigin {
	case "anonymous":
		l.Params = append(l.Params, linkheader.Param{Key: "crossorigin"})
	case "use-credentials":
		add("crossorigin", h.CrossOrigin)
	}
	add("media", h.Media)
	add("fetchpriority", h.FetchPriority)
	add("imagesrcset", h.ImageSrcset)
	add("imagesizes", h.ImageSizes)
	add("integrity", h.Integrity)
	if h.NoPush {
		l.Params = append(l.Params, linkheader.Param{Key: "nopush"})
	}
	return l
}

// String returns the Link field value of h with an absolute target.
func (h Hint) String() string { return h.Link().String() }

// Format returns the Link field value of h, writing a target on the same
// origin as page as an absolute path (shorter, and independent of the host
// name a proxy is reached by).
func (h Hint) Format(page *url.URL) string {
	if h.Rel != RelPreconnect && page != nil {
		if u, err := url.Parse(h.URL); err == nil && sameOrigin(u, page) {
			rel := u.EscapedPath()
			if rel == "" {
				rel = "/"
			}
			if u.RawQuery != "" {
				rel += "?" + u.RawQuery
			}
			return h.link(rel).String()
		}
	}
	return h.String()
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(hostPort(a), hostPort(b))
}

func hostPort(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// sameSite compares registrable domains (scheme-less, as the Fetch
// "same site" check without schemes); IP addresses and single-label hosts
// such as localhost compare exactly.
func sameSite(a, b *url.URL) bool {
	ha, hb := strings.ToLower(a.Hostname()), strings.ToLower(b.Hostname())
	if ha == hb {
		return true
	}
	if net.ParseIP(ha) != nil || net.ParseIP(hb) != nil {
		return false
	}
	sa, err1 := publicsuffix.EffectiveTLDPlusOne(ha)
	sb, err2 := publicsuffix.EffectiveTLDPlusOne(hb)
	return err1 == nil && err2 == nil && sa == sb
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
