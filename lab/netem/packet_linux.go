package netem

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
)

// live holds every open PacketNet, for CloseAll.
var live struct {
	sync.Mutex
	nets map[*PacketNet]struct{}
}

// CloseAll closes every PacketNet of this process. It is meant for a signal
// handler: an interrupted run leaves no namespace behind.
func CloseAll() error {
	live.Lock()
	nets := make([]*PacketNet, 0, len(live.nets))
	for n := range live.nets {
		nets = append(nets, n)
	}
	live.Unlock()
	var errs []error
	for _, n := range nets {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}

// PacketNet is packet mode: a client and a server network namespace joined
// through TUN devices, with the emulator moving IP packets between them.
type PacketNet struct {
	log          *slog.Logger
	clientNS     string
	serverNS     string
	clientAddr   netip.Addr
	serverAddr   netip.Addr
	clientTUN    *os.File
	serverTUN    *os.File
	up, down     *Link
	wg           sync.WaitGroup
	closeOnce    sync.Once
	closeErr     error
	stopAfterCtx func() bool
}

// NewPacketNet creates the namespaces, devices, addresses and links, and
// starts moving packets. Everything is torn down by Close, when ctx ends, or
// right away if setup fails halfway. It needs root (ErrNeedRoot otherwise)
// and the `ip` tool from iproute2.
func NewPacketNet(ctx context.Context, cfg PacketConfig) (*PacketNet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, ErrNeedRoot
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("packet mode needs the ip tool; install iproute2: %w", err)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("random namespace suffix: %w", err)
	}
	suffix := fmt.Sprintf("%d-%x", os.Getpid(), rnd[:3])
	// A random /30 in 10.199.0.0/16. The addresses exist only inside the two
	// namespaces, so another run picking the same /30 does not collide.
	base := binary.BigEndian.Uint16(rnd[2:]) &^ 3
	n := &PacketNet{
		log:        cfg.logger(),
		clientNS:   nsPrefix + "c-" + suffix,
		serverNS:   nsPrefix + "s-" + suffix,
		clientAddr: addrIn10199(base + 1),
		serverAddr: addrIn10199(base + 2),
	}
	live.Lock()
	if live.nets == nil {
		live.nets = make(map[*PacketNet]struct{})
	}
	live.nets[n] = struct{}{}
	live.Unlock()
	if err := n.setup(ctx, cfg); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	n.stopAfterCtx = context.AfterFunc(ctx, func() { _ = n.Close() })
	n.log.Debug("netem: packet mode up", "client", n.clientNS, "server", n.serverNS, "profile", cfg.Profile.Name)
	return n, nil
}

func (n *PacketNet) setup(ctx context.Context, cfg PacketConfig) error {
	for _, side := range []struct {
		ns   string
		addr netip.Addr
		tun  **os.File
	}{{n.clientNS, n.clientAddr, &n.clientTUN}, {n.serverNS, n.serverAddr, &n.serverTUN}} {
		if err := ipCmd(ctx, "netns", "add", side.ns); err != nil {
			return fmt.Errorf("create network namespace: %w", err)
		}
		err := inNamespace(side.ns, func() error {
			f, err := openTUN(tunName)
			*side.tun = f
			return err
		})
		if err != nil {
			return err
		}
		prefix := netip.PrefixFrom(side.addr, 30).String()
		for _, args := range [][]string{
			{"-n", side.ns, "link", "set", "lo", "up"},
			{"-n", side.ns, "link", "set", tunName, "mtu", fmt.Sprint(MTU)},
			{"-n", side.ns, "addr", "add", prefix, "dev", tunName},
			{"-n", side.ns, "link", "set", tunName, "up"},
		} {
			if err := ipCmd(ctx, args...); err != nil {
				return fmt.Errorf("configure namespace %s: %w", side.ns, err)
			}
		}
	}
	serverTUN, clientTUN := n.serverTUN, n.clientTUN
	var err error
	n.up, err = newLink(cfg.Profile.Up, func(p []byte) { n.write(serverTUN, p) }, 1, true)
	if err != nil {
		return err
	}
	n.down, err = newLink(cfg.Profile.Down, func(p []byte) { n.write(clientTUN, p) }, 2, true)
	if err != nil {
		return err
	}
	n.wg.Add(2)
	go n.pump(clientTUN, n.up)
	go n.pump(serverTUN, n.down)
	return nil
}

// pump reads IP packets the kernel routes out of one TUN into a Link.
func (n *PacketNet) pump(tun *os.File, l *Link) {
	defer n.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		k, err := tun.Read(buf)
		if err != nil {
			return
		}
		l.Send(append([]byte(nil), buf[:k]...))
	}
}

func (n *PacketNet) write(tun *os.File, p []byte) {
	if _, err := tun.Write(p); err != nil {
		n.log.Debug("netem: TUN write failed", "err", err)
	}
}

// ClientAddr is the client's address, reachable only from the server namespace.
func (n *PacketNet) ClientAddr() netip.Addr { return n.clientAddr }

// ServerAddr is the server's address, reachable only from the client namespace.
func (n *PacketNet) ServerAddr() netip.Addr { return n.serverAddr }

// Namespace returns the name of a side's network namespace, for `ip netns
// exec` and the like.
func (n *PacketNet) Namespace(s Side) string {
	if s == Server {
		return n.serverNS
	}
	return n.clientNS
}

// Stats returns the counters of the Up and Down links.
func (n *PacketNet) Stats() (up, down LinkStats) { return n.up.Stats(), n.down.Stats() }

// RunIn runs fn on a thread inside a side's namespace: sockets fn creates
// itself belong there and stay there. Goroutines fn starts do not run inside.
func (n *PacketNet) RunIn(s Side, fn func() error) error { return inNamespace(n.Namespace(s), fn) }

// RunInServer runs fn inside the server namespace (see RunIn).
func (n *PacketNet) RunInServer(fn func() error) error { return n.RunIn(Server, fn) }

// RunInClient runs fn inside the client namespace (see RunIn).
func (n *PacketNet) RunInClient(fn func() error) error { return n.RunIn(Client, fn) }

// ListenTCP listens in the server namespace; an empty address means the
// server address on a free port.
func (n *PacketNet) ListenTCP(addr string) (net.Listener, error) {
	if addr == "" {
		addr = netip.AddrPortFrom(n.serverAddr, 0).String()
	}
	var ln net.Listener
	err := n.RunInServer(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// ListenUDP opens a UDP socket in the server namespace; an empty address means
// the server address on a free port.
func (n *PacketNet) ListenUDP(addr string) (*net.UDPConn, error) {
	return n.listenUDP(Server, addr, n.serverAddr)
}

// ListenClientUDP opens a UDP socket in the client namespace (for a QUIC
// client); an empty address means the client address on a free port.
func (n *PacketNet) ListenClientUDP(addr string) (*net.UDPConn, error) {
	return n.listenUDP(Client, addr, n.clientAddr)
}

func (n *PacketNet) listenUDP(s Side, addr string, def netip.Addr) (*net.UDPConn, error) {
	if addr == "" {
		addr = netip.AddrPortFrom(def, 0).String()
	}
	var c *net.UDPConn
	err := n.RunIn(s, func() error {
		pc, err := net.ListenPacket("udp", addr)
		if err == nil {
			c = pc.(*net.UDPConn)
		}
		return err
	})
	return c, err
}

// DialContext dials from the client namespace; it fits
// http.Transport.DialContext.
func (n *PacketNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := n.RunInClient(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Command returns a command that runs inside a side's namespace via
// `ip netns exec`.
func (n *PacketNet) Command(ctx context.Context, s Side, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Namespace(s), name}, args...)...) //nolint:gosec // running the caller's command is the point
}

// addrIn10199 is the address 10.199.0.0/16 + host.
func addrIn10199(host uint16) netip.Addr {
	a := [4]byte{10, 199}
	binary.BigEndian.PutUint16(a[2:], host)
	return netip.AddrFrom4(a)
}

// Close stops the emulator and removes the namespaces and devices. It is
// idempotent and safe to call from any goroutine, including a signal handler's.
func (n *PacketNet) Close() error {
	n.closeOnce.Do(func() {
		if n.stopAfterCtx != nil {
			n.stopAfterCtx()
		}
		var errs []error
		// Closing a TUN file removes its device and ends its pump.
		for _, f := range []*os.File{n.clientTUN, n.serverTUN} {
			if f != nil {
				errs = append(errs, f.Close())
			}
		}
		n.wg.Wait()
		for _, l := range []*Link{n.up, n.down} {
			if l != nil {
				errs = append(errs, l.Close())
			}
		}
		// A fresh context: teardown must run even when the caller's ended.
		for _, ns := range []string{n.clientNS, n.serverNS} {
			if _, err := os.Stat(netnsDir + "/" + ns); err == nil {
				errs = append(errs, ipCmd(context.Background(), "netns", "del", ns))
			}
		}
		live.Lock()
		delete(live.nets, n)
		live.Unlock()
		n.closeErr = errors.Join(errs...)
		if n.closeErr != nil {
			n.log.Warn("netem: teardown incomplete; run SweepStale or `ip netns del` by hand", "client", n.clientNS, "server", n.serverNS, "err", n.closeErr)
		}
	})
	return n.closeErr
}
