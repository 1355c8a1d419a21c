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

// Clock is a store's time source, the one both backends read. With an
// injected clock (tests) it reads that; otherwise Now reads the wall clock
// and Nanos a coarse copy of it, refreshed every 100 ms. The coarse copy's
// goroutine references only the clock, never the store. Stop it when the
// store closes.
type Clock struct {
	fn     func() time.Time // injected; nil means the real clock
	coarse *coarseClock     // nil when fn is set
}

// NewClock returns the clock of a store configured with fn; nil means the
// real clock.
func NewClock(fn func() time.Time) *Clock {
	if fn != nil {
		return &Clock{fn: fn}
	}
	return &Clock{coarse: startCoarseClock()}
}

// Nanos returns the time a lookup compares expiry with, in Unix
// nanoseconds: the coarse clock unless one was injected.
func (c *Clock) Nanos() int64 {
	if c.coarse != nil {
		return c.coarse.now()
	}
	return c.fn().UnixNano()
}

// Now returns the precise time stamped on observations and snapshots.
func (c *Clock) Now() time.Time {
	if c.fn != nil {
		return c.fn()
	}
	return time.Now()
}

// Stop stops the coarse clock's goroutine; it is idempotent. After Stop,
// Nanos reads the real clock, so a closed store keeps expiring hints.
func (c *Clock) Stop() {
	if c.coarse != nil {
		c.coarse.halt()
	}
}
