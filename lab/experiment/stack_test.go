package experiment

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
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

// accessLines is a slog.Handler that hands each access log line to a
// channel, so a test can wait for it.
type accessLines chan slog.Record

func (accessLines) Enabled(context.Context, slog.Level) bool { return true }
func (c accessLines) Handle(_ context.Context, r slog.Record) error {
	select {
	case c <- r.Clone():
	default: // more lines than the test waits for: the handler must not block
	}
	return nil
}
func (c accessLines) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c accessLines) WithGroup(string) slog.Handler      { return c }

// The lab measures the product as it ships, every part included: each
// request is an access log line, and the client-address rules hold (a
// trusted proxy's X-Forwarded-For names the client, anyone else's does
// not).
func TestStack_WholeProduct(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		client  string
	}{
		{"as shipped", nil, "127.0.0.1"},
		{"behind a trusted proxy", []string{"127.0.0.0/8"}, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cell := Cell{Page: "tiny", Strategy: EarlyHints, Protocol: H2, Cache: Cold, Network: "none"}
			network, err := (&Scenario{}).Network("none")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			access := make(accessLines, 1)
			st, err := newStack(ctx, stackConfig{
				cell: cell, network: network, netem: Relay, logger: quietLogger(),
				product: product.Config{TrustedProxies: tt.trusted, AccessLog: slog.New(access)},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			tr := &http.Transport{
				DialContext:     st.warmEnv.DialContext,
				TLSClientConfig: &tls.Config{RootCAs: st.env.RootCAs, ServerName: st.env.ServerName, MinVersion: tls.VersionTLS12},
			}
			defer tr.CloseIdleConnections()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.env.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Forwarded-For", "198.51.100.7")
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			select {
			case r := <-access:
				line := map[string]string{"msg": r.Message}
				r.Attrs(func(a slog.Attr) bool { line[a.Key] = a.Value.String(); return true })
				if line["msg"] != "request" || line["client"] != tt.client || line["path"] != st.site.Manifest().HTMLPath || line["status"] != "200" {
					t.Errorf("access log line %v; want the page's request from %s", line, tt.client)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no access log line: the lab's stack leaves the access log out")
			}
		})
	}
}
