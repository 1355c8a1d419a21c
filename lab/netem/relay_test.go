package netem

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"
)

func tcpEchoServer(t *testing.T) net.Listener {
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
func serveTCP(t *testing.T, handle func(net.Conn)) net.Listener {
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

func newTestRelay(t *testing.T, cfg RelayConfig) *Relay {
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

func medianRTT(t *testing.T, c net.Conn, n int) time.Duration {
	t.Helper()
	buf := make([]byte, 64)
	var rtts []time.Duration
	for i := 0; i < n; i++ {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		start := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAtLeast(c, buf, 4); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	return rtts[n/2]
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
	med := medianRTT(t, c, 15)
	t.Logf("relay TCP RTT median %v (setting %v)", med, p.RTT())
	if d := med - p.RTT(); d < 0 || d > time.Millisecond {
		t.Errorf("median RTT %v, want within 1ms above %v", med, p.RTT())
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

func TestRelay_TCPThroughput(t *testing.T) {
	const bw = 8_000_000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		writeFor(c, 1500*time.Millisecond, 32<<10)
	}()
	p := Profile{Name: "bulk", Down: LinkConfig{Delay: 5 * time.Millisecond, Bandwidth: bw}}
	r := newTestRelay(t, RelayConfig{Profile: p, Target: ln.Addr().String(), MaxInFlight: 256 << 10})
	c, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	var total int64
	var first time.Time
	for time.Since(first) < time.Second || first.IsZero() {
		k, err := c.Read(buf)
		if first.IsZero() {
			first = time.Now()
		} else {
			total += int64(k)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wire := float64(total) * 8 / time.Since(first).Seconds() * MTU / relaySegment
	t.Logf("relay TCP wire rate %.3f Mbit/s (setting %.1f)", wire/1e6, float64(bw)/1e6)
	if wire < 0.95*bw || wire > 1.05*bw {
		t.Errorf("rate %.0f bit/s, want within 5%% of %d", wire, bw)
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
	const loss = 0.2
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
	med := medianRTT(t, c, 15)
	t.Logf("relay UDP RTT median %v (setting %v)", med, p.RTT())
	if d := med - p.RTT(); d < 0 || d > time.Millisecond {
		t.Errorf("median RTT %v, want within 1ms above %v", med, p.RTT())
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
	received := make(chan int)
	go func() {
		got := 0
		buf := make([]byte, 64)
		for {
			_ = srv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := srv.Read(buf); err != nil {
				received <- got
				return
			}
			got++
		}
	}()
	for i := 0; i < n; i++ {
		if _, err := c.Write([]byte("datagram")); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond)
		}
	}
	got := <-received
	rate := 1 - float64(got)/n
	up, _ := r.Stats()
	t.Logf("relay UDP loss %.4f (setting %.2f); link %+v", rate, loss, up)
	if !withinBinomial(rate, loss, n, 4) {
		t.Errorf("loss %.4f, want %.2f within 4 sigma", rate, loss)
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
