//go:build chromium

package realpages

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
)

var update = flag.Bool("update", false, "write Chromium's truth to testdata/truth.json.gz")

// TestCorpusChromium loads every page of the corpus in headless Chromium
// (one browser, page after page), scores the product against what it
// reports, and asserts the floors; with -update it stores the truth for
// TestCorpus.
func TestCorpusChromium(t *testing.T) {
	if _, err := chromium.FindBinary(chromium.Config{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	c := loadCorpus(t)
	ctx := context.Background()
	start := time.Now()
	col, err := NewCollector(ctx, c.Pages, CollectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	g := &Golden{Browser: col.Version(ctx)}
	for _, p := range c.Pages {
		tr, err := col.Collect(ctx, p)
		if err != nil {
			col.Close()
			t.Fatal(err)
		}
		g.Pages = append(g.Pages, tr)
	}
	col.Close()
	t.Logf("%s: %d pages in %v", g.Browser, len(g.Pages), time.Since(start).Round(time.Millisecond))
	if old, err := LoadGolden(filepath.Join(testdata, goldenFile)); err == nil {
		logDrift(t, old, g)
	}
	if *update {
		if err := WriteGolden(filepath.Join(testdata, goldenFile), g); err != nil {
			t.Fatal(err)
		}
	}
	scores, err := RunCorpus(ctx, c, g, RunConfig{}, corpusParallel)
	if err != nil {
		t.Fatal(err)
	}
	checkFloors(t, scores)
}

// logDrift logs the pages whose critical files differ from the stored
// truth's: a browser update, or load-to-load variation of ad-laden pages.
func logDrift(t *testing.T, old, now *Golden) {
	t.Helper()
	same := func(a, b []string) bool {
		return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
	}
	var drift []string
	for _, n := range now.Pages {
		o, ok := old.Truth(n.Name)
		if !ok || !same(o.Blocking, n.Blocking) || !same(o.Fonts, n.Fonts) || o.LCP != n.LCP {
			drift = append(drift, n.Name)
		}
	}
	t.Logf("%d of %d pages differ from the stored truth (%s): %v", len(drift), len(now.Pages), old.Browser, drift)
}
