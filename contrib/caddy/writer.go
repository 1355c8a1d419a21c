package caddyearlyhints

import (
	"net/http"
	"sync"

	"github.com/earlyhints/earlyhints/internal/responsewriter"
)

// earlyWriter is the ResponseWriter the middleware writes to inside Caddy.
// It sends each 103 straight to the server's own writer, under the Caddy
// handlers that wrap early_hints, and everything else through them.
//
// Those handlers act on every WriteHeader, 1xx included: header's deferred
// operations (header >Name value) are applied to the header map before a
// 103 is passed on, so without this the 103 would carry them (and an
// added value would be added twice to the final response). A 103 from
// early_hints carries its Link fields and nothing else.
type earlyWriter struct {
	responsewriter.Wrapper
	server http.ResponseWriter // the writer of net/http or quic-go, under every wrapper
}

// withEarlyWriter returns w wrapped in an earlyWriter when Caddy's handlers
// wrap the server's writer, and w itself when nothing does.
func withEarlyWriter(w http.ResponseWriter) http.ResponseWriter {
	server := w
	for range 64 { // bounded: a wrapper that unwraps to itself must not hang a request
		u, ok := server.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		server = u.Unwrap()
	}
	if server == w {
		return w
	}
	return responsewriter.WithHijacker(&earlyWriter{Wrapper: responsewriter.Wrap(w), server: server})
}

// WriteHeader writes a 103 on the server's writer with the Link fields
// the middleware put in the header map, and any other status through the
// wrappers.
func (w *earlyWriter) WriteHeader(code int) {
	if code != http.StatusEarlyHints {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	links := w.Header()["Link"]
	hdr := w.server.Header()
	saved := savedPool.Get().(http.Header)
	for k, v := range hdr {
		saved[k] = v
		delete(hdr, k)
	}
	hdr["Link"] = links
	w.server.WriteHeader(code)
	clear(hdr)
	for k, v := range saved {
		hdr[k] = v
	}
	clear(saved)
	savedPool.Put(saved)
}

// savedPool holds the maps that keep the server writer's fields aside
// while a 103 is written.
var savedPool = sync.Pool{New: func() any { return make(http.Header, 8) }}
