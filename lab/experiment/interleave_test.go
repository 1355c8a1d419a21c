package experiment

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// scriptedLab is a browser factory whose page loads take no time and a
// load reader that reports, right after load k, the load average
// script[k] (once; then a quiet 0.5), so a test flags chosen runs as busy
// without a busy machine.
type scriptedLab struct {
	script  map[int]float64
	loads   int
	current float64
	// fail makes load k fail; at load cancelAt (when set), cancel is called.
	fail     map[int]bool
	cancelAt int
	cancel   func()
}

func (l *scriptedLab) newBrowser(Env) (Browser, error) { return scriptedBrowser{l}, nil }

func (l *scriptedLab) readLoad() (float64, error) {
	x := l.current
	l.current = 0.5
	return x, nil
}

type scriptedBrowser struct{ l *scriptedLab }

func (b scriptedBrowser) Load(context.Context, string) (Measurement, error) {
	b.l.current = 0.5
	if x, ok := b.l.script[b.l.loads]; ok {
		b.l.current = x
	}
	k := b.l.loads
	b.l.loads++
	if b.l.cancel != nil && k == b.l.cancelAt {
		b.l.cancel()
	}
	if b.l.fail[k] {
		return Measurement{}, errors.New("the page did not load")
	}
	return Measurement{Render: 100 * time.Millisecond, Load: 200 * time.Millisecond, HTML: 50 * time.Millisecond}, nil
}

func (scriptedBrowser) Close() error { return nil }

func TestRun_Interleaves(t *testing.T) {
	s, err := ParseScenario(strings.NewReader(`
name: order
runs: 4
budget: 60s
matrices:
  - {pages: [tiny], strategies: [preload], protocols: [h2], caches: [cold], networks: [none], think_ms: [0]}
`))
	if err != nil {
		t.Fatal(err)
	}
	// Loads: 0 none r0, 1 preload r0 | 2 preload r1 (busy), 3 its retry,
	// 4 none r1 | 5 none r2, 6 preload r2 | 7, 8, 9 preload r3 (busy,
	// twice retried, kept), 10 none r3. Two CPUs: 8 is 4 per CPU.
	lab := &scriptedLab{script: map[int]float64{2: 8, 7: 8, 8: 8, 9: 8}}
	var order []string
	lastDone, lastTotal := 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, s, Options{
		Logger: quietLogger(), NewBrowser: lab.newBrowser, ReadLoad: lab.readLoad, CPUs: 2, BusyWait: time.Millisecond,
		Progress: func(done, total int, c Cell) {
			order = append(order, string(c.Strategy))
			lastDone, lastTotal = done, total
		},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// 8 loads planned, 3 retries added.
	if lastDone != 11 || lastTotal != 11 {
		t.Errorf("progress ended at %d/%d, want 11/11", lastDone, lastTotal)
	}
	want := []string{"none", "preload", "preload", "preload", "none", "none", "preload", "preload", "preload", "preload", "none"}
	if !slices.Equal(order, want) {
		t.Errorf("loads in the order\n%v, want\n%v (the rounds alternate, a busy run is measured again at once)", order, want)
	}
	if len(res.Cells) != 2 {
		t.Fatalf("cells = %d, want none and preload", len(res.Cells))
	}
	none, pre := res.Cells[0], res.Cells[1]
	places := func(c CellResult) (rounds, places []int) {
		for _, x := range c.Samples {
			rounds, places = append(rounds, x.Round), append(places, x.Place)
		}
		return rounds, places
	}
	if r, p := places(none); !slices.Equal(r, []int{0, 1, 2, 3}) || !slices.Equal(p, []int{0, 1, 0, 1}) {
		t.Errorf("none: rounds %v places %v, want rounds 0-3 at places 0 1 0 1", r, p)
	}
	if r, p := places(pre); !slices.Equal(r, []int{0, 1, 2, 3}) || !slices.Equal(p, []int{1, 0, 1, 0}) {
		t.Errorf("preload: rounds %v places %v, want rounds 0-3 at places 1 0 1 0", r, p)
	}
	if x := pre.Samples[1]; x.Busy || x.Retries != 1 || x.Load1 != 0.5 {
		t.Errorf("preload run 1 = %+v, want measured again once and kept quiet", x)
	}
	if x := pre.Samples[3]; !x.Busy || x.Retries != 2 || x.Load1 != 8 {
		t.Errorf("preload run 3 = %+v, want kept busy after two retries, load 8", x)
	}
	if pre.BusyDropped != 3 || none.BusyDropped != 0 {
		t.Errorf("busy measurements dropped: preload %d, none %d; want 3 and 0", pre.BusyDropped, none.BusyDropped)
	}
	ls := res.Load
	if ls == nil || ls.Kept != 1 || ls.Retried != 2 || ls.Dropped != 3 || ls.Runs != 8 || ls.Load1Max != 8 || ls.CPUs != 2 {
		t.Fatalf("load summary = %+v, want 1 kept, 2 retried, 3 dropped over 8 runs, max 8 on 2 CPUs", ls)
	}
	if busy, why := ls.Busy(); !busy || !strings.Contains(why, "8.0 on 2 CPUs") {
		t.Errorf("Busy() = %v %q, want busy with the load figures", busy, why)
	}
	if g := pre.Gain; g == nil || g.Pairs != 4 || g.RenderCI == nil || g.RenderMS != 0 {
		t.Errorf("preload gain = %+v, want 4 pairs, no difference, an interval", g)
	}
}

func TestRun_BusyAllowance(t *testing.T) {
	s, err := ParseScenario(strings.NewReader(`
name: busy
runs: 3
budget: 10s
matrices:
  - {pages: [tiny], strategies: [preload], protocols: [h2], caches: [warm], networks: [none], think_ms: [0]}
`))
	if err != nil {
		t.Fatal(err)
	}
	// Always busy, and a wait longer than the allowance (a tenth of the
	// budget): the first busy run spends it; every run is kept, flagged.
	always := func() (float64, error) { return 100, nil }
	lab := &scriptedLab{}
	res, err := Run(context.Background(), s, Options{
		Logger: quietLogger(), NewBrowser: lab.newBrowser, ReadLoad: always, CPUs: 2, BusyWait: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, c := range res.Cells {
		if c.Runs != 3 {
			t.Errorf("%s: %d runs, want 3", c.Strategy, c.Runs)
		}
		for _, x := range c.Samples {
			if !x.Busy {
				t.Errorf("%s run %d not flagged busy", c.Strategy, x.Round)
			}
		}
	}
	if ls := res.Load; ls.Dropped > 1 || ls.Kept != 6 {
		t.Errorf("load summary = %+v, want at most one retry (the allowance) and 6 busy runs kept", ls)
	}
	// A warm run is two loads: 6 runs, 12 loads, plus one retry's two.
	if lab.loads > 14 {
		t.Errorf("%d loads, want at most 14", lab.loads)
	}
}

func TestRun_LoadNotJudged(t *testing.T) {
	s, err := ParseScenario(strings.NewReader("runs: 2\nmatrices:\n  - {pages: [tiny], strategies: [preload], protocols: [h2], caches: [cold], networks: [none], think_ms: [0]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	lab := &scriptedLab{}
	res, err := Run(context.Background(), s, Options{Logger: quietLogger(), NewBrowser: lab.newBrowser, ReadLoad: func() (float64, error) { return 100, nil }, BusyLoad: -1})
	if err != nil {
		t.Fatal(err)
	}
	if ls := res.Load; ls.Kept != 0 || ls.Dropped != 0 || ls.Load1Max != 100 || res.BusyLoad != 0 {
		t.Errorf("with BusyLoad < 0: summary %+v, threshold %v; want the load recorded, no run judged", ls, res.BusyLoad)
	}
	if busy, _ := res.Load.Busy(); busy {
		t.Error("a report whose runs were not judged says busy")
	}
}

func TestGroupCells(t *testing.T) {
	s, err := ParseScenario(strings.NewReader(`
browser: model,chromium
runs: 1
matrices:
  - {pages: [tiny], strategies: [preload, early-hints], protocols: [h2, h3], caches: [cold], networks: [none], think_ms: [0]}
`))
	if err != nil {
		t.Fatal(err)
	}
	cells := s.Cells()
	groups := groupCells(cells)
	// h2 and h3, each in two browsers: four groups of three strategies.
	if len(groups) != 4 {
		t.Fatalf("%d groups, want 4", len(groups))
	}
	seen := map[int]bool{}
	for _, g := range groups {
		var strategies []Strategy
		for _, i := range g {
			if seen[i] {
				t.Errorf("cell %d in two groups", i)
			}
			seen[i] = true
			strategies = append(strategies, cells[i].Strategy)
			if groupKey(cells[i]) != groupKey(cells[g[0]]) {
				t.Errorf("group mixes %s and %s", cells[i].Key(), cells[g[0]].Key())
			}
		}
		if !slices.Equal(strategies, []Strategy{None, Preload, EarlyHints}) {
			t.Errorf("group strategies %v, want none, preload, early-hints", strategies)
		}
	}
	if len(seen) != len(cells) {
		t.Errorf("%d of %d cells grouped", len(seen), len(cells))
	}
}

func TestRoundOrder(t *testing.T) {
	three := []string{"none", "preload", "early-hints"}
	tests := []struct {
		cells []string
		round int
		want  []string
	}{
		{three, 0, three},
		{three, 1, []string{"preload", "early-hints", "none"}},
		{three, 2, []string{"early-hints", "none", "preload"}},
		{three, 3, three},
		{[]string{"none", "early-hints"}, 1, []string{"early-hints", "none"}},
		{[]string{"none"}, 5, []string{"none"}},
		{nil, 1, []string{}},
	}
	for _, tt := range tests {
		if got := roundOrder(tt.cells, tt.round); !slices.Equal(got, tt.want) {
			t.Errorf("roundOrder(%v, %d) = %v, want %v", tt.cells, tt.round, got, tt.want)
		}
	}
}

func TestRun_GroupsFailuresAndCancel(t *testing.T) {
	s, err := ParseScenario(strings.NewReader(`
name: groups
runs: 3
budget: 60s
matrices:
  - {pages: [tiny], strategies: [preload], protocols: [h2, h1], caches: [cold], networks: [none], think_ms: [0]}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Group h2: loads 0-5, load 2 (preload's run 1) fails. Group h1: the
	// context ends during load 7, its round 0's second run.
	lab := &scriptedLab{fail: map[int]bool{2: true}, cancelAt: 7, cancel: cancel}
	var seen [][]string
	lastDone, lastTotal := 0, 0
	res, err := Run(ctx, s, Options{
		Logger: quietLogger(), NewBrowser: lab.newBrowser, ReadLoad: lab.readLoad, CPUs: 2,
		Progress: func(done, total int, _ Cell) { lastDone, lastTotal = done, total },
		OnCell: func(r *Results) {
			var keys []string
			for _, c := range r.Cells {
				keys = append(keys, string(c.Strategy)+"/"+string(c.Protocol))
			}
			seen = append(seen, keys)
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error = %v, want the cancellation", err)
	}
	want := [][]string{{"none/h2", "preload/h2"}, {"none/h2", "preload/h2", "none/h1", "preload/h1"}}
	if len(seen) != 2 || !slices.Equal(seen[0], want[0]) || !slices.Equal(seen[1], want[1]) {
		t.Errorf("OnCell saw %v, want %v (once per group, cells in declaration order)", seen, want)
	}
	if lastDone >= lastTotal || lastDone < 8 {
		t.Errorf("progress ended at %d/%d, want the 8 loads made of the 12 planned", lastDone, lastTotal)
	}
	none, pre := res.Cells[0], res.Cells[1]
	if pre.Failures != 1 || pre.Runs != 2 || none.Runs != 3 || len(pre.Errors) != 1 {
		t.Fatalf("h2: none %d runs, preload %d runs %d failures %q; want 3, 2, 1", none.Runs, pre.Runs, pre.Failures, pre.Errors)
	}
	if g := pre.Gain; g == nil || g.Pairs != 2 {
		t.Errorf("preload gain = %+v, want 2 pairs (the failed run's partner left out)", g)
	}
	// The h1 group stopped in its first round: what was measured stays.
	h1none, h1pre := res.Cells[2], res.Cells[3]
	if h1none.Runs+h1pre.Runs > 2 || h1none.Skipped != "" {
		t.Errorf("h1: none %d runs (skipped %q), preload %d; want at most round 0", h1none.Runs, h1none.Skipped, h1pre.Runs)
	}
}
