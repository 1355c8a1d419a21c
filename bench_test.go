package earlyhints_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
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

// BenchmarkHandler_Navigation measures a whole hinted navigation through
// the middleware, learning included, for a page of 20 KiB, with and
// without a cookie on the request (the cookie makes the page personal). A
// cookie-carrying navigation must not cost much more than a cookieless one
// (the target is at most 1.5x).
func BenchmarkHandler_Navigation(b *testing.B) {
	page := []byte(`<!doctype html><html><head><link rel=stylesheet href=/a.css><link rel=stylesheet href=/b.css>
<script src=/app.js></script><link rel=preload href=/f.woff2 as=font crossorigin></head><body>` + strings.Repeat("<p>text</p>", 1800) + `</body></html>`)
	for _, tc := range []struct{ name, cookie string }{{"cookieless", ""}, {"cookie", "sid=0123456789abcdef; _ga=GA1.2.3.4"}} {
		b.Run(tc.name, func(b *testing.B) {
			h, err := earlyhints.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write(page)
			}), earlyhints.Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			r := httptest.NewRequest("GET", "https://example.com/account", nil)
			r.TLS = &tls.ConnectionState{}
			r.ProtoMajor, r.ProtoMinor, r.Proto = 2, 0, "HTTP/2.0"
			r.RemoteAddr = "198.51.100.7:40000"
			r.Header.Set("Sec-Fetch-Mode", "navigate")
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}

// learnedCounter counts the views the learner finished.
type learnedCounter struct{ n atomic.Int64 }

func (c *learnedCounter) Observe(e earlyhints.Event) {
	if e.Kind == earlyhints.EventLearned {
		c.n.Add(1)
	}
}

// BenchmarkHandler_RouteMemory reports what 100,000 learned routes cost
// in memory, learned through the middleware as a catalogue of product
// pages teaches them: each page names the site's stylesheet, script and
// font and its own product image. Run it once: -bench RouteMemory
// -benchtime 1x.
func BenchmarkHandler_RouteMemory(b *testing.B) {
	const routes = 100_000
	for b.Loop() {
		store, err := hintstore.NewMemory(hintstore.MemoryConfig{MaxEntries: 2 * routes, MaxBytes: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		var learned learnedCounter
		h, err := earlyhints.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<!doctype html><html><head><link rel=stylesheet href=/static/site.css>
<script src=/static/app.js defer></script><link rel=preload href=/static/body.woff2 as=font crossorigin>
<link rel=preload as=image href=/img`+r.URL.Path+`.jpg fetchpriority=high></head><body>`)
		}), earlyhints.Config{Store: store, Observer: &learned})
		if err != nil {
			b.Fatal(err)
		}
		w := &discardWriter{h: make(http.Header)}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range routes {
			r := httptest.NewRequest("GET", "https://shop.example/product/"+strconv.Itoa(i), nil)
			r.TLS = &tls.ConnectionState{}
			r.ProtoMajor, r.ProtoMinor, r.Proto = 2, 0, "HTTP/2.0"
			r.Header.Set("Sec-Fetch-Mode", "navigate")
			clear(w.h)
			h.ServeHTTP(w, r)
			// The learner drops views when busy: keep it fed, not flooded.
			for int64(i+1)-learned.n.Load() > 4 {
				runtime.Gosched()
			}
		}
		for learned.n.Load() < routes {
			runtime.Gosched()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st, err := store.Stats(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if st.Entries != routes {
			b.Fatalf("%d routes learned, want %d", st.Entries, routes)
		}
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/routes, "heap-B/route")
		b.ReportMetric(float64(st.Bytes)/routes, "store-B/route")
		runtime.KeepAlive(h)
		h.Close()
	}
}
