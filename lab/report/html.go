package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// styleCSS is Style typed as safe CSS: a constant, so no conversion.
const styleCSS template.CSS = Style

// Style is the report's CSS, shared with the Try-it page.
const Style = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{font-size:1.05em}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td.l,th.l{text-align:left}
tr.chromium td{background:#f7fbff}
.nm{color:#888;font-style:italic}.bad{color:#c92a2a;font-weight:bold}.ok{color:#2f9e44}
.banner{border:2px solid #c92a2a;background:#fff5f5;padding:.5em 1em;margin:1em 0}
.verdict{display:inline-block;padding:0 .5em;border-radius:3px;font-size:.85em;font-weight:bold;color:#fff;background:#868e96}
.verdict.shown{background:#2f9e44}.verdict.refuted{background:#c92a2a}
.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #eee;padding:4px;background:#fff}
figcaption{font-size:11px;color:#555;max-width:640px}
.pair{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:10px}
.legend span{display:inline-block;margin-right:1em;font-size:12px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
svg text{font-family:system-ui,sans-serif}
`

// Legend is the waterfalls' colour key, as HTML.
func Legend() template.HTML {
	var b strings.Builder
	b.WriteString(`<p class="legend">`)
	for _, k := range []struct{ name, colour string }{
		{"navigation", initiatorColour["navigation"]},
		{"found in the HTML", initiatorColour["parser"]},
		{"found in CSS", initiatorColour["css"]},
		{"Early Hints", initiatorColour["early-hints"]},
		{"push", initiatorColour["push"]},
		{"cache", initiatorColour["cache"]},
		{"connection set-up", colourConnect},
	} {
		fmt.Fprintf(&b, `<span><i style="background:%s"></i>%s</span>`, k.colour, k.name)
	}
	b.WriteString(`<span>pale: waiting, solid: downloading, red outline: wasted</span></p>`)
	return template.HTML(b.String()) //nolint:gosec // constant text
}

type htmlCell struct {
	experiment.CellResult
	Name      string
	Waterfall template.HTML
}

type htmlMatrix struct {
	Name   string
	Cells  []htmlCell
	Charts []template.HTML
}

type htmlPair struct {
	Title string
	Left  template.HTML
	Right template.HTML
}

type htmlReport struct {
	Res         *experiment.Results
	Style       template.CSS
	Legend      template.HTML
	Claims      []Claim
	Calibration []htmlCell
	Limit       float64
	Matrices    []htmlMatrix
	Pairs       []htmlPair
	Failed      int
	// Busy is the banner of a report measured on a busy machine, Load the
	// load in one line.
	Busy, Load string
	// Level is the confidence intervals' level in percent; MinPairs the
	// runs a verdict needs.
	Level    float64
	MinPairs int
}

// CellName labels a cell in the report.
func CellName(c experiment.Cell) string {
	return fmt.Sprintf("%s · %s · %s · %s · %s · %d ms · %s", c.Page, c.Strategy, c.Protocol, c.Cache, c.Network, c.ThinkMS, c.Browser)
}

// WriteHTML writes the report: one self-contained page (inline CSS and
// SVG, no script, nothing fetched) with the article's claims and their
// figures, the model's calibration against Chromium, and per matrix a
// summary table, Early Hints' gain against think time with its bound, and
// a waterfall of a representative run of every measured cell; then
// HTTP/2 and HTTP/3 side by side.
func WriteHTML(w io.Writer, res *experiment.Results) error {
	r := htmlReport{
		Res: res, Style: styleCSS, Legend: Legend(), Claims: Claims(res),
		Limit: experiment.CalibrationLimit, Failed: res.Failed(),
		Level: 100 * experiment.BootstrapLevel, MinPairs: MinPairs,
	}
	r.Busy, r.Load = busyLine(res)
	for i := 0; i < len(res.Cells); {
		j := i
		for j < len(res.Cells) && res.Cells[j].Matrix == res.Cells[i].Matrix {
			j++
		}
		m := htmlMatrix{Name: res.Cells[i].Matrix}
		for _, c := range res.Cells[i:j] {
			hc := htmlCell{CellResult: c, Name: CellName(c.Cell)}
			hc.Waterfall = WaterfallSVG(c.Waterfall, hc.Name, 0)
			m.Cells = append(m.Cells, hc)
			if c.Calibration != nil {
				r.Calibration = append(r.Calibration, hc)
			}
		}
		m.Charts = thinkCharts(res.Cells[i:j])
		r.Matrices = append(r.Matrices, m)
		i = j
	}
	r.Pairs = protocolPairs(res.Cells)
	if err := htmlTmpl.Execute(w, r); err != nil {
		return fmt.Errorf("report: write html: %w", err)
	}
	return nil
}

// thinkCharts draws, for each page, network, protocol and browser with
// Early Hints on a cold cache at two or more think times, the measured
// render gain against think time with the analytic bound.
func thinkCharts(cells []experiment.CellResult) []template.HTML {
	type key struct{ page, network, browser string }
	groups := map[key][]experiment.CellResult{}
	var order []key
	for _, c := range cells {
		if c.Strategy != experiment.EarlyHints || c.Cache != experiment.Cold || c.Bound == nil || c.Gain == nil {
			continue
		}
		k := key{c.Page, c.Network, c.Browser}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	var out []template.HTML
	for _, k := range order {
		g := groups[k]
		thinks := map[int]bool{}
		for _, c := range g {
			thinks[c.ThinkMS] = true
		}
		if len(thinks) < 2 {
			continue
		}
		sort.SliceStable(g, func(i, j int) bool { return g[i].ThinkMS < g[j].ThinkMS })
		var series []Series
		colours := map[experiment.Protocol]string{experiment.H2: "#3b6fb6", experiment.H3: "#e8890c", experiment.H1: "#555"}
		for _, p := range experiment.Protocols {
			var gain, bound Series
			gain = Series{Name: string(p) + " measured gain", Colour: colours[p]}
			bound = Series{Name: string(p) + " bound", Colour: colours[p], Dashed: true}
			for _, c := range g {
				if c.Protocol != p {
					continue
				}
				gain.X, gain.Y = append(gain.X, float64(c.ThinkMS)), append(gain.Y, c.Gain.RenderMS)
				bound.X, bound.Y = append(bound.X, float64(c.ThinkMS)), append(bound.Y, c.Bound.BoundMS)
			}
			if len(gain.X) > 0 {
				series = append(series, gain, bound)
			}
		}
		title := fmt.Sprintf("Early Hints' render gain against think time: %s, %s, %s", k.page, k.network, k.browser)
		out = append(out, LineChartSVG(title, "server think time (ms)", "render gain (ms)", series))
	}
	return out
}

// protocolPairs puts each HTTP/2 cell's waterfall beside its HTTP/3 twin,
// on one time scale.
func protocolPairs(cells []experiment.CellResult) []htmlPair {
	index := map[string]int{}
	for i, c := range cells {
		index[c.Key()] = i
	}
	var out []htmlPair
	seen := map[string]bool{}
	for _, c := range cells {
		if c.Protocol != experiment.H2 || c.Waterfall == nil {
			continue
		}
		twin := c.Cell
		twin.Protocol = experiment.H3
		j, ok := index[twin.Key()]
		if !ok || cells[j].Waterfall == nil || seen[c.Key()] {
			continue
		}
		seen[c.Key()] = true
		scale := math.Max(WaterfallSpan(c.Waterfall), WaterfallSpan(cells[j].Waterfall))
		out = append(out, htmlPair{
			Title: fmt.Sprintf("%s · %s · %s · %s · %d ms · %s", c.Page, c.Strategy, c.Cache, c.Network, c.ThinkMS, c.Browser),
			Left:  WaterfallSVG(c.Waterfall, CellName(c.Cell), scale),
			Right: WaterfallSVG(cells[j].Waterfall, CellName(cells[j].Cell), scale),
		})
	}
	return out
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"f0":   func(x float64) string { return fmt.Sprintf("%.0f", x) },
	"kb":   func(x float64) string { return fmt.Sprintf("%.0f", x/1000) },
	"pct":  func(x float64) string { return fmt.Sprintf("%+.1f %%", x) },
	"sgn":  signed,
	"f2":   func(x float64) string { return fmt.Sprintf("%.2f", x) },
	"cls":  func(v Verdict) string { return strings.ReplaceAll(string(v), " ", "-") },
	"absg": func(x, limit float64) bool { return math.Abs(x) > limit },
	"pm": func(s experiment.Summary) string {
		if s.Median == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f ± %.0f", s.Median, s.IQR)
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>earlyhints lab: {{.Res.Scenario}}</title>
<style>{{.Style}}</style></head>
<body>
<h1>earlyhints lab: {{.Res.Scenario}}</h1>
{{if .Busy}}<div class="banner"><p><b>{{.Busy}}</b> {{.Load}}</p></div>
{{end}}<p>Browser {{.Res.Browser}}, netem {{.Res.Netem}}, started {{.Res.Started.UTC.Format "2006-01-02 15:04 UTC"}}, {{f0 .Res.Elapsed}} s, {{len .Res.Cells}} cells{{if .Failed}}, <span class="bad">{{.Failed}} failed</span>{{end}}.
Times are milliseconds from the start of the navigation, median ± interquartile range over the runs. <em>Render</em> is when the document and every render-blocking resource had arrived (the model's first render; for Chromium from Resource Timing's renderBlockingStatus; for Firefox, which does not mark render-blocking files, its first contentful paint, never before the document's end); FCP and LCP are the browsers' paint marks.
Gains are against no hints under the same conditions: the runs of the strategies compared are interleaved (run i of each in the same round, the order rotated every round), and a gain is the median of the paired differences, with its {{f0 .Level}} % bootstrap interval in brackets. The bound on Early Hints' saving is min(T + δ, RTT + x_R).
{{if and .Load (not .Busy)}}Machine: {{.Load}}.{{end}}
Chromium does not tell the page when it fetched the preloads of a 103 (Resource Timing times them from when the page took them from the cache): its waterfalls draw those requests from the server's log, half a round trip before the server saw each request and after it wrote each byte. In Firefox a file came through Early Hints when the server was asked for it before it wrote the document's headers (the lab site's log), and Firefox's own <code>initiatorType: early-hints</code> confirms it.</p>

<h2 id="claims">The article's claims</h2>
<p>Each claim is <b>shown</b> when the confidence interval of the median of paired differences lies wholly on its side, <b>refuted</b> when wholly on the other, and <b>not resolved</b> when it straddles the threshold, fewer than {{.MinPairs}} runs were paired, or the cells are missing or disagree.</p>
{{range .Claims}}<h3>{{.Title}} <span class="verdict {{cls .Verdict}}">{{.Verdict}}</span></h3><p>The article: {{.Article}}.<br>Test: {{.Test}}.<br>{{.Why}}.</p><ul>
{{range .Findings}}<li>{{if .Browser}}<b>{{.Browser}}</b>, {{.Cell}}: {{end}}{{.Figure}}{{with .Verdict}} <span class="verdict {{cls .}}">{{.}}</span>{{end}}</li>
{{end}}</ul>{{end}}

{{if .Calibration}}<h2 id="calibration">The model against Chromium</h2>
<p>For every cell measured in both, the model's error against Chromium, (model − Chromium) / Chromium of the medians. Errors beyond {{f0 .Limit}} % are in red; the README says why they differ.</p>
<table><tr><th class="l">cell</th><th>model render</th><th>Chromium render</th><th>error</th><th>model load</th><th>Chromium load</th><th>error</th><th>HTML 1st byte error</th><th>gain error ms</th></tr>
{{range .Calibration}}{{$c := .Calibration}}<tr><td class="l">{{.Name}}</td><td>{{f0 .Render.Median}}</td><td>{{f0 $c.RenderMS}}</td>
<td{{if absg $c.RenderErrPct $.Limit}} class="bad"{{end}}>{{pct $c.RenderErrPct}}</td><td>{{f0 .Load.Median}}</td><td>{{f0 $c.LoadMS}}</td>
<td{{if absg $c.LoadErrPct $.Limit}} class="bad"{{end}}>{{pct $c.LoadErrPct}}</td><td>{{pct $c.FirstByteErrPct}}</td><td>{{with $c.GainErrMS}}{{sgn .}}{{end}}</td></tr>
{{end}}</table>{{end}}

{{range .Matrices}}<h2>{{if .Name}}{{.Name}}{{else}}matrix{{end}}</h2>
<table><tr><th class="l">page</th><th class="l">strategy</th><th>proto</th><th>cache</th><th>network</th><th>think</th><th class="l">browser</th><th>runs</th>
<th>render ms</th><th>FCP ms</th><th>LCP ms</th><th>load ms</th><th>HTML 1st byte</th><th>HTML ms</th><th>KB</th><th>wasted KB</th><th>render gain</th><th>bound ms</th><th>gain/bound</th><th class="l">from the 103</th></tr>
{{range .Cells}}<tr class="{{.Browser}}"><td class="l">{{.Page}}</td><td class="l">{{.Strategy}}</td><td>{{.Protocol}}</td><td>{{.Cache}}</td><td>{{.Network}}</td><td>{{.ThinkMS}}</td><td class="l">{{.Browser}}</td>
{{if .Runs}}<td>{{.Runs}}{{if .Failures}} <span class="bad">({{.Failures}} failed)</span>{{end}}</td><td>{{pm .Render}}</td><td>{{pm .FCP}}</td><td>{{pm .LCP}}</td><td>{{pm .Load}}</td><td>{{pm .FirstByte}}</td><td>{{pm .HTML}}</td><td>{{kb .Bytes}}</td><td>{{kb .WastedBytes}}</td>
<td>{{with .Gain}}{{sgn .RenderMS}} ms ({{pct .RenderPct}}){{with .RenderCI}} [{{sgn .Lo}}, {{sgn .Hi}}]{{end}}{{end}}</td><td>{{with .Bound}}{{f0 .BoundMS}}{{end}}</td><td>{{with .Bound}}{{f2 .Fraction}}{{end}}</td><td class="l">{{len .EarlyHinted}}</td>
{{else}}<td colspan="13" class="l {{if .NotMeasurable}}nm{{else}}bad{{end}}">{{.Skipped}}{{range .Errors}} {{.}}{{end}}</td>{{end}}</tr>
{{end}}</table>
{{range .Charts}}<figure>{{.}}</figure>{{end}}
<h3>Waterfalls (the run closest to the median)</h3>{{$.Legend}}
<div class="grid">{{range .Cells}}{{if .Waterfall}}<figure class="cell">{{.Waterfall}}<figcaption>{{.Name}}: render {{f0 .Render.Median}} ms{{if .EarlyHinted}}; from the 103: {{range $i, $p := .EarlyHinted}}{{if $i}}, {{end}}{{$p}}{{end}}{{end}}</figcaption></figure>{{end}}{{end}}</div>
{{end}}

{{if .Pairs}}<h2 id="h2-h3">HTTP/2 against HTTP/3</h2>{{.Legend}}
{{range .Pairs}}<h3>{{.Title}}</h3><div class="pair"><figure>{{.Left}}</figure><figure>{{.Right}}</figure></div>
{{end}}{{end}}
</body></html>
`))
