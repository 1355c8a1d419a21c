package earlyhints

import (
	"net/http"

	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/internal/responsewriter"
)

// serveSubresource serves a request that is no navigation. Only its status
// and cacheability matter: to forget hinted targets that went away or
// cannot be reused, to count the hints browsers took (the field view), and
// to learn the files a page pulls in late (observed learning).
func (h *Handler) serveSubresource(w http.ResponseWriter, r *http.Request) {
	if h.cfg.DisableLearning {
		h.next.ServeHTTP(w, r)
		return
	}
	s := &subresource{requestFacts: requestFacts{r: r}, proto: r.Proto}
	target := s.target()
	hinted, err := h.store.Hinted(r.Context(), target)
	hinted = hinted && err == nil
	v, as, observed := h.views.attribute(s)
	if !hinted && !observed {
		h.next.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{Counter: responsewriter.NewCounter(w)}
	h.next.ServeHTTP(responsewriter.WithHijacker(sw), r)
	if hinted {
		h.field.fetched(s, sw.Status, sw.Bytes)
	}
	switch {
	case hinted && sw.gone():
		h.learner.forget(target, s.proto)
	case observed && sw.Status == http.StatusOK && !sw.noStore:
		if link, ok := observedHint(s, v, as, h.cfg.QueryParams, h.cfg.AllowCrossSitePreload); ok {
			h.learner.observeFetch(s, v.key, link)
		}
	}
}

// statusWriter records the status of a subresource response, and whether
// a browser may reuse it from its HTTP cache.
type statusWriter struct {
	responsewriter.Counter
	noStore bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.Status == 0 && !responsewriter.Informational(code) {
		s.noStore = httpx.ParseCacheControl(s.Header()).NoStore
	}
	s.Counter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.Counter.Write(b)
}

// gone reports whether a hinted target should be forgotten: it went away,
// or it cannot be stored, and a browser hands an early-hints preload to the
// page only through its HTTP cache (an unstorable one is fetched twice).
func (s *statusWriter) gone() bool {
	return s.Status == http.StatusNotFound || s.Status == http.StatusGone || s.noStore
}
