package netem

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// The emulator's real-time accuracy is a figure, not a test: on a loaded
// machine every delay only grows. Each benchmark reports the measured value
// over the setting as a ratio (1.00 is exact), e.g.
//
//	go test -run '^$' -bench 'RTT|Throughput' ./lab/netem

// reportRTT reports the median and 90th percentile of rtts against the
// configured round trip.
func reportRTT(b *testing.B, rtts []time.Duration, want time.Duration) {
	b.Helper()
	if len(rtts) == 0 {
		return
	}
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)/2])/float64(want), "median-rtt/setting")
	b.ReportMetric(float64(rtts[len(rtts)*9/10])/float64(want), "p90-rtt/setting")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkLink_RTT is one ping-pong per iteration through two real Links.
func BenchmarkLink_RTT(b *testing.B) {
	const up, down = 7 * time.Millisecond, 8 * time.Millisecond
	echo := make(chan []byte, 1)
	back := make(chan []byte, 1)
	lDown, err := NewLink(LinkConfig{Delay: down}, func(p []byte) { back <- p })
	if err != nil {
		b.Fatal(err)
	}
	defer lDown.Close()
	lUp, err := NewLink(LinkConfig{Delay: up}, func(p []byte) { echo <- p })
	if err != nil {
		b.Fatal(err)
	}
	defer lUp.Close()
	go func() {
		for p := range echo {
			lDown.Send(p)
		}
	}()
	defer close(echo)
	var rtts []time.Duration
	for b.Loop() {
		start := time.Now()
		lUp.Send([]byte("ping"))
		select {
		case <-back:
		case <-time.After(5 * time.Second):
			b.Fatal("ping lost")
		}
		rtts = append(rtts, time.Since(start))
	}
	reportRTT(b, rtts, up+down)
}

// BenchmarkLink_Throughput offers 12 Mbit/s to a 10 Mbit/s Link for a
// second of real time per iteration and reports the delivered rate.
func BenchmarkLink_Throughput(b *testing.B) {
	const bw = 10_000_000
	var total, elapsed float64
	for b.Loop() {
		delivered := make(chan time.Time, 4096)
		l, err := NewLink(LinkConfig{Delay: 5 * time.Millisecond, Bandwidth: bw}, func([]byte) {
			select {
			case delivered <- time.Now():
			default:
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		for range 100 {
			for range 10 {
				l.Send(make([]byte, MTU))
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		_ = l.Close()
		close(delivered)
		var first, last time.Time
		n := -1
		for at := range delivered {
			if first.IsZero() {
				first = at
			}
			last = at
			n++
		}
		total += float64(n) * MTU * 8
		elapsed += last.Sub(first).Seconds()
	}
	b.ReportMetric(total/elapsed/bw, "rate/setting")
}

// BenchmarkRelay_RTT is one ping-pong per iteration through the relay, over
// TCP and over UDP.
func BenchmarkRelay_RTT(b *testing.B) {
	p := Profile{
		Name: "bench",
		Up:   LinkConfig{Delay: 6 * time.Millisecond},
		Down: LinkConfig{Delay: 9 * time.Millisecond},
	}
	b.Run("tcp", func(b *testing.B) {
		r := newTestRelay(b, RelayConfig{Profile: p, Target: tcpEchoServer(b).Addr().String()})
		benchPing(b, r, "tcp", p.RTT())
	})
	b.Run("udp", func(b *testing.B) {
		srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
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
		r := newTestRelay(b, RelayConfig{Profile: p, Target: srv.LocalAddr().String(), Network: "udp", Logger: quiet})
		benchPing(b, r, "udp", p.RTT())
	})
}

func benchPing(b *testing.B, r *Relay, network string, want time.Duration) {
	b.Helper()
	c, err := net.Dial(network, r.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var rtts []time.Duration
	for b.Loop() {
		rtts = append(rtts, pingRTTs(b, c, 1)[0])
	}
	reportRTT(b, rtts, want)
}

// BenchmarkRelay_TCPThroughput reads a bulk download through an 8 Mbit/s
// relay for a second per iteration and reports the rate on the wire.
func BenchmarkRelay_TCPThroughput(b *testing.B) {
	const bw = 8_000_000
	ln := serveTCP(b, func(c net.Conn) { writeFor(c, 1500*time.Millisecond, 32<<10) })
	p := Profile{Name: "bulk", Down: LinkConfig{Delay: 5 * time.Millisecond, Bandwidth: bw}}
	r := newTestRelay(b, RelayConfig{Profile: p, Target: ln.Addr().String(), MaxInFlight: 256 << 10, Logger: quiet})
	var total, elapsed float64
	for b.Loop() {
		c, err := net.Dial("tcp", r.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64<<10)
		var n int64
		var first time.Time
		for first.IsZero() || time.Since(first) < time.Second {
			k, err := c.Read(buf)
			if first.IsZero() {
				first = time.Now()
			} else {
				n += int64(k)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(first).Seconds()
		total += float64(n) * 8 * MTU / relaySegment
		_ = c.Close()
	}
	b.ReportMetric(total/elapsed/bw, "rate/setting")
}
