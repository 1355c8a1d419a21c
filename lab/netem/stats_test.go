package netem

import "math"

// withinBinomial reports whether an observed rate is within k standard
// deviations of p for n Bernoulli trials.
func withinBinomial(rate, p float64, n int, k float64) bool {
	sigma := math.Sqrt(p * (1 - p) / float64(n))
	return math.Abs(rate-p) <= k*sigma
}
