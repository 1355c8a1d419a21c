package earlyhints_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints"
)

// TestHandler_DocumentBudget: once a route's think time and its files'
// sizes are known, its 103 names no more bytes than arrive before the
// document is ready; render-blocking files come first, what is left out is
// reported, and the field view shows what browsers took.
func TestHandler_DocumentBudget(t *testing.T) {
	sizes := map[string]int{"/a.css": 9000, "/b.js": 9000, "/hero.jpg": 60000}
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := sizes[r.URL.Path]; ok {
			w.Header().Set("Cache-Control", "public, max-age=600")
			_, _ = io.WriteString(w, strings.Repeat("x", n))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<!doctype html><head><link rel=stylesheet href=/a.css><script src=/b.js></script>
<link rel=preload as=image href=/hero.jpg fetchpriority=high></head><body></body>`)
	})
	// A bandwidth so low that only TCP's first window (14,600 bytes) counts.
	h, ev := newHandler(t, origin, earlyhints.Config{AssumedBandwidth: 8})
	srv := startH2(t, h)
	c := srv.Client()

	navigate(t, c, srv.URL+"/", nil)
	ev.wait(t, earlyhints.EventLearned)
	first := navigate(t, c, srv.URL+"/", nil)
	if len(first.early) != 1 || len(first.early[0].Values("Link")) != 3 {
		t.Fatalf("before sizes are known: %q, want all three hints", first.early)
	}
	// The browser fetches what the 103 named: now their sizes are known.
	for p := range sizes {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
		req.Header.Set("Sec-Fetch-Dest", "style")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	navigate(t, c, srv.URL+"/", nil) // a third think-time sample
	v := navigate(t, c, srv.URL+"/", nil)
	if len(v.early) != 1 {
		t.Fatalf("%d 103s", len(v.early))
	}
	links := strings.Join(v.early[0].Values("Link"), ", ")
	if !strings.Contains(links, "/a.css") || strings.Contains(links, "/b.js") || strings.Contains(links, "/hero.jpg") {
		t.Fatalf("budgeted 103 names %s; want the stylesheet alone (9,000 of 14,600 bytes)", links)
	}
	if ev.count(earlyhints.EventLeftOut) == 0 {
		t.Error("what the budget left out was not reported")
	}

	field := h.Field(0)
	if len(field) != 1 {
		t.Fatalf("field view of %d routes, want 1: %+v", len(field), field)
	}
	f := field[0]
	if f.Navigations != 4 || f.Sent != 3 || f.ThinkP50 <= 0 || f.BudgetBytes <= 0 {
		t.Fatalf("field view %+v: want 4 navigations, 3 103s, a think time and a budget", f)
	}
	taken := map[string]uint64{}
	for _, hf := range f.Hints {
		taken[hf.Target] = hf.Taken
	}
	if taken["/a.css"] != 1 || taken["/hero.jpg"] != 1 {
		t.Fatalf("hints taken %v: want each file of the sampled 103 requested once", taken)
	}
}
