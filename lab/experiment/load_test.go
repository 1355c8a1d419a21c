package experiment

import (
	"strings"
	"testing"
)

func TestParseLoadavg(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		err  string
	}{
		{in: "0.52 0.58 0.59 1/467 12345\n", want: 0.52},
		{in: "31.07 40.2 44.0 9/900 1", want: 31.07},
		{in: "7", want: 7},
		{in: "", err: "empty"},
		{in: "   \n", err: "empty"},
		{in: "-1 0 0", err: "not a non-negative number"},
		{in: "NaN 0 0", err: "not a non-negative number"},
		{in: "high 0 0", err: "not a non-negative number"},
	}
	for _, tt := range tests {
		got, err := ParseLoadavg(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseLoadavg(%q) error = %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseLoadavg(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseLoadavg(f *testing.F) {
	for _, s := range []string{"0.52 0.58 0.59 1/467 12345\n", "", "1e308", "-0", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := ParseLoadavg(s)
		if err == nil && (x < 0 || x != x || x > 1e9) {
			t.Fatalf("ParseLoadavg(%q) = %v without an error", s, x)
		}
	})
}

func TestLoadSummary_Busy(t *testing.T) {
	tests := []struct {
		name string
		ls   LoadSummary
		busy bool
		why  string
	}{
		{name: "quiet", ls: LoadSummary{CPUs: 2, BusyLoad: 1, Runs: 20, Load1Max: 1.9}},
		{name: "a busy run kept", ls: LoadSummary{CPUs: 2, BusyLoad: 1, Runs: 20, Load1Max: 30, OthersMax: 29, Kept: 3}, busy: true, why: "reached 30.0 on 2 CPUs, 29.0 of it not the lab's"},
		{name: "the lab's own load", ls: LoadSummary{CPUs: 2, BusyLoad: 1, Runs: 20, Load1Max: 2.8, OthersMax: 0.9}},
		{name: "many dropped", ls: LoadSummary{CPUs: 2, BusyLoad: 1, Runs: 20, Load1Max: 1.5, Dropped: 3}, busy: true, why: "3 busy measurements"},
		{name: "few dropped", ls: LoadSummary{CPUs: 2, BusyLoad: 1, Runs: 20, Load1Max: 1.5, Dropped: 2}},
		{name: "not judged", ls: LoadSummary{CPUs: 2, Runs: 20, Load1Max: 40}},
		{name: "old results", ls: LoadSummary{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			busy, why := tt.ls.Busy()
			if busy != tt.busy || !strings.Contains(why, tt.why) {
				t.Errorf("Busy() = %v %q, want %v %q", busy, why, tt.busy, tt.why)
			}
		})
	}
}

func TestBusyState_isBusy(t *testing.T) {
	tests := []struct {
		name       string
		own, load1 float64
		busy       bool
	}{
		{"quiet", 0, 1.5, false},
		{"others over the CPUs", 0, 2.5, true},
		{"the lab's own browsers", 1.2, 2.8, false},
		{"others beside the lab", 1.2, 3.5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := busyState{opts: Options{BusyLoad: 1, CPUs: 2}, own: tt.own}
			if got := b.isBusy(tt.load1); got != tt.busy {
				t.Errorf("isBusy(%v) with the lab's own %v = %v, want %v", tt.load1, tt.own, got, tt.busy)
			}
		})
	}
}
