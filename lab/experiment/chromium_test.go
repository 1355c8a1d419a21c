//go:build chromium

package experiment

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
)

// A few cells in Chromium and the model through the relay: every cell has
// a result, push is not measurable in Chromium, the Early Hints cells took
// the hinted files from the 103, and the model's cells carry their error
// against Chromium. Timings are reported, not asserted.
func TestRun_ChromiumMatrix(t *testing.T) {
	if _, err := chromium.FindBinary(chromium.Config{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s, err := ParseScenario(strings.NewReader(`
name: chromium-few
browser: model,chromium
runs: 1
run_timeout: 40s
budget: 4m
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
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, s, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Cells) != 12 {
		t.Fatalf("%d cells, want 12 (3 strategies × 2 protocols × 2 browsers)", len(res.Cells))
	}
	for _, c := range res.Cells {
		push := c.Strategy == Push
		switch {
		case push && (c.Browser == BrowserChromium || c.Protocol == H3):
			if !c.NotMeasurable || c.Runs != 0 || c.Render.Median != 0 {
				t.Errorf("%s: want not measurable and no number, got %+v", c.Key(), c)
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
		if c.Strategy == EarlyHints && c.Waterfall != nil && c.Waterfall.EarlyHintsMS <= 0 {
			t.Errorf("%s: the waterfall has no 103", c.Key())
		}
		if c.Browser == BrowserModel && !push && c.Calibration == nil {
			t.Errorf("%s: the model cell has no calibration against Chromium", c.Key())
		}
		if c.Browser == BrowserChromium && (c.FCP.Median <= 0 || c.LCP.Median <= 0) {
			t.Errorf("%s: no FCP or LCP from Chromium", c.Key())
		}
		t.Logf("%-55s render %4.0f ms  load %4.0f ms  fcp %4.0f  lcp %4.0f  from the 103: %d", c.Key(), c.Render.Median, c.Load.Median, c.FCP.Median, c.LCP.Median, len(c.EarlyHinted))
	}
	t.Logf("elapsed %.0f s", res.Elapsed)
}
