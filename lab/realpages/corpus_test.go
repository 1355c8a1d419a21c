package realpages

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Floors on the pooled figures of the corpus (see README.md), a few points
// under what the product achieves (same-site 96 %, third-party 91 %,
// precision 98 %, every page whose head names a file Chromium waited for
// gets a 103), so that a change that loses hints fails. Third-party
// coverage stays under the 95 % aimed at: on these ad-laden pages the
// other sites' files still missed lie past the scan's bounds (512 KiB, or
// 32 KiB of the body's markup) or are inserted by scripts, which no
// reading of the markup can foresee (README.md lists them).
const (
	// floorSameSiteRecall: critical files of the page's site (render-
	// blocking, fonts, LCP image) that the 103 preloads.
	floorSameSiteRecall = 0.90
	// floorThirdParty: critical files of other sites whose origin the 103
	// preconnects, or that it preloads.
	floorThirdParty = 0.85
	// floorPrecision: preloads the page then fetched.
	floorPrecision = 0.95
	// maxNoHintsHintable: pages whose head names a file Chromium waited
	// for but that got no 103.
	maxNoHintsHintable = 0
)

// testdata is the corpus and its stored truth.
const (
	testdata   = "testdata"
	goldenFile = "truth.json.gz"
)

// corpusParallel is how many pages run at once (each on its own stack).
const corpusParallel = 12

func loadCorpus(t testing.TB) *Corpus {
	t.Helper()
	c, err := LoadCorpus(testdata)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCorpus scores the product on every saved page against Chromium's
// stored truth (testdata/truth.json.gz), with no browser, and asserts the
// floors. go test -run TestCorpus -v prints the table and the misses.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the product on every page of the corpus")
	}
	c := loadCorpus(t)
	g, err := LoadGolden(filepath.Join(testdata, goldenFile))
	if err != nil {
		t.Fatal(err)
	}
	scores, err := RunCorpus(context.Background(), c, g, RunConfig{}, corpusParallel)
	if err != nil {
		t.Fatal(err)
	}
	checkFloors(t, scores)
}

// checkFloors logs the table and fails when a pooled figure is under its
// floor.
func checkFloors(t *testing.T, scores []*Score) {
	t.Helper()
	var b strings.Builder
	if err := WriteTable(&b, scores); err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		b.WriteString("\nmisses:\n")
		if err := WriteMisses(&b, scores); err != nil {
			t.Fatal(err)
		}
	}
	t.Log("\n" + b.String())
	p := Pool(scores)
	for _, f := range []struct {
		name  string
		got   Ratio
		floor float64
	}{
		{"same-site critical recall", p.SameSiteAll(), floorSameSiteRecall},
		{"third-party coverage", p.ThirdPartyAll(), floorThirdParty},
		{"precision", p.Precision, floorPrecision},
	} {
		if f.got.Value() < f.floor {
			t.Errorf("%s %s, under its floor %.0f %%", f.name, f.got.Percent(), 100*f.floor)
		}
	}
	if p.NoHintsHintable > maxNoHintsHintable {
		t.Errorf("%d pages name a hintable file but got no 103, more than %d", p.NoHintsHintable, maxNoHintsHintable)
	}
}

func TestLoadCorpus(t *testing.T) {
	c := loadCorpus(t)
	sites := map[string]bool{}
	for _, p := range c.Pages {
		sites[p.Site()] = true
		if len(p.HTML) == 0 {
			t.Errorf("page %s is empty", p.Name)
		}
	}
	if len(c.Pages) < 40 || len(sites) < 40 {
		t.Errorf("the corpus has %d pages from %d sites, want at least 40 of each", len(c.Pages), len(sites))
	}
}

func TestLoadCorpus_Errors(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"no manifest": {},
		"no pages":    {"corpus.json": `{"pages":[]}`},
		"bad URL":     {"corpus.json": `{"pages":[{"name":"a","url":"http://x.example/"}]}`},
		"no file":     {"corpus.json": `{"pages":[{"name":"a","url":"https://x.example/"}]}`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, body := range files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := LoadCorpus(dir); err == nil {
				t.Error("no error")
			}
		})
	}
}
