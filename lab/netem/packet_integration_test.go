//go:build integration && linux

package netem

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// needRoot skips without root, except under CI where packet mode must run.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("packet mode tests need root under CI=true")
		}
		t.Skip("packet mode needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("packet mode tests need the ip tool (iproute2) under CI=true")
		}
		t.Skip("packet mode needs the ip tool")
	}
}

func ehlabNamespaces(t testing.TB, n *PacketNet) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(line, " ")
		if name == n.clientNS || name == n.serverNS {
			found = append(found, name)
		}
	}
	return found
}

func newTestPacketNet(t testing.TB, p Profile) *PacketNet {
	t.Helper()
	needRoot(t)
	n, err := NewPacketNet(t.Context(), PacketConfig{Profile: p})
	if err != nil {
		t.Fatalf("NewPacketNet: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if left := ehlabNamespaces(t, n); len(left) > 0 {
			t.Errorf("namespaces left after Close: %v", left)
		}
	})
	return n
}

// udpEcho serves echoes in the server namespace until the test ends.
func udpEcho(t testing.TB, n *PacketNet) *net.UDPConn {
	t.Helper()
	srv, err := n.ListenUDP("")
	if err != nil {
		t.Fatalf("ListenUDP: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDPAddrPort(buf[:k], from)
		}
	}()
	return srv
}

func TestPacketNet_RTT(t *testing.T) {
	p := Profile{
		Name: "rtt",
		Up:   LinkConfig{Delay: 10 * time.Millisecond},
		Down: LinkConfig{Delay: 15 * time.Millisecond},
	}
	n := newTestPacketNet(t, p)
	srv := udpEcho(t, n)
	cl, err := n.ListenClientUDP("")
	if err != nil {
		t.Fatalf("ListenClientUDP: %v", err)
	}
	defer cl.Close()
	to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	rtts := packetPings(t, cl, to, 5)
	t.Logf("UDP RTT min %v max %v (setting %v)", rtts[0], rtts[len(rtts)-1], p.RTT())
	// No round trip beats the emulated delays (a loaded machine only adds
	// to them); how close they come is BenchmarkPacketNet_RTT's figure.
	if rtts[0] < p.RTT() {
		t.Errorf("fastest round trip %v, below the link's %v", rtts[0], p.RTT())
	}
}

// packetPings sends n pings from cl to the echo at to, one at a time, and
// returns the round trips sorted.
func packetPings(tb testing.TB, cl *net.UDPConn, to netip.AddrPort, n int) []time.Duration {
	tb.Helper()
	var rtts []time.Duration
	buf := make([]byte, 2048)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := cl.WriteToUDPAddrPort([]byte("ping"), to); err != nil {
			tb.Fatal(err)
		}
		_ = cl.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := cl.ReadFromUDPAddrPort(buf); err != nil {
			tb.Fatalf("ping %d: %v", i, err)
		}
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	return rtts
}

// TestPacketNet_TCPShaped downloads a payload through a 10 Mbit/s link:
// it arrives intact, and never sooner than the link can carry it (a lower
// bound a loaded machine cannot break). The rate itself is
// BenchmarkPacketNet_TCPThroughput's figure.
func TestPacketNet_TCPShaped(t *testing.T) {
	const bw, size = 10_000_000, 512 << 10
	p := Profile{
		Name: "bulk",
		Up:   LinkConfig{Delay: 10 * time.Millisecond, Bandwidth: 100_000_000},
		Down: LinkConfig{Delay: 10 * time.Millisecond, Bandwidth: bw},
	}
	n := newTestPacketNet(t, p)
	ln, err := n.ListenTCP("")
	if err != nil {
		t.Fatalf("ListenTCP: %v", err)
	}
	defer ln.Close()
	payload := bulkPayload(7, size)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write(payload)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := n.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	elapsed := time.Since(start)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("download: %d of %d bytes, intact %v, err %v", len(got), size, bytes.Equal(got, payload), err)
	}
	if floor := time.Duration(size * 8 * int64(time.Second) / bw); elapsed < floor {
		t.Errorf("%d bytes in %v, sooner than %d bit/s allows (%v)", size, elapsed, bw, floor)
	}
}

func TestPacketNet_Loss(t *testing.T) {
	const loss = 0.1
	p := Profile{Name: "loss", Up: LinkConfig{Loss: loss, Seed: 7}}
	n := newTestPacketNet(t, p)
	srv, err := n.ListenUDP("")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cl, err := n.ListenClientUDP("")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const count = 3000
	to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	before, _ := n.Stats()
	// Paced by the link's own count, so no datagram overflows a buffer
	// before the link sees it; the rate is the link's decision.
	for i := range count {
		if _, err := cl.WriteToUDPAddrPort([]byte("datagram"), to); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
				if up, _ := n.Stats(); up.Sent-before.Sent >= uint64(i+1) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the link saw fewer than %d datagrams", i+1)
				}
			}
		}
	}
	up, _ := n.Stats()
	sent, lost := up.Sent-before.Sent, up.DroppedLoss-before.DroppedLoss
	rate := float64(lost) / float64(sent)
	t.Logf("loss %.4f (setting %.2f) over %d packets", rate, loss, sent)
	if !withinBinomial(rate, loss, int(sent), 4) {
		t.Errorf("loss rate %.4f, want %.2f within 4 sigma", rate, loss)
	}
}

func TestPacketNet_CloseOnCancel(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithCancel(t.Context())
	n, err := NewPacketNet(ctx, PacketConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ehlabNamespaces(t, n)) != 2 {
		t.Fatal("namespaces missing after setup")
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for len(ehlabNamespaces(t, n)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := ehlabNamespaces(t, n); len(left) > 0 {
		t.Errorf("namespaces left after cancel: %v", left)
	}
	if err := n.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

func TestSweepStale(t *testing.T) {
	needRoot(t)
	// A namespace named after a process that cannot exist.
	const orphan = nsPrefix + "c-999999999-abcdef"
	if err := ipCmd(t.Context(), "netns", "add", orphan); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ipCmd(context.Background(), "netns", "del", orphan) })
	n := newTestPacketNet(t, Profile{})
	removed, err := SweepStale(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, orphan) {
		t.Errorf("SweepStale removed %v, want %s", removed, orphan)
	}
	if got := ehlabNamespaces(t, n); len(got) != 2 {
		t.Errorf("SweepStale removed a live run's namespaces: left %v", got)
	}
}

// BenchmarkPacketNet_RTT is one UDP ping-pong per iteration across the
// namespaces; it reports the round trip over the setting.
func BenchmarkPacketNet_RTT(b *testing.B) {
	p := Profile{
		Name: "rtt",
		Up:   LinkConfig{Delay: 10 * time.Millisecond},
		Down: LinkConfig{Delay: 15 * time.Millisecond},
	}
	n := newTestPacketNet(b, p)
	srv := udpEcho(b, n)
	cl, err := n.ListenClientUDP("")
	if err != nil {
		b.Fatalf("ListenClientUDP: %v", err)
	}
	defer cl.Close()
	to := srv.LocalAddr().(*net.UDPAddr).AddrPort()
	var rtts []time.Duration
	for b.Loop() {
		rtts = append(rtts, packetPings(b, cl, to, 1)[0])
	}
	reportRTT(b, rtts, p.RTT())
}

// BenchmarkPacketNet_TCPThroughput reads a bulk TCP download through a
// 10 Mbit/s link, counting from 0.5 s on (after slow start), and reports
// the rate on the wire over the setting.
func BenchmarkPacketNet_TCPThroughput(b *testing.B) {
	const bw = 10_000_000
	p := Profile{
		Name: "bulk",
		Up:   LinkConfig{Delay: 10 * time.Millisecond, Bandwidth: 100_000_000},
		Down: LinkConfig{Delay: 10 * time.Millisecond, Bandwidth: bw},
	}
	n := newTestPacketNet(b, p)
	ln, err := n.ListenTCP("")
	if err != nil {
		b.Fatalf("ListenTCP: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				writeFor(c, 2500*time.Millisecond, 64<<10)
			}()
		}
	}()
	var total, elapsed float64
	for b.Loop() {
		ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
		c, err := n.DialContext(ctx, "tcp", ln.Addr().String())
		cancel()
		if err != nil {
			b.Fatalf("DialContext: %v", err)
		}
		_ = c.SetDeadline(time.Now().Add(8 * time.Second))
		buf := make([]byte, 64<<10)
		start := time.Now()
		var counted int64
		var from time.Time
		for time.Since(start) < 2400*time.Millisecond {
			k, err := c.Read(buf)
			if time.Since(start) > 500*time.Millisecond {
				if from.IsZero() {
					from = time.Now()
				} else {
					counted += int64(k)
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatalf("read: %v", err)
			}
		}
		elapsed += time.Since(from).Seconds()
		// On the wire each 1448-byte payload (MSS with timestamps) is a
		// 1500-byte packet.
		total += float64(counted) * 8 * 1500 / 1448
		_ = c.Close()
	}
	b.ReportMetric(total/elapsed/bw, "rate/setting")
}
