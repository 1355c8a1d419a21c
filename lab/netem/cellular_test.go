package netem

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var updateTraces = flag.Bool("update-traces", false, "rewrite testdata/4g-varying.* from CellularTrace")

// The preset's traces are CellularTrace's output for the documented
// models; -update-traces writes them again.
func TestCellularTrace_Files(t *testing.T) {
	for _, f := range []struct {
		name string
		m    CellularModel
	}{{"4g-varying.down", varyingDownModel}, {"4g-varying.up", varyingUpModel}} {
		want, err := CellularTrace(f.m)
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
			t.Errorf("%s is not CellularTrace's output for its model; run go test -run TestCellularTrace_Files -update-traces", path)
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
	for _, m := range []CellularModel{{}, {Mean: 1, Slot: time.Microsecond, Period: time.Second}, {Mean: 1, Slot: time.Second, Period: 2 * time.Hour}} {
		if _, err := CellularTrace(m); err == nil {
			t.Errorf("%+v: no error", m)
		}
	}
}
