package proxy

import (
	"bufio"
	"net"
	"net/http"
	"slices"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// originWriter sits between ReverseProxy and the writer it was given. Until
// the final status it keeps ReverseProxy's header writes in a map of its own:
// ReverseProxy clears the whole header map after forwarding each 1xx, which
// would also erase fields set by the layers outside (Alt-Svc, for one). A 1xx
// goes out with the outer fields plus the origin's, minus hop-by-hop ones;
// the final response with the outer fields plus the origin's.
type originWriter struct {
	w       http.ResponseWriter
	pending http.Header
	final   bool
}

func newOriginWriter(w http.ResponseWriter) *originWriter {
	return &originWriter{w: w, pending: make(http.Header)}
}

func (o *originWriter) Header() http.Header {
	if o.final {
		return o.w.Header()
	}
	return o.pending
}

func (o *originWriter) WriteHeader(code int) {
	if o.final {
		o.w.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		o.writeInformational(code)
		return
	}
	o.final = true
	dst := o.w.Header()
	for k, v := range o.pending {
		dst[k] = v
	}
	o.w.WriteHeader(code)
}

func (o *originWriter) writeInformational(code int) {
	dst := o.w.Header()
	saved := make(http.Header, len(dst))
	for k, v := range dst {
		saved[k] = v
	}
	// ReverseProxy strips hop-by-hop fields from final responses but copies
	// every field of an origin's 1xx as is.
	drop := httpx.HopByHopFields(o.pending)
	for k, v := range o.pending {
		if !slices.Contains(drop, k) {
			dst[k] = v
		}
	}
	o.w.WriteHeader(code)
	clear(dst)
	for k, v := range saved {
		dst[k] = v
	}
}

func (o *originWriter) Write(b []byte) (int, error) {
	if !o.final {
		o.WriteHeader(http.StatusOK)
	}
	return o.w.Write(b)
}

// Flush implements http.Flusher.
func (o *originWriter) Flush() {
	if !o.final {
		o.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(o.w).Flush()
}

// Hijack lets ReverseProxy take over the connection of a WebSocket upgrade.
func (o *originWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(o.w).Hijack()
}

// Unwrap lets http.ResponseController reach the writer below.
func (o *originWriter) Unwrap() http.ResponseWriter { return o.w }
