package netem

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// The "4g-varying" preset: a 4G link whose capacity varies as a cellular
// link's does, driven by mahimahi traces (testdata/4g-varying.down and
// .up). They are synthetic, written by CellularTrace with the seeds below
// (TestCellularTrace_Files checks that the files are its output): no
// real cellular capture under a licence this project can ship was at hand
// (mahimahi's own traces come with its GPL-3 sources).
//
//go:embed testdata/4g-varying.down
var varyingDown []byte

//go:embed testdata/4g-varying.up
var varyingUp []byte

// CellularModel parameterizes CellularTrace: a Markov-modulated rate, as
// measurements of LTE links describe them (capacity that changes every few
// tens of milliseconds around a mean, and short outages during handovers).
type CellularModel struct {
	// Mean is the mean rate in bits per second (before outages).
	Mean int64
	// Spread is the standard deviation of the log of the rate around
	// log(Mean): 0.5 lets the rate move between about a third and three
	// times the mean.
	Spread float64
	// Slot is how long the rate holds; Period the length of the trace.
	Slot, Period time.Duration
	// OutageProb is the probability that a slot starts an outage of
	// OutageMin..OutageMax with no delivery.
	OutageProb           float64
	OutageMin, OutageMax time.Duration
	Seed                 uint64
}

// Cellular models of the preset's two directions.
var (
	varyingDownModel = CellularModel{Mean: 12 * mbit, Spread: 0.5, Slot: 50 * time.Millisecond, Period: 30 * time.Second,
		OutageProb: 0.004, OutageMin: 100 * time.Millisecond, OutageMax: 400 * time.Millisecond, Seed: 4}
	varyingUpModel = CellularModel{Mean: 5 * mbit, Spread: 0.5, Slot: 50 * time.Millisecond, Period: 30 * time.Second,
		OutageProb: 0.004, OutageMin: 100 * time.Millisecond, OutageMax: 400 * time.Millisecond, Seed: 5}
)

// CellularTrace writes the mahimahi trace of m: for each millisecond, one
// line per MTU-sized packet the rate of that moment lets leave. The log of
// the rate is an AR(1) process (correlation 0.9 between slots) around
// log(Mean) with standard deviation Spread.
func CellularTrace(m CellularModel) ([]byte, error) {
	if m.Mean <= 0 || m.Slot < time.Millisecond || m.Period < m.Slot || m.Period > MaxTracePeriod || m.Spread < 0 {
		return nil, fmt.Errorf("%w: cellular model %+v: need a positive mean, a slot of at least 1 ms and a period of at most %v", ErrInvalidConfig, m, MaxTracePeriod)
	}
	rng := rand.New(rand.NewPCG(m.Seed, 0x4c5445))
	const rho = 0.9
	var b bytes.Buffer
	x := 0.0 // log(rate/Mean), stationary variance Spread²
	credit := 0.0
	outage := time.Duration(0)
	slotMS := int(m.Slot / time.Millisecond)
	for ms, end := 0, int(m.Period/time.Millisecond); ms < end; ms++ {
		if ms%slotMS == 0 {
			x = rho*x + math.Sqrt(1-rho*rho)*m.Spread*rng.NormFloat64()
			if outage <= 0 && rng.Float64() < m.OutageProb {
				outage = m.OutageMin + time.Duration(rng.Int64N(int64(m.OutageMax-m.OutageMin)+1))
			}
		}
		if outage > 0 {
			outage -= time.Millisecond
			credit = 0
			continue
		}
		// The mean of exp(x) is exp(Spread²/2): divide it out so that the
		// rate's mean is Mean.
		rate := float64(m.Mean) * math.Exp(x-m.Spread*m.Spread/2)
		credit += rate / 8 / 1000
		for ; credit >= MTU; credit -= MTU {
			b.WriteString(strconv.Itoa(ms + 1))
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

var (
	varyingOnce    sync.Once
	varyingProfile Profile
	varyingErr     error
)

// varying returns the "4g-varying" preset: 70 ms RTT, the traces' rates.
func varying() (Profile, error) {
	varyingOnce.Do(func() {
		down, err := ParseMahimahiTrace(bytes.NewReader(varyingDown))
		if err != nil {
			varyingErr = fmt.Errorf("4g-varying downlink trace: %w", err)
			return
		}
		up, err := ParseMahimahiTrace(bytes.NewReader(varyingUp))
		if err != nil {
			varyingErr = fmt.Errorf("4g-varying uplink trace: %w", err)
			return
		}
		varyingProfile = Profile{
			Name: "4g-varying",
			Up:   LinkConfig{Delay: 35 * time.Millisecond, Trace: up},
			Down: LinkConfig{Delay: 35 * time.Millisecond, Trace: down},
		}
	})
	return varyingProfile, varyingErr
}
