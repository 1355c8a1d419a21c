package netem

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// udpFlow is one client address's conversation with Target.
type udpFlow struct {
	client netip.AddrPort
	conn   *net.UDPConn // connected to Target
	last   atomic.Int64 // unix nanoseconds of the latest datagram
}

func (f *udpFlow) touch() { f.last.Store(time.Now().UnixNano()) }

func (r *Relay) serveUDP() {
	defer r.wg.Done()
	r.wg.Add(1)
	go r.reapIdle()
	buf := make([]byte, 1<<16)
	for {
		k, from, err := r.udpLn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		f := r.flowFor(from)
		if f == nil {
			continue
		}
		f.touch()
		p := append([]byte(nil), buf[:k]...)
		r.up.send(p, k+udpOverhead, nil, 0, func(p []byte) { _, _ = f.conn.Write(p) })
	}
}

// flowFor returns the flow of a client address, opening it if there is room.
func (r *Relay) flowFor(from netip.AddrPort) *udpFlow {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.flows[from]; ok {
		return f
	}
	if r.closed {
		return nil
	}
	if len(r.flows) >= r.cfg.MaxConns {
		r.log.Warn("netem: relay dropped a datagram from a new flow; raise RelayConfig.MaxConns", "max", r.cfg.MaxConns)
		return nil
	}
	c, err := net.Dial("udp", r.cfg.Target)
	if err != nil {
		r.log.Debug("netem: relay cannot reach target", "target", r.cfg.Target, "err", err)
		return nil
	}
	f := &udpFlow{client: from, conn: c.(*net.UDPConn)}
	f.touch()
	r.flows[from] = f
	r.wg.Add(1)
	go r.readFlow(f)
	return f
}

// readFlow carries Target's answers back to the flow's client.
func (r *Relay) readFlow(f *udpFlow) {
	defer r.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		k, err := f.conn.Read(buf)
		if err != nil {
			r.mu.Lock()
			if r.flows[f.client] == f {
				delete(r.flows, f.client)
			}
			r.mu.Unlock()
			f.conn.Close()
			return
		}
		f.touch()
		p := append([]byte(nil), buf[:k]...)
		r.down.send(p, k+udpOverhead, nil, 0, func(p []byte) { _, _ = r.udpLn.WriteToUDPAddrPort(p, f.client) })
	}
}

// reapIdle closes flows that saw no datagram for IdleTimeout.
func (r *Relay) reapIdle() {
	defer r.wg.Done()
	tick := time.NewTicker(max(r.cfg.IdleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-tick.C:
			r.mu.Lock()
			for _, f := range r.flows {
				if now.Sub(time.Unix(0, f.last.Load())) > r.cfg.IdleTimeout {
					f.conn.Close() // readFlow removes it
				}
			}
			r.mu.Unlock()
		}
	}
}
