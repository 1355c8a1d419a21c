package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// Claim is one claim of the seed article ("HTTP/2 Server Push: How It
// Works and Why It Failed") with the cells of a run that test it.
type Claim struct {
	Title string
	// Article says what the article claims.
	Article string
	// Findings are one line per browser and cell: the cell and its figure.
	Findings []Finding
}

// Finding is one measured figure bearing on a claim.
type Finding struct {
	Browser string
	// Cell names the cell(s) compared.
	Cell string
	// Figure is the measured quantity, in words and numbers.
	Figure string
}

// Claims finds, in res, the cells that bear on each of the article's
// claims. A claim with no matching cell says so.
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
	peer := func(c *experiment.CellResult, st experiment.Strategy) *experiment.CellResult {
		want := c.Cell
		want.Strategy = st
		for i := range cells {
			if cells[i].Key() == want.Key() {
				return &cells[i]
			}
		}
		return nil
	}
	name := func(c *experiment.CellResult) string {
		return fmt.Sprintf("%s %s %s %s %s %d ms", c.Page, c.Strategy, c.Protocol, c.Cache, c.Network, c.ThinkMS)
	}
	measured := func(c *experiment.CellResult) bool { return c != nil && c.Runs > 0 }
	notMeasurable := func(c *experiment.CellResult) bool { return c != nil && c.NotMeasurable }

	var claims []Claim
	add := func(cl Claim, scenario ...string) {
		if len(cl.Findings) == 0 {
			sc := "default"
			if len(scenario) > 0 {
				sc = scenario[0]
			}
			cl.Findings = []Finding{{Figure: "no cell of this run tests it (run the " + sc + " scenario)"}}
		}
		claims = append(claims, cl)
	}

	// 1. Cache duplication.
	cl := Claim{Title: "Push duplicates what the cache holds", Article: "a pushed resource already in the browser's cache is sent again: bytes wasted on every repeat visit"}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.Push && c.Cache == experiment.Warm
	}) {
		switch {
		case notMeasurable(c):
			cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), "not measurable (Chromium removed push)"})
		case measured(c):
			cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), fmt.Sprintf("%.0f KB wasted of %.0f KB received", c.WastedBytes/1000, c.Bytes/1000)})
		}
	}
	add(cl)

	// 2. The server must know the client's cache.
	cl = Claim{Title: "Push needs to know the client's cache", Article: "only a server that knows what the browser holds (cache digests, CASPer) avoids the duplication"}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.PushDigest && c.Cache == experiment.Warm && measured(c)
	}) {
		fig := fmt.Sprintf("%.0f KB wasted", c.WastedBytes/1000)
		if p := peer(c, experiment.Push); measured(p) {
			fig += fmt.Sprintf(" against %.0f KB for plain push", p.WastedBytes/1000)
		}
		cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), fig})
	}
	add(cl)

	// 3. Priority inversion.
	cl = Claim{Title: "Pushed bytes compete with the HTML", Article: "with nothing to wait for, pushed resources take the bandwidth the document needs (priority inversion)"}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.Push && c.Cache == experiment.Cold && c.ThinkMS == 0
	}) {
		switch {
		case notMeasurable(c):
			cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), "not measurable (Chromium removed push)"})
		case measured(c):
			fig := fmt.Sprintf("HTML complete at %.0f ms", c.HTML.Median)
			if b := peer(c, experiment.None); measured(b) {
				fig += fmt.Sprintf(" against %.0f ms without hints (%+.0f ms)", b.HTML.Median, c.HTML.Median-b.HTML.Median)
			}
			cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), fig})
		}
	}
	add(cl)

	// 4. Negligible benefit over preload.
	cl = Claim{Title: "Push gains little over preload", Article: "on a cold cache push beats a preload in the HTML by about one round trip at most"}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.Push && c.Cache == experiment.Cold && c.ThinkMS > 0
	}) {
		switch {
		case notMeasurable(c):
			cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), "not measurable (Chromium removed push)"})
		case measured(c):
			if p := peer(c, experiment.Preload); measured(p) {
				cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), fmt.Sprintf("render %.0f ms against %.0f ms with preload: %+.0f ms, RTT %.0f ms",
					c.Render.Median, p.Render.Median, p.Render.Median-c.Render.Median, c.RTTMS)})
			}
		}
	}
	add(cl)

	// 5. Early Hints' gain.
	cl = Claim{Title: "Early Hints use the server's think time", Article: "a 103 lets the browser fetch critical resources while the server thinks; the gain is bounded by min(T + δ, RTT + x_R) and is nil on a warm cache"}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Strategy == experiment.EarlyHints && measured(c) && c.Gain != nil
	}) {
		fig := fmt.Sprintf("render gain %+.0f ms (%+.1f %%)", c.Gain.RenderMS, c.Gain.RenderPct)
		if c.Bound != nil && c.Bound.BoundMS > 0 {
			fig += fmt.Sprintf(", bound %.0f ms, gain/bound %.2f", c.Bound.BoundMS, c.Bound.Fraction)
		}
		if c.Browser == experiment.BrowserChromium {
			fig += fmt.Sprintf(", %d files from the 103", len(c.EarlyHinted))
		}
		cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), fig})
	}
	add(cl)

	// 6. HTTP/3.
	cl = Claim{Title: "HTTP/3 has no push; Early Hints work there too", Article: "browsers never shipped push over HTTP/3; Early Hints carry the same benefit on QUIC"}
	for _, c := range find(func(c *experiment.CellResult) bool {
		return c.Protocol == experiment.H3 && measured(c) && (c.Strategy == experiment.None || c.Strategy == experiment.EarlyHints)
	}) {
		h2 := c.Cell
		h2.Protocol = experiment.H2
		var other *experiment.CellResult
		for i := range cells {
			if cells[i].Key() == h2.Key() {
				other = &cells[i]
			}
		}
		fig := fmt.Sprintf("render %.0f ms", c.Render.Median)
		if measured(other) {
			fig += fmt.Sprintf(" against %.0f ms over HTTP/2 (%+.0f ms)", other.Render.Median, c.Render.Median-other.Render.Median)
		}
		if c.Gain != nil {
			fig += fmt.Sprintf("; Early Hints gain %+.0f ms", c.Gain.RenderMS)
		}
		cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), fig})
	}
	add(cl)

	// 7. Document first: the product's own claim, measured on the warmed
	// product.
	cl = Claim{Title: "Early Hints never delay the document", Article: "(the product's claim, not the article's) a 103 budgeted by the route's measured think time, less the client's round trip, names no more bytes than arrive before the HTML is ready, and the server writes the HTML before the hinted files, so the HTML's first byte comes no later than without hints"}
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
		cl.Findings = append(cl.Findings, Finding{c.Browser, name(c), fig})
	}
	add(cl, "document-first")
	return claims
}

// WriteClaimsMarkdown writes the claims as a Markdown list, for the README.
func WriteClaimsMarkdown(w io.Writer, res *experiment.Results) error {
	var b strings.Builder
	for _, cl := range Claims(res) {
		fmt.Fprintf(&b, "- **%s.** The article: %s.\n", cl.Title, cl.Article)
		for _, f := range cl.Findings {
			if f.Browser == "" {
				fmt.Fprintf(&b, "  - %s\n", f.Figure)
				continue
			}
			fmt.Fprintf(&b, "  - %s, %s: %s\n", f.Browser, f.Cell, f.Figure)
		}
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("report: write claims: %w", err)
	}
	return nil
}
