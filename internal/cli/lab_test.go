package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunLab_Tiny(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := runLab(ctx, []string{"--scenario", "testdata/lab-tiny.yaml", "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("runLab: %v\nstderr: %s", err, stderr.String())
	}
	for _, want := range []string{"strategy", "early-hints", "none", "gain/bound"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "2/2 loads") && !strings.Contains(stderr.String(), "loads") {
		t.Errorf("no progress bar on stderr: %q", stderr.String())
	}

	f, err := os.Open(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	required := strings.Split("strategy,protocol,cache,network,think_ms,browser,runs,render_ms_median,load_ms_median,bytes,wasted_bytes", ",")
	for _, col := range append(required, "render_ms_iqr", "render_gain_ms", "bound_ms", "bound_fraction") {
		if !slices.Contains(rows[0], col) {
			t.Errorf("results.csv lacks column %s: %v", col, rows[0])
		}
	}
	if len(rows) != 3 {
		t.Fatalf("results.csv has %d rows, want header + 2 cells", len(rows))
	}
	idx := slices.Index(rows[0], "render_ms_median")
	for _, r := range rows[1:] {
		if r[idx] == "" || r[slices.Index(rows[0], "runs")] != "1" {
			t.Errorf("row %v not measured", r)
		}
	}

	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Cells []struct {
			Strategy string `json:"strategy"`
			Runs     int    `json:"runs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if len(res.Cells) != 2 || res.Cells[1].Strategy != "early-hints" || res.Cells[1].Runs != 1 {
		t.Errorf("results.json cells = %+v", res.Cells)
	}
}

func TestRunLab_Flags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "help", args: []string{"--help"}, code: 0, want: "Usage: earlyhints lab"},
		{name: "bad netem", args: []string{"--netem", "tc"}, code: 2, want: "use relay or packet"},
		{name: "bad browser", args: []string{"--quick", "--browser", "lynx"}, code: 2, want: "use model, chromium, firefox or a list such as model,chromium,firefox"},
		{name: "quick and scenario", args: []string{"--quick", "--scenario", "x.yaml"}, code: 2, want: "exclude each other"},
		{name: "extra argument", args: []string{"now"}, code: 2, want: `unexpected argument "now"`},
		{name: "serve off loopback", args: []string{"--serve", "0.0.0.0:0"}, code: 2, want: "--allow-remote"},
		{name: "allow-remote alone", args: []string{"--allow-remote"}, code: 2, want: "goes with --serve"},
		{name: "serve and quick", args: []string{"--serve", "127.0.0.1:0", "--quick"}, code: 2, want: "drop --quick"},
		{name: "missing scenario file", args: []string{"--scenario", "testdata/none.yaml"}, code: 1, want: "none.yaml"},
		{name: "unknown key", args: []string{"--scenario", writeFile(t, "bad.yaml", "name: x\nrepeats: 3\n")}, code: 1, want: "line 2"},
		{name: "har and serve", args: []string{"--serve", "127.0.0.1:0", "--har", "x.har"}, code: 2, want: "drop --quick, --scenario and --har"},
		{name: "missing har", args: []string{"--har", "testdata/none.har"}, code: 1, want: "none.har"},
		{name: "malformed har", args: []string{"--quick", "--har", writeFile(t, "bad.har", `{"log":{"entries":[{"request":`)}, code: 1, want: "invalid HAR file"},
		{name: "hostile har", args: []string{"--har", writeFile(t, "evil.har", `{"log":{"entries":[{"request":{"method":"GET","url":"https://a.example/"},"response":{"status":200,"headers":[{"name":"Link","value":"<x>\r\nSet-Cookie: a=b"}],"content":{"size":9,"mimeType":"text/html"}}}]}}`)}, code: 1, want: "unsafe HAR file"},
		{name: "har of no page", args: []string{"--har", writeFile(t, "empty.har", `{"log":{"entries":[]}}`)}, code: 1, want: "no HTML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), append([]string{"lab"}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if out := stdout.String() + stderr.String(); !strings.Contains(out, tt.want) {
				t.Errorf("output %q lacks %q", out, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// --har replaces the scenario's pages by the capture, at its own think
// time: the run measures the replayed page and nothing else.
func TestRunLab_HAR(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	har := filepath.Join("..", "..", "lab", "site", "testdata", "har", "www.wikipedia.org.har.gz")
	if err := runLab(ctx, []string{"--scenario", "testdata/lab-tiny.yaml", "--har", har, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("runLab: %v\nstderr: %s", err, stderr.String())
	}
	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Cells []struct {
			Page    string `json:"page"`
			ThinkMS int    `json:"think_ms"`
			Runs    int    `json:"runs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Cells) != 2 {
		t.Fatalf("cells = %+v, want none and early-hints", res.Cells)
	}
	for _, c := range res.Cells {
		if c.Page != "har:www.wikipedia.org" || c.ThinkMS != 286 || c.Runs != 1 {
			t.Errorf("cell %+v, want the capture at its own 286 ms, measured", c)
		}
	}
}
