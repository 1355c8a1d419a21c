package netem

import (
	"time"

	"golang.org/x/sys/unix"
)

// preciseThread lowers the timer slack of the calling (locked) thread from the
// default 50 µs to 1 µs, so nanosleep wakes within a few tens of microseconds.
func preciseThread() {
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1000, 0, 0, 0)
}

// preciseSleep blocks the thread in nanosleep: Go's timers round waits below a
// millisecond up to about a millisecond, too coarse for a 1 ms RTT budget.
func preciseSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_ = unix.Nanosleep(&ts, nil)
}
