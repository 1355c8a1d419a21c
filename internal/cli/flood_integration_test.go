//go:build integration

package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStack_FloodsKeepRealPages: 40,000 made-up Host values and 40,000
// one-off paths on a catch-all origin leave the hints of a page seen often
// in place.
func TestStack_FloodsKeepRealPages(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><head><link rel=stylesheet href=/site.css><link rel=stylesheet href="/p%s.css"></head><body>hi</body>`, r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	s := defaultSettings()
	s.Origin, s.Listen, s.HTTP3 = origin.URL, "127.0.0.1:0", false
	st := serveStack(t, s)
	base := st.srv.URL()

	navigate(t, base+"/real")
	if missing := st.waitLearned(base, []string{"/real"}, 10*time.Second); len(missing) > 0 {
		t.Fatal("the real page was not learned")
	}

	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the stack's generated certificate
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	const n = 40000
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= 2*n {
					return
				}
				path, host := "/real", fmt.Sprintf("made-up-%d.example", i)
				if i%2 == 1 {
					path, host = fmt.Sprintf("/one-off/%d", i), ""
				}
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				if host != "" {
					req.Host = host
				}
				req.Header.Set("Accept", "text/html")
				req.Header.Set("Sec-Fetch-Mode", "navigate")
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d requests failed", f, 2*n)
	}
	nav := navigate(t, base+"/real")
	if len(nav.hints) != 1 {
		t.Fatalf("after the floods the real page got %d 103s, want 1", len(nav.hints))
	}
	stats, _ := st.store.Stats(context.Background())
	t.Logf("store after the floods: %+v", stats)
	if stats.Entries > 10000 {
		t.Fatalf("%d routes held, bound 10000", stats.Entries)
	}
}
