package netem

import (
	"container/heap"
	"fmt"
	"runtime"
	"sync"
	"time"
)

const (
	// maxPending bounds the packets a Link holds (queued or in flight), so an
	// unlimited link with a long delay cannot grow without limit.
	maxPending = 1 << 16
	// coarseMargin: waits longer than this use a Go timer that wakes this
	// much early; the rest is slept precisely.
	coarseMargin = 2 * time.Millisecond
	// preciseChunk bounds one uninterruptible nanosleep, so Close and an
	// earlier packet (with Reorder) are noticed quickly.
	preciseChunk = 500 * time.Microsecond
)

// LinkStats counts what a Link did with the packets it was given.
type LinkStats struct {
	Sent           uint64 // packets given to Send
	Delivered      uint64 // packets handed to the output
	DroppedQueue   uint64 // dropped because the queue was full
	DroppedLoss    uint64 // dropped by the loss models
	BytesDelivered uint64
}

// pending is a packet waiting for its delivery time.
type pending struct {
	at      time.Time
	seq     uint64
	p       []byte
	deliver func([]byte)
}

type pendingHeap []pending

func (h pendingHeap) Len() int { return len(h) }
func (h pendingHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = pending{}
	*h = old[:len(old)-1]
	return x
}

// Link is one direction of an emulated link. Packets given to Send are
// handed to the output function at the time the model computes; the output
// runs on the Link's own goroutine, one packet at a time, and must not block
// for long. A Link is safe for concurrent use.
type Link struct {
	out     func([]byte)
	precise bool

	mu     sync.Mutex
	sh     *shaper
	q      pendingHeap
	seq    uint64
	stats  LinkStats
	closed bool

	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

// NewLink starts a Link that hands packets to out. Close stops it.
func NewLink(cfg LinkConfig, out func(p []byte)) (*Link, error) {
	return newLink(cfg, out, 0, true)
}

// newLink lets the package choose the random stream (so two directions with
// the same seed differ) and turn precise sleeping off (for tests on a fake
// clock, where a thread asleep in the kernel would never see time advance).
func newLink(cfg LinkConfig, out func([]byte), stream uint64, precise bool) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("%w: a Link needs an output function", ErrInvalidConfig)
	}
	l := &Link{
		out:     out,
		precise: precise,
		sh:      newShaper(cfg, time.Now(), stream),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	l.wg.Add(1)
	go l.run()
	return l, nil
}

// Send offers a packet to the link, which takes ownership of p. It reports
// whether the packet will be delivered (false: dropped by the queue or the
// loss model, or the Link is closed).
func (l *Link) Send(p []byte) bool {
	return l.send(p, len(p), nil, 0, l.out) == deliver
}

// send admits a packet counted as wire bytes, with an optional per-flow order
// and loss penalty (see shaper.admit), delivered to out.
func (l *Link) send(p []byte, wire int, order *time.Time, penalty time.Duration, out func([]byte)) verdict {
	v, _ := l.enqueue(p, wire, order, penalty, out, false)
	return v
}

// offer is send for a sender that must not lose the packet (a relay carrying
// a TCP byte stream): when the queue has no room, nothing is dropped or
// counted, the verdict is full and retry says when to offer it again. The
// room check and the enqueue happen under one lock, so senders sharing the
// Link cannot both take the last room.
func (l *Link) offer(p []byte, wire int, order *time.Time, penalty time.Duration, out func([]byte)) (v verdict, retry time.Time) {
	return l.enqueue(p, wire, order, penalty, out, true)
}

func (l *Link) enqueue(p []byte, wire int, order *time.Time, penalty time.Duration, out func([]byte), keep bool) (verdict, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if keep && !l.closed {
		switch {
		case len(l.q) >= maxPending:
			// A slot frees when the earliest packet is handed out.
			return full, l.q[0].at
		case !l.sh.fits(now, wire):
			return full, l.sh.roomAt(now, wire)
		}
	}
	l.stats.Sent++
	if l.closed || len(l.q) >= maxPending {
		l.stats.DroppedQueue++
		return dropQueue, time.Time{}
	}
	at, v := l.sh.admit(now, wire, order, penalty)
	switch v {
	case dropQueue:
		l.stats.DroppedQueue++
		return v, time.Time{}
	case dropLoss:
		l.stats.DroppedLoss++
		return v, time.Time{}
	}
	l.seq++
	heap.Push(&l.q, pending{at: at, seq: l.seq, p: p, deliver: out})
	if l.q[0].seq == l.seq {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	return deliver, time.Time{}
}

// Stats returns the counters so far.
func (l *Link) Stats() LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Close stops the Link; packets not yet delivered are discarded. It waits for
// an output call in progress to return. Close is idempotent.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	l.q = nil
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

func (l *Link) run() {
	defer l.wg.Done()
	if l.precise {
		// The thread's timer slack is per thread: keep this goroutine on one.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		preciseThread()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due []pending
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return
		}
		if len(l.q) == 0 {
			l.mu.Unlock()
			select {
			case <-l.wake:
				continue
			case <-l.done:
				return
			}
		}
		now := time.Now()
		for len(l.q) > 0 && !l.q[0].at.After(now) {
			p := heap.Pop(&l.q).(pending)
			l.stats.Delivered++
			l.stats.BytesDelivered += uint64(len(p.p))
			due = append(due, p)
		}
		var wait time.Duration
		if len(l.q) > 0 {
			wait = l.q[0].at.Sub(now)
		}
		l.mu.Unlock()
		if len(due) > 0 {
			for i, p := range due {
				p.deliver(p.p)
				due[i] = pending{}
			}
			due = due[:0]
			continue
		}
		if !l.precise || wait > coarseMargin+preciseChunk {
			if l.precise {
				wait -= coarseMargin
			}
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-l.wake:
				timer.Stop()
			case <-l.done:
				timer.Stop()
				return
			}
			continue
		}
		preciseSleep(min(wait, preciseChunk))
	}
}
