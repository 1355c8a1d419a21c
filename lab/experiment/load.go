package experiment

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// DefaultBusyLoad is the default of Options.BusyLoad: a run taken while the
// machine's 1-minute load average exceeded one runnable task per CPU is
// flagged as busy. The lab's own processes (its server, relays and
// browsers) count towards the load average too, so their share, their CPU
// time per second of the run, is taken off before the comparison.
const DefaultBusyLoad = 1.0

// Defaults of the busy-run retries.
const (
	// DefaultBusyRetries is how many times a busy run is measured again,
	// at most, before it is kept flagged.
	DefaultBusyRetries = 2
	// busyShareLimit is the share of the runs thrown away as busy above
	// which a report says the machine was busy even though the runs kept
	// were not: the retries may have picked the quiet moments.
	busyShareLimit = 0.1
)

// LoadReader returns the machine's 1-minute load average.
type LoadReader func() (float64, error)

// ReadLoadavg reads the 1-minute load average from /proc/loadavg (Linux).
func ReadLoadavg() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, fmt.Errorf("experiment: read the load average: %w (busy runs are not flagged on this system)", err)
	}
	return ParseLoadavg(string(b))
}

// ParseLoadavg parses the text of /proc/loadavg ("0.52 0.58 0.59 1/467
// 12345") and returns its first field, the 1-minute load average.
func ParseLoadavg(s string) (float64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, errors.New("experiment: empty load average")
	}
	x, err := strconv.ParseFloat(f[0], 64)
	if err != nil || x < 0 || x != x || x > 1e9 {
		return 0, fmt.Errorf("experiment: load average %q is not a non-negative number", f[0])
	}
	return x, nil
}

// LoadSummary is how busy the machine was while a scenario was measured.
type LoadSummary struct {
	// CPUs is the number of CPUs the lab could use; BusyLoad the load per
	// CPU above which a run was busy (0: not checked).
	CPUs     int     `json:"cpus"`
	BusyLoad float64 `json:"busy_load"`
	// Runs counts the kept runs with a load reading; Load1Median and
	// Load1Max are their 1-minute load averages.
	Runs        int     `json:"runs"`
	Load1Median float64 `json:"load1_median"`
	Load1Max    float64 `json:"load1_max"`
	// OthersMax is the most the load less the lab's own share reached: the
	// load of everything else on the machine.
	OthersMax float64 `json:"others_load_max"`
	// CPUMSMedian is the lab process's own CPU time per run (median), and
	// ChildCPUMSMedian that of the browser processes that ended in it.
	CPUMSMedian      float64 `json:"cpu_ms_median"`
	ChildCPUMSMedian float64 `json:"child_cpu_ms_median"`
	// Kept counts the busy runs kept (flagged: their retries were busy too,
	// or the time allowed for retries had run out); Retried the runs
	// measured again because they were busy; Dropped the busy measurements
	// thrown away for a retry.
	Kept    int `json:"busy_kept"`
	Retried int `json:"busy_retried"`
	Dropped int `json:"busy_dropped"`
}

// LoadSummary sums up the load readings of the runs of r.
func (r *Results) LoadSummary() LoadSummary {
	ls := LoadSummary{CPUs: r.CPUs, BusyLoad: r.BusyLoad}
	var load, others, cpu, child []float64
	for _, c := range r.Cells {
		ls.Dropped += c.BusyDropped
		for _, x := range c.Samples {
			if x.Busy {
				ls.Kept++
			}
			if x.Retries > 0 {
				ls.Retried++
			}
			if x.Load1 > 0 {
				load = append(load, x.Load1)
				others = append(others, max(x.Load1-x.OwnLoad, 0))
			}
			cpu = append(cpu, x.CPUMS)
			child = append(child, x.ChildCPUMS)
		}
	}
	ls.Runs = len(load)
	if len(load) > 0 {
		ls.Load1Median, ls.Load1Max = Median(load), slices.Max(load)
		ls.OthersMax = slices.Max(others)
	}
	if len(cpu) > 0 {
		ls.CPUMSMedian, ls.ChildCPUMSMedian = Median(cpu), Median(child)
	}
	return ls
}

// Busy says whether the measurements were taken on a machine busier than
// the threshold, and why: a kept run was busy, or so many were thrown away
// as busy that the retries may have picked the quiet moments.
func (ls LoadSummary) Busy() (bool, string) {
	if ls.BusyLoad <= 0 || ls.CPUs <= 0 {
		return false, ""
	}
	limit := ls.BusyLoad * float64(ls.CPUs)
	switch {
	case ls.OthersMax > limit:
		return true, fmt.Sprintf("the 1-minute load average reached %.1f on %d CPUs, %.1f of it not the lab's (busy above %.1f); %d busy runs kept", ls.Load1Max, ls.CPUs, ls.OthersMax, limit, ls.Kept)
	case ls.Runs > 0 && float64(ls.Dropped) > busyShareLimit*float64(ls.Runs):
		return true, fmt.Sprintf("%d busy measurements were thrown away and measured again (%.0f %% of the %d runs kept)", ls.Dropped, 100*float64(ls.Dropped)/float64(ls.Runs), ls.Runs)
	}
	return false, ""
}

// String is the load in one line, for the top of a report.
func (ls LoadSummary) String() string {
	if ls.Runs == 0 {
		return "no load readings"
	}
	s := fmt.Sprintf("1-minute load average over the runs: median %.2f, max %.2f on %d CPUs (at most %.2f of it not the lab's)", ls.Load1Median, ls.Load1Max, ls.CPUs, ls.OthersMax)
	if ls.BusyLoad > 0 {
		s += fmt.Sprintf(" (busy above %.2f per CPU); busy runs: %d kept flagged, %d measured again, %d measurements dropped", ls.BusyLoad, ls.Kept, ls.Retried, ls.Dropped)
	}
	return s + fmt.Sprintf("; the lab's own CPU per run: %.0f ms, its browsers' %.0f ms (medians)", ls.CPUMSMedian, ls.ChildCPUMSMedian)
}
