package scan

import "github.com/earlyhints/earlyhints/linkheader"

// Kind says what a link is to rendering, so that a caller with a byte
// budget can spend it on what the page waits for first.
type Kind uint8

// Kinds, in the order Result.Links holds them.
const (
	// KindRenderBlocking is a stylesheet the first paint waits for or a
	// synchronous script of the head (and explicit preloads of those).
	KindRenderBlocking Kind = iota
	// KindFont is a web font (explicit preload or an inline @font-face
	// the inline CSS uses).
	KindFont
	// KindImage is the likely LCP image.
	KindImage
	// KindModule is a module script or modulepreload.
	KindModule
	// KindDeferred does not hold up the first paint: async and defer
	// scripts, stylesheets loaded asynchronously or found in the body
	// (they block only what follows them), fetch preloads,
	// fetchpriority=low preloads.
	KindDeferred
	// KindPreconnect is a preconnect, written in the page or derived from
	// a third-party origin of the resources above.
	KindPreconnect
	// KindDNSPrefetch is a dns-prefetch for an origin without preconnect.
	KindDNSPrefetch
)

var kindNames = [...]string{"render-blocking", "font", "image", "module", "deferred", "preconnect", "dns-prefetch"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Reason says why a link the page names was left out.
type Reason uint8

// Reasons for Skip.
const (
	// ReasonMedia: the media query does not match a browser window for
	// sure (print, speech, a width the window may not have).
	ReasonMedia Reason = iota + 1
	// ReasonMixedContent: an http: script, stylesheet, font or fetch on an
	// https: page, which browsers block.
	ReasonMixedContent
	// ReasonNotHintable: a preload destination browsers do not act on in
	// a 103 (as=json, as=track, ...), or a face of an inline @font-face
	// that no inline rule uses, or one outside Latin letters.
	ReasonNotHintable
	// ReasonOverBound: past the cap on links (Options.MaxLinks or
	// Options.MaxConnects).
	ReasonOverBound
)

var reasonNames = [...]string{"", "media", "mixed-content", "not-hintable", "over-bound"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) && r > 0 {
		return reasonNames[r]
	}
	return "unknown"
}

// Skip is a link the page names that the scan left out, and why.
type Skip struct {
	Link   linkheader.Link
	Reason Reason
}

// maxSkips bounds Result.Skipped.
const maxSkips = 256

// skip records a link left out when the caller asked for them.
func (s *scanner) skip(r Reason, rel, uri string, p params) {
	if !s.opts.ReportSkipped || len(s.skipped) >= maxSkips || uri == "" {
		return
	}
	s.skipped = append(s.skipped, Skip{Link: linkheader.Link{URI: uri, Rel: []string{rel}, Params: p}, Reason: r})
}
