package caddyearlyhints

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/earlyhints/earlyhints/internal/responsewriter"
)

// serverWriter stands for net/http's writer: it records each status with
// the fields it was written with.
type serverWriter struct {
	hdr     http.Header
	written []written
}

type written struct {
	code int
	hdr  http.Header
}

func (s *serverWriter) Header() http.Header         { return s.hdr }
func (s *serverWriter) Write(b []byte) (int, error) { return len(b), nil }
func (s *serverWriter) WriteHeader(code int) {
	s.written = append(s.written, written{code, s.hdr.Clone()})
}

// deferredHeader stands for Caddy's header handler with a deferred
// operation: it sets its field on every WriteHeader, 1xx included.
type deferredHeader struct{ responsewriter.Wrapper }

func (d deferredHeader) WriteHeader(code int) {
	d.Header().Set("X-Late", "deferred")
	d.ResponseWriter.WriteHeader(code)
}

func TestEarlyWriter_103SkipsCaddysWrappers(t *testing.T) {
	server := &serverWriter{hdr: http.Header{"Server": {"Caddy"}}}
	w := withEarlyWriter(deferredHeader{responsewriter.Wrap(server)})

	w.Header()["Link"] = []string{"</a.css>; rel=preload; as=style"}
	saved := w.Header().Clone()
	w.WriteHeader(http.StatusEarlyHints)
	if !reflect.DeepEqual(w.Header(), saved) {
		t.Errorf("the header map changed across the 103: %v, was %v", w.Header(), saved)
	}
	delete(w.Header(), "Link")
	w.WriteHeader(http.StatusContinue)
	w.WriteHeader(http.StatusOK)

	want := []written{
		{http.StatusEarlyHints, http.Header{"Link": {"</a.css>; rel=preload; as=style"}}},
		{http.StatusContinue, http.Header{"Server": {"Caddy"}, "X-Late": {"deferred"}}},
		{http.StatusOK, http.Header{"Server": {"Caddy"}, "X-Late": {"deferred"}}},
	}
	if !reflect.DeepEqual(server.written, want) {
		t.Errorf("written:\n%v\nwant:\n%v", server.written, want)
	}
}

func TestEarlyWriter_NoWrapperNoLayer(t *testing.T) {
	server := &serverWriter{hdr: http.Header{}}
	if w := withEarlyWriter(server); w != http.ResponseWriter(server) {
		t.Errorf("a writer with nothing around it got a layer: %T", w)
	}
}
