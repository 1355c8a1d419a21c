package netem

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

func (r *Relay) acceptTCP() {
	defer r.wg.Done()
	for {
		c, err := r.tcpLn.Accept()
		if err != nil {
			return
		}
		if !r.admitConn() {
			r.log.Warn("netem: relay refused a connection; raise RelayConfig.MaxConns", "max", r.cfg.MaxConns)
			c.Close()
			continue
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Add(1)
		go r.serveTCP(c)
	}
}

func (r *Relay) serveTCP(client net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		r.relays--
		r.mu.Unlock()
	}()
	var d net.Dialer
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	server, err := d.DialContext(ctx, "tcp", r.cfg.Target)
	cancel()
	if err != nil || !r.track(server) {
		r.log.Debug("netem: relay cannot reach target", "target", r.cfg.Target, "err", err)
		if server != nil {
			server.Close()
		}
		r.untrack(client)
		return
	}
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); r.pipeTCP(client, server, r.up) }()
	go func() { defer both.Done(); r.pipeTCP(server, client, r.down) }()
	both.Wait()
	r.untrack(client, server)
}

// pipeTCP moves one direction of a connection through a Link in segments.
// The relay terminates TCP, so it must never lose a byte of the stream: the
// reader waits for room in the Link's queue instead of dropping, and
// in-flight bytes are bounded per direction by MaxInFlight. A direction that
// ends any other way than a delivered FIN closes both connections, so each
// peer sees the end (EOF or reset) instead of waiting for bytes that will
// never come, and the opposite direction's pipe ends too.
func (r *Relay) pipeTCP(src, dst net.Conn, l *Link) {
	out := newSegmentWriter(dst, r.cfg.MaxInFlight)
	defer out.stop()
	clean := false
	defer func() {
		if !clean {
			src.Close()
			dst.Close()
		}
	}()
	var order time.Time // per-connection order: one flow's loss does not hold up another
	buf := make([]byte, 32<<10)
	for {
		k, rerr := src.Read(buf)
		for off := 0; off < k; {
			seg := append([]byte(nil), buf[off:min(k, off+relaySegment)]...)
			off += len(seg)
			if !out.acquire(r.ctx, len(seg)) || !r.sendSegment(l, seg, len(seg)+tcpOverhead, &order, out.push) {
				return
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				// The FIN travels the link too, after the data.
				fin := func([]byte) { out.push(nil) }
				clean = r.sendSegment(l, nil, tcpOverhead, &order, fin) && out.waitDone(r.ctx)
			}
			return
		}
	}
}

// sendSegment hands a segment to the Link, waiting while its queue is full;
// false if the Link is closed or the relay is stopping.
func (r *Relay) sendSegment(l *Link, seg []byte, wire int, order *time.Time, out func([]byte)) bool {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		v, retry := l.offer(seg, wire, order, r.penalty(), out)
		switch v {
		case deliver:
			return true
		case full:
		default:
			return false // the Link is closed
		}
		// The retry time can already have passed when the Link has not yet
		// handed out a due packet; wait a little rather than spin.
		d := max(time.Until(retry), 50*time.Microsecond)
		if t == nil {
			t = time.NewTimer(d)
		} else {
			t.Reset(d)
		}
		select {
		case <-t.C:
		case <-r.ctx.Done():
			return false
		}
	}
}

// segmentWriter writes delivered segments to a connection on its own
// goroutine, so a slow reader never stalls the Link shared by all
// connections; a nil segment means end of stream (half-close).
type segmentWriter struct {
	dst   net.Conn
	limit int

	mu       sync.Mutex
	cond     *sync.Cond
	queue    [][]byte
	inFlight int
	stopped  bool
	done     chan struct{}
	finished atomic.Bool // the FIN was written after all the data
}

func newSegmentWriter(dst net.Conn, limit int) *segmentWriter {
	w := &segmentWriter{dst: dst, limit: limit, done: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// acquire reserves n bytes of in-flight budget, waiting while the budget is
// spent; false if the writer stopped or ctx ended.
func (w *segmentWriter) acquire(ctx context.Context, n int) bool {
	stopWake := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.stopped = true
		w.mu.Unlock()
		w.cond.Broadcast()
	})
	defer stopWake()
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.stopped && w.inFlight > 0 && w.inFlight+n > w.limit {
		w.cond.Wait()
	}
	if w.stopped {
		return false
	}
	w.inFlight += n
	return true
}

// push queues a delivered segment; it never blocks (it runs on the Link).
func (w *segmentWriter) push(p []byte) {
	w.mu.Lock()
	w.queue = append(w.queue, p)
	w.mu.Unlock()
	w.cond.Broadcast()
}

func (w *segmentWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	w.cond.Broadcast()
}

// waitDone waits until the writer has written everything, including the
// FIN; false if a write failed or ctx ended first.
func (w *segmentWriter) waitDone(ctx context.Context) bool {
	select {
	case <-w.done:
		return w.finished.Load()
	case <-ctx.Done():
		return false
	}
}

func (w *segmentWriter) run() {
	defer close(w.done)
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.stopped {
			w.cond.Wait()
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		p := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()
		if p == nil {
			if cw, ok := w.dst.(interface{ CloseWrite() error }); ok {
				w.finished.Store(cw.CloseWrite() == nil)
			}
			return
		}
		_, err := w.dst.Write(p)
		w.mu.Lock()
		w.inFlight -= len(p)
		if err != nil {
			w.stopped = true
		}
		w.mu.Unlock()
		w.cond.Broadcast()
		if err != nil {
			return
		}
	}
}
