package experiment

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Quantile returns the q-quantile (0..1) of xs by linear interpolation
// between order statistics (Hyndman and Fan's type 7, the default of R and
// NumPy). It returns NaN for no values.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return sortedQuantile(s, q)
}

// sortedQuantile is Quantile of values already sorted (at least one).
func sortedQuantile(s []float64, q float64) float64 {
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// Median returns the middle value of xs (the mean of the two middle ones
// for an even count), NaN for no values.
func Median(xs []float64) float64 { return Quantile(xs, 0.5) }

// IQR returns the interquartile range of xs, Q3 − Q1.
func IQR(xs []float64) float64 { return Quantile(xs, 0.75) - Quantile(xs, 0.25) }

// BoundInputs are the terms of the analytic bound on Early Hints' saving.
type BoundInputs struct {
	// Think is the server think time T.
	Think time.Duration
	// Delta is δ, the discovery delay of the critical resources inside the
	// HTML, counted from the document's first byte.
	Delta time.Duration
	// RTT is the network's round-trip time.
	RTT time.Duration
	// CriticalBytes is the size of the resources Early Hints announces.
	CriticalBytes int
	// BytesPerSecond is the downlink rate; 0 or less means unlimited.
	BytesPerSecond float64
}

// CriticalTransfer is x_R: the time to move the critical bytes.
func (b BoundInputs) CriticalTransfer() time.Duration {
	if b.BytesPerSecond <= 0 {
		return 0
	}
	return time.Duration(float64(b.CriticalBytes) / b.BytesPerSecond * float64(time.Second))
}

// Bound returns min(T + δ, RTT + x_R): hints sent at the request's arrival
// can start the critical fetches at most T + δ earlier than the HTML
// would, and cannot save more than the round trip and the transfer those
// fetches cost.
func (b BoundInputs) Bound() time.Duration {
	return min(b.Think+b.Delta, b.RTT+b.CriticalTransfer())
}

// ms converts a duration to float milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Interval is a confidence interval, Lo ≤ Hi.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Straddles reports whether the interval holds both signs around zero
// (or touches zero), so the sign of what it bounds is not known.
func (iv Interval) Straddles() bool { return iv.Lo <= 0 && iv.Hi >= 0 }

// The bootstrap's settings: a 95 % interval from 2000 resamples, drawn
// from a PCG generator with a fixed seed so the same runs give the same
// report.
const (
	BootstrapLevel     = 0.95
	BootstrapResamples = 2000
	bootstrapSeed1     = 0x9e3779b97f4a7c15
	bootstrapSeed2     = 0x0123456789abcdef
)

// MedianCI returns the median of xs and its percentile bootstrap
// confidence interval at BootstrapLevel: xs is resampled with replacement
// BootstrapResamples times, and the interval is the central quantiles of
// the resamples' medians. The seed is fixed, so the interval is a function
// of xs alone. For no values the median and interval are NaN; for one
// value the interval is that value (a point, which says nothing about the
// spread: callers that judge need more runs).
func MedianCI(xs []float64) (float64, Interval) {
	return medianCI(xs, BootstrapLevel, BootstrapResamples)
}

func medianCI(xs []float64, level float64, resamples int) (float64, Interval) {
	n := len(xs)
	switch n {
	case 0:
		return math.NaN(), Interval{math.NaN(), math.NaN()}
	case 1:
		return xs[0], Interval{xs[0], xs[0]}
	}
	rng := rand.New(rand.NewPCG(bootstrapSeed1, bootstrapSeed2)) //nolint:gosec // a reproducible resampling, not a secret
	medians := make([]float64, resamples)
	sample := make([]float64, n)
	for r := range medians {
		for i := range sample {
			sample[i] = xs[rng.IntN(n)]
		}
		slices.Sort(sample)
		medians[r] = sortedQuantile(sample, 0.5)
	}
	slices.Sort(medians)
	tail := (1 - level) / 2
	return Median(xs), Interval{sortedQuantile(medians, tail), sortedQuantile(medians, 1-tail)}
}
