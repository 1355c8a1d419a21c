package netem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Header bytes counted on the emulated wire for each relayed segment or
// datagram (IPv4 + TCP with timestamps, IPv4 + UDP), so relay goodput is close
// to what a real link of the same bandwidth gives.
const (
	tcpOverhead = 52
	udpOverhead = 28
	// relaySegment is the payload of one emulated TCP segment (MSS with timestamps).
	relaySegment = MTU - tcpOverhead
)

// RelayConfig configures relay mode. Target is required.
type RelayConfig struct {
	// Profile shapes the link: Up from the relay's clients to Target, Down back.
	Profile Profile
	// Target is the loopback address (host:port) the relay forwards to.
	Target string
	// Network is "tcp" (default) or "udp".
	Network string
	// Listen is the address to listen on. Default "127.0.0.1:0"; it must be
	// a loopback address.
	Listen string
	// MaxConns bounds concurrent TCP connections or UDP flows; more are
	// refused. Default 256.
	MaxConns int
	// MaxInFlight bounds the bytes of one TCP connection and direction that
	// the relay holds (read but not yet written). Default 1 MiB.
	MaxInFlight int
	// IdleTimeout ends a UDP flow after this long without datagrams.
	// Default 2 minutes.
	IdleTimeout time.Duration
	// Logger receives connection notes. Default slog.Default().
	Logger *slog.Logger
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.Network == "" {
		c.Network = "tcp"
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.MaxConns == 0 {
		c.MaxConns = 256
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1 << 20
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports whether the relay can run.
func (c RelayConfig) Validate() error {
	c = c.withDefaults()
	if err := c.Profile.Validate(); err != nil {
		return err
	}
	if c.Network != "tcp" && c.Network != "udp" {
		return fmt.Errorf("%w: relay network %q; use tcp or udp", ErrInvalidConfig, c.Network)
	}
	for _, a := range []struct{ name, addr string }{{"target", c.Target}, {"listen", c.Listen}} {
		if err := checkLoopback(a.addr); err != nil {
			return fmt.Errorf("%w: relay %s: %w", ErrInvalidConfig, a.name, err)
		}
	}
	if c.MaxConns < 0 || c.MaxInFlight < 0 || c.IdleTimeout < 0 {
		return fmt.Errorf("%w: negative relay bound", ErrInvalidConfig)
	}
	return nil
}

// checkLoopback accepts host:port with a loopback IP or "localhost": relay
// mode is for traffic that never leaves the machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address; relay mode only forwards on loopback", addr)
	}
	return nil
}

// Relay is relay mode: a loopback TCP or UDP relay that applies a Profile.
// It approximates a link (see the package comment): endpoints see the delay,
// bandwidth and loss, but TCP's congestion control runs on loopback, and TCP
// loss appears as added delay.
type Relay struct {
	cfg      RelayConfig
	log      *slog.Logger
	up, down *Link
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	tcpLn net.Listener
	udpLn *net.UDPConn

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	relays int // relayed TCP connections, for MaxConns
	flows  map[netip.AddrPort]*udpFlow
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// NewRelay starts a relay listening on loopback. It runs until Close or
// until ctx ends.
func NewRelay(ctx context.Context, cfg RelayConfig) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Relay{cfg: cfg, log: cfg.Logger, conns: map[net.Conn]struct{}{}, flows: map[netip.AddrPort]*udpFlow{}}
	r.ctx, r.cancel = context.WithCancel(ctx)
	var err error
	if r.up, err = newLink(cfg.Profile.Up, func([]byte) {}, 1, true); err != nil {
		return nil, err
	}
	if r.down, err = newLink(cfg.Profile.Down, func([]byte) {}, 2, true); err != nil {
		r.up.Close()
		return nil, err
	}
	var lc net.ListenConfig
	if cfg.Network == "tcp" {
		r.tcpLn, err = lc.Listen(ctx, "tcp", cfg.Listen)
	} else {
		var pc net.PacketConn
		pc, err = lc.ListenPacket(ctx, "udp", cfg.Listen)
		if err == nil {
			r.udpLn = pc.(*net.UDPConn)
		}
	}
	if err != nil {
		r.cancel()
		return nil, errors.Join(fmt.Errorf("relay listen: %w", err), r.up.Close(), r.down.Close())
	}
	r.wg.Add(2)
	if r.tcpLn != nil {
		go r.acceptTCP()
	} else {
		go r.serveUDP()
	}
	go func() {
		defer r.wg.Done()
		<-r.ctx.Done()
		r.shutdown()
	}()
	return r, nil
}

// Addr is the address clients connect to instead of Target.
func (r *Relay) Addr() net.Addr {
	if r.tcpLn != nil {
		return r.tcpLn.Addr()
	}
	return r.udpLn.LocalAddr()
}

// Stats returns the counters of the Up and Down links.
func (r *Relay) Stats() (up, down LinkStats) { return r.up.Stats(), r.down.Stats() }

// penalty is the extra delay of a lost TCP segment: one round trip, as a
// fast retransmit would take.
func (r *Relay) penalty() time.Duration {
	return max(r.cfg.Profile.RTT(), time.Millisecond)
}

// shutdown closes listeners and connections so every goroutine ends.
func (r *Relay) shutdown() {
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	for _, f := range r.flows {
		f.conn.Close()
	}
	r.mu.Unlock()
	if r.tcpLn != nil {
		r.tcpLn.Close()
	} else {
		r.udpLn.Close()
	}
}

// Close stops the relay, closes every connection and waits for its
// goroutines. It is idempotent.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.closeErr = errors.Join(r.up.Close(), r.down.Close())
	})
	return r.closeErr
}

// admitConn counts a new client connection; false if the relay is full.
func (r *Relay) admitConn() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.relays >= r.cfg.MaxConns {
		return false
	}
	r.relays++
	return true
}

// track registers a connection for shutdown; false if the relay is closing.
func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		delete(r.conns, c)
		c.Close()
	}
}
