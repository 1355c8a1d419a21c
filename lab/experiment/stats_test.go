package experiment

import (
	"math"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	tests := []struct {
		name           string
		xs             []float64
		median, q1, q3 float64
		iqr            float64
	}{
		// Type 7: h = q·(n−1); interpolate between the order statistics.
		{name: "odd", xs: []float64{5, 1, 3, 2, 4}, median: 3, q1: 2, q3: 4, iqr: 2},
		// n=4: median h=1.5 → (20+30)/2; Q1 h=0.75 → 10+0.75·10; Q3 h=2.25 → 30+0.25·60.
		{name: "even", xs: []float64{40, 10, 30, 20 + 0}, median: 25, q1: 17.5, q3: 32.5, iqr: 15},
		{name: "skewed", xs: []float64{100, 110, 120, 400}, median: 115, q1: 107.5, q3: 190, iqr: 82.5},
		{name: "one", xs: []float64{7}, median: 7, q1: 7, q3: 7, iqr: 0},
		{name: "two", xs: []float64{1, 2}, median: 1.5, q1: 1.25, q3: 1.75, iqr: 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.xs...)
			near := func(what string, got, want float64) {
				if math.Abs(got-want) > 1e-9 {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			near("median", Median(tt.xs), tt.median)
			near("Q1", Quantile(tt.xs, 0.25), tt.q1)
			near("Q3", Quantile(tt.xs, 0.75), tt.q3)
			near("IQR", IQR(tt.xs), tt.iqr)
			for i := range in {
				if in[i] != tt.xs[i] {
					t.Fatal("Quantile reordered its input")
				}
			}
		})
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func TestBoundInputs_Bound(t *testing.T) {
	tests := []struct {
		name      string
		in        BoundInputs
		xr, bound time.Duration
	}{
		// 4G: RTT 70 ms; 80 000 critical bytes at 10 Mbit/s (1.25 MB/s) =
		// 64 ms; T + δ = 300 + 40 = 340 ms > RTT + x_R = 134 ms.
		{name: "long think: network bound", in: BoundInputs{
			Think: 300 * time.Millisecond, Delta: 40 * time.Millisecond,
			RTT: 70 * time.Millisecond, CriticalBytes: 80_000, BytesPerSecond: 1_250_000,
		}, xr: 64 * time.Millisecond, bound: 134 * time.Millisecond},
		// No think: only the discovery delay can be saved.
		{name: "no think: discovery bound", in: BoundInputs{
			Delta: 40 * time.Millisecond,
			RTT:   70 * time.Millisecond, CriticalBytes: 80_000, BytesPerSecond: 1_250_000,
		}, xr: 64 * time.Millisecond, bound: 40 * time.Millisecond},
		// 3G: 300 ms RTT, 200 000 B at 200 000 B/s = 1 s; T + δ = 1.1 s < 1.3 s.
		{name: "slow link", in: BoundInputs{
			Think: time.Second, Delta: 100 * time.Millisecond,
			RTT: 300 * time.Millisecond, CriticalBytes: 200_000, BytesPerSecond: 200_000,
		}, xr: time.Second, bound: 1100 * time.Millisecond},
		{
			name: "unlimited bandwidth", in: BoundInputs{Think: time.Second, RTT: 20 * time.Millisecond, CriticalBytes: 1 << 20},
			xr: 0, bound: 20 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.CriticalTransfer(); got != tt.xr {
				t.Errorf("x_R = %v, want %v", got, tt.xr)
			}
			if got := tt.in.Bound(); got != tt.bound {
				t.Errorf("bound = %v, want %v", got, tt.bound)
			}
		})
	}
}

func TestAnalyse(t *testing.T) {
	base := Cell{Page: "tiny", Strategy: None, Protocol: H2, Cache: Cold, Network: "4g", ThinkMS: 300, Browser: BrowserModel}
	eh := base
	eh.Strategy = EarlyHints
	warm := eh
	warm.Cache = Warm
	cells := []CellResult{
		{Cell: base, RTTMS: 70, Samples: []Sample{{RenderMS: 900, LoadMS: 1500}, {RenderMS: 1000, LoadMS: 1600}, {RenderMS: 1100, LoadMS: 1700}}},
		{
			Cell: eh, RTTMS: 70, Samples: []Sample{{RenderMS: 700, LoadMS: 1400, Bytes: 10}, {RenderMS: 800, LoadMS: 1500, Bytes: 30}, {RenderMS: 900, LoadMS: 1600, Bytes: 20}},
			downBps: 1_250_000,
		},
		{Cell: warm, RTTMS: 70, Samples: []Sample{{RenderMS: 500}}},
	}
	cells[1].manifest.CriticalBytes = 80_000
	if err := analyse(nil, cells); err != nil {
		t.Fatal(err)
	}
	c := cells[1]
	if c.Runs != 3 || c.Render.Median != 800 || c.Render.IQR != 100 || c.Bytes != 20 {
		t.Errorf("summary = runs %d render %+v bytes %v", c.Runs, c.Render, c.Bytes)
	}
	if c.Gain == nil || c.Gain.RenderMS != 200 || c.Gain.RenderPct != 20 || c.Gain.LoadMS != 100 {
		t.Fatalf("gain = %+v, want 200 ms (20 %%) render, 100 ms load", c.Gain)
	}
	// T = 300 ms, δ = 0 (an empty manifest has nothing to discover),
	// RTT + x_R = 70 + 64 = 134 ms: the bound is 134 ms, the gain 200 ms.
	if c.Bound == nil || c.Bound.BoundMS != 134 || math.Abs(c.Bound.Fraction-200.0/134) > 1e-9 {
		t.Errorf("bound = %+v, want 134 ms and fraction %.3f", c.Bound, 200.0/134)
	}
	if cells[0].Gain != nil || cells[0].Bound != nil {
		t.Error("the baseline has a gain or bound")
	}
	if cells[2].Gain != nil || cells[2].Bound != nil {
		t.Error("a warm cell without its baseline has a gain or bound")
	}
}
