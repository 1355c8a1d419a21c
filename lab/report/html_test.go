package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// htmlResults are two browsers side by side over HTTP/2 and HTTP/3, with a
// push cell Chromium cannot measure and Early Hints at two think times.
func htmlResults() *experiment.Results {
	wf := func(hinted bool) *experiment.Waterfall {
		w := &experiment.Waterfall{HTMLFirstByteMS: 400, RenderMS: 600, LoadMS: 800, FCPMS: 650, LCPMS: 700, Entries: []experiment.WaterfallEntry{
			{URL: "https://127.0.0.1:1/", Kind: "document", Initiator: "navigation", ConnectStartMS: 1, ConnectEndMS: 40, RequestMS: 40, FirstByteMS: 400, EndMS: 450, Bytes: 100000},
			{URL: "https://127.0.0.1:1/a.css", Kind: "style", Initiator: "parser", StartMS: 455, RequestMS: 455, FirstByteMS: 500, EndMS: 600, Bytes: 20000, RenderBlocking: true},
			{URL: "https://cdn.example/<x>.js", Kind: "script", Initiator: "push", StartMS: 10, RequestMS: 10, FirstByteMS: 20, EndMS: 30, Wasted: true},
		}}
		if hinted {
			w.EarlyHintsMS = 80
			w.Entries[1].Initiator = "early-hints"
		}
		return w
	}
	var cells []experiment.CellResult
	add := func(st experiment.Strategy, p experiment.Protocol, think int, browser string) {
		c := experiment.CellResult{Cell: experiment.Cell{Matrix: "m", Page: "tiny", Strategy: st, Protocol: p, Cache: experiment.Cold, Network: "4g", ThinkMS: think, Browser: browser}}
		if (st == experiment.Push && browser == experiment.BrowserChromium) || (st == experiment.Push && p == experiment.H3) {
			c.Skipped, c.NotMeasurable = "not measurable in Chromium", true
			cells = append(cells, c)
			return
		}
		c.Runs, c.Render, c.Load = 3, experiment.Summary{Median: 600, IQR: 10}, experiment.Summary{Median: 800}
		c.Waterfall = wf(st == experiment.EarlyHints)
		if st == experiment.EarlyHints {
			c.Gain = &experiment.Gain{RenderMS: float64(think) / 2}
			c.Bound = &experiment.Bound{BoundMS: float64(think), Fraction: 0.5}
			c.EarlyHinted = []string{"/a.css"}
		}
		if browser == experiment.BrowserModel {
			c.Calibration = &experiment.Calibration{RenderMS: 500, RenderErrPct: 20, LoadMS: 800}
		}
		cells = append(cells, c)
	}
	for _, p := range []experiment.Protocol{experiment.H2, experiment.H3} {
		for _, think := range []int{100, 300} {
			for _, st := range []experiment.Strategy{experiment.None, experiment.EarlyHints, experiment.Push} {
				for _, b := range []string{experiment.BrowserModel, experiment.BrowserChromium} {
					add(st, p, think, b)
				}
			}
		}
	}
	return &experiment.Results{Scenario: "t", Browser: "model,chromium", Netem: experiment.Relay, Cells: cells}
}

func TestWriteHTML(t *testing.T) {
	res := htmlResults()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, res); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	measured := 0
	for _, c := range res.Cells {
		if c.Runs > 0 {
			measured++
		}
	}
	if got := strings.Count(out, `<figure class="cell"><svg class="waterfall"`); got != measured {
		t.Errorf("%d cell waterfalls, want one per measured cell (%d)", got, measured)
	}
	// Self-contained: nothing is fetched, nothing runs.
	for _, bad := range []string{"<script", "<link", " src=", "@import", "url("} {
		if strings.Contains(out, bad) {
			t.Errorf("report contains %q: it must be self-contained", bad)
		}
	}
	for _, want := range []string{
		`id="claims"`, "Push duplicates what the cache holds", "Early Hints use the server&#39;s think time",
		`id="calibration"`, `class="bad">&#43;20.0 %`, // a model error over the limit is flagged
		`id="h2-h3"`, `class="l nm">not measurable in Chromium`, // push in Chromium: words, no number
		`<svg class="chart"`, // gain against think time
		`data-mark="103"`, `data-mark="LCP"`, `data-initiator="early-hints"`, `data-initiator="push"`,
		"cdn.example/&lt;x&gt;.js", // escaped
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if regexp.MustCompile(`<x>`).MatchString(out) {
		t.Error("an URL was not escaped")
	}
}

func TestClaims_NoCells(t *testing.T) {
	claims := Claims(&experiment.Results{})
	if len(claims) != 7 {
		t.Fatalf("%d claims, want the article's 6 and document first", len(claims))
	}
	for _, c := range claims {
		if len(c.Findings) != 1 || !strings.Contains(c.Findings[0].Figure, "no cell") {
			t.Errorf("%s: findings %+v, want a note that no cell tests it", c.Title, c.Findings)
		}
	}
}
