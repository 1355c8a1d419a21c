// Package report writes the lab's results: an aligned text table for the
// terminal, a CSV file for spreadsheets and a JSON file for programs.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// Columns are the CSV columns, in order. The first eleven are a contract
// with the lab's users; the others may grow.
var Columns = []string{
	"strategy", "protocol", "cache", "network", "think_ms", "browser", "runs",
	"render_ms_median", "load_ms_median", "bytes", "wasted_bytes",
	"page", "matrix", "render_ms_iqr", "load_ms_iqr", "html_ms_median", "html_ms_iqr", "pushed", "rtt_ms",
	"render_gain_ms", "render_gain_pct", "load_gain_ms", "load_gain_pct",
	"bound_ms", "delta_ms", "waterfall_delta_ms", "x_r_ms", "bound_fraction", "failures", "skipped",
	"not_measurable", "fcp_ms_median", "lcp_ms_median", "lcp_ms_iqr", "html_first_byte_ms_median", "early_hinted",
	"model_render_err_pct", "model_load_err_pct",
	"render_gain_ci_lo_ms", "render_gain_ci_hi_ms", "gain_pairs", "busy_runs", "busy_dropped", "load1_max",
}

// WriteCSV writes one row per cell.
func WriteCSV(w io.Writer, res *experiment.Results) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return fmt.Errorf("report: write csv: %w", err)
	}
	for _, c := range res.Cells {
		if err := cw.Write(csvRow(c)); err != nil {
			return fmt.Errorf("report: write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write csv: %w", err)
	}
	return nil
}

func csvRow(c experiment.CellResult) []string {
	f := func(x float64) string { return strconv.FormatFloat(round(x, 1), 'f', -1, 64) }
	measured := c.Runs > 0
	opt := func(ok bool, x float64) string {
		if !ok {
			return ""
		}
		return f(x)
	}
	row := []string{
		string(c.Strategy), string(c.Protocol), string(c.Cache), c.Network, strconv.Itoa(c.ThinkMS), c.Browser, strconv.Itoa(c.Runs),
		opt(measured, c.Render.Median), opt(measured, c.Load.Median), opt(measured, c.Bytes), opt(measured, c.WastedBytes),
		c.Page, c.Matrix, opt(measured, c.Render.IQR), opt(measured, c.Load.IQR), opt(measured, c.HTML.Median), opt(measured, c.HTML.IQR),
		opt(measured, c.Pushed), f(c.RTTMS),
	}
	g := c.Gain != nil
	var gain experiment.Gain
	if g {
		gain = *c.Gain
	}
	row = append(row, opt(g, gain.RenderMS), opt(g, gain.RenderPct), opt(g, gain.LoadMS), opt(g, gain.LoadPct))
	b := c.Bound != nil
	var bound experiment.Bound
	if b {
		bound = *c.Bound
	}
	row = append(row, opt(b, bound.BoundMS), opt(b, bound.DeltaMS), opt(b, bound.WaterfallDeltaMS), opt(b, bound.XRMS), fraction(b && bound.BoundMS > 0, bound.Fraction),
		strconv.Itoa(c.Failures), c.Skipped)
	paints := measured && c.FCP.Median > 0
	row = append(row, strconv.FormatBool(c.NotMeasurable), opt(paints, c.FCP.Median), opt(paints, c.LCP.Median), opt(paints, c.LCP.IQR),
		opt(measured, c.FirstByte.Median), opt(measured, float64(len(c.EarlyHinted))))
	cal := c.Calibration != nil
	var k experiment.Calibration
	if cal {
		k = *c.Calibration
	}
	row = append(row, opt(cal, k.RenderErrPct), opt(cal, k.LoadErrPct))
	ci := g && gain.RenderCI != nil
	var iv experiment.Interval
	if ci {
		iv = *gain.RenderCI
	}
	busy, load1 := 0, 0.0
	for _, x := range c.Samples {
		if x.Busy {
			busy++
		}
		load1 = max(load1, x.Load1)
	}
	row = append(row, opt(ci, iv.Lo), opt(ci, iv.Hi), opt(ci, float64(gain.Pairs)), strconv.Itoa(busy), strconv.Itoa(c.BusyDropped), opt(load1 > 0, load1))
	return row
}

// fraction formats a ratio with three decimals, "" when not applicable.
func fraction(ok bool, x float64) string {
	if !ok {
		return ""
	}
	return strconv.FormatFloat(round(x, 3), 'f', -1, 64)
}

// WriteJSON writes the results, indented.
func WriteJSON(w io.Writer, res *experiment.Results) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("report: write json: %w", err)
	}
	return nil
}

// WriteFiles writes results.json, results.csv, report.html, claims.md
// (the article's claims with their verdicts) and tables.md (the tables in
// Markdown, for a README) into dir, creating it.
// It returns the paths written.
func WriteFiles(dir string, res *experiment.Results) ([]string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("report: create output directory: %w", err)
	}
	var paths []string
	for _, out := range []struct {
		name  string
		write func(io.Writer, *experiment.Results) error
	}{{"results.json", WriteJSON}, {"results.csv", WriteCSV}, {"report.html", WriteHTML}, {"claims.md", WriteClaimsMarkdown}, {"tables.md", WriteTablesMarkdown}} {
		p := filepath.Join(dir, out.name)
		f, err := os.Create(p) //nolint:gosec // the operator names the output directory
		if err != nil {
			return paths, fmt.Errorf("report: %w", err)
		}
		err = out.write(f, res)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("report: close %s: %w", p, cerr)
		}
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// WriteTable writes an aligned table: one block per matrix, one line per
// cell, times as median±IQR in milliseconds, gains against the no-hint
// cell of the same conditions, and for Early Hints the bound
// min(T + δ, RTT + x_R) with the measured gain as a fraction of it.
//
// A report measured on a busy machine says so first; the article's claims
// with their verdicts come last.
func WriteTable(w io.Writer, res *experiment.Results) error {
	if banner, load := busyLine(res); banner != "" {
		fmt.Fprintf(w, "!! %s %s\n\n", banner, load)
	}
	header := "page\tstrategy\tproto\tcache\tnetwork\tthink\tbrowser\truns\trender ms\tload ms\thtml ms\tKB\twasted KB\trender gain\tbound ms\tgain/bound\t"
	var notes []string
	for i := 0; i < len(res.Cells); {
		// One block per run of cells of the same matrix, aligned on its own.
		j := i
		for j < len(res.Cells) && res.Cells[j].Matrix == res.Cells[i].Matrix {
			j++
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		if m := res.Cells[i].Matrix; m != "" {
			fmt.Fprintf(w, "# %s\n", m)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, header)
		for _, c := range res.Cells[i:j] {
			fmt.Fprintln(tw, tableLine(c))
			if c.Skipped != "" {
				notes = append(notes, fmt.Sprintf("%s/%s/%s/%s/%s/%dms/%s: %s", c.Page, c.Strategy, c.Protocol, c.Cache, c.Network, c.ThinkMS, c.Browser, c.Skipped))
			}
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("report: write table: %w", err)
		}
		i = j
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nnot measured:")
		for _, n := range notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	if banner, load := busyLine(res); banner == "" && load != "" {
		fmt.Fprintf(w, "\nmachine: %s\n", load)
	}
	fmt.Fprintf(w, "\nthe article's claims (%.0f %% intervals of paired differences; a verdict needs %d runs):\n", 100*experiment.BootstrapLevel, MinPairs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, cl := range Claims(res) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", cl.Verdict, cl.Title, cl.Why)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: write table: %w", err)
	}
	return nil
}

func tableLine(c experiment.CellResult) string {
	cols := []string{c.Page, string(c.Strategy), string(c.Protocol), string(c.Cache), c.Network, fmt.Sprintf("%dms", c.ThinkMS), c.Browser}
	if c.Runs == 0 {
		runs := "-"
		switch {
		case c.NotMeasurable:
			runs = "n/m"
		case c.Skipped != "":
			runs = "skipped"
		}
		cols = append(cols, runs, "", "", "", "", "", "", "", "")
		return strings.Join(cols, "\t") + "\t"
	}
	pm := func(s experiment.Summary) string { return fmt.Sprintf("%.0f±%.0f", s.Median, s.IQR) }
	runs := strconv.Itoa(c.Runs)
	if c.Failures > 0 {
		runs += fmt.Sprintf(" (%d failed)", c.Failures)
	}
	cols = append(cols, runs, pm(c.Render), pm(c.Load), pm(c.HTML),
		fmt.Sprintf("%.0f", c.Bytes/1000), fmt.Sprintf("%.0f", c.WastedBytes/1000))
	if g := c.Gain; g != nil {
		gain := fmt.Sprintf("%+.0fms %+.1f%%", g.RenderMS, g.RenderPct)
		if g.RenderCI != nil {
			gain += fmt.Sprintf(" [%s,%s]", signed(g.RenderCI.Lo), signed(g.RenderCI.Hi))
		}
		cols = append(cols, gain)
	} else {
		cols = append(cols, "")
	}
	if c.Bound != nil {
		frac := ""
		if c.Bound.BoundMS > 0 {
			frac = fmt.Sprintf("%.2f", c.Bound.Fraction)
		}
		cols = append(cols, fmt.Sprintf("%.0f", c.Bound.BoundMS), frac)
	} else {
		cols = append(cols, "", "")
	}
	return strings.Join(cols, "\t") + "\t"
}

func round(x float64, digits int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
