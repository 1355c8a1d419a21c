package realpages

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	product "github.com/earlyhints/earlyhints/internal/stack"
)

// BenchmarkCorpus runs the product on the whole corpus against the stored
// truth and reports the pooled figures (percent) as metrics, and the
// table in the log (-v): with the origin's think time of TestCorpus; with
// a longer one, which gives the document budget more room; and with no
// budget and caps far above any page's (64 preloads, 16 preconnects),
// which leaves what the scan and the learning find: the ceiling of any
// budget or cap.
func BenchmarkCorpus(b *testing.B) {
	for _, think := range []time.Duration{DefaultThink, time.Second} {
		b.Run("think="+think.String(), func(b *testing.B) { benchCorpus(b, RunConfig{Think: think}) })
	}
	b.Run("no-budget-no-caps", func(b *testing.B) {
		benchCorpus(b, RunConfig{Product: product.Config{AssumedBandwidth: -1, MaxPreloads: 64, MaxPreconnects: 16}})
	})
}

func benchCorpus(b *testing.B, cfg RunConfig) {
	c, err := LoadCorpus(testdata)
	if err != nil {
		b.Fatal(err)
	}
	g, err := LoadGolden(filepath.Join(testdata, goldenFile))
	if err != nil {
		b.Fatal(err)
	}
	var scores []*Score
	for b.Loop() {
		scores, err = RunCorpus(context.Background(), c, g, cfg, corpusParallel)
		if err != nil {
			b.Fatal(err)
		}
	}
	p := Pool(scores)
	b.ReportMetric(100*p.SameSiteAll().Value(), "same-site-%")
	for _, cat := range Categories {
		r := p.SameSite[cat]
		b.ReportMetric(100*r.Value(), "same-site-"+string(cat)+"-%")
	}
	b.ReportMetric(100*p.ThirdPartyAll().Value(), "third-party-%")
	b.ReportMetric(100*p.Precision.Value(), "precision-%")
	b.ReportMetric(float64(p.NoHintsHintable), "pages-without-103")
	var s strings.Builder
	if err := WriteTable(&s, scores); err != nil {
		b.Fatal(err)
	}
	b.Log("\n" + s.String())
}
