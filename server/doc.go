// Package server runs the listeners that put an http.Handler on the network
// the way browsers reach it for Early Hints: one TLS port speaking HTTP/1.1
// and HTTP/2, HTTP/3 over QUIC on the same port number (advertised with
// Alt-Svc), and optionally a cleartext HTTP/2 (prior knowledge) port for a
// load balancer in front.
//
// Certificates come from files, reloaded on demand, or are generated
// self-signed for loopback use. Shutdown is graceful: listeners close, requests
// in flight finish, then the caller's hooks run (for example to write the hint
// store snapshot), all within a bounded time.
package server
