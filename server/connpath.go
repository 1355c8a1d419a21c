package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/quic-go/quic-go"
)

// notSentLowat bounds the bytes a TCP connection keeps queued in the kernel
// but not yet sent (TCP_NOTSENT_LOWAT). Without it the send buffer takes
// megabytes of hinted files as soon as they are written, and a document
// written after them waits behind them whatever the HTTP/2 scheduler
// decides; with it, the scheduler chooses the next frame shortly before
// the wire takes it.
const notSentLowat = 16 << 10

// pathReader reads what a connection measured of its path to the client.
type pathReader interface {
	path() (rtt time.Duration, bandwidth int64)
}

type connPathKey struct{}

// ConnPath reports what the server measured of the connection r came on:
// its smoothed round trip and, when the kernel has a sample not limited by
// the application, its delivery rate in bits per second; zero for what it
// does not know. TCP connections report on Linux; HTTP/3 connections
// report their round trip (quic-go has no delivery rate); cleartext HTTP/2
// (H2CAddr) reports nothing, since its peer is a load balancer, not the
// browser. It fits earlyhints.Config.ConnPath and does not allocate.
func ConnPath(r *http.Request) (rtt time.Duration, bandwidth int64) {
	p, _ := r.Context().Value(connPathKey{}).(pathReader)
	if p == nil {
		return 0, 0
	}
	return p.path()
}

// tlsConnContext prepares an accepted HTTPS connection: the reset budget,
// the send-buffer bound and the path measurement.
func tlsConnContext(ctx context.Context, c net.Conn) context.Context {
	ctx = withConnResets(ctx, c)
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	setNotSentLowat(raw)
	if p := newTCPPath(raw); p != nil {
		ctx = context.WithValue(ctx, connPathKey{}, p)
	}
	return ctx
}

// h2cConnContext prepares a cleartext HTTP/2 connection: its peer is a
// load balancer, so its round trip says nothing of the browser's.
func h2cConnContext(ctx context.Context, c net.Conn) context.Context {
	setNotSentLowat(c)
	return withConnResets(ctx, c)
}

// quicPath reads the round trip quic-go measured.
type quicPath struct{ c *quic.Conn }

func (q quicPath) path() (time.Duration, int64) { return q.c.ConnectionStats().SmoothedRTT, 0 }

func h3ConnContext(ctx context.Context, c *quic.Conn) context.Context {
	return context.WithValue(ctx, connPathKey{}, quicPath{c})
}
