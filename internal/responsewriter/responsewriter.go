// Package responsewriter is the one base for every wrapper that watches a
// response on its way to the client (the middleware's observer, the proxy's
// origin writer, the access log, push's recorder). A wrapper embeds
// Wrapper, or Counter when it needs the final status and the body size, and
// writes only the methods it changes; Unwrap, Flush and Push are forwarded
// here, so http.ResponseController (Flush, Hijack, SetReadDeadline,
// SetWriteDeadline, EnableFullDuplex) reaches the server's writer through
// any number of layers. WithHijacker adds http.Hijacker to a wrapper when,
// and only when, the writer below can hijack, so that old-style type
// assertions stay truthful. It imports only the standard library, so any
// package may use it.
package responsewriter

import (
	"bufio"
	"net"
	"net/http"
)

// Informational reports whether code is a 1xx that precedes the final
// response. 101 Switching Protocols is final, as net/http treats it: the
// connection belongs to another protocol afterwards.
func Informational(code int) bool {
	return code >= 100 && code < 200 && code != http.StatusSwitchingProtocols
}

// Wrapper passes everything to the ResponseWriter it embeds and keeps the
// optional interfaces reachable. A wrapper that must see a flush (to write
// its final header first, say) defines Flush and calls Wrapper.Flush.
//
// Wrapper has no FlushError on purpose: http.ResponseController prefers
// FlushError to Flush, so an embedded FlushError would skip the outer
// wrapper's own Flush.
type Wrapper struct {
	http.ResponseWriter
}

// Wrap returns a Wrapper around w, for embedding.
func Wrap(w http.ResponseWriter) Wrapper { return Wrapper{ResponseWriter: w} }

// Unwrap lets http.ResponseController reach the writer below.
func (w Wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements http.Flusher through whatever layers lie below.
func (w Wrapper) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Push implements http.Pusher: the writer below pushes if it can (HTTP/2),
// otherwise the answer is http.ErrNotSupported.
func (w Wrapper) Push(target string, opts *http.PushOptions) error {
	if p, ok := w.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// Counter is a Wrapper that records what the client was sent: the final
// status and the number of body bytes. A wrapper that acts on the final
// status defines WriteHeader and Write (calling its own WriteHeader(200)
// when Status is still 0) and then calls Counter's.
type Counter struct {
	Wrapper
	// Status is the final status: 0 until one is written, 200 once the
	// body starts without one, 101 once the connection is hijacked.
	Status int
	// Bytes counts the body bytes the writer below accepted.
	Bytes int64
}

// NewCounter returns a Counter around w, for embedding.
func NewCounter(w http.ResponseWriter) Counter { return Counter{Wrapper: Wrap(w)} }

// WriteHeader records the first final status and passes code on.
func (c *Counter) WriteHeader(code int) {
	if c.Status == 0 && !Informational(code) {
		c.Status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

// Write counts b and passes it on; a body without a status is a 200.
func (c *Counter) Write(b []byte) (int, error) {
	if c.Status == 0 {
		c.Status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.Bytes += int64(n)
	return n, err
}

// Hijacking implements HijackWatcher: the response that follows a takeover
// (a proxied 101) is written on the bare connection, never through
// WriteHeader.
func (c *Counter) Hijacking() {
	if c.Status == 0 {
		c.Status = http.StatusSwitchingProtocols
	}
}

// A HijackWatcher is told, by the writer WithHijacker returns, that the
// connection was taken over.
type HijackWatcher interface {
	Hijacking()
}

// Layer is a wrapper built on Wrapper: a ResponseWriter that flushes,
// pushes and unwraps to the writer below.
type Layer interface {
	http.ResponseWriter
	http.Flusher
	http.Pusher
	Unwrap() http.ResponseWriter
}

// WithHijacker returns w with http.Hijacker added when the writer below it
// can hijack (HTTP/1.x), and w itself otherwise (HTTP/2, HTTP/3), so that a
// handler's w.(http.Hijacker) tells the truth. Over HTTP/2 it costs nothing;
// over HTTP/1.x it allocates the small value that adds the method.
func WithHijacker(w Layer) http.ResponseWriter {
	if hj, ok := w.Unwrap().(http.Hijacker); ok {
		return hijacker{Layer: w, hj: hj}
	}
	return w
}

// hijacker is a Layer whose writer below can hijack.
type hijacker struct {
	Layer
	hj http.Hijacker
}

// Hijack implements http.Hijacker, and tells the layer if it watches.
func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := h.hj.Hijack()
	if hw, ok := h.Layer.(HijackWatcher); ok && err == nil {
		hw.Hijacking()
	}
	return conn, brw, err
}

// Unwrap returns the layer, not the writer below it, so that
// http.ResponseController passes through every layer.
func (h hijacker) Unwrap() http.ResponseWriter { return h.Layer }
