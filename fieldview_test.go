package earlyhints_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
)

// TestHandler_DocumentBudget: once a route's think time and its files'
// sizes are known, its 103 names no more bytes than arrive before the
// document is ready, at the connection's measured round trip and
// bandwidth when it has them; render-blocking files come first, what is
// left out is reported with the budget and what it rests on, and the field
// view shows what browsers took.
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
	path := func(rtt time.Duration, bw int64) func(*http.Request) (time.Duration, int64) {
		return func(*http.Request) (time.Duration, int64) { return rtt, bw }
	}
	tests := []struct {
		name       string
		cfg        earlyhints.Config
		wantLinks  []string // in the budgeted 103
		wantReason string   // of the EventLeftOut; "" for none
	}{
		// A bandwidth so low that only TCP's first window (14,600 bytes)
		// counts: the stylesheet alone fits.
		{"assumed path", earlyhints.Config{AssumedBandwidth: 8}, []string{"/a.css"}, earlyhints.ReasonOverAssumedBudget},
		// The document is ready long before the hinted requests arrive:
		// the first window again, whatever the assumed bandwidth.
		{"measured round trip longer than the think time", earlyhints.Config{ConnPath: path(time.Hour, 0)}, []string{"/a.css"}, earlyhints.ReasonOverBudget},
		// A near client on a fast link takes everything.
		{"measured fast path", earlyhints.Config{AssumedBandwidth: 8, ConnPath: path(time.Nanosecond, 1<<50)}, []string{"/a.css", "/b.js", "/hero.jpg"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ev := newHandler(t, origin, tt.cfg)
			srv := startH2(t, h)
			links := visitBudgeted(t, ev, srv.Client(), srv.URL, sizes)
			for _, target := range []string{"/a.css", "/b.js", "/hero.jpg"} {
				if want := slices.Contains(tt.wantLinks, target); strings.Contains(links, "<"+target+">") != want {
					t.Errorf("budgeted 103 names %s; want %v", links, tt.wantLinks)
				}
			}
			left := ev.count(earlyhints.EventLeftOut)
			if tt.wantReason == "" {
				if left != 0 {
					t.Errorf("%d hints left out, want none", left)
				}
				return
			}
			if e := ev.last(earlyhints.EventLeftOut); e.Links != 3-len(tt.wantLinks) || e.Reason != tt.wantReason || e.Bytes != 14600 {
				t.Errorf("left out %+v: want %d links, reason %s, a budget of 14,600 bytes", e, 3-len(tt.wantLinks), tt.wantReason)
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
		})
	}
}

// visitBudgeted teaches the handler behind url the page, its think time
// and its files' sizes, and returns the Link values of the 103 that
// follows.
func visitBudgeted(t *testing.T, ev *events, c *http.Client, url string, sizes map[string]int) string {
	t.Helper()
	navigate(t, c, url+"/", nil)
	ev.wait(t, earlyhints.EventLearned)
	first := navigate(t, c, url+"/", nil)
	if len(first.early) != 1 || len(first.early[0].Values("Link")) != 3 {
		t.Fatalf("before sizes are known: %q, want all three hints", first.early)
	}
	// The browser fetches what the 103 named: now their sizes are known.
	for p := range sizes {
		req, _ := http.NewRequest(http.MethodGet, url+p, nil)
		req.Header.Set("Sec-Fetch-Dest", "style")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	navigate(t, c, url+"/", nil) // a third think-time sample
	v := navigate(t, c, url+"/", nil)
	if len(v.early) != 1 {
		t.Fatalf("%d 103s", len(v.early))
	}
	return strings.Join(v.early[0].Values("Link"), ", ")
}
