package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
)

// WithOriginDialer returns cfg with the proxy's own origin transport, its
// bounds and its reading of Connection fields included, dialing through
// dial: a fuzzer feeds it raw responses without sockets.
func WithOriginDialer(cfg Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) Config {
	t := newOriginTransport(cfg.withDefaults())
	t.std.DialContext = dialHead(dial)
	t.std.DisableKeepAlives = true
	cfg.Transport = t
	return cfg
}

// WithOriginRootCAs returns cfg with the proxy's own origin transport
// trusting pool, for a test origin with its own certificate.
func WithOriginRootCAs(cfg Config, pool *x509.CertPool) Config {
	t := newOriginTransport(cfg.withDefaults())
	t.std.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	cfg.Transport = t
	return cfg
}
