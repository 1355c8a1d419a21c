// Package logbuf is a buffered, non-blocking io.Writer for the access log:
// a request appends its line to memory and never waits for the disk, pipe or
// terminal behind the log. A background goroutine writes the lines out in
// big writes, every Interval or as soon as the buffer is half full. When the
// output falls so far behind that the buffer is full, lines are dropped and
// counted rather than slowing requests down.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultSize     = 256 << 10
	DefaultInterval = 100 * time.Millisecond
)

// Config sets up a Writer; its zero value works.
type Config struct {
	// Size is how many bytes may wait in memory; 0 means DefaultSize. Lines
	// beyond it are dropped until the next write-out.
	Size int
	// Interval is the longest a line waits before it is written out; 0
	// means DefaultInterval.
	Interval time.Duration
	// OnDrop, when set, is called from the writing goroutine with the number
	// of lines dropped since the last call, after a write-out.
	OnDrop func(lines int)
}

// Writer buffers whole writes (one per log record, as slog's handlers make
// them) and writes them to its output in order. It is safe for concurrent
// use.
type Writer struct {
	out      io.Writer
	size     int
	interval time.Duration
	onDrop   func(int)

	mu      sync.Mutex
	buf     []byte
	dropped int
	closed  bool
	err     error // the first error of the output

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// New starts a Writer over out. Close flushes it and stops its goroutine.
func New(out io.Writer, cfg Config) *Writer {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	w := &Writer{
		out: out, size: cfg.Size, interval: cfg.Interval, onDrop: cfg.OnDrop,
		buf:  make([]byte, 0, cfg.Size),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go w.run()
	return w
}

// Write appends p whole, or drops it whole when the buffer has no room; it
// never blocks on the output and always reports len(p). After Close it
// writes to the output directly.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.size {
		w.dropped++
		w.mu.Unlock()
		w.signal()
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	half := len(w.buf) >= w.size/2
	w.mu.Unlock()
	if half {
		w.signal()
	}
	return len(p), nil
}

func (w *Writer) signal() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	spare := make([]byte, 0, w.size)
	for {
		select {
		case <-t.C:
		case <-w.kick:
		case <-w.stop:
			w.flush(spare)
			return
		}
		spare = w.flush(spare)
	}
}

// flush swaps the filled buffer for spare, writes it out and returns it
// emptied, to be the next spare.
func (w *Writer) flush(spare []byte) []byte {
	w.mu.Lock()
	full := w.buf
	w.buf = spare[:0]
	dropped := w.dropped
	w.dropped = 0
	w.mu.Unlock()
	if len(full) > 0 {
		if _, err := w.out.Write(full); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
	}
	if dropped > 0 && w.onDrop != nil {
		w.onDrop(dropped)
	}
	return full[:0]
}

// Close writes out what is buffered, stops the goroutine and returns the
// first error the output gave, if any. Later writes go straight to the
// output. Close is idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.err
}
