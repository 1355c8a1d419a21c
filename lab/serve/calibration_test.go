package serve

import (
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

func TestCalibration_Embedded(t *testing.T) {
	c, err := loadCalibration(calibrationJSON)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source == "" || len(c.Errors) == 0 || c.Limit != experiment.CalibrationLimit {
		t.Errorf("embedded calibration %+v: want a source, errors and the limit %v", c, experiment.CalibrationLimit)
	}
	for _, e := range c.Errors {
		if e.Cells < 1 || e.MinPct > e.MedianPct || e.MedianPct > e.MaxPct {
			t.Errorf("kind %+v: inconsistent", e)
		}
	}
	if _, err := loadCalibration([]byte("{")); err == nil || !strings.Contains(err.Error(), "calgen") {
		t.Errorf("a broken table: %v, want an error naming calgen", err)
	}
}

func cellOf(browser, network string, cache experiment.Cache, proto experiment.Protocol, st experiment.Strategy) experiment.CellResult {
	return experiment.CellResult{Cell: experiment.Cell{
		Page: "news-article", Strategy: st, Protocol: proto, Cache: cache, Network: network, ThinkMS: 300, Browser: browser,
	}}
}

func TestNewCalibration(t *testing.T) {
	model := cellOf(experiment.BrowserModel, "4g", experiment.Cold, experiment.H2, experiment.None)
	model.Calibration = &experiment.Calibration{RenderErrPct: -8}
	model2 := cellOf(experiment.BrowserModel, "4g", experiment.Cold, experiment.H2, experiment.EarlyHints)
	model2.Calibration = &experiment.Calibration{RenderErrPct: 12}
	res := &experiment.Results{
		Scenario: "calibration", Browser: "model,chromium", Started: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC),
		Cells: []experiment.CellResult{model, model2, cellOf(experiment.BrowserChromium, "4g", experiment.Cold, experiment.H2, experiment.None)},
	}
	other := &experiment.Results{Scenario: "h1", Started: time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)}
	c := NewCalibration("quiet", res, other)
	if len(c.Errors) != 1 {
		t.Fatalf("errors %+v, want one kind", c.Errors)
	}
	e := c.Errors[0]
	if e.Cells != 2 || e.MinPct != -8 || e.MaxPct != 12 || e.MedianPct != 2 || !e.Within() {
		t.Errorf("kind %+v, want 2 cells from -8 to +12, median +2, within", e)
	}
	if c.Source != "the lab's runs calibration (2026-12-06 09:00 UTC) and h1 (2026-12-06 09:30 UTC)" {
		t.Errorf("source %q", c.Source)
	}
}

func TestModelErrorLines(t *testing.T) {
	cal := Calibration{
		Source: "the calibration run", Note: "Chromium 156, load 0.8", Limit: experiment.CalibrationLimit,
		Errors: []experiment.ModelError{
			{Network: "4g", Cache: experiment.Cold, Protocol: experiment.H2, Cells: 4, MinPct: -9, MedianPct: -3, MaxPct: 6},
			{Network: "4g", Cache: experiment.Warm, Protocol: experiment.H2, Cells: 2, MinPct: -20, MedianPct: -18, MaxPct: -16},
		},
	}
	tests := []struct {
		name  string
		cells []experiment.CellResult
		want  []string
	}{
		{
			"within",
			[]experiment.CellResult{
				cellOf(experiment.BrowserModel, "4g", experiment.Cold, experiment.H2, experiment.None),
				cellOf(experiment.BrowserModel, "4g", experiment.Cold, experiment.H2, experiment.EarlyHints),
			},
			[]string{"Model, 4g, cold cache, h2: its render time was within 9 % of Chromium's on this kind of cell in the calibration run: -3 % (-9 % to +6 % over 4 cells).", "Chromium 156, load 0.8."},
		},
		{
			"off",
			[]experiment.CellResult{cellOf(experiment.BrowserModel, "4g", experiment.Warm, experiment.H2, experiment.None)},
			[]string{"Model, 4g, warm cache, h2: its render time was off Chromium's by more than 15 % in some cells on this kind of cell in the calibration run: -18 % (-20 % to -16 % over 2 cells).", "Chromium 156, load 0.8."},
		},
		{
			"never compared",
			[]experiment.CellResult{cellOf(experiment.BrowserModel, "3g", experiment.Cold, experiment.H3, experiment.None)},
			[]string{"Model, 3g, cold cache, h3: not compared with Chromium in the calibration run; treat its numbers as the model's alone.", "Chromium 156, load 0.8."},
		},
		{"chromium only", []experiment.CellResult{cellOf(experiment.BrowserChromium, "4g", experiment.Cold, experiment.H2, experiment.None)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := modelErrorLines(cal, tt.cells)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("lines\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestResultsHTML_ModelError(t *testing.T) {
	c := cellOf(experiment.BrowserModel, "4g", experiment.Cold, experiment.H2, experiment.None)
	c.Runs = 1
	html := string(resultsHTML([]experiment.CellResult{c}))
	if !strings.Contains(html, `class="nm model-error"`) || !strings.Contains(html, "Model, 4g, cold cache, h2") {
		t.Errorf("the results carry no line on the model's known error:\n%s", html)
	}
}

func TestResultsHTML_IntervalAndBusy(t *testing.T) {
	base := cellOf(experiment.BrowserModel, "4g", experiment.Cold, experiment.H2, experiment.None)
	base.Runs = 2
	eh := cellOf(experiment.BrowserModel, "4g", experiment.Cold, experiment.H2, experiment.EarlyHints)
	eh.Runs = 2
	eh.Gain = &experiment.Gain{RenderMS: 120, RenderCI: &experiment.Interval{Lo: 80, Hi: 150}}
	tests := []struct {
		name    string
		samples []experiment.Sample
		busy    bool
	}{
		{"quiet", []experiment.Sample{{}, {}}, false},
		{"one busy run", []experiment.Sample{{}, {Busy: true}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eh.Samples = tt.samples
			html := string(resultsHTML([]experiment.CellResult{base, eh}))
			if !strings.Contains(html, "&#43;120 ms [&#43;80, &#43;150]") {
				t.Errorf("the gain is shown without its interval:\n%s", html)
			}
			if got := strings.Contains(html, "machine was busy"); got != tt.busy {
				t.Errorf("busy note shown = %v, want %v", got, tt.busy)
			}
		})
	}
}
