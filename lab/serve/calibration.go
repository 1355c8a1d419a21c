package serve

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// The model's known error, shown beside its numbers: per kind of cell
// (network, cache, protocol), how far its render time was from Chromium's
// in a calibration run. calibration.json is derived from that run's
// results.json by calgen, never typed by hand:
//
//	go run ./lab/serve/calgen -note "…" RESULTS.json > lab/serve/calibration.json
//
//go:embed calibration.json
var calibrationJSON []byte

// Calibration is calibration.json: the run it comes from and the model's
// error on each kind of cell it measured in both browsers.
type Calibration struct {
	// Source names the runs: their scenarios and dates.
	Source string `json:"source"`
	// Note says under what conditions it ran (machine load, versions).
	Note   string                  `json:"note,omitempty"`
	Limit  float64                 `json:"limit_pct"`
	Errors []experiment.ModelError `json:"errors"`
}

// NewCalibration derives the table from the results of one or more runs.
func NewCalibration(note string, runs ...*experiment.Results) Calibration {
	var names []string
	var cells []experiment.CellResult
	for _, res := range runs {
		names = append(names, fmt.Sprintf("%s (%s)", res.Scenario, res.Started.UTC().Format("2006-01-02 15:04 UTC")))
		cells = append(cells, res.Cells...)
	}
	what := "run"
	if len(runs) > 1 {
		what = "runs"
	}
	return Calibration{
		Source: fmt.Sprintf("the lab's %s %s", what, strings.Join(names, " and ")),
		Note:   note, Limit: experiment.CalibrationLimit, Errors: experiment.ModelErrors(cells),
	}
}

func loadCalibration(b []byte) (Calibration, error) {
	var c Calibration
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("serve: calibration table: %w; regenerate it with lab/serve/calgen", err)
	}
	return c, nil
}

// knownCalibration is the embedded table (empty if it does not parse, which
// TestCalibration_Embedded rules out).
var knownCalibration, _ = loadCalibration(calibrationJSON)

// modelErrorLines says, for each kind of model cell in cells, how close
// the model came to Chromium on that kind in the calibration run, or that
// it was never compared there.
func modelErrorLines(cal Calibration, cells []experiment.CellResult) []string {
	type kind struct {
		network string
		cache   experiment.Cache
		proto   experiment.Protocol
	}
	var lines []string
	seen := map[kind]bool{}
	for _, c := range cells {
		k := kind{c.Network, c.Cache, c.Protocol}
		if c.Browser != experiment.BrowserModel || seen[k] {
			continue
		}
		seen[k] = true
		what := fmt.Sprintf("%s, %s cache, %s", k.network, k.cache, k.proto)
		var found *experiment.ModelError
		for i, e := range cal.Errors {
			if e.Network == k.network && e.Cache == k.cache && e.Protocol == k.proto {
				found = &cal.Errors[i]
				break
			}
		}
		if found == nil {
			lines = append(lines, fmt.Sprintf("Model, %s: not compared with Chromium in %s; treat its numbers as the model's alone.", what, cal.Source))
			continue
		}
		e := *found
		span := fmt.Sprintf("%+.0f %%", e.MedianPct)
		if e.Cells > 1 {
			span = fmt.Sprintf("%+.0f %% (%+.0f %% to %+.0f %% over %d cells)", e.MedianPct, e.MinPct, e.MaxPct, e.Cells)
		}
		verdict := fmt.Sprintf("within %.0f %% of Chromium's", math.Max(math.Abs(e.MinPct), math.Abs(e.MaxPct)))
		if !e.Within() {
			verdict = fmt.Sprintf("off Chromium's by more than %.0f %% in some cells", cal.Limit)
		}
		lines = append(lines, fmt.Sprintf("Model, %s: its render time was %s on this kind of cell in %s: %s.", what, verdict, cal.Source, span))
	}
	if len(lines) > 0 && cal.Note != "" {
		lines = append(lines, strings.TrimSuffix(cal.Note, ".")+".")
	}
	return lines
}
