package netem

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func tcpEchoServer(t testing.TB) net.Listener {
	t.Helper()
	return serveTCP(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// writeFor writes chunks of size bytes to c for d, or until a write fails.
func writeFor(c net.Conn, d time.Duration, size int) {
	chunk := make([]byte, size)
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// serveTCP accepts connections on a loopback port until the test ends and
// runs handle on each, closing the connection after.
func serveTCP(t testing.TB, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln
}

func newTestRelay(t testing.TB, cfg RelayConfig) *Relay {
	t.Helper()
	r, err := NewRelay(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// pingRTTs sends n pings over c, one at a time, and returns the round
// trips sorted.
func pingRTTs(tb testing.TB, c net.Conn, n int) []time.Duration {
	tb.Helper()
	buf := make([]byte, 64)
	var rtts []time.Duration
	for i := 0; i < n; i++ {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			tb.Fatal(err)
		}
		if _, err := io.ReadAtLeast(c, buf, 4); err != nil {
			tb.Fatalf("ping %d: %v", i, err)
		}
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	return rtts
}

func TestRelay_TCP(t *testing.T) {
	p := Profile{
		Name: "test",
		Up:   LinkConfig{Delay: 6 * time.Millisecond},
		Down: LinkConfig{Delay: 9 * time.Millisecond},
	}
	r := newTestRelay(t, RelayConfig{Profile: p, Target: tcpEchoServer(t).Addr().String()})
	c, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// No round trip beats the emulated delays (a loaded machine only adds
	// to them); how close they come is BenchmarkRelay_RTT's figure.
	if rtts := pingRTTs(t, c, 5); rtts[0] < p.RTT() {
		t.Errorf("fastest round trip %v, below the link's %v", rtts[0], p.RTT())
	}
	// Data survives intact in both directions, and a half-close travels.
	payload := bytes.Repeat([]byte("0123456789abcdef"), 20_000)
	go func() {
		_, _ = c.Write(payload)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Errorf("echo through relay: %d of %d bytes, err %v", len(got), len(payload), err)
	}
}

func TestRelay_UDP(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
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
	p := Profile{
		Name: "udp",
		Up:   LinkConfig{Delay: 4 * time.Millisecond},
		Down: LinkConfig{Delay: 4 * time.Millisecond},
	}
	r := newTestRelay(t, RelayConfig{Profile: p, Target: srv.LocalAddr().String(), Network: "udp", MaxConns: 1, Logger: quiet})
	c, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if rtts := pingRTTs(t, c, 5); rtts[0] < p.RTT() {
		t.Errorf("fastest round trip %v, below the link's %v", rtts[0], p.RTT())
	}
	// A second flow is refused: MaxConns is 1.
	c2, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, _ = c2.Write([]byte("x"))
	_ = c2.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c2.Read(make([]byte, 8)); err == nil {
		t.Error("second flow got an answer beyond MaxConns")
	}
}

// TestRelay_UDPLoss checks the loss the link decides, counted by its own
// statistics, so a busy machine's socket-buffer drops do not blur it.
func TestRelay_UDPLoss(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const loss, n = 0.2, 2000
	p := Profile{Name: "loss", Up: LinkConfig{Loss: loss, Seed: 11}}
	r := newTestRelay(t, RelayConfig{Profile: p, Target: srv.LocalAddr().String(), Network: "udp"})
	c, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var received atomic.Int64
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := srv.Read(buf); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	// Paced by the relay's own count, so no datagram overflows a socket
	// buffer before the relay reads it.
	for i := range n {
		if _, err := c.Write([]byte("datagram")); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 || i == n-1 {
			waitSent(t, r, uint64(i+1))
		}
	}
	// Every datagram is delivered or lost once the link drains; the
	// deadline only bounds a hang.
	up, _ := r.Stats()
	for deadline := time.Now().Add(20 * time.Second); up.Delivered+up.DroppedLoss < up.Sent && time.Now().Before(deadline); up, _ = r.Stats() {
		time.Sleep(time.Millisecond)
	}
	rate := float64(up.DroppedLoss) / float64(up.Sent)
	t.Logf("relay UDP loss %.4f (setting %.2f); link %+v", rate, loss, up)
	if up.Sent != n || up.Delivered+up.DroppedLoss != up.Sent {
		t.Errorf("link %+v: want %d sent, each delivered or lost", up, n)
	}
	if !withinBinomial(rate, loss, n, 4) {
		t.Errorf("loss %.4f, want %.2f within 4 sigma", rate, loss)
	}
	if got := received.Load(); got > int64(up.Delivered) {
		t.Errorf("origin received %d datagrams, more than the %d delivered", got, up.Delivered)
	}
}

// waitSent polls until the relay's up link has been offered n packets; the
// deadline only bounds a hang.
func waitSent(t *testing.T, r *Relay, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		if up, _ := r.Stats(); up.Sent >= n {
			return
		}
		if time.Now().After(deadline) {
			up, _ := r.Stats()
			t.Fatalf("relay read %d datagrams, want %d", up.Sent, n)
		}
	}
}

func TestRelay_CloseEndsConnections(t *testing.T) {
	r, err := NewRelay(t.Context(), RelayConfig{Target: tcpEchoServer(t).Addr().String(), MaxConns: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", r.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// The third connection is over MaxConns: the relay closes it.
	_ = conns[2].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conns[2].Read(make([]byte, 1)); err == nil {
		t.Error("connection beyond MaxConns stayed open")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns[:2] {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("connection %d still open after Close: %v", i, err)
		}
	}
	if _, err := net.Dial("tcp", r.Addr().String()); err == nil {
		t.Error("relay still accepts after Close")
	}
}

var quiet = slog.New(slog.DiscardHandler)

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
