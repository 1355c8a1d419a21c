//go:build unix

package experiment

import (
	"syscall"
	"time"
)

// cpuTimes returns the CPU time (user and system) of this process, and
// that of its children that have ended and been waited for (the browser
// processes a run started and closed).
func cpuTimes() (self, children time.Duration) {
	return rusage(syscall.RUSAGE_SELF), rusage(syscall.RUSAGE_CHILDREN)
}

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
