package experiment

import (
	"math"
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
