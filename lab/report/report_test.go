package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

func sampleResults() *experiment.Results {
	base := experiment.Cell{Matrix: "m", Page: "tiny", Strategy: experiment.None, Protocol: experiment.H2, Cache: experiment.Cold, Network: "4g", ThinkMS: 300, Browser: "model"}
	eh := base
	eh.Strategy = experiment.EarlyHints
	push := base
	push.Strategy = experiment.PushDigest
	push.Cache = experiment.Warm
	return &experiment.Results{Scenario: "t", Cells: []experiment.CellResult{
		{Cell: base, Runs: 3, Render: experiment.Summary{Median: 1000, IQR: 50}, Load: experiment.Summary{Median: 1500}, Bytes: 20000},
		{
			Cell: eh, Runs: 3, Render: experiment.Summary{Median: 900, IQR: 20}, Load: experiment.Summary{Median: 1400}, Bytes: 20000,
			Gain:  &experiment.Gain{RenderMS: 100, RenderPct: 10, LoadMS: 100, LoadPct: 6.7},
			Bound: &experiment.Bound{BoundMS: 134, DeltaMS: 40, XRMS: 64, Fraction: 100.0 / 134},
		},
		{Cell: push, Skipped: "no cookies"},
	}}
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, sampleResults()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := "strategy,protocol,cache,network,think_ms,browser,runs,render_ms_median,load_ms_median,bytes,wasted_bytes"
	if got := strings.Join(rows[0][:11], ","); got != want {
		t.Errorf("first columns = %s, want %s", got, want)
	}
	col := func(row int, name string) string {
		for i, c := range rows[0] {
			if c == name {
				return rows[row][i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	checks := []struct {
		row         int
		name, value string
	}{
		{1, "render_ms_median", "1000"},
		{1, "render_gain_ms", ""},
		{1, "bound_ms", ""},
		{2, "render_gain_ms", "100"},
		{2, "bound_ms", "134"},
		{2, "bound_fraction", "0.746"},
		{2, "render_ms_iqr", "20"},
		{3, "runs", "0"},
		{3, "render_ms_median", ""},
		{3, "skipped", "no cookies"},
	}
	for _, c := range checks {
		if got := col(c.row, c.name); got != c.value {
			t.Errorf("row %d %s = %q, want %q", c.row, c.name, got, c.value)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTable(&buf, sampleResults()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"# m\n", "1000±50", "+100ms +10.0%", "134", "0.75", "skipped", "not measured:\n  tiny/push-digest/h2/warm/4g/300ms/model: no cookies",
		"the article's claims", "  not resolved  Push duplicates what the cache holds",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Aligned: every line of the block has the same length.
	lines := strings.Split(out, "\n")
	n := utf8.RuneCountInString
	if n(lines[1]) != n(lines[2]) || n(lines[2]) != n(lines[3]) {
		t.Errorf("table not aligned:\n%s", out)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := WriteFiles(dir, sampleResults())
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 5 || filepath.Base(paths[2]) != "report.html" || filepath.Base(paths[3]) != "claims.md" {
		t.Fatalf("paths = %v", paths)
	}
	md, err := os.ReadFile(filepath.Join(dir, "claims.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "- **Early Hints use the server's think time: not resolved**") {
		t.Errorf("claims.md lacks the verdicts:\n%s", md)
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back experiment.Results
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Cells) != 3 || back.Cells[1].Bound == nil || back.Cells[1].Bound.BoundMS != 134 {
		t.Errorf("results.json round trip = %+v", back.Cells)
	}
}
