package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

// pairedCells are a baseline and an Early Hints cell of n interleaved
// runs, Early Hints' render shorter by gain[i] in run i.
func pairedCells(browser string, think int, gains []float64) []experiment.CellResult {
	base := experiment.Cell{Matrix: "m", Page: "tiny", Strategy: experiment.None, Protocol: experiment.H2, Cache: experiment.Cold, Network: "4g", ThinkMS: think, Browser: browser}
	eh := base
	eh.Strategy = experiment.EarlyHints
	b := experiment.CellResult{Cell: base, Runs: len(gains), RTTMS: 70}
	c := experiment.CellResult{Cell: eh, Runs: len(gains), RTTMS: 70, Bound: &experiment.Bound{BoundMS: 134, Fraction: 0.5}}
	var diffs []float64
	for i, g := range gains {
		b.Samples = append(b.Samples, experiment.Sample{Round: i, RenderMS: 1000, FirstByteMS: 400})
		c.Samples = append(c.Samples, experiment.Sample{Round: i, RenderMS: 1000 - g, FirstByteMS: 400 + g/100})
		diffs = append(diffs, g)
	}
	b.Render, c.Render = experiment.Summary{Median: 1000}, experiment.Summary{Median: 1000 - experiment.Median(diffs)}
	b.FirstByte, c.FirstByte = experiment.Summary{Median: 400}, experiment.Summary{Median: 400}
	m, ci := experiment.MedianCI(diffs)
	c.Gain = &experiment.Gain{RenderMS: m, RenderPct: m / 10, Pairs: len(gains), RenderCI: &ci}
	return []experiment.CellResult{b, c}
}

func claimNamed(t *testing.T, claims []Claim, title string) Claim {
	t.Helper()
	for _, c := range claims {
		if c.Title == title {
			return c
		}
	}
	t.Fatalf("no claim %q", title)
	return Claim{}
}

func TestClaims_Verdicts(t *testing.T) {
	gain := []float64{110, 95, 130, 120, 100, 105, 125, 90}
	loss := []float64{-110, -95, -130, -120, -100, -105, -125, -90}
	noise := []float64{40, -35, 20, -50, 10, -5, 30, -25}
	tests := []struct {
		name   string
		cells  [][]experiment.CellResult
		want   Verdict
		why    string
		figure string
	}{
		{name: "a clear gain", cells: [][]experiment.CellResult{pairedCells("model", 300, gain)}, want: Shown, why: "model: 1 shown", figure: "render gain +108 ms (+10.8 %) [+95, +125], 8 pairs, bound 134 ms"},
		{name: "a clear loss", cells: [][]experiment.CellResult{pairedCells("chromium", 300, loss)}, want: Refuted, why: "chromium: 1 refuted"},
		{name: "noise", cells: [][]experiment.CellResult{pairedCells("model", 300, noise)}, want: NotResolved, why: "model: 1 not resolved, the interval straddles the threshold", figure: "straddles"},
		{name: "too few runs", cells: [][]experiment.CellResult{pairedCells("model", 300, gain[:3])}, want: NotResolved, why: "too few runs", figure: "a verdict needs 5"},
		{name: "browsers disagree", cells: [][]experiment.CellResult{pairedCells("model", 300, gain), pairedCells("chromium", 300, loss)}, want: NotResolved, why: "the cells disagree"},
		{name: "shown and open", cells: [][]experiment.CellResult{pairedCells("model", 300, gain), pairedCells("model", 100, noise)}, want: Shown, why: "model: 1 shown, 1 not resolved"},
		// No think time: the gain is context, not a test of the claim.
		{name: "no think time", cells: [][]experiment.CellResult{pairedCells("model", 0, loss)}, want: NotResolved, why: "no cell of this run judges it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &experiment.Results{Scenario: "t"}
			for _, c := range tt.cells {
				res.Cells = append(res.Cells, c...)
			}
			cl := claimNamed(t, Claims(res), "Early Hints use the server's think time")
			if cl.Verdict != tt.want || !strings.Contains(cl.Why, tt.why) {
				t.Errorf("verdict %q (%s), want %q (%s)", cl.Verdict, cl.Why, tt.want, tt.why)
			}
			if tt.figure != "" && !strings.Contains(cl.Findings[0].Figure, tt.figure) {
				t.Errorf("figure %q lacks %q", cl.Findings[0].Figure, tt.figure)
			}
		})
	}
}

func TestClaims_DocumentFirst(t *testing.T) {
	// The HTML's first byte later by gain/100 ms: 1 ms, within 5 % of 400.
	res := &experiment.Results{Cells: pairedCells("chromium", 300, []float64{100, 100, 100, 100, 100})}
	if cl := claimNamed(t, Claims(res), "Early Hints never delay the document"); cl.Verdict != Shown {
		t.Errorf("1 ms later of 400: %q (%s), want shown", cl.Verdict, cl.Why)
	}
	// Later by 50 ms in every run: beyond 5 %.
	res = &experiment.Results{Cells: pairedCells("chromium", 300, []float64{5000, 5000, 5000, 5000, 5000})}
	if cl := claimNamed(t, Claims(res), "Early Hints never delay the document"); cl.Verdict != Refuted {
		t.Errorf("50 ms later of 400: %q (%s), want refuted", cl.Verdict, cl.Why)
	}
}

func TestClaims_PushWaste(t *testing.T) {
	push := experiment.Cell{Page: "tiny", Strategy: experiment.Push, Protocol: experiment.H2, Cache: experiment.Warm, Network: "4g", ThinkMS: 300, Browser: "model"}
	digest := push
	digest.Strategy = experiment.PushDigest
	p := experiment.CellResult{Cell: push, Runs: 5, WastedBytes: 80000}
	d := experiment.CellResult{Cell: digest, Runs: 5}
	for i := range 5 {
		p.Samples = append(p.Samples, experiment.Sample{Round: i, Wasted: 80000 + int64(i)})
		d.Samples = append(d.Samples, experiment.Sample{Round: i})
	}
	cls := Claims(&experiment.Results{Cells: []experiment.CellResult{p, d}})
	if cl := claimNamed(t, cls, "Push duplicates what the cache holds"); cl.Verdict != Shown {
		t.Errorf("push wastes 80 KB every run: %q (%s)", cl.Verdict, cl.Why)
	}
	if cl := claimNamed(t, cls, "Push needs to know the client's cache"); cl.Verdict != Shown {
		t.Errorf("the digest wastes nothing: %q (%s)", cl.Verdict, cl.Why)
	}
	// Nothing wasted in any run: refuted.
	for i := range p.Samples {
		p.Samples[i].Wasted = 0
	}
	cls = Claims(&experiment.Results{Cells: []experiment.CellResult{p, d}})
	if cl := claimNamed(t, cls, "Push duplicates what the cache holds"); cl.Verdict != Refuted {
		t.Errorf("push wastes nothing: %q (%s), want refuted", cl.Verdict, cl.Why)
	}
}

func TestReports_BusyBanner(t *testing.T) {
	res := sampleResults()
	res.CPUs, res.BusyLoad = 2, 1
	res.Cells[0].Samples = []experiment.Sample{{Load1: 31, Busy: true}, {Load1: 44, Busy: true}}
	res.Cells[1].Samples = []experiment.Sample{{Load1: 30}}
	res.Cells[1].BusyDropped = 2
	writers := map[string]func(*bytes.Buffer) error{
		"table":     func(b *bytes.Buffer) error { return WriteTable(b, res) },
		"html":      func(b *bytes.Buffer) error { return WriteHTML(b, res) },
		"claims.md": func(b *bytes.Buffer) error { return WriteClaimsMarkdown(b, res) },
	}
	for name, write := range writers {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		// At the top: before the first cell.
		i := strings.Index(out, "Measured on a busy machine")
		if i < 0 || i > strings.Index(out, "tiny") {
			t.Errorf("%s: no busy banner at the top:\n%.600s", name, out)
		}
		for _, want := range []string{"The 1-minute load average reached 44.0 on 2 CPUs", "2 busy runs kept", "2 measurements dropped"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
	// A quiet run: no banner, the load in a line.
	res.Cells[0].Samples = []experiment.Sample{{Load1: 0.5}, {Load1: 0.7}}
	res.Cells[1].Samples, res.Cells[1].BusyDropped = []experiment.Sample{{Load1: 0.6}}, 0
	var b bytes.Buffer
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "busy machine") || !strings.Contains(out, "machine: 1-minute load average over the runs: median 0.60, max 0.70 on 2 CPUs") {
		t.Errorf("quiet table:\n%s", out)
	}
}
