//go:build integration && linux

package netem

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// needRoot skips without root, except under CI where packet mode must run.
func needRoot(t *testing.T) {
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

func ehlabNamespaces(t *testing.T, n *PacketNet) []string {
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

func newTestPacketNet(t *testing.T, p Profile) *PacketNet {
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
func udpEcho(t *testing.T, n *PacketNet) *net.UDPConn {
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
	var rtts []time.Duration
	buf := make([]byte, 2048)
	for i := 0; i < 25; i++ {
		start := time.Now()
		if _, err := cl.WriteToUDPAddrPort([]byte("ping"), to); err != nil {
			t.Fatal(err)
		}
		_ = cl.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := cl.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	med := rtts[len(rtts)/2]
	t.Logf("UDP RTT median %v (setting %v), min %v, max %v", med, p.RTT(), rtts[0], rtts[len(rtts)-1])
	if d := med - p.RTT(); d < 0 || d > time.Millisecond {
		t.Errorf("median RTT %v, want within 1ms above %v", med, p.RTT())
	}
}

func TestPacketNet_TCPThroughput(t *testing.T) {
	const bw = 10_000_000
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
	// The server sends for 2.5 s; the client measures from 0.5 s on, after
	// slow start.
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		writeFor(c, 2500*time.Millisecond, 64<<10)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := n.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(8 * time.Second))
	buf := make([]byte, 64<<10)
	start := time.Now()
	var counted int64
	var from time.Time
	for {
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
			t.Fatalf("read: %v", err)
		}
		if time.Since(start) > 2400*time.Millisecond {
			break
		}
	}
	secs := time.Since(from).Seconds()
	// On the wire each 1448-byte payload (MSS with timestamps) is a 1500-byte packet.
	wire := float64(counted) * 8 / secs * 1500 / 1448
	t.Logf("TCP wire rate %.2f Mbit/s over %.2fs (setting %.2f)", wire/1e6, secs, float64(bw)/1e6)
	if rel := wire/bw - 1; rel < -0.05 || rel > 0.05 {
		t.Errorf("throughput %.0f bit/s, want within 5%% of %d", wire, bw)
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
	got := make(chan int)
	go func() {
		buf := make([]byte, 2048)
		k := 0
		for {
			_ = srv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, _, err := srv.ReadFromUDPAddrPort(buf); err != nil {
				got <- k
				return
			}
			k++
		}
	}()
	for i := 0; i < count; i++ {
		if _, err := cl.WriteToUDPAddrPort([]byte("datagram"), to); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(2 * time.Millisecond) // stay below socket buffer limits
		}
	}
	received := <-got
	rate := 1 - float64(received)/count
	t.Logf("loss %.4f (setting %.2f) over %d datagrams", rate, loss, count)
	if !withinBinomial(rate, loss, count, 4) {
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
