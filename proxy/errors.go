package proxy

import "errors"

var (
	// ErrInvalidConfig is wrapped by every Config.Validate error.
	ErrInvalidConfig = errors.New("proxy: invalid configuration")

	// ErrOriginTimeout is the cause of a request cancelled because the origin
	// sent no response headers within Config.Timeout.
	ErrOriginTimeout = errors.New("proxy: the origin sent no response headers in time")

	// ErrOriginIdle is the cause of a response ended because the origin sent
	// nothing of its body for Config.IdleTimeout.
	ErrOriginIdle = errors.New("proxy: the origin stopped sending the body")

	// ErrHeaderLimit is the cause of a request cancelled because the origin
	// sent more 1xx responses, or more header bytes, than Config allows.
	ErrHeaderLimit = errors.New("proxy: the origin's response headers exceed the configured bounds")
)
