package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// Verdict is what a run's intervals say of a claim.
type Verdict string

// The verdicts.
const (
	// Shown: the confidence interval lies wholly on the claim's side.
	Shown Verdict = "shown"
	// Refuted: the interval lies wholly on the other side.
	Refuted Verdict = "refuted"
	// NotResolved: the interval straddles the claim's threshold, too few
	// runs were paired, the cells are missing, or the cells disagree.
	NotResolved Verdict = "not resolved"
)

// MinPairs is the fewest runs (or pairs of runs) a verdict is given on: a
// median's bootstrap interval over fewer says little. Five is the fewest
// for which differences all of one sign are unlikely by chance alone (a
// sign test: 1 in 32 when there is no effect; 1 in 8 with three runs).
const MinPairs = 5

// Claim is one claim of the seed article ("HTTP/2 Server Push: How It
// Works and Why It Failed") with the cells of a run that test it.
type Claim struct {
	Title string
	// Article says what the article claims.
	Article string
	// Test says what was compared, and what would show the claim.
	Test string
	// Findings are one line per browser and cell: the cell and its figure.
	Findings []Finding
	// Verdict sums up the findings' verdicts: shown when some cells show
	// the claim and none refutes it, refuted when some refute it and none
	// shows it, not resolved otherwise. Why says on what it rests.
	Verdict Verdict
	Why     string
}

// Finding is one measured figure bearing on a claim.
type Finding struct {
	Browser string
	// Cell names the cell(s) compared.
	Cell string
	// Figure is the measured quantity, in words and numbers.
	Figure string
	// Verdict is this cell's, "" for a figure given for context only.
	Verdict Verdict
	// open says why a finding is not resolved.
	open openReason
}

// test is a claim on the median of xs: above a threshold (Above) or at
// most a threshold.
type test struct {
	xs        []float64
	threshold float64
	above     bool
}

// judge gives the verdict of t from the bootstrap interval of the median:
// the median and interval in words (unit after each number), and why the
// verdict is open when it is.
func (t test) judge(unit string) (v Verdict, fig string, open openReason) {
	if len(t.xs) == 0 {
		return NotResolved, "no paired runs", openMissing
	}
	m, ci := experiment.MedianCI(t.xs)
	fig = fmt.Sprintf("%s%s [%s, %s], %d runs", signed(m), unit, signed(ci.Lo), signed(ci.Hi), len(t.xs))
	if len(t.xs) < MinPairs {
		return NotResolved, fig + fmt.Sprintf(" (a verdict needs %d)", MinPairs), openFew
	}
	th := t.threshold
	switch {
	case t.above && ci.Lo > th, !t.above && ci.Hi <= th:
		return Shown, fig, ""
	case t.above && (ci.Hi < th || (ci.Lo == th && ci.Hi == th)), !t.above && ci.Lo > th:
		return Refuted, fig, ""
	}
	return NotResolved, fig + fmt.Sprintf(" (the interval straddles %s%s)", signed(th), unit), openStraddles
}

// openReason says why a finding is not resolved.
type openReason string

const (
	openFew       openReason = "too few runs"
	openStraddles openReason = "the interval straddles the threshold"
	openMissing   openReason = "no paired runs"
)

// signed formats x to the unit with its sign, zero without one.
func signed(x float64) string {
	r := math.Round(x)
	if r == 0 {
		return "0"
	}
	return fmt.Sprintf("%+.0f", r)
}

func wasted(x experiment.Sample) float64    { return float64(x.Wasted) }
func htmlTime(x experiment.Sample) float64  { return x.HTMLMS }
func firstByte(x experiment.Sample) float64 { return x.FirstByteMS }

// Claims finds, in res, the cells that bear on each of the article's
// claims and judges each claim on the confidence intervals of the medians
// of paired differences (run i of a strategy against run i of the one it
// is compared with, measured in the same round). A claim with no matching
// cell says so and is not resolved.
func Claims(res *experiment.Results) []Claim {
	cells := res.Cells
	find := func(pred func(c *experiment.CellResult) bool) []*experiment.CellResult {
		var out []*experiment.CellResult
		for i := range cells {
			c := &cells[i]
			if pred(c) {
				out = append(out, c)
			}
		}
		return out
	}
	byKey := map[string]*experiment.CellResult{}
	for i := range cells {
		byKey[cells[i].Key()] = &cells[i]
	}
	peer := func(c *experiment.CellResult, st experiment.Strategy) *experiment.CellResult {
		want := c.Cell
		want.Strategy = st
		return byKey[want.Key()]
	}
	name := func(c *experiment.CellResult) string {
		return fmt.Sprintf("%s %s %s %s %s %d ms", c.Page, c.Strategy, c.Protocol, c.Cache, c.Network, c.ThinkMS)
	}
	measured := func(c *experiment.CellResult) bool { return c != nil && c.Runs > 0 }
	notMeasurable := func(c *experiment.CellResult) bool { return c != nil && c.NotMeasurable }
	judged := func(c *experiment.CellResult, t test, unit, figure string) Finding {
		v, fig, open := t.judge(unit)
		return Finding{Browser: c.Browser, Cell: name(c), Figure: figure + ": " + fig, Verdict: v, open: open}
	}
	const nmPush = "not measurable (Chromium removed push in 106, Firefox in 132)"

	var claims []Claim
	add := func(cl Claim, scenario ...string) {
		if len(cl.Findings) == 0 {
			sc := "default"
			if len(scenario) > 0 {
				sc = scenario[0]
			}
			cl.Findings = []Finding{{Figure: "no cell of this run tests it (run the " + sc + " scenario)"}}
		}
		cl.Verdict, cl.Why = sumUp(cl.Findings)
		claims = append(claims, cl)
	}

	// 1. Cache duplication.
	cl := Claim{
		Title: "Push duplicates what the cache holds", Article: "a pushed resource already in the browser's cache is sent again: bytes wasted on every repeat visit",
		Test: "push on a warm cache: shown when the median of the bytes wasted per run is above zero",
	}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.Push && c.Cache == experiment.Warm
	}) {
		switch {
		case notMeasurable(c):
			cl.Findings = append(cl.Findings, Finding{Browser: c.Browser, Cell: name(c), Figure: nmPush})
		case measured(c):
			var xs []float64
			for _, x := range c.Samples {
				xs = append(xs, wasted(x)/1000)
			}
			cl.Findings = append(cl.Findings, judged(c, test{xs: xs, above: true}, " KB", fmt.Sprintf("%.0f KB received, wasted", c.Bytes/1000)))
		}
	}
	add(cl)

	// 2. The server must know the client's cache.
	cl = Claim{
		Title: "Push needs to know the client's cache", Article: "only a server that knows what the browser holds (cache digests, CASPer) avoids the duplication",
		Test: "cache-aware push against plain push on a warm cache: shown when it wastes fewer bytes, run for run",
	}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.PushDigest && c.Cache == experiment.Warm && measured(c)
	}) {
		p := peer(c, experiment.Push)
		if !measured(p) {
			cl.Findings = append(cl.Findings, Finding{Browser: c.Browser, Cell: name(c), Figure: fmt.Sprintf("%.0f KB wasted; no plain push cell to compare", c.WastedBytes/1000)})
			continue
		}
		xs := experiment.Paired(p, c, wasted)
		for i := range xs {
			xs[i] /= 1000
		}
		cl.Findings = append(cl.Findings, judged(c, test{xs: xs, above: true}, " KB",
			fmt.Sprintf("%.0f KB wasted against %.0f KB for plain push; saved", c.WastedBytes/1000, p.WastedBytes/1000)))
	}
	add(cl)

	// 3. Priority inversion.
	cl = Claim{
		Title: "Pushed bytes compete with the HTML", Article: "with nothing to wait for, pushed resources take the bandwidth the document needs (priority inversion)",
		Test: "push against no hints, cold cache, no think time: shown when the HTML completes later with push, run for run",
	}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.Push && c.Cache == experiment.Cold && c.ThinkMS == 0
	}) {
		switch {
		case notMeasurable(c):
			cl.Findings = append(cl.Findings, Finding{Browser: c.Browser, Cell: name(c), Figure: nmPush})
		case measured(c):
			b := peer(c, experiment.None)
			if !measured(b) {
				cl.Findings = append(cl.Findings, Finding{Browser: c.Browser, Cell: name(c), Figure: fmt.Sprintf("HTML complete at %.0f ms; no baseline", c.HTML.Median)})
				continue
			}
			cl.Findings = append(cl.Findings, judged(c, test{xs: experiment.Paired(c, b, htmlTime), above: true}, " ms",
				fmt.Sprintf("HTML complete at %.0f ms against %.0f ms without hints; later by", c.HTML.Median, b.HTML.Median)))
		}
	}
	add(cl)

	// 4. Negligible benefit over preload.
	cl = Claim{
		Title: "Push gains little over preload", Article: "on a cold cache push beats a preload in the HTML by about one round trip at most",
		Test: "push against preload, cold cache, with think time: shown when push's render gain over preload is at most 1.5 round trips, run for run",
	}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.Push && c.Cache == experiment.Cold && c.ThinkMS > 0
	}) {
		switch {
		case notMeasurable(c):
			cl.Findings = append(cl.Findings, Finding{Browser: c.Browser, Cell: name(c), Figure: nmPush})
		case measured(c):
			if p := peer(c, experiment.Preload); measured(p) {
				cl.Findings = append(cl.Findings, judged(c, test{xs: experiment.Paired(p, c, experiment.Render), threshold: 1.5 * c.RTTMS}, " ms",
					fmt.Sprintf("render %.0f ms against %.0f ms with preload, RTT %.0f ms; push ahead by", c.Render.Median, p.Render.Median, c.RTTMS)))
			}
		}
	}
	add(cl)

	// 5. Early Hints' gain.
	cl = Claim{
		Title: "Early Hints use the server's think time", Article: "a 103 lets the browser fetch critical resources while the server thinks; the gain is bounded by min(T + δ, RTT + x_R) and is nil on a warm cache",
		Test: "Early Hints against no hints where the bound is above zero (cold cache, HTTP/2 or HTTP/3, think time): shown when the render gain is above zero, run for run; other cells are context",
	}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.EarlyHints && measured(c) && c.Gain != nil
	}) {
		f := gainFinding(c, name(c), peer(c, experiment.None), false)
		if c.Browser != experiment.BrowserModel {
			f.Figure += fmt.Sprintf(", %d files from the 103", len(c.EarlyHinted))
		}
		cl.Findings = append(cl.Findings, f)
	}
	add(cl)

	// 6. HTTP/3.
	cl = Claim{
		Title: "HTTP/3 has no push; Early Hints work there too", Article: "browsers never shipped push over HTTP/3; Early Hints carry the same benefit on QUIC",
		Test: "Early Hints against no hints over HTTP/3 where the bound is above zero: shown when the render gain is above zero, run for run",
	}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Protocol == experiment.H3 && c.Strategy == experiment.EarlyHints && measured(c) && c.Gain != nil
	}) {
		h2 := c.Cell
		h2.Protocol = experiment.H2
		f := gainFinding(c, name(c), peer(c, experiment.None), true)
		if other := byKey[h2.Key()]; measured(other) {
			f.Figure += fmt.Sprintf("; render %.0f ms against %.0f ms over HTTP/2", c.Render.Median, other.Render.Median)
		}
		cl.Findings = append(cl.Findings, f)
	}
	add(cl)

	// 7. Document first: the product's own claim, measured on the warmed
	// product.
	cl = Claim{
		Title: "Early Hints never delay the document", Article: "(the product's claim, not the article's) a 103 budgeted by the route's measured think time, less the client's round trip, names no more bytes than arrive before the HTML is ready, and the server writes the HTML before the hinted files, so the HTML's first byte comes no later than without hints",
		Test: "Early Hints against no hints, cold cache, with think time: shown when the HTML's first byte is later by at most 5 % of the baseline's, run for run",
	}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.EarlyHints && c.Cache == experiment.Cold && measured(c) && c.ThinkMS > 0
	}) {
		b := peer(c, experiment.None)
		if !measured(b) || b.FirstByte.Median <= 0 {
			continue
		}
		fig := fmt.Sprintf("HTML first byte %.0f ms against %.0f ms without hints (×%.2f)", c.FirstByte.Median, b.FirstByte.Median, c.FirstByte.Median/b.FirstByte.Median)
		if c.BudgetBytes > 0 {
			fig += fmt.Sprintf(", budget %.0f KB, %.1f hints left out per 103", float64(c.BudgetBytes)/1000, c.LeftOut)
		}
		if c.Bound != nil && c.Bound.BoundMS > 0 {
			fig += fmt.Sprintf(", render gain/bound %.2f", c.Bound.Fraction)
		}
		tol := math.Max(1, 0.05*b.FirstByte.Median)
		cl.Findings = append(cl.Findings, judged(c, test{xs: experiment.Paired(c, b, firstByte), threshold: tol}, " ms", fig+"; later by"))
	}
	add(cl, "document-first")
	return claims
}

// gainFinding is Early Hints' render gain over no hints in c: judged
// where the bound says there is something to gain (or, with all, in every
// cell with a bound), else a figure for context.
func gainFinding(c *experiment.CellResult, name string, base *experiment.CellResult, all bool) Finding {
	f := Finding{Browser: c.Browser, Cell: name}
	bounded := c.Bound != nil && c.Bound.BoundMS > 0
	f.Figure = fmt.Sprintf("render gain %s ms (%+.1f %%)", signed(c.Gain.RenderMS), c.Gain.RenderPct)
	if ci := c.Gain.RenderCI; ci != nil {
		f.Figure += fmt.Sprintf(" [%s, %s], %d pairs", signed(ci.Lo), signed(ci.Hi), c.Gain.Pairs)
	}
	if bounded {
		f.Figure += fmt.Sprintf(", bound %.0f ms, gain/bound %.2f", c.Bound.BoundMS, c.Bound.Fraction)
	}
	if bounded && (c.ThinkMS > 0 || all) && base != nil {
		var fig string
		f.Verdict, fig, f.open = test{xs: experiment.Paired(base, c, experiment.Render), above: true}.judge(" ms")
		if c.Gain.RenderCI == nil {
			f.Figure += "; paired: " + fig
		} else if i := strings.Index(fig, " ("); i >= 0 {
			f.Figure += fig[i:]
		}
	}
	return f
}

// sumUp gives a claim's verdict from its findings', and says on what it
// rests, browser by browser.
func sumUp(findings []Finding) (Verdict, string) {
	type tally struct {
		shown, refuted, open int
		why                  []openReason
	}
	var order []string
	by := map[string]*tally{}
	var all tally
	for _, f := range findings {
		if f.Verdict == "" {
			continue
		}
		t := by[f.Browser]
		if t == nil {
			t = &tally{}
			by[f.Browser] = t
			order = append(order, f.Browser)
		}
		for _, x := range []*tally{t, &all} {
			switch f.Verdict {
			case Shown:
				x.shown++
			case Refuted:
				x.refuted++
			default:
				x.open++
				if f.open != "" && !slices.Contains(x.why, f.open) {
					x.why = append(x.why, f.open)
				}
			}
		}
	}
	if len(order) == 0 {
		return NotResolved, "no cell of this run judges it (cells missing or not measurable)"
	}
	var parts []string
	for _, b := range order {
		t := by[b]
		var counts []string
		for _, n := range []struct {
			n    int
			what string
		}{{t.shown, "shown"}, {t.refuted, "refuted"}, {t.open, "not resolved"}} {
			if n.n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n.n, n.what))
			}
		}
		part := fmt.Sprintf("%s: %s", b, strings.Join(counts, ", "))
		for _, w := range t.why {
			part += ", " + string(w)
		}
		parts = append(parts, part)
	}
	why := "cells judged, " + strings.Join(parts, "; ")
	switch {
	case all.shown > 0 && all.refuted == 0:
		return Shown, why
	case all.refuted > 0 && all.shown == 0:
		return Refuted, why
	case all.refuted > 0:
		return NotResolved, "the cells disagree: " + why
	}
	return NotResolved, why
}

// WriteClaimsMarkdown writes the claims, each with its verdict, as a
// Markdown list (claims.md beside the report, and the README's).
func WriteClaimsMarkdown(w io.Writer, res *experiment.Results) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# The article's claims: %s\n\n", res.Scenario)
	switch banner, load := busyLine(res); {
	case banner != "":
		fmt.Fprintf(&b, "> **%s** %s\n\n", banner, load)
	case load != "":
		fmt.Fprintf(&b, "Machine: %s.\n\n", load)
	}
	fmt.Fprintf(&b, "Browser %s, started %s. Each verdict rests on the %.0f %% bootstrap interval of the median of paired differences (run i of a strategy against run i of the other, measured in the same round); a verdict needs %d runs. Intervals in brackets.\n\n",
		res.Browser, res.Started.UTC().Format("2006-01-02 15:04 UTC"), 100*experiment.BootstrapLevel, MinPairs)
	for _, cl := range Claims(res) {
		fmt.Fprintf(&b, "- **%s: %s** (%s). The article: %s. Test: %s.\n", cl.Title, cl.Verdict, cl.Why, cl.Article, cl.Test)
		for _, f := range cl.Findings {
			v := ""
			if f.Verdict != "" {
				v = " — " + string(f.Verdict)
			}
			if f.Browser == "" {
				fmt.Fprintf(&b, "  - %s%s\n", f.Figure, v)
				continue
			}
			fmt.Fprintf(&b, "  - %s, %s: %s%s\n", f.Browser, f.Cell, f.Figure, v)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("report: write claims: %w", err)
	}
	return nil
}

// busyLine is the banner of a report measured on a busy machine ("" when
// it was not), and the load in one line.
func busyLine(res *experiment.Results) (banner, load string) {
	ls := loadOf(res)
	if ls.Runs == 0 {
		return "", ""
	}
	busy, why := ls.Busy()
	if !busy {
		return "", ls.String()
	}
	return "Measured on a busy machine: these figures may not hold.", strings.ToUpper(why[:1]) + why[1:] + ". " + strings.ToUpper(ls.String()[:1]) + ls.String()[1:] + "."
}

// loadOf is res's load summary, computed when the results lack one.
func loadOf(res *experiment.Results) experiment.LoadSummary {
	if res.Load != nil {
		return *res.Load
	}
	return res.LoadSummary()
}
