package earlyhints_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/hintstore"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware, not a connection.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkHandler_HitPath measures gate + lookup + writing the 103 for a
// route with ten learned hints; next does nothing.
func BenchmarkHandler_HitPath(b *testing.B) {
	store, err := hintstore.NewMemory(hintstore.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	h, err := earlyhints.New(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), earlyhints.Config{Store: store, DisableLearning: true})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	r := httptest.NewRequest("GET", "https://example.com/products/42", nil)
	r.TLS = &tls.ConnectionState{}
	r.ProtoMajor, r.ProtoMinor, r.Proto = 2, 0, "HTTP/2.0"
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	var links []hintstore.Link
	for _, p := range []string{"a.css", "b.css", "c.js", "d.js", "e.js", "f.woff2", "g.woff2", "h.js", "i.js", "j.jpg"} {
		links = append(links, hintstore.Link{Target: "https://example.com/static/" + p, Value: "</static/" + p + ">; rel=preload; as=style"})
	}
	if _, err := store.Observe(b.Context(), h.RouteKey(r), hintstore.Observation{Links: links}); err != nil {
		b.Fatal(err)
	}
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
