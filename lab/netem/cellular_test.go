package netem

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// cellularModel parameterizes cellularTrace: a Markov-modulated rate, as
// measurements of LTE links describe them (capacity that changes every few
// tens of milliseconds around a mean, and short outages during handovers).
type cellularModel struct {
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

// The models of the preset's two directions.
var (
	varyingDownModel = cellularModel{
		Mean: 12 * mbit, Spread: 0.5, Slot: 50 * time.Millisecond, Period: 30 * time.Second,
		OutageProb: 0.004, OutageMin: 100 * time.Millisecond, OutageMax: 400 * time.Millisecond, Seed: 4,
	}
	varyingUpModel = cellularModel{
		Mean: 5 * mbit, Spread: 0.5, Slot: 50 * time.Millisecond, Period: 30 * time.Second,
		OutageProb: 0.004, OutageMin: 100 * time.Millisecond, OutageMax: 400 * time.Millisecond, Seed: 5,
	}
)

// cellularTrace writes the mahimahi trace of m: for each millisecond, one
// line per MTU-sized packet the rate of that moment lets leave. The log of
// the rate is an AR(1) process (correlation 0.9 between slots) around
// log(Mean) with standard deviation Spread.
func cellularTrace(m cellularModel) ([]byte, error) {
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

var updateTraces = flag.Bool("update-traces", false, "rewrite testdata/4g-varying.* from cellularTrace")

// The preset's traces are cellularTrace's output for the documented
// models; -update-traces writes them again.
func TestCellularTrace_Files(t *testing.T) {
	for _, f := range []struct {
		name string
		m    cellularModel
	}{{"4g-varying.down", varyingDownModel}, {"4g-varying.up", varyingUpModel}} {
		want, err := cellularTrace(f.m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", f.name)
		if *updateTraces {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not cellularTrace's output for its model; run go test -run TestCellularTrace_Files -update-traces", path)
		}
		tr, err := ParseMahimahiTrace(bytes.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		// The mean rate within 25 % of the model's (outages take some).
		if r := float64(tr.Rate()); r < 0.75*float64(f.m.Mean) || r > 1.1*float64(f.m.Mean) {
			t.Errorf("%s: mean rate %.1f Mbit/s, model %.1f", f.name, r/1e6, float64(f.m.Mean)/1e6)
		}
		// It varies: the busiest second carries at least twice the
		// quietest's packets.
		perSecond := map[uint32]int{}
		for _, ms := range tr.Millis {
			perSecond[(ms-1)/1000]++
		}
		lo, hi := 1<<30, 0
		for s := uint32(0); s < uint32(f.m.Period/time.Second); s++ {
			lo, hi = min(lo, perSecond[s]), max(hi, perSecond[s])
		}
		if hi < 2*lo {
			t.Errorf("%s: seconds carry %d..%d packets; want a varying rate", f.name, lo, hi)
		}
	}
}

func TestProfileByName_Varying(t *testing.T) {
	p, err := ProfileByName("4G-Varying")
	if err != nil {
		t.Fatal(err)
	}
	if p.Down.Trace == nil || p.Up.Trace == nil || p.RTT() != 70*time.Millisecond || p.Validate() != nil {
		t.Fatalf("profile %+v", p)
	}
	if r := p.Down.Rate(); r < 8e6 || r > 14e6 {
		t.Errorf("downlink rate %d", r)
	}
}

func TestCellularTrace_Invalid(t *testing.T) {
	for _, m := range []cellularModel{{}, {Mean: 1, Slot: time.Microsecond, Period: time.Second}, {Mean: 1, Slot: time.Second, Period: 2 * time.Hour}} {
		if _, err := cellularTrace(m); err == nil {
			t.Errorf("%+v: no error", m)
		}
	}
}
