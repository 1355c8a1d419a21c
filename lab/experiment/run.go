package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
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
	// OnCell, when set, is called after each group of cells (the cells
	// that differ only by strategy, whose runs are interleaved) with the
	// results so far, analysed (gains and bounds of the cells whose
	// baseline is in). The results are a copy the callee may keep.
	OnCell func(*Results)
	// Logger receives notes on failed runs and skipped cells.
	// Default slog.Default().
	Logger *slog.Logger
	// LearnTimeout bounds the wait for the proxy to learn a page after the
	// priming load. Default 5s.
	LearnTimeout time.Duration

	// BusyLoad is the 1-minute load average per CPU above which a run is
	// taken on a busy machine: it is thrown away and measured again (at
	// most BusyRetries times, after waiting up to BusyWait for the load to
	// fall), then kept flagged as busy; the report counts such runs and
	// says at its top when the machine was busy. Default DefaultBusyLoad
	// (1.0); negative: the load is recorded but not judged.
	BusyLoad float64
	// BusyRetries bounds the measurements again of one busy run. Default
	// DefaultBusyRetries (2); negative: none. The waits and retries of a
	// scenario take at most a tenth of its budget in all; past that, busy
	// runs are kept flagged.
	BusyRetries int
	// BusyWait bounds the wait for the load to fall under the threshold
	// before a retry. Default 5s.
	BusyWait time.Duration
	// ReadLoad reads the machine's 1-minute load average. Default
	// ReadLoadavg (Linux's /proc/loadavg).
	ReadLoad LoadReader
	// CPUs is the number of CPUs the load is divided by. Default
	// runtime.NumCPU().
	CPUs int
}

// Results are the outcome of a scenario.
type Results struct {
	Scenario string    `json:"scenario"`
	Browser  string    `json:"browser"`
	Netem    NetemMode `json:"netem"`
	// CrossSitePreload and BlockThirdPartyCookies are the scenario's.
	CrossSitePreload       bool      `json:"cross_site_preload,omitempty"`
	BlockThirdPartyCookies bool      `json:"block_third_party_cookies,omitempty"`
	Started                time.Time `json:"started"`
	Elapsed                float64   `json:"elapsed_s"`
	// CPUs and BusyLoad are Options' (BusyLoad 0: runs were not judged);
	// Load sums up the runs' load readings.
	CPUs     int          `json:"cpus,omitempty"`
	BusyLoad float64      `json:"busy_load,omitempty"`
	Load     *LoadSummary `json:"load,omitempty"`
	Cells    []CellResult `json:"cells"`
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

// Run measures every cell of s. The cells that differ only by strategy
// form a group measured together: their stacks are built, then run i of
// every strategy is measured in turn, the order rotated each round, so
// that whatever changes on the machine lands on every strategy alike and
// run i of a strategy pairs with run i of its baseline. Each run records
// the machine's load and the lab's CPU time; a run taken on a busy machine
// (see Options.BusyLoad) is measured again within bounds, or kept flagged.
//
// Run stops early, reporting the cells not measured as skipped, when ctx
// ends or the scenario's budget runs out; the error then says so and the
// results hold what was measured.
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
	if opts.BusyLoad == 0 {
		opts.BusyLoad = DefaultBusyLoad
	}
	if opts.BusyRetries == 0 {
		opts.BusyRetries = DefaultBusyRetries
	}
	if opts.BusyWait <= 0 {
		opts.BusyWait = 5 * time.Second
	}
	if opts.ReadLoad == nil {
		opts.ReadLoad = ReadLoadavg
	}
	if opts.CPUs <= 0 {
		opts.CPUs = runtime.NumCPU()
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
		CPUs: opts.CPUs, BusyLoad: max(opts.BusyLoad, 0),
	}
	prog := &tracker{total: total, report: opts.Progress}
	busy := &busyState{opts: opts, allowance: time.Duration(s.Budget) / 10}
	results := make([]CellResult, len(cells))
	finished := make([]bool, len(cells))
	var stopErr error
	for _, group := range groupCells(cells) {
		// The cells of a group differ only by strategy: their stacks are
		// built together and their runs interleaved.
		var members []*cellRun
		for _, i := range group {
			c := cells[i]
			cr := &results[i]
			*cr = CellResult{Cell: c, Planned: c.Runs}
			switch {
			case stopErr != nil:
				cr.Skipped = stopErr.Error()
			case notMeasurable(c) != "":
				cr.Skipped, cr.NotMeasurable = notMeasurable(c), true
			case factories[c.Browser] == nil:
				cr.Skipped = reasons[c.Browser]
				if cr.Skipped == "" {
					cr.Skipped = fmt.Sprintf("no browser %q", c.Browser)
				}
			default:
				members = append(members, &cellRun{s: s, c: c, cr: cr, opts: opts, newBrowser: factories[c.Browser], progress: prog, busy: busy})
			}
		}
		runGroup(ctx, members, opts.Logger)
		if ctx.Err() != nil && stopErr == nil {
			stopErr = ErrBudget
			if ctx.Err() == context.Canceled {
				stopErr = ctx.Err()
			}
		}
		for _, i := range group {
			c, cr := cells[i], &results[i]
			if cr.Skipped != "" {
				prog.skip(c, loadsOf(c)-cr.loads)
				opts.Logger.Debug("experiment: cell skipped", "cell", c.Key(), "reason", cr.Skipped)
			}
			finished[i] = true
		}
		if opts.OnCell != nil {
			partial := *res
			for i := range results {
				if finished[i] {
					partial.Cells = append(partial.Cells, results[i])
				}
			}
			_ = analyse(s, partial.Cells)
			partial.Elapsed = time.Since(start).Seconds()
			ls := partial.LoadSummary()
			partial.Load = &ls
			opts.OnCell(&partial)
		}
	}
	res.Cells = results
	if err := analyse(s, res.Cells); err != nil {
		return res, err
	}
	ls := res.LoadSummary()
	res.Load = &ls
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

// cellRun measures one cell, in turn with the other cells of its group.
type cellRun struct {
	s          *Scenario
	c          Cell
	cr         *CellResult
	opts       Options
	newBrowser BrowserFactory
	progress   *tracker
	busy       *busyState
	// st is the cell's stack once set up; finish, when set, records what
	// the product did over the measured runs.
	st     *stack
	finish func()
}

// setup builds the cell's stack and, for the strategies that learn,
// teaches the proxy the page and warms it.
func (r *cellRun) setup(ctx context.Context) error {
	cr := r.cr
	network, err := r.s.Network(r.c.Network)
	if err != nil {
		return err
	}
	cr.RTTMS = ms(network.RTT())
	st, err := newStack(ctx, stackConfig{cell: r.c, network: network, netem: r.opts.Netem, product: product.Config{CrossSitePreload: r.s.CrossSitePreload}, logger: r.opts.Logger, pages: r.s})
	if err != nil {
		return err
	}
	r.st = st
	cr.manifest = st.site.Manifest()
	cr.downBps = float64(network.Down.Rate()) / 8
	if !learns(r.c.Strategy) {
		return nil
	}
	// A first visitor teaches the proxy the page, as in production; that
	// visitor's browser is then thrown away.
	_, err = r.load(ctx, st, nil)
	cr.loads++
	r.progress.step(r.c)
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
	r.finish = func() {
		if n := st.sent.Load(); n > 0 {
			cr.LeftOut = float64(st.leftOut.Load()) / float64(n)
		}
		cr.BudgetBytes = st.budget.Load()
	}
	return nil
}

// close records what the product did and releases the stack.
func (r *cellRun) close() {
	if r.finish != nil {
		r.finish()
		r.finish = nil
	}
	if r.st != nil {
		r.st.Close()
		r.st = nil
	}
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
		r.progress.step(r.c)
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
