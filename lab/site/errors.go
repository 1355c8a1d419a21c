package site

import "errors"

// Sentinel errors; wrapped errors carry the detail.
var (
	ErrBadProfile     = errors.New("site: invalid profile")
	ErrBadOptions     = errors.New("site: invalid options")
	ErrUnknownProfile = errors.New("site: unknown profile")
	ErrHARTooLarge    = errors.New("site: HAR file too large")
	ErrBadHAR         = errors.New("site: invalid HAR file")
	// ErrUnsafeHAR: the capture holds what no browser records (a header
	// split across lines), as a hand-edited file would.
	ErrUnsafeHAR = errors.New("site: unsafe HAR file")
)
