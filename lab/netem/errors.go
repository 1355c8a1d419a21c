package netem

import "errors"

var (
	// ErrInvalidConfig reports a configuration that cannot be emulated.
	ErrInvalidConfig = errors.New("netem: invalid configuration")
	// ErrClosed reports use of a Link, Relay or PacketNet after Close.
	ErrClosed = errors.New("netem: closed")
	// ErrNeedRoot reports that packet mode was asked for without the
	// privileges it needs (root, or CAP_NET_ADMIN and CAP_SYS_ADMIN).
	ErrNeedRoot = errors.New("netem: packet mode needs root; run as root or use relay mode (NewRelay)")
	// ErrUnsupported reports packet mode on a platform without network namespaces.
	ErrUnsupported = errors.New("netem: packet mode needs Linux network namespaces and TUN; use relay mode (NewRelay)")
)
