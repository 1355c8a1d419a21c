package proxy

import "errors"

var (
	// ErrInvalidConfig is wrapped by every Config.Validate error.
	ErrInvalidConfig = errors.New("proxy: invalid configuration")

	// ErrOriginTimeout is the cause of a request cancelled because the origin
	// sent no response headers within Config.Timeout.
	ErrOriginTimeout = errors.New("proxy: the origin sent no response headers in time")
)
