package netem

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"
	"time"
)

// The "4g-varying" preset: a 4G link whose capacity varies as a cellular
// link's does, driven by mahimahi traces (testdata/4g-varying.down and
// .up). They are synthetic, written by cellularTrace in cellular_test.go
// from a documented model and seeds (TestCellularTrace_Files checks that
// the files are its output): no real cellular capture under a licence this
// project can ship was at hand (mahimahi's own traces come with its GPL-3
// sources).
//
//go:embed testdata/4g-varying.down
var varyingDown []byte

//go:embed testdata/4g-varying.up
var varyingUp []byte

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
