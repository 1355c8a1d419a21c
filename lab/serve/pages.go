package serve

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
	"github.com/earlyhints/earlyhints/lab/netem"
	"github.com/earlyhints/earlyhints/lab/report"
	"github.com/earlyhints/earlyhints/lab/site"
)

// resultsHTML draws a comparison with the report's code: the table, the
// waterfalls side by side (protocols across, strategies down, one time
// scale per grid), the render bars per strategy with Early Hints' bound,
// and what each strategy wasted.
func resultsHTML(cells []experiment.CellResult) template.HTML {
	if len(cells) == 0 {
		return template.HTML(`<p class="nm">No cell measured yet.</p>`)
	}
	var b bytes.Buffer
	_ = resultsTmpl.Execute(&b, resultsView(cells))
	return template.HTML(b.String()) //nolint:gosec // rendered by html/template
}

type gridRow struct {
	Strategy string
	Cells    []template.HTML
}

type grid struct {
	Title     string
	Protocols []string
	Rows      []gridRow
}

type resultsData struct {
	Cells  []experiment.CellResult
	Names  []string
	Grids  []grid
	Render template.HTML
	Wasted template.HTML
	Legend template.HTML
	// ModelError is the model's known error on these kinds of cell
	// (calibration.go).
	ModelError []string
	// Busy counts the runs kept although the machine was busy.
	Busy int
}

func resultsView(cells []experiment.CellResult) resultsData {
	d := resultsData{Cells: cells, Legend: report.Legend(), ModelError: modelErrorLines(knownCalibration, cells)}
	for _, c := range cells {
		d.Names = append(d.Names, report.CellName(c.Cell))
		for _, x := range c.Samples {
			if x.Busy {
				d.Busy++
			}
		}
	}
	// One grid per browser and cache: protocols across, strategies down.
	type key struct{ browser, cache string }
	var keys []key
	for _, c := range cells {
		k := key{c.Browser, string(c.Cache)}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		var protos, strategies []string
		scale := 0.0
		byKey := map[string]experiment.CellResult{}
		for _, c := range cells {
			if c.Browser != k.browser || string(c.Cache) != k.cache {
				continue
			}
			if !slices.Contains(protos, string(c.Protocol)) {
				protos = append(protos, string(c.Protocol))
			}
			if !slices.Contains(strategies, string(c.Strategy)) {
				strategies = append(strategies, string(c.Strategy))
			}
			byKey[string(c.Strategy)+"|"+string(c.Protocol)] = c
			scale = math.Max(scale, report.WaterfallSpan(c.Waterfall))
		}
		g := grid{Title: fmt.Sprintf("%s, %s cache", k.browser, k.cache), Protocols: protos}
		for _, st := range strategies {
			row := gridRow{Strategy: st}
			for _, p := range protos {
				c, ok := byKey[st+"|"+p]
				switch {
				case !ok:
					row.Cells = append(row.Cells, "")
				case c.Waterfall != nil:
					row.Cells = append(row.Cells, report.WaterfallSVG(c.Waterfall, report.CellName(c.Cell), scale))
				default:
					why := c.Skipped
					if why == "" {
						why = "no run succeeded: " + strings.Join(c.Errors, "; ")
					}
					row.Cells = append(row.Cells, template.HTML(`<p class="nm">`+template.HTMLEscapeString(why)+`</p>`)) //nolint:gosec // escaped
				}
			}
			g.Rows = append(g.Rows, row)
		}
		d.Grids = append(d.Grids, g)
	}
	var render, wasted []report.Bar
	colours := map[experiment.Strategy]string{
		experiment.None: "#888888", experiment.Preload: "#3b6fb6", experiment.Push: "#8e44ad",
		experiment.PushDigest: "#b07cc6", experiment.EarlyHints: "#2f9e44",
	}
	for _, c := range cells {
		label := fmt.Sprintf("%s %s %s %s", c.Protocol, c.Strategy, c.Cache, c.Browser)
		bar := report.Bar{Label: label, Value: c.Render.Median, IQR: c.Render.IQR, Colour: colours[c.Strategy]}
		switch {
		case c.Runs == 0 && c.NotMeasurable:
			bar.Note = "not measurable"
		case c.Runs == 0:
			bar.Note = "not measured"
		case c.Bound != nil && c.Gain != nil:
			bar.Note = fmt.Sprintf("gain %+.0f ms of a %.0f ms bound", c.Gain.RenderMS, c.Bound.BoundMS)
		case c.Gain != nil:
			bar.Note = fmt.Sprintf("gain %+.0f ms", c.Gain.RenderMS)
		}
		render = append(render, bar)
		w := report.Bar{Label: label, Value: c.WastedBytes / 1000, Colour: colours[c.Strategy]}
		if c.Runs > 0 && c.WastedBytes == 0 {
			w.Note = "nothing wasted"
		} else if c.Runs == 0 {
			w.Note = bar.Note
		}
		wasted = append(wasted, w)
	}
	d.Render = report.BarsSVG("Render time (median, whisker: IQR)", "ms", render)
	d.Wasted = report.BarsSVG("Bytes wasted (median)", "KB", wasted)
	return d
}

var resultsTmpl = template.Must(template.New("results").Funcs(template.FuncMap{
	"pm": func(s experiment.Summary) string {
		if s.Median == 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f ± %.0f", s.Median, s.IQR)
	},
	"f0":  func(x float64) string { return fmt.Sprintf("%.0f", x) },
	"kb":  func(x float64) string { return fmt.Sprintf("%.0f", x/1000) },
	"sgn": func(x float64) string { return fmt.Sprintf("%+.0f", x) },
}).Parse(`<table class="results"><tr><th class="l">cell</th><th>runs</th><th>render ms</th><th>FCP</th><th>LCP</th><th>load ms</th><th>KB</th><th>wasted KB</th><th>render gain</th><th>bound ms</th><th>from the 103</th><th>model vs Chromium</th></tr>
{{range $i, $c := .Cells}}<tr class="{{$c.Browser}}"><td class="l">{{index $.Names $i}}</td>
{{if $c.Runs}}<td>{{$c.Runs}}</td><td>{{pm $c.Render}}</td><td>{{pm $c.FCP}}</td><td>{{pm $c.LCP}}</td><td>{{pm $c.Load}}</td><td>{{kb $c.Bytes}}</td><td>{{kb $c.WastedBytes}}</td>
<td>{{with $c.Gain}}{{sgn .RenderMS}} ms{{with .RenderCI}} [{{sgn .Lo}}, {{sgn .Hi}}]{{end}}{{end}}</td><td>{{with $c.Bound}}{{f0 .BoundMS}}{{end}}</td><td>{{len $c.EarlyHinted}}</td><td>{{with $c.Calibration}}{{printf "%+.0f %%" .RenderErrPct}}{{end}}</td>
{{else}}<td colspan="11" class="l nm">{{$c.Skipped}}{{range $c.Errors}} {{.}}{{end}}</td>{{end}}</tr>
{{end}}</table>
<p class="nm">Render gain: the median of paired differences against no hints (the runs interleaved), with its 95 % interval in brackets.{{if .Busy}} <b>{{.Busy}} of the runs were taken while the machine was busy (load above its CPUs): these figures measure the machine as much as the page.</b>{{end}}</p>
{{range .ModelError}}<p class="nm model-error">{{.}}</p>
{{end}}<div class="pair"><figure>{{.Render}}</figure><figure>{{.Wasted}}</figure></div>
{{.Legend}}
{{range .Grids}}<h3>{{.Title}}</h3><table class="grid"><tr><th></th>{{range .Protocols}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr><th class="l">{{.Strategy}}</th>{{range .Cells}}<td class="wf">{{.}}</td>{{end}}</tr>{{end}}</table>
{{end}}`))

// pageStyle is the pages' CSS: the report's and pageCSS, constants both,
// so typed as safe CSS without a conversion.
const pageStyle template.CSS = report.Style + pageCSS

const pageCSS = `
form fieldset{border:1px solid #ddd;margin:.5em 0;padding:.4em .8em}
form label{margin-right:1em;white-space:nowrap}
form input[type=number]{width:6em}
td.wf{text-align:left;vertical-align:top;padding:4px}
#status{font-weight:bold}progress{width:30em}
ul.runs{font-size:13px}
`

type indexData struct {
	Style      template.CSS
	Defaults   Params
	Pages      []string
	Networks   []string
	Strategies []experiment.Strategy
	Protocols  []experiment.Protocol
	Chromium   bool
	Runs       []Snapshot
	MaxRuns    int
	MaxHARMiB  int
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) {
	d := indexData{
		Style: pageStyle, Defaults: Defaults(), Pages: site.ProfileNames(),
		Networks: netem.ProfileNames(), Strategies: experiment.Strategies, Protocols: experiment.Protocols,
		Chromium: s.haveChromium, Runs: s.list(), MaxRuns: s.cfg.MaxRuns, MaxHARMiB: MaxHARUploadBytes >> 20,
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := indexTmpl.Execute(w, d); err != nil {
		s.cfg.Logger.Warn("lab serve: index", "err", err)
	}
}

type runData struct {
	Style   template.CSS
	Snap    Snapshot
	Results template.HTML
}

// permalink renders a run on the server, table and SVG in the HTML: it
// works without JavaScript and can be saved or shared. A run not finished
// refreshes itself.
func (s *Server) permalink(w http.ResponseWriter, r *http.Request) {
	j := s.job(r.PathValue("id"))
	if j == nil {
		http.Error(w, fmt.Sprintf("no run %q: finished runs are kept up to %d; the list is on /", r.PathValue("id"), s.cfg.MaxKept), http.StatusNotFound)
		return
	}
	snap := j.snapshot()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := runTmpl.Execute(w, runData{Style: pageStyle, Snap: snap, Results: resultsHTML(snap.Results)}); err != nil {
		s.cfg.Logger.Warn("lab serve: permalink", "err", err)
	}
}

// fragment is the results part of the permalink, for the page's script.
func (s *Server) fragment(w http.ResponseWriter, r *http.Request) {
	j := s.job(r.PathValue("id"))
	if j == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(resultsHTML(j.snapshot().Results)))
}

var runTmpl = template.Must(template.New("run").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>earlyhints lab run {{.Snap.ID}}</title>
{{if not (or (eq .Snap.Status "done") (eq .Snap.Status "failed") (eq .Snap.Status "cancelled"))}}<meta http-equiv="refresh" content="3">{{end}}
<style>{{.Style}}</style></head><body>
<p><a href="/">← Try it</a></p>
<h1>Run {{.Snap.ID}}: <span id="status" data-status="{{.Snap.Status}}">{{.Snap.Status}}</span></h1>
<p>{{.Snap.Params.Page}} on {{.Snap.Params.Network}}{{with .Snap.Params.RTTMS}} ({{.}} ms RTT){{end}}, {{with .Snap.Params.ThinkMS}}{{.}}{{end}} ms of think time, {{.Snap.Params.Cache}} cache, {{.Snap.Params.Browser}}, {{.Snap.Params.Runs}} runs per cell.
Started {{.Snap.Created.Format "2006-01-02 15:04:05 UTC"}}{{if .Snap.Elapsed}}, {{printf "%.0f" .Snap.Elapsed}} s{{end}}. {{if .Snap.Progress.Total}}{{.Snap.Progress.Done}}/{{.Snap.Progress.Total}} loads.{{end}}</p>
{{with .Snap.Error}}<p class="bad">{{.}}</p>{{end}}
<div id="results">{{.Results}}</div>
</body></html>`))

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>earlyhints lab: try it</title>
<style>{{.Style}}</style></head><body>
<h1>Try it: HTTP/2 against HTTP/3, push against Early Hints</h1>
<p>Each comparison loads a synthetic page, or your own page replayed from a HAR capture, through the real earlyhints proxy over an emulated network, a few times per cell, in the lab's browser model{{if .Chromium}} or in headless Chromium{{end}}. It answers the article's question by default: HTTP/2 against HTTP/3, no hints against Early Hints, on 4G with 300 ms of server think time.</p>
<form id="try" method="post" action="/runs" enctype="multipart/form-data">
<fieldset><legend>Page</legend>{{range .Pages}}<label><input type="radio" name="page" value="{{.}}"{{if eq . $.Defaults.Page}} checked{{end}}> {{.}}</label>{{end}}
<label>or your own page, replayed: <input type="file" name="har" accept=".har,.gz,application/json"> (a HAR of at most {{.MaxHARMiB}} MiB: DevTools → Network → Save all as HAR)</label></fieldset>
<fieldset><legend>Network</legend>{{range .Networks}}<label><input type="radio" name="network" value="{{.}}"{{if eq . $.Defaults.Network}} checked{{end}}> {{.}}</label>{{end}}
<label><input type="radio" name="network" value="custom"> custom:</label>
<label>RTT <input type="number" name="rtt_ms" min="0" max="2000" step="1" placeholder="40"> ms</label>
<label>down <input type="number" name="down_mbps" min="0.1" max="1000" step="0.1" placeholder="unlimited"> Mbit/s</label>
<label>loss <input type="number" name="loss" min="0" max="0.2" step="0.005" placeholder="0"></label></fieldset>
<fieldset><legend>Server</legend><label>think time <input type="number" name="think_ms" min="0" max="5000" placeholder="{{with .Defaults.ThinkMS}}{{.}}{{end}}"> ms (empty: {{with .Defaults.ThinkMS}}{{.}}{{end}} ms, or a HAR's own)</label></fieldset>
<fieldset><legend>Protocols</legend>{{range .Protocols}}<label><input type="checkbox" name="protocols" value="{{.}}"{{if or (eq . "h2") (eq . "h3")}} checked{{end}}> {{.}}</label>{{end}}</fieldset>
<fieldset><legend>Strategies</legend>{{range .Strategies}}<label><input type="checkbox" name="strategies" value="{{.}}"{{if or (eq . "none") (eq . "early-hints")}} checked{{end}}> {{.}}</label>{{end}}</fieldset>
<fieldset><legend>Cache</legend><label><input type="radio" name="cache" value="cold" checked> cold</label><label><input type="radio" name="cache" value="warm"> warm</label><label><input type="radio" name="cache" value="both"> both</label></fieldset>
<fieldset><legend>Browser</legend><label><input type="radio" name="browser" value="model" checked> model</label>
{{if .Chromium}}<label><input type="radio" name="browser" value="chromium"> Chromium</label><label><input type="radio" name="browser" value="model,chromium"> both</label>{{else}}<span class="nm">Chromium is not installed on this server (apt-get install chromium).</span>{{end}}
<label>runs per cell <input type="number" name="runs" min="1" max="{{.MaxRuns}}" value="{{.Defaults.Runs}}"></label></fieldset>
<button type="submit">Compare</button> <button type="button" id="cancel" disabled>Cancel</button>
</form>
<p><span id="status"></span> <progress id="progress" value="0" max="1" hidden></progress> <span id="cell"></span> <a id="permalink" hidden>permalink</a></p>
<p id="error" class="bad"></p>
<div id="results"></div>
{{if .Runs}}<h2>Runs</h2><ul class="runs">{{range .Runs}}<li><a href="{{.URL}}">run {{.ID}}</a>: {{.Status}}, {{.Params.Page}} on {{.Params.Network}}, {{.Params.Browser}}, {{.Created.Format "15:04:05"}}</li>{{end}}</ul>{{end}}
<script>
(() => {
  const form = document.getElementById('try');
  const $ = id => document.getElementById(id);
  let source = null, current = null;
  const refresh = async id => {
    const r = await fetch('/runs/' + id + '/results');
    if (r.ok) $('results').innerHTML = await r.text();
  };
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    $('error').textContent = '';
    const data = new FormData(form), file = data.get('har');
    if (!file || !file.size) data.delete('har');
    const body = data.has('har') ? data : new URLSearchParams(data);
    const r = await fetch('/api/runs', {method: 'POST', body, headers: {'Accept': 'application/json'}});
    const j = await r.json();
    if (!r.ok) { $('error').textContent = j.error; return; }
    current = j.id;
    $('permalink').href = j.url; $('permalink').hidden = false;
    $('cancel').disabled = false; $('progress').hidden = false; $('results').innerHTML = '';
    if (source) source.close();
    source = new EventSource('/api/runs/' + j.id + '/events');
    source.addEventListener('status', e => { const s = JSON.parse(e.data); $('status').textContent = s.status; $('status').dataset.status = s.status; if (s.error) $('error').textContent = s.error; });
    source.addEventListener('progress', e => { const p = JSON.parse(e.data); $('progress').max = p.total || 1; $('progress').value = p.done; $('cell').textContent = p.done + '/' + p.total + ' loads ' + (p.cell || ''); });
    source.addEventListener('cell', () => refresh(j.id));
    source.addEventListener('end', async e => {
      source.close(); source = null; $('cancel').disabled = true;
      const s = JSON.parse(e.data); $('status').textContent = s.status; $('status').dataset.status = s.status;
      if (s.error) $('error').textContent = s.error;
      await refresh(j.id);
      document.body.dataset.finished = j.id;
    });
  });
  $('cancel').addEventListener('click', () => { if (current) fetch('/api/runs/' + current + '/cancel', {method: 'POST'}); });
})();
</script>
</body></html>`))
