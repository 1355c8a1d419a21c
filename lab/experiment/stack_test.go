package experiment

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	product "github.com/earlyhints/earlyhints/internal/stack"
)

// The warmed stack budgets its 103 as the deployed product does: the
// route's think time and the hinted files' sizes are known, and a file
// that would pass the budget is left out of the 103.
func TestStack_WarmedBudgetLeavesOut(t *testing.T) {
	s, err := ParseScenario(strings.NewReader(`
name: budget
runs: 1
run_timeout: 20s
budget: 60s
networks:
  - {name: fast, rtt: 10ms, down_mbps: 50, up_mbps: 20}
matrices:
  - pages: [news-article]
    strategies: [early-hints]
    protocols: [h2]
    caches: [cold]
    networks: [fast]
    think_ms: [100]
`))
	if err != nil {
		t.Fatal(err)
	}
	var cell Cell
	for _, c := range s.Cells() {
		if c.Strategy == EarlyHints {
			cell = c
		}
	}
	network, err := s.Network(cell.Network)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := newStack(ctx, stackConfig{cell: cell, network: network, netem: Relay, logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	load := func() Measurement { return loadModel(ctx, t, st) }
	primed(ctx, t, st)
	f, err := st.warm(ctx, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if f.Navigations < 1+warmLoads || f.BudgetBytes <= 0 {
		t.Fatalf("warmed route: %d navigations, budget %d bytes; want %d and a budget", f.Navigations, f.BudgetBytes, 1+warmLoads)
	}
	sized := 0
	for _, h := range f.Hints {
		if h.Bytes > 0 {
			sized++
		}
	}
	if sized == 0 {
		t.Errorf("warmed route: no hinted file has a size: %+v", f.Hints)
	}

	st.leftOut.Store(0)
	st.budget.Store(0)
	st.sent.Store(0)
	m := load()
	budget := st.budget.Load()
	if st.sent.Load() != 1 || st.leftOut.Load() == 0 {
		t.Fatalf("measured load: %d 103s, %d hints left out; want one 103 that left hints out (budget %d bytes)", st.sent.Load(), st.leftOut.Load(), f.BudgetBytes)
	}
	size := map[string]int{}
	for _, d := range st.site.Manifest().Discovery {
		size[pathOf(d.URL)] = d.Size
	}
	// The hero image (142 KB) passes any budget the 100 ms think time
	// gives; what the browser took from the 103 fits in the budget, the
	// render-blocking stylesheet first.
	if slices.Contains(m.EarlyHinted, "/img/hero-1280.b81e.jpg") {
		t.Errorf("the 103 named the hero image over a %d-byte budget: %v", budget, m.EarlyHinted)
	}
	if !slices.Contains(m.EarlyHinted, "/assets/main.4f1c2a.css") {
		t.Errorf("the 103 left out the render-blocking stylesheet: %v", m.EarlyHinted)
	}
	total := 0
	for _, p := range m.EarlyHinted {
		total += size[p]
	}
	// The budget is the connection's: at least 90 ms of think time after
	// the link's 10 ms round trip at the assumed 5 Mbit/s, and the first
	// window; more than the field view's at the assumed 100 ms.
	if budget < 56250+14600 || budget <= f.BudgetBytes || int64(total) > budget {
		t.Errorf("hinted %d bytes (%v) over the %d-byte budget; want a budget of at least 70,850 bytes, above the assumed path's %d", total, m.EarlyHinted, budget, f.BudgetBytes)
	}
}

// A scenario's cross_site_preload reaches the product: the third party's
// render-blocking script is preloaded from the 103 only when it is set;
// without it the 103 preconnects to that origin.
func TestStack_CrossSitePreload(t *testing.T) {
	const script = "cmp.consent.example/cmp.js"
	for _, crossSite := range []bool{false, true} {
		t.Run(map[bool]string{false: "as shipped", true: "cross_site_preload"}[crossSite], func(t *testing.T) {
			cell := Cell{Page: "news-article", Strategy: EarlyHints, Protocol: H2, Cache: Cold, Network: "none", ThinkMS: 50}
			network, err := (&Scenario{}).Network("none")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st, err := newStack(ctx, stackConfig{cell: cell, network: network, netem: Relay, product: product.Config{CrossSitePreload: crossSite}, logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			primed(ctx, t, st)
			m := loadModel(ctx, t, st)
			if !slices.Contains(m.EarlyHinted, "/assets/main.4f1c2a.css") {
				t.Fatalf("the 103 did not name the page's own stylesheet: %v", m.EarlyHinted)
			}
			if got := slices.Contains(m.EarlyHinted, script); got != crossSite {
				t.Errorf("the 103 preloaded %s: %v, want %v (hinted %v)", script, got, crossSite, m.EarlyHinted)
			}
		})
	}
}

// loadModel loads the stack's page in a fresh model browser.
func loadModel(ctx context.Context, t *testing.T, st *stack) Measurement {
	t.Helper()
	b, err := newModelBrowser(st.env)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m, err := b.Load(ctx, st.env.URL)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// primed sends the priming visitor and waits until the product learned
// the page from it.
func primed(ctx context.Context, t *testing.T, st *stack) {
	t.Helper()
	loadModel(ctx, t, st)
	if err := st.waitLearned(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
