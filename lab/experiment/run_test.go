package experiment

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// tinyScenario is one network, one run per cell, every strategy on HTTP/2
// and Early Hints on HTTP/3.
const tinyScenario = `
name: tiny
runs: 1
run_timeout: 10s
budget: 60s
networks:
  - {name: fast, rtt: 10ms, down_mbps: 50, up_mbps: 20}
matrices:
  - pages: [tiny]
    strategies: [none, preload, push, push-digest, early-hints]
    protocols: [h2]
    caches: [cold, warm]
    networks: [fast]
    think_ms: [100]
  - pages: [tiny]
    strategies: [early-hints, push]
    protocols: [h3]
    caches: [cold]
    networks: [fast]
    think_ms: [100]
`

func TestRun_Tiny(t *testing.T) {
	s, err := ParseScenario(strings.NewReader(tinyScenario))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var calls, lastDone, lastTotal int
	res, err := Run(ctx, s, Options{Logger: quietLogger(), Progress: func(done, total int, _ Cell) {
		calls++
		lastDone, lastTotal = done, total
	}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if calls == 0 || lastDone != lastTotal {
		t.Errorf("progress: %d calls, ended at %d/%d", calls, lastDone, lastTotal)
	}
	byKey := map[string]CellResult{}
	for _, c := range res.Cells {
		byKey[string(c.Strategy)+"/"+string(c.Protocol)+"/"+string(c.Cache)] = c
	}
	for _, k := range []string{"none/h2/cold", "preload/h2/cold", "push/h2/cold", "early-hints/h2/warm", "none/h3/cold", "early-hints/h3/cold"} {
		c, ok := byKey[k]
		if !ok {
			t.Fatalf("no cell %s", k)
		}
		if c.Runs != 1 || c.Skipped != "" {
			t.Errorf("%s: runs %d skipped %q errors %q", k, c.Runs, c.Skipped, c.Errors)
			continue
		}
		if c.Render.Median <= 0 || c.Load.Median < c.Render.Median || (c.Cache == Cold && c.Bytes <= 0) {
			t.Errorf("%s: render %v load %v bytes %v", k, c.Render.Median, c.Load.Median, c.Bytes)
		}
	}
	if c := byKey["push/h3/cold"]; c.Skipped == "" || !strings.Contains(c.Skipped, "HTTP/2") {
		t.Errorf("push over h3 not skipped with a reason: %+v", c.Skipped)
	}
	// The warm visit brings back the digest cookie of the priming visit, so
	// cache-aware push leaves out what the cache holds.
	if c, plain := byKey["push-digest/h2/warm"], byKey["push/h2/warm"]; c.Skipped != "" || c.WastedBytes >= plain.WastedBytes {
		t.Errorf("push-digest on a warm cache: skipped %q, wasted %v bytes (plain push %v)", c.Skipped, c.WastedBytes, plain.WastedBytes)
	}
	if c := byKey["push/h2/cold"]; c.Pushed == 0 {
		t.Errorf("push cell received no pushes")
	}
	if c := byKey["push/h2/warm"]; c.WastedBytes == 0 {
		t.Errorf("plain push on a warm cache wasted no bytes")
	}
	eh := byKey["early-hints/h2/cold"]
	if eh.Gain == nil || eh.Bound == nil || eh.Bound.BoundMS <= 0 {
		t.Fatalf("early-hints cold cell lacks gain or bound: gain %+v bound %+v", eh.Gain, eh.Bound)
	}
	// The bound is min(100 ms + δ, 10 ms + x_R): the network term wins.
	if eh.Bound.RTTMS != 10 || eh.Bound.BoundMS < 10 || eh.Bound.BoundMS > 100 {
		t.Errorf("bound = %+v, want RTT 10 ms and a bound between 10 and 100 ms", eh.Bound)
	}
}

func TestRun_ChromiumUnavailable(t *testing.T) {
	s, err := ParseScenario(strings.NewReader("browser: model,chromium\nruns: 1\nmatrices:\n  - {pages: [tiny], strategies: [none, push], protocols: [h2], caches: [cold], networks: [none]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), s, Options{Logger: quietLogger(), ChromiumBinary: "/nonexistent/chromium"})
	if !errors.Is(err, ErrCellFailed) {
		t.Errorf("Run error = %v, want ErrCellFailed: a missing browser fails the run", err)
	}
	if res == nil || len(res.Cells) != 4 {
		t.Fatalf("cells = %+v, want none and push in model and chromium", res)
	}
	for _, c := range res.Cells {
		switch {
		case c.Browser == BrowserModel && c.Runs != 1:
			t.Errorf("model cell %s: runs %d, skipped %q: the matrix must go on", c.Key(), c.Runs, c.Skipped)
		case c.Browser == BrowserChromium && c.Strategy == Push && (!c.NotMeasurable || c.Runs != 0):
			t.Errorf("push in chromium = %+v, want not measurable and no number", c)
		case c.Browser == BrowserChromium && c.Strategy == None && !strings.Contains(c.Skipped, "not installed"):
			t.Errorf("chromium cell skipped %q, want a note that chromium is not installed", c.Skipped)
		}
	}
	if res.Failed() != 1 {
		t.Errorf("Failed() = %d, want 1 (the chromium none cell; push is not measurable, not failed)", res.Failed())
	}
}
