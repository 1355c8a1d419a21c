package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/hintlog"
	"github.com/earlyhints/earlyhints/proxy"
)

// memoryOrigin answers every request in memory, so a benchmark measures the
// proxy, the middleware and the access log, not sockets.
type memoryOrigin struct{ body string }

func (m memoryOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/html"}},
		Body:          io.NopCloser(strings.NewReader(m.body)),
		ContentLength: int64(len(m.body)),
		Request:       r,
	}, nil
}

// BenchmarkStack_HintedNavigation is one HTTP/2 navigation that gets a 103
// of learned hints, through access log, middleware and proxy.
func BenchmarkStack_HintedNavigation(b *testing.B) {
	origin, _ := url.Parse("http://origin.internal")
	discard := slog.New(slog.DiscardHandler)
	p, err := proxy.New(proxy.Config{Default: origin, Transport: memoryOrigin{body: page}, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	mw, err := earlyhints.New(p, earlyhints.Config{Logger: discard, Observer: hintlog.Observer(nil)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mw.Close() })
	h := proxy.AccessLog(mw, discard)
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://site.example/", nil)
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
		r.Header.Set("Sec-Fetch-Mode", "navigate")
		return r
	}
	h.ServeHTTP(httptest.NewRecorder(), newReq()) // learn
	key := mw.RouteKey(newReq())
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, ok, _ := mw.Store().Get(context.Background(), key); ok {
			break
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), newReq())
	}
}

// BenchmarkStack_Subresource is one HTTP/2 request that is no navigation
// (a stylesheet, an image, an API call), through access log, middleware
// and proxy: what every request a site serves pays.
func BenchmarkStack_Subresource(b *testing.B) {
	origin, _ := url.Parse("http://origin.internal")
	discard := slog.New(slog.DiscardHandler)
	p, err := proxy.New(proxy.Config{Default: origin, Transport: memoryOrigin{body: page}, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	mw, err := earlyhints.New(p, earlyhints.Config{Logger: discard, Observer: hintlog.Observer(nil)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mw.Close() })
	h := proxy.AccessLog(mw, discard)
	newReq := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://site.example/s.css", nil)
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
		r.Header.Set("Accept", "text/css,*/*;q=0.1")
		return r
	}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), newReq())
	}
}
