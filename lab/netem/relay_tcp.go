package netem

import (
	"context"
	"io"
	"net"
	"sync"
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
// The Link's queue never drops here: the reader waits for room instead, and
// in-flight bytes are bounded per direction by MaxInFlight.
func (r *Relay) pipeTCP(src, dst net.Conn, l *Link) {
	out := newSegmentWriter(dst, r.cfg.MaxInFlight)
	defer out.stop()
	var order time.Time // per-connection order: one flow's loss does not hold up another
	buf := make([]byte, 32<<10)
	for {
		k, rerr := src.Read(buf)
		for off := 0; off < k; {
			seg := append([]byte(nil), buf[off:min(k, off+relaySegment)]...)
			off += len(seg)
			wire := len(seg) + tcpOverhead
			if !out.acquire(r.ctx, len(seg)) || !r.waitRoom(l, wire) {
				return
			}
			if l.send(seg, wire, &order, r.penalty(), out.push) != deliver {
				return // the Link is closed
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				// The FIN travels the link too, after the data.
				fin := func([]byte) { out.push(nil) }
				if l.send(nil, tcpOverhead, &order, r.penalty(), fin) == deliver {
					out.waitDone(r.ctx)
				}
			} else {
				dst.Close() // reset the other side's read; ends its pipe too
			}
			return
		}
	}
}

// waitRoom blocks until the Link's queue can take wire bytes.
func (r *Relay) waitRoom(l *Link, wire int) bool {
	for {
		d := time.Until(l.roomAt(wire))
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
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

// waitDone waits until the writer has written everything, including the FIN.
func (w *segmentWriter) waitDone(ctx context.Context) {
	select {
	case <-w.done:
	case <-ctx.Done():
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
				_ = cw.CloseWrite()
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
