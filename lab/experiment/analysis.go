package experiment

import (
	"time"

	"github.com/earlyhints/earlyhints/lab/site"
)

// Sample is one measured load, in milliseconds and bytes.
type Sample struct {
	RenderMS float64 `json:"render_ms"`
	LoadMS   float64 `json:"load_ms"`
	HTMLMS   float64 `json:"html_ms"`
	Bytes    int64   `json:"bytes"`
	Wasted   int64   `json:"wasted_bytes"`
	Pushed   int     `json:"pushed"`
	// DiscoveryMS is the waterfall's discovery delay δ (see Measurement).
	DiscoveryMS float64 `json:"discovery_ms"`
	// FirstByteMS is the document's first byte; FCPMS and LCPMS the paint
	// marks (0 from the model); EarlyHinted the resources taken from the 103.
	FirstByteMS float64 `json:"html_first_byte_ms"`
	FCPMS       float64 `json:"fcp_ms,omitempty"`
	LCPMS       float64 `json:"lcp_ms,omitempty"`
	EarlyHinted int     `json:"early_hinted"`
	// Round is the round of the group's interleaved runs this run was
	// measured in (from 0): run i of a strategy and run i of its baseline
	// share a round, which pairs them.
	Round int `json:"round"`
	// Place is the run's place in its round (from 0): the rounds rotate
	// the order of the strategies.
	Place int `json:"place"`
	// Load1 is the machine's 1-minute load average around the run (the
	// larger of the readings before and after it; 0: not read); CPUMS the
	// lab process's own CPU time during the run, ChildCPUMS that of the
	// browser processes that ended in it. Busy marks a run kept although
	// the load was over the threshold; Retries counts the busy
	// measurements thrown away before this one.
	// OwnLoad is the lab's own share of that load: its CPU time and its
	// browsers' per second of the run; a run is busy when the load less
	// this share exceeds the threshold.
	Load1      float64 `json:"load1,omitempty"`
	OwnLoad    float64 `json:"own_load,omitempty"`
	CPUMS      float64 `json:"cpu_ms,omitempty"`
	ChildCPUMS float64 `json:"child_cpu_ms,omitempty"`
	Busy       bool    `json:"busy,omitempty"`
	Retries    int     `json:"retries,omitempty"`
}

func sampleOf(m Measurement) Sample {
	return Sample{
		RenderMS: ms(m.Render), LoadMS: ms(m.Load), HTMLMS: ms(m.HTML), Bytes: m.Bytes, Wasted: m.Wasted, Pushed: m.Pushed,
		DiscoveryMS: ms(m.Discovery), FirstByteMS: ms(m.HTMLFirstByte), FCPMS: ms(m.FCP), LCPMS: ms(m.LCP), EarlyHinted: len(m.EarlyHinted),
	}
}

// Summary is the median and interquartile range of a quantity.
type Summary struct {
	Median float64 `json:"median"`
	IQR    float64 `json:"iqr"`
}

func summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	return Summary{Median: Median(xs), IQR: IQR(xs)}
}

// Gain compares a cell with its no-hint baseline; positive is faster.
//
// The runs of a cell and of its baseline are interleaved, run i of each in
// the same round, so they are compared pair by pair: RenderMS and LoadMS
// are the medians of the paired differences (baseline − cell), the
// intervals their bootstrap confidence intervals (see MedianCI), and the
// percentages are of the baseline's median. Without pairs (results of
// runs that were not interleaved) they are the differences of the medians,
// with no interval.
type Gain struct {
	RenderMS  float64 `json:"render_ms"`
	RenderPct float64 `json:"render_pct"`
	LoadMS    float64 `json:"load_ms"`
	LoadPct   float64 `json:"load_pct"`
	// Pairs counts the paired runs (0: not paired).
	Pairs    int       `json:"pairs,omitempty"`
	RenderCI *Interval `json:"render_ci_ms,omitempty"`
	LoadCI   *Interval `json:"load_ci_ms,omitempty"`
}

// Paired returns, for the runs of a and b measured in the same round,
// metric(a) − metric(b), in round order. Runs whose partner failed are left
// out. It returns nil when either side's rounds are not distinct (results
// of runs that were not interleaved): their runs do not pair.
func Paired(a, b *CellResult, metric func(Sample) float64) []float64 {
	byRound := func(c *CellResult) map[int]Sample {
		m := make(map[int]Sample, len(c.Samples))
		for _, x := range c.Samples {
			if _, dup := m[x.Round]; dup {
				return nil
			}
			m[x.Round] = x
		}
		return m
	}
	ra, rb := byRound(a), byRound(b)
	if ra == nil || rb == nil {
		return nil
	}
	var out []float64
	for _, x := range a.Samples {
		if y, ok := rb[x.Round]; ok {
			out = append(out, metric(x)-metric(y))
		}
	}
	return out
}

// Render and LoadTime pick a run's render and load times, for Paired.
func Render(x Sample) float64   { return x.RenderMS }
func LoadTime(x Sample) float64 { return x.LoadMS }

// Bound is the analytic bound on Early Hints' saving for a cell, and the
// measured render gain as a fraction of it.
type Bound struct {
	ThinkMS float64 `json:"think_ms"`
	// DeltaMS is δ as the site estimates it from the page's structure
	// (the value the bound uses); WaterfallDeltaMS is δ as the baseline's
	// waterfalls show it (median), for comparison.
	DeltaMS          float64 `json:"delta_ms"`
	WaterfallDeltaMS float64 `json:"waterfall_delta_ms"`
	RTTMS            float64 `json:"rtt_ms"`
	XRMS             float64 `json:"x_r_ms"`
	BoundMS          float64 `json:"bound_ms"`
	// Fraction is the measured render gain divided by BoundMS.
	Fraction float64 `json:"fraction"`
}

// CellResult is the outcome of one cell.
type CellResult struct {
	Cell
	// Planned is the number of measured loads planned; Runs those that
	// succeeded, Failures those that did not (Errors holds the first few).
	Planned  int      `json:"planned"`
	Runs     int      `json:"runs"`
	Failures int      `json:"failures"`
	Errors   []string `json:"errors,omitempty"`
	// Skipped says why the cell was not measured ("" when it was).
	// NotMeasurable marks a cell that means nothing under its conditions
	// (push in Chromium, which removed it; push over HTTP/3): it is never
	// given a number, and is not a failure.
	Skipped       string `json:"skipped,omitempty"`
	NotMeasurable bool   `json:"not_measurable,omitempty"`
	// BusyDropped counts the measurements thrown away because the machine
	// was busy (each was measured again).
	BusyDropped int `json:"busy_dropped,omitempty"`

	Render Summary `json:"render_ms"`
	Load   Summary `json:"load_ms"`
	HTML   Summary `json:"html_ms"`
	// FirstByte is the document's first byte; FCP and LCP the paint marks
	// (zero from the model, which paints nothing).
	FirstByte Summary `json:"html_first_byte_ms"`
	FCP       Summary `json:"fcp_ms"`
	LCP       Summary `json:"lcp_ms"`
	// Bytes and WastedBytes are medians over the runs.
	Bytes       float64 `json:"bytes"`
	WastedBytes float64 `json:"wasted_bytes"`
	Pushed      float64 `json:"pushed"`
	RTTMS       float64 `json:"rtt_ms"`
	// For the strategies that learn, ThinkP50MS is the route's think-time
	// median once the stack was warmed, BudgetBytes the document budget of
	// the measured runs' 103s, at the path their connection measured (0:
	// none left anything out), and LeftOut the hints left out of each 103
	// over it, on average.
	ThinkP50MS  float64 `json:"think_p50_ms,omitempty"`
	BudgetBytes int64   `json:"budget_bytes,omitempty"`
	LeftOut     float64 `json:"left_out,omitempty"`
	// Gain is nil for the baseline and when either side has no runs.
	Gain *Gain `json:"gain,omitempty"`
	// Bound is set for measured Early Hints cells on a cold cache over
	// HTTP/2 or HTTP/3, where the bound applies.
	Bound *Bound `json:"bound,omitempty"`
	// Calibration, on a model cell measured in Chromium too, is the
	// model's error against Chromium.
	Calibration *Calibration `json:"calibration,omitempty"`
	// EarlyHinted lists the resources the representative run took from
	// the 103; Waterfall is that run (the one whose render time is
	// closest to the median).
	EarlyHinted []string   `json:"early_hinted,omitempty"`
	Waterfall   *Waterfall `json:"waterfall,omitempty"`
	Samples     []Sample   `json:"samples,omitempty"`

	manifest   site.Manifest
	downBps    float64
	loads      int
	waterfalls []*Waterfall
	hinted     [][]string
}

// Calibration compares a model cell with the same conditions in Chromium:
// each error is (model − Chromium) / Chromium of the medians, in percent.
type Calibration struct {
	RenderMS        float64 `json:"chromium_render_ms"`
	RenderErrPct    float64 `json:"render_err_pct"`
	LoadMS          float64 `json:"chromium_load_ms"`
	LoadErrPct      float64 `json:"load_err_pct"`
	HTMLMS          float64 `json:"chromium_html_ms"`
	HTMLErrPct      float64 `json:"html_err_pct"`
	FirstByteMS     float64 `json:"chromium_html_first_byte_ms"`
	FirstByteErrPct float64 `json:"html_first_byte_err_pct"`
	// GainErrMS is the model's render gain minus Chromium's, in
	// milliseconds (set when both cells have a gain).
	GainErrMS *float64 `json:"render_gain_err_ms,omitempty"`
}

// CalibrationLimit is the model's tolerated error against Chromium, in
// percent; the README says why the cells beyond it differ.
const CalibrationLimit = 15.0

// OffBy reports whether the model's render or load is off by more than
// CalibrationLimit.
func (c *Calibration) OffBy() bool {
	return c != nil && (abs(c.RenderErrPct) > CalibrationLimit || abs(c.LoadErrPct) > CalibrationLimit)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// analyse fills the summaries, gains and bounds of cells.
func analyse(s *Scenario, cells []CellResult) error {
	index := map[string]int{}
	for i := range cells {
		c := &cells[i]
		index[c.Key()] = i
		c.Runs = len(c.Samples)
		if c.Runs == 0 {
			continue
		}
		var render, load, html, byt, wasted, pushed, first, fcp, lcp []float64
		for _, x := range c.Samples {
			render = append(render, x.RenderMS)
			load = append(load, x.LoadMS)
			html = append(html, x.HTMLMS)
			byt = append(byt, float64(x.Bytes))
			wasted = append(wasted, float64(x.Wasted))
			pushed = append(pushed, float64(x.Pushed))
			first = append(first, x.FirstByteMS)
			fcp = append(fcp, x.FCPMS)
			lcp = append(lcp, x.LCPMS)
		}
		c.Render, c.Load, c.HTML = summarize(render), summarize(load), summarize(html)
		c.FirstByte, c.FCP, c.LCP = summarize(first), summarize(fcp), summarize(lcp)
		c.Bytes, c.WastedBytes, c.Pushed = Median(byt), Median(wasted), Median(pushed)
		// The representative run: render time closest to the median.
		best := 0
		for k, x := range c.Samples {
			if abs(x.RenderMS-c.Render.Median) < abs(c.Samples[best].RenderMS-c.Render.Median) {
				best = k
			}
		}
		if best < len(c.waterfalls) {
			c.Waterfall = c.waterfalls[best]
		}
		if best < len(c.hinted) {
			c.EarlyHinted = c.hinted[best]
		}
	}
	for i := range cells {
		c := &cells[i]
		if c.Strategy == None || c.Runs == 0 {
			continue
		}
		bi, ok := index[c.BaselineKey()]
		if !ok || cells[bi].Runs == 0 {
			continue
		}
		base := &cells[bi]
		c.Gain = gainOver(base, c)
		if c.Strategy == EarlyHints && c.Cache == Cold && c.Protocol != H1 {
			b := boundFor(c)
			var deltas []float64
			for _, x := range base.Samples {
				deltas = append(deltas, x.DiscoveryMS)
			}
			b.WaterfallDeltaMS = Median(deltas)
			if b.BoundMS > 0 {
				b.Fraction = c.Gain.RenderMS / b.BoundMS
			}
			c.Bound = &b
		}
	}
	for i := range cells {
		c := &cells[i]
		if c.Browser != BrowserModel || c.Runs == 0 {
			continue
		}
		pi, ok := index[c.PeerKey(BrowserChromium)]
		if !ok || cells[pi].Runs == 0 {
			continue
		}
		c.Calibration = calibrate(c, &cells[pi])
	}
	return nil
}

func calibrate(model, real *CellResult) *Calibration {
	pct := func(m, r float64) float64 {
		if r == 0 {
			return 0
		}
		return 100 * (m - r) / r
	}
	cal := &Calibration{
		RenderMS: real.Render.Median, RenderErrPct: pct(model.Render.Median, real.Render.Median),
		LoadMS: real.Load.Median, LoadErrPct: pct(model.Load.Median, real.Load.Median),
		HTMLMS: real.HTML.Median, HTMLErrPct: pct(model.HTML.Median, real.HTML.Median),
		FirstByteMS: real.FirstByte.Median, FirstByteErrPct: pct(model.FirstByte.Median, real.FirstByte.Median),
	}
	if model.Gain != nil && real.Gain != nil {
		g := model.Gain.RenderMS - real.Gain.RenderMS
		cal.GainErrMS = &g
	}
	return cal
}

func gainOver(base, c *CellResult) *Gain {
	g := &Gain{RenderMS: base.Render.Median - c.Render.Median, LoadMS: base.Load.Median - c.Load.Median}
	if render := Paired(base, c, Render); len(render) > 0 {
		load := Paired(base, c, LoadTime)
		var rci, lci Interval
		g.Pairs = len(render)
		g.RenderMS, rci = MedianCI(render)
		g.LoadMS, lci = MedianCI(load)
		g.RenderCI, g.LoadCI = &rci, &lci
	}
	if base.Render.Median > 0 {
		g.RenderPct = 100 * g.RenderMS / base.Render.Median
	}
	if base.Load.Median > 0 {
		g.LoadPct = 100 * g.LoadMS / base.Load.Median
	}
	return g
}

// boundFor computes min(T + δ, RTT + x_R) for c: T its think time, δ the
// site's estimate of when a browser without hints discovers the last
// hinted resource (from the document's first byte), RTT the network's,
// x_R the render-blocking bytes at the downlink rate.
func boundFor(c *CellResult) Bound {
	rtt := time.Duration(c.RTTMS * float64(time.Millisecond))
	in := BoundInputs{
		Think:          c.Think(),
		Delta:          c.manifest.Delta(rtt, c.downBps),
		RTT:            rtt,
		CriticalBytes:  c.manifest.CriticalBytes,
		BytesPerSecond: c.downBps,
	}
	return Bound{
		ThinkMS: ms(in.Think), DeltaMS: ms(in.Delta), RTTMS: ms(in.RTT),
		XRMS: ms(in.CriticalTransfer()), BoundMS: ms(in.Bound()),
	}
}
