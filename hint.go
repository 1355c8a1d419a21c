package earlyhints

import (
	"net/url"

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
}

// The functions below are the contract of this file; see hint_test.go.

// HintFromLink validates l as a hint for the page at page (which must be
// absolute), resolving its target against page.
func HintFromLink(l linkheader.Link, page *url.URL, allowCrossSite bool) (Hint, error) {
	panic("todo")
}

// ParseHints parses Link field values into hints; each bad link is reported
// on its own and never drops the good ones.
func ParseHints(values []string, page *url.URL, allowCrossSite bool) ([]Hint, []error) {
	panic("todo")
}

// Validate reports whether h is a hint a browser acts on.
func (h Hint) Validate() error { panic("todo") }

// Link returns h as a linkheader.Link with an absolute target.
func (h Hint) Link() linkheader.Link { panic("todo") }

// String returns the Link field value of h with an absolute target.
func (h Hint) String() string { panic("todo") }

// Format returns the Link field value of h, writing a target on the same
// origin as page as an absolute path (shorter, and independent of the host
// name a proxy is reached by).
func (h Hint) Format(page *url.URL) string { panic("todo") }
