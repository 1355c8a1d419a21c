package experiment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/earlyhints/earlyhints/lab/netem"
)

// loadTraces reads the mahimahi traces the scenario's networks name,
// relative to dir.
func (s *Scenario) loadTraces(dir string) error {
	load := func(name, file string) (*netem.Trace, error) {
		path := file
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		f, err := os.Open(path) //nolint:gosec // the scenario names its traces
		if err != nil {
			return nil, fmt.Errorf("%w: network %q: trace: %w", ErrBadScenario, name, err)
		}
		defer f.Close()
		tr, err := netem.ParseMahimahiTrace(f)
		if err != nil {
			return nil, fmt.Errorf("%w: network %q: trace %s: %w", ErrBadScenario, name, file, err)
		}
		return tr, nil
	}
	for i := range s.Networks {
		d := &s.Networks[i]
		if d.Trace != "" && d.down == nil {
			tr, err := load(d.Name, d.Trace)
			if err != nil {
				return err
			}
			d.down, d.up = tr, tr
		}
		if d.UpTrace != "" && (d.up == nil || d.up == d.down) {
			tr, err := load(d.Name, d.UpTrace)
			if err != nil {
				return err
			}
			d.up = tr
		}
	}
	return nil
}

// validateTrace checks a network's trace settings.
func (d NetworkDef) validateTrace() error {
	switch {
	case d.Trace == "" && d.UpTrace != "":
		return errors.New("up_trace without trace; name the downlink's trace with the key trace")
	case d.Trace == "":
		return nil
	case d.DownMbps != 0 || d.UpMbps != 0:
		return errors.New("a trace sets the capacity; drop down_mbps and up_mbps, or drop trace")
	case d.down == nil:
		return errors.New("trace not loaded; load the scenario with LoadScenario or ParseScenarioIn")
	}
	return nil
}
