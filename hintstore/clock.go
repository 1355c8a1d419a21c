package hintstore

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseTick is the resolution of the clock Get reads by default. Hints
// live for an hour; serving one a tenth of a second past its expiry is
// harmless, and reading an atomic instead of time.Now saves most of the
// cost of a lookup (time.Now is 40-90 ns on common virtual machines).
const coarseTick = 100 * time.Millisecond

// coarseClock is a wall clock read with one atomic load, refreshed by its
// own goroutine. The goroutine references only the clock, never the store,
// so a store that is dropped without Close can still be collected (its
// cleanup halts the clock).
type coarseClock struct {
	nanos   atomic.Int64
	stopped atomic.Bool
	stop    chan struct{}
	once    sync.Once
}

func startCoarseClock() *coarseClock {
	c := &coarseClock{stop: make(chan struct{})}
	c.nanos.Store(time.Now().UnixNano())
	go c.run()
	return c
}

func (c *coarseClock) run() {
	t := time.NewTicker(coarseTick)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.nanos.Store(time.Now().UnixNano())
		}
	}
}

// now returns the time in Unix nanoseconds; after halt it reads the real
// clock, so a closed store keeps expiring hints correctly.
func (c *coarseClock) now() int64 {
	if c.stopped.Load() {
		return time.Now().UnixNano()
	}
	return c.nanos.Load()
}

func (c *coarseClock) halt() {
	c.once.Do(func() {
		c.stopped.Store(true)
		close(c.stop)
	})
}

// CoarseClock is the clock the memory store's Get reads, for the read path
// of other backends: the wall clock at a resolution of 100 ms, read with
// one atomic load. Stop it when done; after Stop, Now reads the real clock.
type CoarseClock struct{ c *coarseClock }

// StartCoarseClock starts a CoarseClock.
func StartCoarseClock() *CoarseClock { return &CoarseClock{c: startCoarseClock()} }

// Now returns the time in Unix nanoseconds.
func (c *CoarseClock) Now() int64 { return c.c.now() }

// Stop stops the clock's goroutine; it is idempotent.
func (c *CoarseClock) Stop() { c.c.halt() }
