package earlyhints

import (
	"net/http"

	"github.com/earlyhints/earlyhints/hintstore"
)

// Handler is the Early Hints middleware. See New.
type Handler struct {
	next http.Handler
	cfg  Config
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler that sends learned hints as one 103 before calling
// next, and learns from next's responses.
func New(next http.Handler, cfg Config) (*Handler, error) {
	panic("todo")
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("todo") }

// Store returns the store the Handler reads and learns into.
func (h *Handler) Store() hintstore.Store { return h.cfg.Store }

// RouteKey returns the key under which hints for r are stored:
// scheme + host + path, plus the configured query parameters.
func (h *Handler) RouteKey(r *http.Request) string { panic("todo") }

// Close waits for learning in progress and closes the store when the
// Handler created it.
func (h *Handler) Close() error { panic("todo") }

// Send writes one 103 Early Hints response with hints to w, from
// application code that knows its own hints. It removes the Link values it
// added from the header map afterwards, so they do not leak into the final
// response.
func Send(w http.ResponseWriter, hints ...Hint) error { panic("todo") }
