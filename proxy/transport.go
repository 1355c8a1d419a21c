package proxy

import (
	"net"
	"net/http"
	"time"
)

// originTransport sends each request over the transport its origin's scheme
// calls for: HTTP/1.1 or HTTP/2 (ALPN) to https, HTTP/1.1 to http, and
// cleartext HTTP/2 with prior knowledge to h2c.
type originTransport struct {
	std *http.Transport
	h2c *http.Transport
}

func newOriginTransport(cfg Config) *originTransport {
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	base := func(protos *http.Protocols) *http.Transport {
		return &http.Transport{
			// Proxy stays nil: an origin is reached directly, never through
			// HTTP_PROXY from the environment.
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   cfg.DialTimeout,
			ResponseHeaderTimeout: cfg.Timeout,
			ExpectContinueTimeout: time.Second,
			// The idle pool grows to the concurrency seen (up to
			// DefaultMaxIdleConnsPerOrigin) and shrinks as connections sit
			// idle for 90s: a pool smaller than the requests in flight
			// closes a connection after nearly every response and leaves
			// the ports in TIME_WAIT.
			IdleConnTimeout:        90 * time.Second,
			MaxIdleConnsPerHost:    DefaultMaxIdleConnsPerOrigin,
			MaxResponseHeaderBytes: int64(cfg.MaxResponseHeaderBytes),
			// Bodies pass through as the origin encoded them.
			DisableCompression: true,
			// A response's header and a page's body arrive in one read(2)
			// instead of 4 KiB ones (net/http's default): 3-11 % less CPU
			// per proxied request (bench/README.md), for 28 KiB more per
			// open origin connection.
			ReadBufferSize: 32 << 10,
			Protocols:      protos,
		}
	}
	var std, h2c http.Protocols
	std.SetHTTP1(true)
	std.SetHTTP2(true)
	h2c.SetUnencryptedHTTP2(true)
	t := &originTransport{std: base(&std), h2c: base(&h2c)}
	// HTTP/1 connections note the Connection fields of each response
	// (see connfields.go); the dialer's timeout bounds TCP and TLS
	// together.
	t.std.DialContext = dialHead(dialer.DialContext)
	t.std.DialTLSContext = dialTLSHead(t.std, dialer)
	return t
}

func (t *originTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if ex, ok := r.Context().Value(exchangeKey{}).(*exchange); ok && ex.origin.Scheme == "h2c" {
		return t.h2c.RoundTrip(r)
	}
	r, strip := withConnectionNames(r)
	res, err := t.std.RoundTrip(r)
	if err == nil {
		strip(res)
	}
	return res, err
}

// CloseIdleConnections closes idle origin connections.
func (t *originTransport) CloseIdleConnections() {
	t.std.CloseIdleConnections()
	t.h2c.CloseIdleConnections()
}
