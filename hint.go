package earlyhints

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/internal/weburl"
	"github.com/earlyhints/earlyhints/linkheader"
	"github.com/earlyhints/earlyhints/scan"
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
//
// Chromium's 103 parser drops a whole link that carries any attribute other
// than rel, as, crossorigin, type and fetchpriority. A hint with Media,
// ImageSrcset, ImageSizes or Integrity is therefore written faithfully (so
// no browser preloads what the page would not use) but only Firefox acts on
// it; "nopush", which would make Chromium drop the link, is never written.
type Hint struct {
	Rel Rel
	// URL is the absolute target (an origin for preconnect).
	URL string
	// As is the request destination of a preload (style, script, font,
	// image or fetch).
	As            string
	Type          string
	CrossOrigin   string // "", "anonymous" or "use-credentials"; "anonymous" is written as the bare attribute
	Media         string
	FetchPriority string // "", "high", "low" or "auto"
	ImageSrcset   string
	ImageSizes    string
	Integrity     string
}

// destinations are the "as" values Chromium's 103 parser accepts
// (services/network link_header_parser: font, image, script, style, fetch);
// it drops a link with any other, including the track, audio and video
// that <link rel=preload> accepts in a document, so they are rejected here.
func isDestination(as string) bool {
	switch as {
	case "style", "script", "font", "image", "fetch":
		return true
	}
	return false
}

// AcceptedDestination reports whether Chromium preloads a 103 link with
// this as= value (compared case-insensitively).
func AcceptedDestination(as string) bool { return isDestination(strings.ToLower(as)) }

// DroppedAttributes returns the attributes of l for which Chromium's 103
// parser drops the whole link: any but as, crossorigin, type and
// fetchpriority (media, imagesrcset, imagesizes, integrity, nopush, anchor,
// unknown ones). Firefox still acts on such a link.
func DroppedAttributes(l linkheader.Link) []string {
	var dropped []string
	for _, p := range l.Params {
		switch strings.ToLower(p.Key) {
		case "as", "crossorigin", "type", "fetchpriority", "rel":
		default:
			dropped = append(dropped, strings.ToLower(p.Key))
		}
	}
	return dropped
}

// HintFromLink validates l as a hint for the page at page (which must be
// absolute; pass the effective base when the document has <base href>),
// resolving its target against page as a browser does.
func HintFromLink(l linkheader.Link, page *url.URL, allowCrossSite bool) (Hint, error) {
	rel, err := relOf(l)
	if err != nil {
		return Hint{}, err
	}
	base, err := baseOf(page)
	if err != nil {
		return Hint{}, err
	}
	rh, err := Hint{Rel: rel}.from(l, &base, allowCrossSite)
	return rh.Hint, err
}

// relOf picks the first relation of l that a 103 can carry.
func relOf(l linkheader.Link) (Rel, error) {
	for _, r := range l.Rel {
		switch {
		case strings.EqualFold(r, "preload"):
			return RelPreload, nil
		case strings.EqualFold(r, "modulepreload"):
			return RelModulePreload, nil
		case strings.EqualFold(r, "preconnect"), strings.EqualFold(r, "dns-prefetch"):
			return RelPreconnect, nil
		}
	}
	return "", fmt.Errorf("%w: rel=%q for %q", ErrUnsupportedRel, strings.Join(l.Rel, " "), l.URI)
}

// baseOf returns the canonical base for page.
func baseOf(page *url.URL) (weburl.URL, error) {
	if page == nil {
		return weburl.URL{}, fmt.Errorf("%w: no page URL to resolve against", ErrBadTarget)
	}
	base, err := weburl.FromURL(page)
	switch {
	case errors.Is(err, weburl.ErrScheme):
		return weburl.URL{}, fmt.Errorf("%w: page URL %q is not an absolute http(s) URL", ErrBadTarget, page.Redacted())
	case err != nil:
		return weburl.URL{}, fmt.Errorf("%w: page URL %q: %w", ErrBadTarget, page.Redacted(), err)
	}
	return base, nil
}

// resolvedHint is a validated hint with its target in canonical parts:
// what learning carries from validation to the stored Link value, so that
// a target is resolved once.
type resolvedHint struct {
	Hint
	target weburl.URL
	// kind is what the page does with it, which orders a 103: what the
	// first render waits for, then fonts, the LCP image, modules and the
	// rest (see scan.Kind).
	kind scan.Kind
}

// kindOf classes a hint the page declared itself (a Link field), where
// the scanner's view of the markup is not at hand: a stylesheet or script
// the origin names is taken as critical unless marked low priority, an
// image only when marked high.
func kindOf(h Hint) scan.Kind {
	low := strings.EqualFold(h.FetchPriority, "low")
	switch {
	case h.Rel == RelPreconnect:
		return scan.KindPreconnect
	case h.Rel == RelModulePreload:
		return scan.KindModule
	case low:
		return scan.KindDeferred
	}
	switch strings.ToLower(h.As) {
	case "style", "script":
		return scan.KindRenderBlocking
	case "font":
		return scan.KindFont
	case "image":
		if strings.EqualFold(h.FetchPriority, "high") {
			return scan.KindImage
		}
	}
	return scan.KindDeferred
}

// kindOfValue is kindOf for a stored Link value as this package writes
// it (see Hint.appendTo), read without parsing the whole field.
func kindOfValue(v string) scan.Kind {
	param := func(name string) string {
		i := strings.Index(v, "; "+name+"=")
		if i < 0 {
			return ""
		}
		rest := v[i+len(name)+3:]
		if j := strings.IndexByte(rest, ';'); j >= 0 {
			rest = rest[:j]
		}
		return strings.Trim(rest, `"`)
	}
	return kindOf(Hint{Rel: Rel(param("rel")), As: param("as"), FetchPriority: param("fetchpriority")})
}

// from completes h, whose Rel is set, from l resolved against base.
func (h Hint) from(l linkheader.Link, base *weburl.URL, allowCrossSite bool) (resolvedHint, error) {
	t, err := weburl.Resolve(l.URI, base)
	if err != nil {
		return resolvedHint{}, fmt.Errorf("%w: %q: %w", ErrBadTarget, l.URI, err)
	}
	return h.fromTarget(l.Params, t, base, allowCrossSite)
}

// fromTarget completes h, whose Rel is set, from the attributes of a link
// whose target t is already resolved against base.
func (h Hint) fromTarget(params []linkheader.Param, t weburl.URL, base *weburl.URL, allowCrossSite bool) (resolvedHint, error) {
	h, err := h.validated(params, &t, base, allowCrossSite)
	if err != nil {
		return resolvedHint{}, err
	}
	return resolvedHint{Hint: h, target: t}, nil
}

func (h Hint) validated(params []linkheader.Param, t, base *weburl.URL, allowCrossSite bool) (Hint, error) {
	h.copyParams(params)
	if h.Rel == RelPreconnect {
		if t.Scheme != "https" && !t.SameOrigin(base) && !weburl.IsLoopback(t.Host) {
			return Hint{}, fmt.Errorf("%w: preconnect to %s needs https", ErrBadTarget, t.Origin())
		}
		h = Hint{Rel: RelPreconnect, URL: t.Origin(), CrossOrigin: h.CrossOrigin}
		h.normalize()
		return h, nil
	}
	if base.Scheme == "https" && t.Scheme == "http" && !weburl.IsLoopback(t.Host) {
		return Hint{}, fmt.Errorf("%w: %s from an https page is mixed content that browsers block; serve it over https", ErrBadTarget, t.String())
	}
	if h.Rel == RelModulePreload && h.As == "" {
		h.As = "script"
	}
	h.URL = t.String()
	h.normalize()
	if err := h.checkAttributes(); err != nil {
		return Hint{}, err
	}
	if !allowCrossSite && !weburl.SameSite(t.Host, base.Host) {
		return Hint{}, fmt.Errorf("%w: %s from %s", ErrCrossSite, h.URL, base.Host)
	}
	return h, nil
}

// copyParams takes the first occurrence of each attribute, as browsers do.
func (h *Hint) copyParams(params []linkheader.Param) {
	var seen uint8
	for _, p := range params {
		var dst *string
		var bit uint8
		switch strings.ToLower(p.Key) {
		case "as":
			dst, bit = &h.As, 1
		case "type":
			dst, bit = &h.Type, 2
		case "crossorigin":
			dst, bit = &h.CrossOrigin, 4
		case "media":
			dst, bit = &h.Media, 8
		case "fetchpriority":
			dst, bit = &h.FetchPriority, 16
		case "imagesrcset":
			dst, bit = &h.ImageSrcset, 32
		case "imagesizes":
			dst, bit = &h.ImageSizes, 64
		case "integrity":
			dst, bit = &h.Integrity, 128
		default:
			continue // nopush, anchor and unknown attributes
		}
		if seen&bit != 0 {
			continue
		}
		seen |= bit
		*dst = collapseSpace(p.Value)
		if bit == 4 && *dst == "" {
			*dst = "anonymous" // the bare attribute
		}
	}
}

// normalize applies what browsers do implicitly, so that equal hints are
// written alike.
func (h *Hint) normalize() {
	h.As = strings.ToLower(h.As)
	switch strings.ToLower(h.CrossOrigin) {
	case "":
		h.CrossOrigin = ""
	case "use-credentials":
		h.CrossOrigin = "use-credentials"
	default:
		h.CrossOrigin = "anonymous" // an invalid value is the anonymous state
	}
	if h.Rel == RelPreconnect {
		return
	}
	if h.CrossOrigin == "" && (h.As == "font" || h.As == "fetch") {
		// Fonts and fetch() are always requested in CORS mode; a preload
		// in no-cors mode would not match them and download twice.
		h.CrossOrigin = "anonymous"
	}
	switch fp := strings.ToLower(h.FetchPriority); fp {
	case "high", "low", "auto":
		h.FetchPriority = fp
	default:
		h.FetchPriority = "" // invalid is auto, the default
	}
	if m := strings.ToLower(h.Media); m == "all" || m == "screen" {
		h.Media = "" // always true for a page being navigated to
	}
}

// checkAttributes checks the attributes of a normalised preload or
// modulepreload.
func (h *Hint) checkAttributes() error {
	if h.Rel == RelPreload && !isDestination(h.As) {
		if h.As == "" {
			return fmt.Errorf("%w: %s has no as=; add as=style, script, font, image or fetch", ErrMissingAs, h.URL)
		}
		return fmt.Errorf("%w: %s has as=%q, which browsers do not preload from a 103", ErrMissingAs, h.URL, h.As)
	}
	if h.Rel == RelModulePreload && h.As != "script" {
		return fmt.Errorf("%w: modulepreload %s has as=%q; use as=script or none", ErrMissingAs, h.URL, h.As)
	}
	if h.Type != "" && !isMIMEType(h.Type) {
		return fmt.Errorf("%w: type=%q is not a MIME type", ErrBadAttribute, h.Type)
	}
	for _, v := range [...]string{h.Type, h.Media, h.ImageSrcset, h.ImageSizes, h.Integrity, h.FetchPriority} {
		if httpx.HasControl(v) {
			return fmt.Errorf("%w: control character in %q", ErrBadAttribute, v)
		}
	}
	return nil
}

// ParseHints parses Link field values into hints; each bad link is reported
// on its own and never drops the good ones. Duplicates (same Rel and URL)
// are removed, the first kept.
func ParseHints(values []string, page *url.URL, allowCrossSite bool) ([]Hint, []error) {
	links, errs := linkheader.Parse(values...)
	if len(links) == 0 {
		return nil, errs
	}
	base, err := baseOf(page)
	if err != nil {
		return nil, append(errs, err)
	}
	resolved, errs := parseLinks(links, &base, allowCrossSite, errs)
	hints := make([]Hint, len(resolved))
	for i := range resolved {
		hints[i] = resolved[i].Hint
	}
	return hints, errs
}

// parseLinks validates links against base, as ParseHints, appending each
// bad link's error to errs.
func parseLinks(links []linkheader.Link, base *weburl.URL, allowCrossSite bool, errs []error) ([]resolvedHint, []error) {
	hints := make([]resolvedHint, 0, len(links))
	var seen map[string]bool // only for long lists; short ones are scanned
	if len(links) > 16 {
		seen = make(map[string]bool, len(links))
	}
	for _, l := range links {
		rel, err := relOf(l)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h, err := Hint{Rel: rel}.from(l, base, allowCrossSite)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen != nil {
			key := string(h.Rel) + " " + h.URL
			if seen[key] {
				continue
			}
			seen[key] = true
		} else if hasHint(hints, h.Rel, h.URL) {
			continue
		}
		h.kind = kindOf(h.Hint)
		hints = append(hints, h)
	}
	return hints, errs
}

func hasHint(hints []resolvedHint, rel Rel, u string) bool {
	for i := range hints {
		if hints[i].Rel == rel && hints[i].URL == u {
			return true
		}
	}
	return false
}

// Validate reports whether h is a hint a browser acts on. It applies the
// rules of HintFromLink that do not depend on the page: attributes that
// formatting normalises (crossorigin, fetchpriority, letter case) are
// accepted as they are.
func (h Hint) Validate() error {
	switch h.Rel {
	case RelPreload, RelModulePreload, RelPreconnect:
	default:
		return fmt.Errorf("%w: rel=%q", ErrUnsupportedRel, h.Rel)
	}
	t, err := weburl.Resolve(h.URL, nil)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrBadTarget, h.URL, err)
	}
	if h.Rel == RelPreconnect {
		if t.Rest != "/" {
			return fmt.Errorf("%w: preconnect to %q: give an origin (scheme://host[:port]) only", ErrBadTarget, h.URL)
		}
		return nil
	}
	n := h
	if n.Rel == RelModulePreload && n.As == "" {
		n.As = "script"
	}
	n.normalize()
	return n.checkAttributes()
}

// Link returns h as a linkheader.Link with an absolute target, its
// attributes normalised as they are written.
func (h Hint) Link() linkheader.Link {
	var ps [8]linkheader.Param
	l := h.link(h.URL, ps[:0])
	l.Rel = []string{string(h.Rel)}
	l.Params = append([]linkheader.Param(nil), l.Params...)
	return l
}

// link builds the Link written for h, its params in params' storage.
func (h Hint) link(target string, params []linkheader.Param) linkheader.Link {
	n := h
	n.normalize()
	add := func(k, v string) {
		if v != "" {
			params = append(params, linkheader.Param{Key: k, Value: v})
		}
	}
	if n.Rel != RelPreconnect {
		if n.Rel != RelModulePreload || n.As != "script" {
			add("as", n.As)
		}
		add("type", n.Type)
	}
	switch n.CrossOrigin {
	case "anonymous":
		params = append(params, linkheader.Param{Key: "crossorigin"})
	case "use-credentials":
		add("crossorigin", n.CrossOrigin)
	}
	if n.Rel != RelPreconnect {
		add("fetchpriority", n.FetchPriority)
		add("media", n.Media)
		add("imagesrcset", n.ImageSrcset)
		add("imagesizes", n.ImageSizes)
		add("integrity", n.Integrity)
	}
	return linkheader.Link{URI: target, Params: params}
}

func (h Hint) appendTo(dst []byte, target string) []byte {
	var ps [8]linkheader.Param
	l := h.link(target, ps[:0])
	rel := [1]string{string(h.Rel)}
	l.Rel = rel[:]
	return l.AppendTo(dst)
}

// String returns the Link field value of h with an absolute target, e.g.
// <https://a.test/s.css>; rel=preload; as=style.
func (h Hint) String() string {
	var buf [256]byte
	return string(h.appendTo(buf[:0], h.URL))
}

// Format returns the Link field value of h, writing a target on the same
// origin as page as an absolute path (shorter, and independent of the host
// name a proxy is reached by), e.g. </s.css>; rel=preload; as=style.
func (h Hint) Format(page *url.URL) string {
	if page == nil || h.Rel == RelPreconnect {
		return h.String()
	}
	origin, err := weburl.OriginOf(page)
	if err != nil {
		return h.String()
	}
	// A validated hint's URL is canonical and splits as it is; any other
	// spelling of the page's origin is resolved before it is compared.
	t, ok := weburl.Split(h.URL)
	if !ok || !t.SameOrigin(&origin) {
		if t, err = weburl.Resolve(h.URL, nil); err != nil {
			return h.String() // credentials, say: never made relative
		}
	}
	return resolvedHint{Hint: h, target: t}.format(&origin)
}

// format is Format for a hint whose target is resolved, against the
// page's canonical base (or just its origin). A path starting with "//" is written absolute:
// alone it would name another host.
func (h resolvedHint) format(base *weburl.URL) string {
	target := h.URL
	if rest := h.target.Rest; h.Rel != RelPreconnect && h.target.SameOrigin(base) && (len(rest) < 2 || rest[1] != '/') {
		target = rest
	}
	var buf [256]byte
	return string(h.appendTo(buf[:0], target))
}

// isMIMEType accepts type/subtype with optional parameters, where type is
// a top-level type browsers know (Chromium drops a hint with another).
func isMIMEType(s string) bool {
	s, _, _ = strings.Cut(s, ";")
	typ, sub, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || !httpx.IsToken(typ) || !httpx.IsToken(sub) {
		return false
	}
	switch strings.ToLower(typ) {
	case "application", "audio", "example", "font", "image", "message", "model", "multipart", "text", "video":
		return true
	}
	return len(typ) > 2 && strings.EqualFold(typ[:2], "x-")
}

// collapseSpace turns runs of HTML whitespace into one space and trims the
// ends: srcset, sizes and media taken from HTML often span lines, and a
// header cannot carry the line breaks. It allocates only when it changes s.
func collapseSpace(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if httpx.IsHTMLSpace(c) && (c != ' ' || i == 0 || i == len(s)-1 || s[i+1] == ' ' || httpx.IsHTMLSpace(s[i+1])) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(httpx.HTMLSpace, r) }), " ")
}

// Send writes one 103 Early Hints response with hints to w, from
// application code that knows its own hints. It removes the Link values it
// added from the header map afterwards, so they do not leak into the final
// response.
func Send(w http.ResponseWriter, hints ...Hint) error {
	if len(hints) == 0 {
		return nil
	}
	values := make([]string, 0, len(hints))
	for _, hint := range hints {
		if err := hint.Validate(); err != nil {
			return fmt.Errorf("earlyhints: send %s: %w", hint.URL, err)
		}
		values = append(values, hint.String())
	}
	writeEarlyHints(w, values)
	return nil
}

// writeEarlyHints writes one 103 carrying values as its only fields, then
// puts the header map back as it was. net/http and quic-go write the
// whole header map in a 1xx and do not clear it afterwards: without the
// swap, a field an outer handler set for the final response (Set-Cookie,
// a hop-by-hop field) would reach the 103, and the hints the 200.
func writeEarlyHints(w http.ResponseWriter, values []string) {
	hdr := w.Header()
	if len(hdr) == 0 {
		hdr["Link"] = values
		w.WriteHeader(http.StatusEarlyHints)
		delete(hdr, "Link")
		return
	}
	saved := savedPool.Get().(http.Header)
	for k, v := range hdr {
		saved[k] = v
		delete(hdr, k)
	}
	hdr["Link"] = values
	w.WriteHeader(http.StatusEarlyHints)
	delete(hdr, "Link")
	for k, v := range saved {
		hdr[k] = v
	}
	clear(saved)
	savedPool.Put(saved)
}

// savedPool holds the maps that keep a response's fields aside while a 103
// is written.
var savedPool = sync.Pool{New: func() any { return make(http.Header, 8) }}
