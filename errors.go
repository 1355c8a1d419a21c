package earlyhints

import "errors"

// Sentinel errors; wrapped errors carry the detail.
var (
	ErrUnsupportedRel = errors.New("earlyhints: relation not acted on in a 103 (use preload, modulepreload or preconnect)")
	ErrMissingAs      = errors.New("earlyhints: preload without a valid as= destination")
	ErrBadTarget      = errors.New("earlyhints: hint target is not an http(s) URL")
	ErrCrossSite      = errors.New("earlyhints: cross-site preload (enable AllowCrossSitePreload to allow it)")
	ErrBadConfig      = errors.New("earlyhints: invalid configuration")
	// ErrBadAttribute reports a hint attribute that browsers reject, such as
	// a type that is not a MIME type: a browser would skip the hint.
	ErrBadAttribute = errors.New("earlyhints: hint attribute browsers reject (fix or remove it)")
	ErrPersonalLink = errors.New("earlyhints: link carries a value of its request (query, cookie or credentials) and is never hinted to another")
)
