package site

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Type is the kind of a resource; it decides how the resource is referenced
// and what its generated body looks like.
type Type string

// The resource types.
const (
	TypeCSS    Type = "css"
	TypeJS     Type = "js"     // classic script
	TypeModule Type = "module" // ES module script
	TypeFont   Type = "font"
	TypeImage  Type = "image"
	TypeJSON   Type = "json"
	TypeOther  Type = "other"
)

// Where says where a resource is referenced, which decides when a browser
// discovers it.
type Where string

// The places a resource can be referenced from.
const (
	WhereHead       Where = "head"       // in <head>, after any inline head content
	WhereBodyStart  Where = "body-start" // right after <body>, before the text
	WhereBodyMiddle Where = "body-middle"
	WhereBodyEnd    Where = "body-end" // after all the text, before </body>
	// WhereCSS: referenced only from the stylesheet From (a font through
	// @font-face, an image through background-image): discovered once that
	// stylesheet has arrived, the discovery delay Early Hints removes.
	WhereCSS Where = "css"
	// WhereImport: statically imported by the module From.
	WhereImport Where = "import"
	// WhereInjected: fetched by a script once it runs (From names it when
	// known); never visible to a preload scanner.
	WhereInjected Where = "injected-by-js"
)

// MaxBodySize bounds one resource body (and the document).
const MaxBodySize = 32 << 20

// MaxResources bounds the resources of one profile.
const MaxResources = 5000

// Resource is one subresource of a page.
type Resource struct {
	// Path is the absolute path (and query) on its origin, e.g. "/a.css".
	Path string
	Type Type
	// ContentType is the Content-Type header; "" = the default of Type
	// (text/css, text/javascript, font/woff2, image/jpeg, application/json,
	// application/octet-stream, all text types with charset=utf-8).
	ContentType string
	// Size is the exact body size in bytes.
	Size int
	// RenderBlocking marks a stylesheet or synchronous classic script that
	// holds the first render.
	RenderBlocking bool
	Where          Where
	// From is the URL (as returned by URL) of the stylesheet or script that
	// references the resource, for WhereCSS, WhereImport and WhereInjected.
	From string
	// ThirdParty is the origin ("https://cdn.example") serving the resource;
	// "" = the page's own origin.
	ThirdParty string
	// Async and Defer are the script attributes.
	Async, Defer bool
	// FetchPriority is the fetchpriority attribute: "", "high", "low", "auto".
	FetchPriority string
	// CacheControl is the Cache-Control header; "" = "public,
	// max-age=31536000, immutable" (fingerprinted assets).
	CacheControl string

	// The fields below serve replays; synthetic profiles leave them zero.

	// Status is the response status; 0 = 200.
	Status int
	// Wait is the server time before the first byte; 0 = at once.
	Wait time.Duration
	// Body, when not nil, is served verbatim instead of a generated body
	// (Size is then ignored).
	Body []byte
	// Header holds extra response headers (Location, Link, Vary, ...).
	Header http.Header
}

// URL returns the reference of r as written in the page: the path for a
// first-party resource, the absolute URL for a third-party one.
func (r Resource) URL() string { return r.ThirdParty + r.Path }

// Host returns the lower-cased host name (no port) of a third-party resource,
// "" for a first-party one.
func (r Resource) Host() string {
	if r.ThirdParty == "" {
		return ""
	}
	u, err := url.Parse(r.ThirdParty)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// BodySize returns the number of body bytes served for r.
func (r Resource) BodySize() int {
	if r.Body != nil {
		return len(r.Body)
	}
	return r.Size
}

func (r Resource) contentType() string {
	if r.ContentType != "" {
		return r.ContentType
	}
	switch r.Type {
	case TypeCSS:
		return "text/css; charset=utf-8"
	case TypeJS, TypeModule:
		return "text/javascript; charset=utf-8"
	case TypeFont:
		return "font/woff2"
	case TypeImage:
		return "image/jpeg"
	case TypeJSON:
		return "application/json"
	}
	return "application/octet-stream"
}

func (r Resource) cacheControl() string {
	if r.CacheControl != "" {
		return r.CacheControl
	}
	return "public, max-age=31536000, immutable"
}

func (r Resource) status() int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}

// inHTML reports whether the document references r directly.
func (r Resource) inHTML() bool {
	switch r.Where {
	case WhereHead, WhereBodyStart, WhereBodyMiddle, WhereBodyEnd:
		return true
	}
	return false
}

// Hinted reports whether the preload strategy and Link headers announce r:
// first-party render-blocking resources, fonts and modules discovered late
// (through a stylesheet or an import), and resources marked
// fetchpriority=high (the LCP image). Third-party resources get a
// preconnect to their origin instead.
func (r Resource) Hinted() bool {
	if r.ThirdParty != "" || r.status() != http.StatusOK {
		return false
	}
	switch {
	case r.RenderBlocking, r.FetchPriority == "high":
		return true
	case r.Type == TypeModule && (r.Where == WhereImport || r.inHTML()):
		return true
	case r.Type == TypeFont && (r.Where == WhereCSS || r.Where == WhereHead):
		return true
	}
	return false
}

// Profile describes one page: its document and the resources it needs.
type Profile struct {
	// Name identifies the profile; it seeds every generated body.
	Name string
	// Source says where the shape of the page comes from.
	Source string
	// HTMLPath is the document's path; "" = "/".
	HTMLPath string
	// HTMLSize is the exact size of the generated document.
	HTMLSize int
	// HeadInlineSize is the size of an inline <style> block at the top of
	// the head (critical CSS, JSON-LD): it delays the discovery of every
	// head reference. 0 = none; otherwise at least 17.
	HeadInlineSize int
	// Think is the server think time before the document's first byte.
	Think time.Duration
	// Preconnect lists origins the page itself declares with
	// <link rel=preconnect>.
	Preconnect []string
	Resources  []Resource

	// HTML, when not nil, is served verbatim as the document (a replay);
	// HTMLSize and HeadInlineSize are then ignored and no markup is
	// generated, so the preload strategy has no effect on the body.
	HTML []byte
	// Header holds extra headers of the document response (a replay's Link).
	Header http.Header
}

func (p *Profile) htmlPath() string {
	if p.HTMLPath == "" {
		return "/"
	}
	return p.HTMLPath
}

// Clone returns a deep copy of p.
func (p *Profile) Clone() *Profile {
	c := *p
	c.Preconnect = append([]string(nil), p.Preconnect...)
	c.Resources = make([]Resource, len(p.Resources))
	for i, r := range p.Resources {
		r.Header = r.Header.Clone()
		if r.Body != nil {
			r.Body = append([]byte{}, r.Body...)
		}
		c.Resources[i] = r
	}
	if p.HTML != nil {
		c.HTML = append([]byte{}, p.HTML...)
	}
	c.Header = p.Header.Clone()
	return &c
}

// Critical returns the render-blocking resources in document order.
func (p *Profile) Critical() []Resource {
	var out []Resource
	for _, r := range p.Resources {
		if r.RenderBlocking {
			out = append(out, r)
		}
	}
	return out
}

// HintedResources returns the resources the preload strategy announces, in
// profile order (see Resource.Hinted).
func (p *Profile) HintedResources() []Resource {
	var out []Resource
	for _, r := range p.Resources {
		if r.Hinted() {
			out = append(out, r)
		}
	}
	return out
}

// ThirdPartyOrigins returns the distinct third-party origins in profile
// order.
func (p *Profile) ThirdPartyOrigins() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range p.Resources {
		if r.ThirdParty != "" && !seen[r.ThirdParty] {
			seen[r.ThirdParty] = true
			out = append(out, r.ThirdParty)
		}
	}
	return out
}

// Validate reports whether p can be served with exact sizes.
func (p *Profile) Validate() error {
	if p.Name == "" {
		return fmt.Errorf("%w: empty name", ErrBadProfile)
	}
	if err := checkPath(p.htmlPath()); err != nil {
		return fmt.Errorf("%w: html path: %w", ErrBadProfile, err)
	}
	if p.HTML == nil && (p.HTMLSize < 0 || p.HTMLSize > MaxBodySize) {
		return fmt.Errorf("%w: html size %d outside [0, %d]", ErrBadProfile, p.HTMLSize, MaxBodySize)
	}
	if p.HTMLSize > 0 && p.HTML != nil && len(p.HTML) > MaxBodySize {
		return fmt.Errorf("%w: html of %d bytes over %d", ErrBadProfile, len(p.HTML), MaxBodySize)
	}
	if p.HeadInlineSize != 0 && p.HeadInlineSize < len(inlineStyleOpen)+len(inlineStyleClose)+4 {
		return fmt.Errorf("%w: head inline size %d is below the 17 bytes of an empty <style>; use 0 for none", ErrBadProfile, p.HeadInlineSize)
	}
	if p.Think < 0 {
		return fmt.Errorf("%w: negative think time", ErrBadProfile)
	}
	for _, o := range p.Preconnect {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("%w: preconnect %q: %w", ErrBadProfile, o, err)
		}
	}
	if len(p.Resources) > MaxResources {
		return fmt.Errorf("%w: %d resources over %d", ErrBadProfile, len(p.Resources), MaxResources)
	}
	byURL := make(map[string]int, len(p.Resources))
	for i, r := range p.Resources {
		if _, dup := byURL[r.URL()]; dup {
			return fmt.Errorf("%w: resource %q listed twice", ErrBadProfile, r.URL())
		}
		byURL[r.URL()] = i
	}
	for _, r := range p.Resources {
		if err := p.validateResource(r, byURL); err != nil {
			return fmt.Errorf("%w: resource %q: %w", ErrBadProfile, r.URL(), err)
		}
	}
	// A parent's references must fit in its size, so that sizes stay exact.
	for _, r := range p.Resources {
		if r.Body != nil {
			continue
		}
		if refs := len(referencesIn(p, r)); refs > r.Size {
			return fmt.Errorf("%w: resource %q: %d bytes cannot hold the %d bytes of references to its children; raise its size",
				ErrBadProfile, r.URL(), r.Size, refs)
		}
	}
	if p.HTML == nil {
		if min := len(renderHTML(p, Options{PreloadInHTML: true}, true).doc); min > p.HTMLSize {
			return fmt.Errorf("%w: html size %d cannot hold its %d bytes of markup; raise HTMLSize", ErrBadProfile, p.HTMLSize, min)
		}
	}
	return nil
}

func (p *Profile) validateResource(r Resource, byURL map[string]int) error {
	if err := checkPath(r.Path); err != nil {
		return err
	}
	if r.ThirdParty == "" && r.Path == p.htmlPath() {
		return fmt.Errorf("path is the document's")
	}
	if r.ThirdParty != "" {
		if err := checkOrigin(r.ThirdParty); err != nil {
			return fmt.Errorf("third party: %w", err)
		}
	}
	if r.Body == nil && (r.Size < 0 || r.Size > MaxBodySize) {
		return fmt.Errorf("size %d outside [0, %d]", r.Size, MaxBodySize)
	}
	if len(r.Body) > MaxBodySize {
		return fmt.Errorf("body of %d bytes over %d", len(r.Body), MaxBodySize)
	}
	if r.Status != 0 && (r.Status < 200 || r.Status > 599) {
		return fmt.Errorf("status %d outside 200-599", r.Status)
	}
	if r.Wait < 0 {
		return fmt.Errorf("negative wait")
	}
	if strings.ContainsAny(r.ContentType, "\r\n\x00") || strings.ContainsAny(r.CacheControl, "\r\n\x00") {
		return fmt.Errorf("control character in a header value")
	}
	switch r.FetchPriority {
	case "", "high", "low", "auto":
	default:
		return fmt.Errorf("fetchpriority %q (use high, low or auto)", r.FetchPriority)
	}
	switch r.Type {
	case TypeCSS, TypeJS, TypeModule, TypeFont, TypeImage, TypeJSON, TypeOther:
	default:
		return fmt.Errorf("type %q (use css, js, module, font, image, json or other)", r.Type)
	}
	if r.RenderBlocking {
		if r.Type != TypeCSS && r.Type != TypeJS || r.Async || r.Defer || !r.inHTML() {
			return fmt.Errorf("only a stylesheet or a synchronous classic script referenced from the HTML can be render-blocking")
		}
	}
	if r.inHTML() {
		if r.From != "" {
			return fmt.Errorf("from %q set on a resource referenced by the HTML", r.From)
		}
		if r.Type == TypeJSON || r.Type == TypeOther {
			return fmt.Errorf("a %s resource cannot be referenced by the HTML; use %s", r.Type, WhereInjected)
		}
		return nil
	}
	var parentTypes []Type
	switch r.Where {
	case WhereCSS:
		parentTypes = []Type{TypeCSS}
	case WhereImport:
		if r.Type != TypeModule {
			return fmt.Errorf("only a module can be imported")
		}
		parentTypes = []Type{TypeModule}
	case WhereInjected:
		if r.From == "" {
			return nil
		}
		parentTypes = []Type{TypeJS, TypeModule}
	default:
		return fmt.Errorf("where %q (use head, body-start, body-middle, body-end, css, import or injected-by-js)", r.Where)
	}
	i, ok := byURL[r.From]
	if !ok {
		return fmt.Errorf("from %q is not a resource of the profile", r.From)
	}
	parent := p.Resources[i]
	okType := false
	for _, t := range parentTypes {
		okType = okType || parent.Type == t
	}
	if !okType {
		return fmt.Errorf("from %q is a %s; %s needs a %v", r.From, parent.Type, r.Where, parentTypes)
	}
	// Walk up the chain: it must reach the HTML without a cycle.
	seen := map[string]bool{r.URL(): true}
	for cur := parent; !cur.inHTML(); {
		if cur.From == "" || seen[cur.URL()] {
			return fmt.Errorf("chain of references from %q never reaches the HTML", r.From)
		}
		seen[cur.URL()] = true
		j, ok := byURL[cur.From]
		if !ok {
			return fmt.Errorf("from %q is not a resource of the profile", cur.From)
		}
		cur = p.Resources[j]
	}
	return nil
}

// children returns the resources whose From is parent, in profile order.
func (p *Profile) children(parent Resource) []Resource {
	var out []Resource
	u := parent.URL()
	for _, r := range p.Resources {
		if r.From == u && !r.inHTML() {
			out = append(out, r)
		}
	}
	return out
}

func checkPath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q does not start with /", path)
	}
	if strings.HasPrefix(path, ThirdPartyPrefix) {
		return fmt.Errorf("path %q is under the reserved %s", path, ThirdPartyPrefix)
	}
	for _, c := range path {
		if c <= ' ' || c == 0x7f || c == '#' {
			return fmt.Errorf("path %q holds a space, control character or #", path)
		}
	}
	if _, err := url.ParseRequestURI(path); err != nil {
		return fmt.Errorf("path %q: %w", path, err)
	}
	return nil
}

func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin like https://cdn.example", o)
	}
	if strings.ContainsAny(o, "\"'<>\\ ") {
		return fmt.Errorf("%q holds a quote, bracket, backslash or space", o)
	}
	return nil
}
