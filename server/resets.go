package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// An HTTP/2 client may reset streams (a browser does when the user moves
// on), but one that resets them faster than this costs the origin work for
// nothing (the rapid reset attack, CVE-2023-44487): after a burst of
// resetBurst, at most resetRate a second on one connection, then GOAWAY.
const (
	resetBurst = 200
	resetRate  = 100 // per second
)

// connResets is a token bucket of the stream resets one connection may
// still make.
type connResets struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	away   atomic.Bool // GOAWAY was asked for
}

type connResetsKey struct{}

func withConnResets(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connResetsKey{}, &connResets{tokens: resetBurst, last: time.Now()})
}

// spend counts one reset and reports whether the connection is over its
// bound.
func (c *connResets) spend(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = min(resetBurst, c.tokens+now.Sub(c.last).Seconds()*resetRate)
	c.last = now
	c.tokens--
	return c.tokens < 0
}

// guardResets sends GOAWAY to an HTTP/2 connection whose client resets
// streams past the bound. net/http's HTTP/2 server turns a response's
// "Connection: close" into a graceful GOAWAY: streams already open finish,
// new ones are refused. A stream counts as reset when its request context
// ended before the handler did; the handlers inside stop their work (the
// origin request included) as that context ends.
func guardResets(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(connResetsKey{}).(*connResets)
		if c == nil || r.ProtoMajor != 2 {
			next.ServeHTTP(w, r)
			return
		}
		if c.away.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
		if r.Context().Err() == nil || !c.spend(time.Now()) {
			return
		}
		// The header still counts when the handler wrote nothing, as for a
		// reset stream; otherwise the connection's next response carries it.
		w.Header().Set("Connection", "close")
		if !c.away.Swap(true) {
			log.Warn("HTTP/2 client resets streams too fast; sending GOAWAY", "remote", r.RemoteAddr,
				"burst", resetBurst, "per_second", resetRate)
		}
	})
}
