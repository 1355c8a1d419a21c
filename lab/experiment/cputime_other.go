//go:build !unix

package experiment

import "time"

// cpuTimes is not measured on this system.
func cpuTimes() (self, children time.Duration) { return 0, 0 }
