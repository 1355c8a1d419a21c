package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	product "github.com/earlyhints/earlyhints/internal/stack"
)

// Measurement is what one page load yields.
type Measurement struct {
	// Render is the time until every render-blocking resource is in (≈ first
	// render); Load the time until every resource is in; HTML the time
	// until the document is complete. All from the start of the navigation.
	Render, Load, HTML time.Duration
	// Bytes counts the bytes transferred (bodies, pushed streams included);
	// Wasted those pushed or hinted but unused, or received again although
	// cached.
	Bytes, Wasted int64
	// Pushed counts the pushed streams the browser received.
	Pushed int
	// Discovery is the waterfall's discovery delay δ: from the document's
	// first byte to the request of the last render-blocking resource found
	// in the HTML or a stylesheet (0 when none was requested that way).
	Discovery time.Duration
	// HTMLFirstByte is when the document's final response headers came;
	// EarlyHintsAt when the 103 did (0: none).
	HTMLFirstByte, EarlyHintsAt time.Duration
	// FCP and LCP are the browser's paint marks (0 from the model, which
	// paints nothing).
	FCP, LCP time.Duration
	// EarlyHinted lists the resources the browser took from the 103
	// (paths; host and path for a third party).
	EarlyHinted []string
	// Waterfall is the load drawn request by request.
	Waterfall *Waterfall
}

// Browser loads pages; one Browser holds one HTTP cache and cookie jar.
type Browser interface {
	Load(ctx context.Context, url string) (Measurement, error)
	Close() error
}

// BrowserFactory starts a browser with an empty cache that reaches the
// server as env says.
type BrowserFactory func(env Env) (Browser, error)

// Options configure Run.
type Options struct {
	// Netem is Relay (default) or Packet.
	Netem NetemMode
	// NewBrowser starts the browser of each run. Default: the lab's browser
	// model (lab/browser) when the scenario says "model".
	NewBrowser BrowserFactory
	// Browsers, when set, start the browsers by name ("model",
	// "chromium"); a name missing here gets its default. NewBrowser, when
	// set, starts every browser instead (for tests).
	Browsers map[string]BrowserFactory
	// ChromiumBinary is the Chromium to drive. Default: $CHROMIUM, else
	// /usr/bin/chromium, else chromium on $PATH.
	ChromiumBinary string
	// Progress, when set, is called after each load with the loads done,
	// the loads planned and the cell being measured.
	Progress func(done, total int, cell Cell)
	// OnCell, when set, is called after each cell with the results so far,
	// analysed (gains and bounds of the cells whose baseline is in). The
	// results are a copy the callee may keep.
	OnCell func(*Results)
	// Logger receives notes on failed runs and skipped cells.
	// Default slog.Default().
	Logger *slog.Logger
	// LearnTimeout bounds the wait for the proxy to learn a page after the
	// priming load. Default 5s.
	LearnTimeout time.Duration
}

// Results are the outcome of a scenario.
type Results struct {
	Scenario string    `json:"scenario"`
	Browser  string    `json:"browser"`
	Netem    NetemMode `json:"netem"`
	// CrossSitePreload and BlockThirdPartyCookies are the scenario's.
	CrossSitePreload       bool         `json:"cross_site_preload,omitempty"`
	BlockThirdPartyCookies bool         `json:"block_third_party_cookies,omitempty"`
	Started                time.Time    `json:"started"`
	Elapsed                float64      `json:"elapsed_s"`
	Cells                  []CellResult `json:"cells"`
}

// Failed counts the cells that failed: not measured for a reason other
// than "not measurable" (a timeout, a crash, a missing browser), or with
// failed runs.
func (r *Results) Failed() int {
	n := 0
	for _, c := range r.Cells {
		if c.Failures > 0 || (c.Skipped != "" && !c.NotMeasurable) {
			n++
		}
	}
	return n
}

// Run measures every cell of s. It stops early, reporting the cells not
// measured as skipped, when ctx ends or the scenario's budget runs out;
// the error then says so and the results hold what was measured.
func Run(ctx context.Context, s *Scenario, opts Options) (*Results, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Netem == "" {
		opts.Netem = Relay
	}
	if opts.Netem != Relay && opts.Netem != Packet {
		return nil, fmt.Errorf("%w: unknown netem mode %q; use relay or packet", ErrBadScenario, opts.Netem)
	}
	if opts.LearnTimeout <= 0 {
		opts.LearnTimeout = 5 * time.Second
	}
	factories := map[string]BrowserFactory{}
	reasons := map[string]string{}
	for _, name := range s.Browsers() {
		switch {
		case opts.NewBrowser != nil:
			factories[name] = opts.NewBrowser
		case opts.Browsers[name] != nil:
			factories[name] = opts.Browsers[name]
		case name == BrowserModel:
			factories[name] = newModelBrowser
		case name == BrowserChromium:
			factories[name], reasons[name] = chromiumFactory(opts.ChromiumBinary, time.Duration(s.RunTimeout), s.BlockThirdPartyCookies, opts.Logger)
		case name == BrowserFirefox:
			factories[name], reasons[name] = firefoxFactory(time.Duration(s.RunTimeout), opts.Logger)
		}
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(time.Duration(s.Budget)))
	defer cancel()

	cells := s.Cells()
	total := 0
	for _, c := range cells {
		total += loadsOf(c)
	}
	res := &Results{
		Scenario: s.Name, Browser: s.Browser, Netem: opts.Netem, Started: start,
		CrossSitePreload: s.CrossSitePreload, BlockThirdPartyCookies: s.BlockThirdPartyCookies,
	}
	done := 0
	var stopErr error
	for _, c := range cells {
		cr := CellResult{Cell: c, Planned: c.Runs}
		switch {
		case stopErr != nil:
			cr.Skipped = stopErr.Error()
		default:
			if reason := notMeasurable(c); reason != "" {
				cr.Skipped, cr.NotMeasurable = reason, true
				break
			}
			if factories[c.Browser] == nil {
				cr.Skipped = reasons[c.Browser]
				if cr.Skipped == "" {
					cr.Skipped = fmt.Sprintf("no browser %q", c.Browser)
				}
				break
			}
			r := &cellRun{s: s, c: c, opts: opts, newBrowser: factories[c.Browser], progress: func() {
				done++
				if opts.Progress != nil {
					opts.Progress(min(done, total), total, c)
				}
			}}
			if err := r.run(ctx, &cr); err != nil {
				cr.Skipped = err.Error()
			}
			if ctx.Err() != nil {
				stopErr = ErrBudget
				if ctx.Err() == context.Canceled {
					stopErr = ctx.Err()
				}
			}
		}
		if cr.Skipped != "" {
			done += loadsOf(c) - cr.loads
			if opts.Progress != nil {
				opts.Progress(min(done, total), total, c)
			}
			opts.Logger.Debug("experiment: cell skipped", "cell", c.Key(), "reason", cr.Skipped)
		}
		res.Cells = append(res.Cells, cr)
		if opts.OnCell != nil {
			partial := *res
			partial.Cells = append([]CellResult(nil), res.Cells...)
			_ = analyse(s, partial.Cells)
			partial.Elapsed = time.Since(start).Seconds()
			opts.OnCell(&partial)
		}
	}
	if err := analyse(s, res.Cells); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start).Seconds()
	if stopErr != nil {
		return res, fmt.Errorf("experiment: stopped early, some cells were not measured: %w", stopErr)
	}
	if n := res.Failed(); n > 0 {
		return res, fmt.Errorf("%w: %d of %d cells (see their skipped and errors fields)", ErrCellFailed, n, len(res.Cells))
	}
	return res, nil
}

// loadsOf counts the page loads a cell plans: a priming load for the
// strategies that learn (its warming loads are not counted: they bypass the
// emulated network and take a fraction of a second), and per run one load
// (two for a warm cache).
func loadsOf(c Cell) int {
	n := c.Runs
	if c.Cache == Warm {
		n *= 2
	}
	if learns(c.Strategy) {
		n++
	}
	return n
}

func learns(s Strategy) bool { return s == EarlyHints || s == Push || s == PushDigest }

// notMeasurable says why a cell means nothing under its conditions, ""
// if it can be measured.
func notMeasurable(c Cell) string {
	push := c.Strategy == Push || c.Strategy == PushDigest
	switch {
	case push && c.Protocol != H2:
		return "not measurable: push needs HTTP/2 (HTTP/1.1 has no push and browsers never supported push over HTTP/3)"
	case push && c.Browser == BrowserChromium:
		return "not measurable in Chromium: it removed HTTP/2 push (Chromium 106); the model's cell measures push"
	case push && c.Browser == BrowserFirefox:
		return "not measurable in Firefox: it dropped HTTP/2 push (off since Firefox 132; firefox-esr 153 has no setting for it); the model's cell measures push"
	}
	return ""
}

// cellRun measures one cell.
type cellRun struct {
	s          *Scenario
	c          Cell
	opts       Options
	newBrowser BrowserFactory
	progress   func()
}

func (r *cellRun) run(ctx context.Context, cr *CellResult) error {
	network, err := r.s.Network(r.c.Network)
	if err != nil {
		return err
	}
	cr.RTTMS = ms(network.RTT())
	st, err := newStack(ctx, stackConfig{cell: r.c, network: network, netem: r.opts.Netem, product: product.Config{CrossSitePreload: r.s.CrossSitePreload}, logger: r.opts.Logger})
	if err != nil {
		return err
	}
	defer st.Close()
	cr.manifest = st.site.Manifest()
	cr.downBps = float64(network.Down.Rate()) / 8

	if learns(r.c.Strategy) {
		// A first visitor teaches the proxy the page, as in production;
		// that visitor's browser is then thrown away.
		_, err := r.load(ctx, st, nil)
		cr.loads++
		r.progress()
		if err != nil {
			return fmt.Errorf("priming load: %w", err)
		}
		if err := st.waitLearned(ctx, r.opts.LearnTimeout); err != nil {
			return err
		}
		f, err := st.warm(ctx, time.Duration(r.s.RunTimeout))
		if err != nil {
			return err
		}
		cr.ThinkP50MS = ms(f.ThinkP50)
		st.leftOut.Store(0)
		st.budget.Store(0)
		st.sent.Store(0)
		defer func() {
			if n := st.sent.Load(); n > 0 {
				cr.LeftOut = float64(st.leftOut.Load()) / float64(n)
			}
			cr.BudgetBytes = st.budget.Load()
		}()
	}
	for i := 0; i < r.c.Runs && ctx.Err() == nil; i++ {
		m, err := r.measure(ctx, st, cr)
		r.progress()
		if err != nil {
			cr.Failures++
			cr.Errors = appendCapped(cr.Errors, err.Error())
			r.opts.Logger.Debug("experiment: run failed", "cell", r.c.Key(), "run", i, "err", err)
			continue
		}
		cr.Samples = append(cr.Samples, sampleOf(m))
		cr.waterfalls = append(cr.waterfalls, m.Waterfall)
		cr.hinted = append(cr.hinted, m.EarlyHinted)
	}
	return nil
}

// measure makes one measured load with a fresh browser, after a priming
// load with the same browser for a warm cache.
func (r *cellRun) measure(ctx context.Context, st *stack, cr *CellResult) (Measurement, error) {
	b, err := r.newBrowser(st.env)
	if err != nil {
		return Measurement{}, fmt.Errorf("start browser: %w", err)
	}
	defer b.Close()
	if r.c.Cache == Warm {
		_, err := r.load(ctx, st, b)
		cr.loads++
		r.progress()
		if err != nil {
			return Measurement{}, fmt.Errorf("warming load: %w", err)
		}
	}
	st.site.ResetLog()
	m, err := r.load(ctx, st, b)
	cr.loads++
	return m, err
}

// load loads the page once within the run timeout, with b or, when b is
// nil, with a browser of its own.
func (r *cellRun) load(ctx context.Context, st *stack, b Browser) (Measurement, error) {
	if b == nil {
		nb, err := r.newBrowser(st.env)
		if err != nil {
			return Measurement{}, fmt.Errorf("start browser: %w", err)
		}
		defer nb.Close()
		b = nb
	}
	lctx, cancel := context.WithTimeout(ctx, time.Duration(r.s.RunTimeout))
	defer cancel()
	m, err := b.Load(lctx, st.env.URL)
	if err != nil && errors.Is(lctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return m, fmt.Errorf("page load timed out after %s: %w", time.Duration(r.s.RunTimeout), err)
	}
	return m, err
}

func appendCapped(list []string, s string) []string {
	if len(list) >= 3 {
		return list
	}
	return append(list, s)
}
