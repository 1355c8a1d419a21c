//go:build chromium

package realpages

import (
	"context"
	"flag"
	"os"
	"path/filepath"
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
