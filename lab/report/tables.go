package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// WriteTablesMarkdown writes the results as Markdown tables, one per
// matrix: a row per condition, and per browser its render time (median ±
// IQR), its render gain against no hints (median of paired differences,
// with the interval) and how many files it took from the 103; then the
// model's error against Chromium and the bytes each strategy wasted in the
// model. A README can hold the file as it is.
func WriteTablesMarkdown(w io.Writer, res *experiment.Results) error {
	var b strings.Builder
	browsers := browsersOf(res)
	fmt.Fprintf(&b, "Scenario %s, browsers %s, netem %s, started %s, %.0f s.", res.Scenario, strings.Join(browsers, ", "),
		res.Netem, res.Started.UTC().Format("2006-01-02 15:04 UTC"), res.Elapsed)
	if _, load := busyLine(res); load != "" {
		fmt.Fprintf(&b, " Machine: %s.", load)
	}
	b.WriteString(" Render in ms, median ± IQR; gain against no hints in ms, the median of paired differences with its 95 % interval; *n/m*: not measurable in that browser (no push); *model error*: (model − Chromium) / Chromium of the render medians.\n")

	type row struct {
		key   string
		cells map[string]*experiment.CellResult
		first *experiment.CellResult
	}
	var matrices []string
	rows := map[string][]*row{}
	index := map[string]*row{}
	for i := range res.Cells {
		c := &res.Cells[i]
		if _, ok := rows[c.Matrix]; !ok {
			matrices = append(matrices, c.Matrix)
			rows[c.Matrix] = nil
		}
		key := c.Matrix + "|" + c.PeerKey("")
		r := index[key]
		if r == nil {
			r = &row{key: key, cells: map[string]*experiment.CellResult{}, first: c}
			index[key] = r
			rows[c.Matrix] = append(rows[c.Matrix], r)
		}
		r.cells[c.Browser] = c
	}

	hasModel, hasChromium := false, false
	for _, br := range browsers {
		hasModel = hasModel || br == experiment.BrowserModel
		hasChromium = hasChromium || br == experiment.BrowserChromium
	}
	for _, m := range matrices {
		title := m
		if title == "" {
			title = "cells"
		}
		fmt.Fprintf(&b, "\n#### %s\n\n| page | strategy | proto | cache | network | think |", title)
		sep := "|---|---|---|---|---|---|"
		for _, br := range browsers {
			fmt.Fprintf(&b, " %s render | %s gain |", br, br)
			sep += "---|---|"
			if br != experiment.BrowserModel {
				fmt.Fprintf(&b, " from the 103 (%s) |", br)
				sep += "---|"
			}
		}
		if hasModel && hasChromium {
			b.WriteString(" model error |")
			sep += "---|"
		}
		if hasModel {
			b.WriteString(" KB wasted (model) |")
			sep += "---|"
		}
		b.WriteString("\n" + sep + "\n")
		for _, r := range rows[m] {
			c := r.first
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d |", c.Page, c.Strategy, c.Protocol, c.Cache, c.Network, c.ThinkMS)
			for _, br := range browsers {
				x := r.cells[br]
				b.WriteString(" " + renderCell(x) + " | " + gainCell(x) + " |")
				if br != experiment.BrowserModel {
					b.WriteString(" " + hintedCell(x) + " |")
				}
			}
			if hasModel && hasChromium {
				e := ""
				if x := r.cells[experiment.BrowserModel]; x != nil && x.Calibration != nil {
					e = fmt.Sprintf("%+.0f %%", x.Calibration.RenderErrPct)
				}
				b.WriteString(" " + e + " |")
			}
			if hasModel {
				kb := ""
				if x := r.cells[experiment.BrowserModel]; x != nil && x.Runs > 0 {
					kb = fmt.Sprintf("%.0f", x.WastedBytes/1000)
				}
				b.WriteString(" " + kb + " |")
			}
			b.WriteString("\n")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: write tables: %w", err)
	}
	return nil
}

// browsersOf lists the browsers of the results in the scenario's order.
func browsersOf(res *experiment.Results) []string {
	var out []string
	seen := map[string]bool{}
	add := func(b string) {
		if b != "" && !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	for _, b := range strings.Split(res.Browser, ",") {
		add(strings.TrimSpace(b))
	}
	for _, c := range res.Cells {
		add(c.Browser)
	}
	return out
}

func renderCell(c *experiment.CellResult) string {
	switch {
	case c == nil:
		return ""
	case c.NotMeasurable:
		return "n/m"
	case c.Runs == 0:
		return "skipped"
	}
	return fmt.Sprintf("%.0f ± %.0f", c.Render.Median, c.Render.IQR)
}

func gainCell(c *experiment.CellResult) string {
	if c == nil || c.Gain == nil || c.Runs == 0 {
		return ""
	}
	s := fmt.Sprintf("%+.0f", c.Gain.RenderMS)
	if ci := c.Gain.RenderCI; ci != nil {
		s += fmt.Sprintf(" [%+.0f, %+.0f]", ci.Lo, ci.Hi)
	}
	return s
}

func hintedCell(c *experiment.CellResult) string {
	if c == nil || c.Runs == 0 || c.Strategy != experiment.EarlyHints {
		return ""
	}
	return fmt.Sprint(len(c.EarlyHinted))
}
