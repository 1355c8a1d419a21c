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
		{Cell: base, RTTMS: 70, Samples: []Sample{{RenderMS: 900, LoadMS: 1500}, {Round: 1, RenderMS: 1000, LoadMS: 1600}, {Round: 2, RenderMS: 1100, LoadMS: 1700}}},
		{
			Cell: eh, RTTMS: 70, Samples: []Sample{{RenderMS: 700, LoadMS: 1400, Bytes: 10}, {Round: 1, RenderMS: 800, LoadMS: 1500, Bytes: 30}, {Round: 2, RenderMS: 900, LoadMS: 1600, Bytes: 20}},
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
	// Every pair differs by 200 ms: the interval is that point.
	if g := c.Gain; g.Pairs != 3 || g.RenderCI == nil || *g.RenderCI != (Interval{200, 200}) || g.LoadCI == nil || *g.LoadCI != (Interval{100, 100}) {
		t.Errorf("paired gain = %+v (render %+v, load %+v), want 3 pairs at 200 and 100 ms", g, g.RenderCI, g.LoadCI)
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

func TestMedianCI(t *testing.T) {
	// spread returns n values evenly spread around center (a fixed,
	// symmetric sample: no randomness in the data).
	spread := func(n int, center, width float64) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = center - width/2 + width*float64(i)/float64(max(n-1, 1))
		}
		// Not sorted, as runs come.
		for i := 0; i+1 < n; i += 2 {
			xs[i], xs[i+1] = xs[i+1], xs[i]
		}
		return xs
	}
	tests := []struct {
		name   string
		xs     []float64
		median float64
		lo, hi float64 // bounds the interval must lie within
		sign   int     // +1: the interval excludes zero above, -1 below, 0: straddles
	}{
		{name: "one value", xs: []float64{42}, median: 42, lo: 42, hi: 42, sign: 1},
		{name: "equal values", xs: []float64{7, 7, 7, 7, 7}, median: 7, lo: 7, hi: 7, sign: 1},
		{name: "clear gain", xs: spread(15, 100, 40), median: 100, lo: 80, hi: 120, sign: 1},
		{name: "clear loss", xs: spread(15, -60, 20), median: -60, lo: -70, hi: -50, sign: -1},
		{name: "no effect", xs: spread(15, 0, 100), median: 0, lo: -50, hi: 50, sign: 0},
		// An outlier moves the mean, not the median's interval.
		{name: "outlier", xs: append(spread(14, 100, 20), 5000), median: 100.76923076923077, lo: 90, hi: 110, sign: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ci := MedianCI(tt.xs)
			if math.Abs(m-tt.median) > 1e-9 {
				t.Errorf("median = %v, want %v", m, tt.median)
			}
			if ci.Lo > m || ci.Hi < m {
				t.Errorf("interval %+v does not contain the median %v", ci, m)
			}
			if ci.Lo < tt.lo || ci.Hi > tt.hi {
				t.Errorf("interval %+v outside [%v, %v]", ci, tt.lo, tt.hi)
			}
			got := 0
			switch {
			case ci.Lo > 0:
				got = 1
			case ci.Hi < 0:
				got = -1
			}
			if got != tt.sign || ci.Straddles() != (tt.sign == 0) {
				t.Errorf("interval %+v: sign %d, want %d", ci, got, tt.sign)
			}
			if _, again := MedianCI(tt.xs); again != ci {
				t.Errorf("interval not reproducible: %+v then %+v", ci, again)
			}
		})
	}
	t.Run("no values", func(t *testing.T) {
		m, ci := MedianCI(nil)
		if !math.IsNaN(m) || !math.IsNaN(ci.Lo) || !math.IsNaN(ci.Hi) {
			t.Errorf("MedianCI(nil) = %v %+v, want NaN", m, ci)
		}
	})
	t.Run("width shrinks with n", func(t *testing.T) {
		prev := math.Inf(1)
		for _, n := range []int{5, 20, 80, 320} {
			_, ci := MedianCI(spread(n, 50, 100))
			w := ci.Hi - ci.Lo
			if w >= prev {
				t.Errorf("n = %d: width %v, not narrower than %v", n, w, prev)
			}
			prev = w
		}
	})
	t.Run("level", func(t *testing.T) {
		xs := spread(30, 0, 60)
		_, wide := medianCI(xs, 0.99, BootstrapResamples)
		_, narrow := medianCI(xs, 0.5, BootstrapResamples)
		if narrow.Lo < wide.Lo || narrow.Hi > wide.Hi {
			t.Errorf("the 50 %% interval %+v is not inside the 99 %% one %+v", narrow, wide)
		}
	})
}

func TestPaired(t *testing.T) {
	mk := func(rounds []int, renders []float64) *CellResult {
		c := &CellResult{}
		for i, r := range rounds {
			c.Samples = append(c.Samples, Sample{Round: r, RenderMS: renders[i]})
		}
		return c
	}
	tests := []struct {
		name string
		a, b *CellResult
		want []float64
	}{
		{name: "every round", a: mk([]int{0, 1, 2}, []float64{10, 20, 30}), b: mk([]int{0, 1, 2}, []float64{1, 2, 3}), want: []float64{9, 18, 27}},
		// Run 1 of b failed: its partner is left out.
		{name: "a failed run", a: mk([]int{0, 1, 2}, []float64{10, 20, 30}), b: mk([]int{0, 2}, []float64{1, 3}), want: []float64{9, 27}},
		// Results of runs not interleaved: every round 0.
		{name: "not interleaved", a: mk([]int{0, 0}, []float64{10, 20}), b: mk([]int{0, 0}, []float64{1, 2}), want: nil},
		{name: "empty", a: &CellResult{}, b: mk([]int{0}, []float64{1}), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Paired(tt.a, tt.b, Render)
			if len(got) != len(tt.want) {
				t.Fatalf("Paired = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Paired = %v, want %v", got, tt.want)
				}
			}
		})
	}
}
