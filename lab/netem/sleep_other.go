//go:build !linux

package netem

import "time"

func preciseThread() {}

func preciseSleep(d time.Duration) { time.Sleep(d) }
