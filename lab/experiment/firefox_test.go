//go:build firefox

package experiment

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/firefox"
)

// A few cells measured in Firefox through the relay: every cell has a
// result, push is not measurable, the Early Hints cells took the hinted
// files early (judged on the site's log), over HTTP/2 and HTTP/3, on a
// page whose third parties reach the lab through the tunnel. Timings are
// reported, not asserted.
func TestRun_FirefoxMatrix(t *testing.T) {
	if _, err := firefox.FindBinary(firefox.Config{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s, err := ParseScenario(strings.NewReader(`
name: firefox-few
browser: firefox
runs: 1
run_timeout: 60s
budget: 10m
networks:
  - {name: edge, rtt: 40ms, down_mbps: 20, up_mbps: 20}
matrices:
  - pages: [news-article]
    strategies: [none, early-hints, push]
    protocols: [h2, h3]
    caches: [cold]
    networks: [edge]
    think_ms: [300]
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	res, err := Run(ctx, s, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Cells) != 6 {
		t.Fatalf("%d cells, want 6 (3 strategies × 2 protocols)", len(res.Cells))
	}
	for _, c := range res.Cells {
		switch {
		case c.Strategy == Push:
			if !c.NotMeasurable || c.Runs != 0 {
				t.Errorf("%s: want not measurable, got %+v", c.Key(), c)
			}
			continue
		case c.Runs != 1:
			t.Errorf("%s: runs %d, skipped %q, errors %q", c.Key(), c.Runs, c.Skipped, c.Errors)
			continue
		case c.Waterfall == nil || len(c.Waterfall.Entries) < 5:
			t.Errorf("%s: no waterfall", c.Key())
		}
		if c.Strategy == EarlyHints && len(c.EarlyHinted) == 0 {
			t.Errorf("%s: no resource taken from the 103", c.Key())
		}
		if c.Strategy == None && len(c.EarlyHinted) > 0 {
			t.Errorf("%s: files taken early without hints: %v", c.Key(), c.EarlyHinted)
		}
		if c.FCP.Median <= 0 {
			t.Errorf("%s: no FCP from Firefox", c.Key())
		}
		t.Logf("%-55s render %4.0f ms  load %4.0f ms  fcp %4.0f  lcp %4.0f  from the 103: %v", c.Key(), c.Render.Median, c.Load.Median, c.FCP.Median, c.LCP.Median, c.EarlyHinted)
	}
	t.Logf("elapsed %.0f s", res.Elapsed)
}
