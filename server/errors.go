package server

import "errors"

var (
	// ErrSelfSignedNotLoopback is returned when no certificate files are
	// configured for an address other than loopback and self-signing was not
	// asked for explicitly: a generated certificate is only meant for local use.
	ErrSelfSignedNotLoopback = errors.New("server: refusing to self-sign a certificate for a non-loopback address; pass --tls-cert and --tls-key, or --self-signed to use a generated certificate anyway")

	// ErrCertKeyPair is returned when only one of the certificate and key
	// files is configured.
	ErrCertKeyPair = errors.New("server: a certificate needs both files; pass both --tls-cert and --tls-key")

	// ErrInvalidConfig is wrapped by every other Config.Validate error.
	ErrInvalidConfig = errors.New("server: invalid configuration")
)
