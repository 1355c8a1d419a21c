package realpages

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
)

// RunCorpus runs and scores every page of c that g has the truth of,
// parallel pages at a time (each on a stack of its own), and returns the
// scores in the corpus's order.
func RunCorpus(ctx context.Context, c *Corpus, g *Golden, cfg RunConfig, parallel int) ([]*Score, error) {
	if parallel < 1 {
		parallel = 1
	}
	scores := make([]*Score, len(c.Pages))
	errs := make([]error, len(c.Pages))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	sc := ScoreConfig{MaxPreloads: cfg.Product.MaxPreloads, MaxPreconnects: cfg.Product.MaxPreconnects}
	for i, p := range c.Pages {
		t, ok := g.Truth(p.Name)
		if !ok {
			return nil, fmt.Errorf("realpages: no truth for page %q; regenerate the golden file with -update", p.Name)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := Run(ctx, p, t, cfg)
			if err != nil && ctx.Err() == nil {
				// A loaded machine can time a navigation out: try the
				// page once more on a fresh stack before giving up.
				r, err = Run(ctx, p, t, cfg)
			}
			if err != nil {
				errs[i] = err
				return
			}
			scores[i] = ScorePage(p, t, r, sc)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return scores, nil
}

// WriteTable writes the per-page table, the pooled figures and the miss
// reasons.
func WriteTable(w io.Writer, scores []*Score) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "page\tsite\t103\tpreloads\tpreconnects\tsame-site\trender-blocking\tfonts\tLCP image\tthird-party\tprecision\t")
	for _, s := range scores {
		yes := "no"
		if s.Got103 {
			yes = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, s.Site, yes, len(s.Preloads), len(s.Preconnects),
			s.SameSiteAll(), s.SameSite[RenderBlocking], s.SameSite[Font], s.SameSite[LCPImage], s.ThirdPartyAll(), s.Precision)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return WritePooled(w, Pool(scores))
}

// WritePooled writes the pooled figures and the miss reasons.
func WritePooled(w io.Writer, p Pooled) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\npages: %d; with a 103: %d; naming a hintable file but without a 103: %d\n", p.Pages, p.Got103, p.NoHintsHintable)
	fmt.Fprintf(&b, "same-site critical recall: %s\n", p.SameSiteAll().Percent())
	for _, c := range Categories {
		fmt.Fprintf(&b, "  %-16s %s\n", c+":", p.SameSite[c].Percent())
	}
	fmt.Fprintf(&b, "third-party coverage: %s\n", p.ThirdPartyAll().Percent())
	for _, c := range Categories {
		fmt.Fprintf(&b, "  %-16s %s\n", c+":", p.ThirdParty[c].Percent())
	}
	fmt.Fprintf(&b, "precision: %s\n", p.Precision.Percent())
	var nc int
	for _, n := range p.NonCritical {
		nc += n
	}
	fmt.Fprintf(&b, "preloads of files fetched but not waited for: %d\n", nc)
	writeCounts(&b, p.NonCritical)
	fmt.Fprintf(&b, "invalid-input reports of the middleware: %d over %d page views\n", p.Invalid, p.Pages*(Teachers+1))
	fmt.Fprintf(&b, "misses by guessed reason:\n")
	writeCounts(&b, p.Reasons)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeCounts writes m, largest count first.
func writeCounts(b *strings.Builder, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		fmt.Fprintf(b, "  %4d  %s\n", m[k], k)
	}
}

// WriteMisses writes every page's misses, one a line.
func WriteMisses(w io.Writer, scores []*Score) error {
	var b strings.Builder
	for _, s := range scores {
		if !s.Got103 {
			keys := make([]string, 0, len(s.Events))
			for k, n := range s.Events {
				keys = append(keys, fmt.Sprintf("%s=%d", k, n))
			}
			sort.Strings(keys)
			fmt.Fprintf(&b, "%s\tno 103\tthe middleware's events: %s\n", s.Name, strings.Join(keys, " "))
		}
		for _, m := range s.Misses {
			where := "third-party"
			if m.SameSite {
				where = "same-site"
			}
			cat := string(m.Category)
			if m.Category == "" {
				where, cat = "wasted", "preload"
			}
			fmt.Fprintf(&b, "%s\t%s %s\t%s", s.Name, where, cat, m.Reason)
			if m.Detail != "" {
				fmt.Fprintf(&b, " (%s)", m.Detail)
			}
			fmt.Fprintf(&b, "\t%s\n", m.URL)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
