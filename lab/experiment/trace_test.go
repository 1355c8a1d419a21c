package experiment

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const traceScenario = `
name: trace
runs: 1
run_timeout: 20s
networks:
  - {name: cell, rtt: 40ms, trace: cell.down, up_trace: cell.up}
matrices:
  - pages: [tiny]
    strategies: [early-hints]
    protocols: [h2, h3]
    caches: [cold]
    networks: [cell]
    think_ms: [100]
`

func writeTraces(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range map[string]string{"cell.down": "4g-varying.down", "cell.up": "4g-varying.up"} {
		data, err := os.ReadFile(filepath.Join("..", "netem", "testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.trace"), []byte("5\n3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadScenario_Trace(t *testing.T) {
	dir := writeTraces(t)
	write := func(yaml string) string {
		p := filepath.Join(dir, "s.yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s, err := LoadScenario(write(traceScenario))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Network("cell")
	if err != nil {
		t.Fatal(err)
	}
	if p.Down.Trace == nil || p.Up.Trace == nil || p.Down.Trace == p.Up.Trace || p.RTT() != 40*time.Millisecond {
		t.Fatalf("profile %+v: want the two traces and 20 ms each way", p)
	}
	if r := p.Down.Rate(); r < 8e6 || r > 14e6 {
		t.Errorf("downlink rate %d, want the trace's (about 12 Mbit/s)", r)
	}
	tests := []struct{ name, yaml, msg string }{
		{"missing", strings.Replace(traceScenario, "trace: cell.down", "trace: none.down", 1), "no such file"},
		{"malformed", strings.Replace(traceScenario, "trace: cell.down", "trace: bad.trace", 1), "goes back in time"},
		{"with a rate", strings.Replace(traceScenario, "rtt: 40ms,", "rtt: 40ms, down_mbps: 5,", 1), "drop down_mbps"},
		{"up alone", strings.Replace(traceScenario, "trace: cell.down, ", "", 1), "up_trace without trace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadScenario(write(tt.yaml))
			if !errors.Is(err, ErrBadScenario) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), `"cell"`) {
				t.Errorf("err = %v, want ErrBadScenario naming the network and %q", err, tt.msg)
			}
		})
	}
}

// A trace-driven network carries the page over TCP and QUIC relays.
func TestRun_TraceNetwork(t *testing.T) {
	dir := writeTraces(t)
	if err := os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(traceScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadScenario(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	res, err := Run(ctx, s, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, c := range res.Cells {
		if c.Runs != 1 || c.Render.Median <= 0 || c.RTTMS != 40 {
			t.Errorf("%s: runs %d render %v rtt %v skipped %q errors %q", c.Key(), c.Runs, c.Render.Median, c.RTTMS, c.Skipped, c.Errors)
		}
	}
}

func TestBuiltinScenario_Cellular(t *testing.T) {
	s, err := BuiltinScenario("cellular")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Network("4g-varying")
	if err != nil || p.Down.Trace == nil {
		t.Fatalf("4g-varying: %+v, %v", p, err)
	}
}
