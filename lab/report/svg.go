package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"net/url"
	"sort"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// The drawing code of the report, shared with the lab's Try-it page
// (lab/serve): every function returns a self-contained <svg> element.

// Colours by initiator, and of the marks.
var initiatorColour = map[string]string{
	"navigation":  "#333333",
	"parser":      "#3b6fb6",
	"css":         "#2a9d8f",
	"early-hints": "#2f9e44",
	"push":        "#8e44ad",
	"cache":       "#aaaaaa",
}

const (
	colourConnect = "#f4a259"
	colour103     = "#2f9e44"
	colourFirst   = "#333333"
	colourRender  = "#3b6fb6"
	colourFCP     = "#e8890c"
	colourLCP     = "#c92a2a"
)

// WaterfallSVG draws one page load: a row per request with its connection
// set-up, wait and download, coloured by initiator (Early Hints and push
// told apart, waste outlined in red), and vertical marks for the 103's
// arrival, the HTML's first byte, the render time, FCP and LCP. title
// labels the figure; scaleMS, when positive, fixes the time axis so that
// figures side by side compare (0: fit this load).
func WaterfallSVG(wf *experiment.Waterfall, title string, scaleMS float64) template.HTML {
	if wf == nil {
		return ""
	}
	const (
		width  = 640.0
		label  = 190.0
		rowH   = 13.0
		top    = 34.0
		bottom = 30.0
	)
	entries := append([]experiment.WaterfallEntry(nil), wf.Entries...)
	sort.SliceStable(entries, func(i, j int) bool {
		if (entries[i].Initiator == "navigation") != (entries[j].Initiator == "navigation") {
			return entries[i].Initiator == "navigation"
		}
		return entries[i].StartMS < entries[j].StartMS
	})
	span := scaleMS
	if span <= 0 {
		span = WaterfallSpan(wf)
	}
	span = niceCeil(span)
	height := top + rowH*float64(len(entries)) + bottom
	x := func(t float64) float64 { return label + (width-label-10)*math.Max(0, t)/span }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="waterfall" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s">`,
		width, height, width, height, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="4" y="13" font-size="12" font-weight="bold">%s</text>`, html.EscapeString(title))
	// The time axis.
	step := niceStep(span)
	for t := 0.0; t <= span+0.001; t += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#e5e5e5"/>`, x(t), top-4, x(t), height-bottom+2)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="9" text-anchor="middle" fill="#666">%.0f</text>`, x(t), height-bottom+13, t)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="9" text-anchor="end" fill="#666">ms</text>`, width-4, height-bottom+13)
	for i, e := range entries {
		y := top + rowH*float64(i)
		name := shortURL(e.URL)
		fmt.Fprintf(&b, `<g class="req" data-initiator="%s"><title>%s (%s, %s, %.0f B)%s</title>`,
			html.EscapeString(e.Initiator), html.EscapeString(e.URL), html.EscapeString(e.Kind), html.EscapeString(e.Initiator), float64(e.Bytes), wastedNote(e))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="9" text-anchor="end">%s</text>`, label-4, y+9, html.EscapeString(name))
		if e.ConnectEndMS > e.ConnectStartMS {
			rect(&b, x(e.ConnectStartMS), y+2, x(e.ConnectEndMS)-x(e.ConnectStartMS), rowH-4, colourConnect, "")
		}
		c := initiatorColour[e.Initiator]
		if c == "" {
			c = "#3b6fb6"
		}
		stroke := ""
		if e.Wasted {
			stroke = ` stroke="#c92a2a" stroke-width="1.5"`
		}
		wait := math.Max(e.RequestMS, e.StartMS)
		rect(&b, x(wait), y+4, math.Max(1, x(e.FirstByteMS)-x(wait)), rowH-8, c, ` fill-opacity="0.35"`+stroke)
		rect(&b, x(e.FirstByteMS), y+2, math.Max(1.5, x(e.EndMS)-x(e.FirstByteMS)), rowH-4, c, stroke)
		b.WriteString(`</g>`)
	}
	mark := func(t float64, colour, name string, dash string) {
		if t <= 0 {
			return
		}
		fmt.Fprintf(&b, `<line class="mark" data-mark="%s" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="%s" stroke-width="1.5"%s><title>%s %.0f ms</title></line>`,
			name, x(t), top-8, x(t), height-bottom, colour, dash, name, t)
	}
	mark(wf.EarlyHintsMS, colour103, "103", ` stroke-dasharray="3 2"`)
	mark(wf.HTMLFirstByteMS, colourFirst, "HTML first byte", ` stroke-dasharray="3 2"`)
	mark(wf.RenderMS, colourRender, "render", "")
	mark(wf.FCPMS, colourFCP, "FCP", "")
	mark(wf.LCPMS, colourLCP, "LCP", "")
	// The legend.
	lx := label
	for _, l := range []struct{ name, colour string }{
		{"103", colour103}, {"HTML 1st byte", colourFirst}, {"render", colourRender}, {"FCP", colourFCP}, {"LCP", colourLCP},
	} {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="24" x2="%.0f" y2="24" stroke="%s" stroke-width="2"/><text x="%.0f" y="27" font-size="9">%s</text>`, lx, lx+10, l.colour, lx+13, l.name)
		lx += 18 + 5.5*float64(len(l.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text is escaped above
}

// WaterfallSpan is the time a waterfall needs on its axis.
func WaterfallSpan(wf *experiment.Waterfall) float64 {
	if wf == nil {
		return 0
	}
	span := math.Max(wf.LoadMS, math.Max(wf.FCPMS, wf.LCPMS))
	for _, e := range wf.Entries {
		span = math.Max(span, e.EndMS)
	}
	return math.Max(span, 10)
}

func wastedNote(e experiment.WaterfallEntry) string {
	if e.Wasted {
		return ", wasted"
	}
	return ""
}

func rect(b *strings.Builder, x, y, w, h float64, fill, extra string) {
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"%s/>`, x, y, w, h, fill, extra)
}

// shortURL is a waterfall row's label: the path (with its host for a third
// party), its middle cut when long.
func shortURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		s = u.Path
		if h := u.Hostname(); h != "" && strings.Trim(h, "0123456789.:[]") != "" {
			s = h + u.Path
		}
	}
	if len(s) > 34 {
		s = s[:14] + "…" + s[len(s)-19:]
	}
	return s
}

// niceCeil rounds a span up to 1, 2 or 5 times a power of ten's multiple.
func niceCeil(x float64) float64 {
	step := niceStep(x)
	return math.Ceil(x/step) * step
}

func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	raw := x / 6
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// Series is one line of a chart: points (x, y) in order.
type Series struct {
	Name   string
	Colour string
	Dashed bool
	X, Y   []float64
}

// LineChartSVG draws series on shared axes (y from 0), with axis labels.
func LineChartSVG(title, xLabel, yLabel string, series []Series) template.HTML {
	const (
		width, height            = 520.0, 300.0
		left, right, top, bottom = 50.0, 150.0, 28.0, 36.0
	)
	var maxX, maxY, minY float64
	for _, s := range series {
		for i := range s.X {
			maxX = math.Max(maxX, s.X[i])
			maxY = math.Max(maxY, s.Y[i])
			minY = math.Min(minY, s.Y[i])
		}
	}
	maxX, maxY = niceCeil(math.Max(maxX, 1)), niceCeil(math.Max(maxY, 1))
	if minY < 0 {
		minY = -niceCeil(-minY)
	}
	px := func(v float64) float64 { return left + (width-left-right)*v/maxX }
	py := func(v float64) float64 { return height - bottom - (height-top-bottom)*(v-minY)/(maxY-minY) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s"><title>%s</title>`,
		width, height, width, height, html.EscapeString(title), html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="4" y="14" font-size="12" font-weight="bold">%s</text>`, html.EscapeString(title))
	for t := 0.0; t <= maxX+0.001; t += niceStep(maxX) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#eee"/><text x="%.1f" y="%.0f" font-size="9" text-anchor="middle">%.0f</text>`,
			px(t), top, px(t), height-bottom, px(t), height-bottom+12, t)
	}
	for t := minY; t <= maxY+0.001; t += niceStep(maxY - minY) {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/><text x="%.0f" y="%.1f" font-size="9" text-anchor="end">%.0f</text>`,
			left, py(t), width-right, py(t), left-4, py(t)+3, t)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10" text-anchor="middle">%s</text>`, (left+width-right)/2, height-6, html.EscapeString(xLabel))
	fmt.Fprintf(&b, `<text x="12" y="%.0f" font-size="10" text-anchor="middle" transform="rotate(-90 12 %.0f)">%s</text>`, (top+height-bottom)/2, (top+height-bottom)/2, html.EscapeString(yLabel))
	for i, s := range series {
		var pts []string
		for k := range s.X {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[k]), py(s.Y[k])))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5 3"`
		}
		fmt.Fprintf(&b, `<polyline class="series" fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`, s.Colour, dash, strings.Join(pts, " "))
		for k := range s.X {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s: %.0f → %.0f</title></circle>`, px(s.X[k]), py(s.Y[k]), s.Colour, html.EscapeString(s.Name), s.X[k], s.Y[k])
		}
		ly := top + 14*float64(i)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/><text x="%.0f" y="%.0f" font-size="9">%s</text>`,
			width-right+8, ly, width-right+22, ly, s.Colour, dash, width-right+25, ly+3, html.EscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text is escaped above
}

// Bar is one bar of a bar chart, with an optional error whisker (IQR) and
// an optional marker (the analytic bound).
type Bar struct {
	Label  string
	Value  float64
	IQR    float64
	Colour string
	// Note is written after the bar ("skipped: …", "−120 ms").
	Note string
}

// BarsSVG draws horizontal bars on a shared scale.
func BarsSVG(title, unit string, bars []Bar) template.HTML {
	const (
		width, label, rowH, top = 560.0, 170.0, 18.0, 24.0
	)
	maxV := 1.0
	for _, r := range bars {
		maxV = math.Max(maxV, r.Value+r.IQR/2)
	}
	maxV = niceCeil(maxV)
	height := top + rowH*float64(len(bars)) + 20
	x := func(v float64) float64 { return label + (width-label-120)*v/maxV }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bars" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s"><title>%s</title>`,
		width, height, width, height, html.EscapeString(title), html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="4" y="14" font-size="12" font-weight="bold">%s</text>`, html.EscapeString(title))
	for i, r := range bars {
		y := top + rowH*float64(i)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="10" text-anchor="end">%s</text>`, label-4, y+12, html.EscapeString(r.Label))
		c := r.Colour
		if c == "" {
			c = "#3b6fb6"
		}
		if r.Value > 0 {
			rect(&b, x(0), y+3, x(r.Value)-x(0), rowH-6, c, "")
			if r.IQR > 0 {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#222"/>`, x(r.Value-r.IQR/2), y+rowH/2, x(r.Value+r.IQR/2), y+rowH/2)
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="10">%.0f %s %s</text>`, x(r.Value+r.IQR/2)+4, y+12, r.Value, unit, html.EscapeString(r.Note))
		} else {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="10" fill="#888">%s</text>`, x(0)+4, y+12, html.EscapeString(r.Note))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text is escaped above
}
