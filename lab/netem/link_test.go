package netem

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestLink_Delivery runs the delivery loop on a fake clock: packets come out
// at the modelled times, in order, and Close discards the rest.
func TestLink_Delivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []time.Duration
		start := time.Now()
		l, err := newLink(LinkConfig{Delay: 30 * time.Millisecond, Bandwidth: 1_200_000}, func(p []byte) {
			mu.Lock()
			got = append(got, time.Since(start))
			mu.Unlock()
		}, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if !l.Send(make([]byte, 1500)) { // 10 ms each at 1.2 Mbit/s
				t.Fatal("packet dropped")
			}
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		want := []time.Duration{40 * time.Millisecond, 50 * time.Millisecond, 60 * time.Millisecond}
		mu.Lock()
		if !slices.Equal(got, want) {
			t.Errorf("delivered at %v, want %v", got, want)
		}
		mu.Unlock()
		l.Send(make([]byte, 1500))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if s := l.Stats(); s.Delivered != 3 || s.Sent != 4 || s.BytesDelivered != 4500 {
			t.Errorf("stats %+v, want 3 of 4 delivered", s)
		}
		if l.Send([]byte{1}) {
			t.Error("Send after Close succeeded")
		}
	})
}

// TestLink_RTT runs a ping-pong through two Links on a fake clock: every
// round trip is exactly the two delays. The real-time accuracy of the
// precise sleeper is BenchmarkLink_RTT's figure.
func TestLink_RTT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const up, down = 7 * time.Millisecond, 8 * time.Millisecond
		echo := make(chan []byte, 1)
		back := make(chan []byte, 1)
		lDown, err := newLink(LinkConfig{Delay: down}, func(p []byte) { back <- p }, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		defer lDown.Close()
		lUp, err := newLink(LinkConfig{Delay: up}, func(p []byte) { echo <- p }, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		defer lUp.Close()
		go func() {
			for p := range echo {
				lDown.Send(p)
			}
		}()
		defer close(echo)
		for i := range 5 {
			start := time.Now()
			lUp.Send([]byte("ping"))
			<-back
			if rtt := time.Since(start); rtt != up+down {
				t.Errorf("ping %d: round trip %v, want %v", i, rtt, up+down)
			}
		}
	})
}

// TestLink_Throughput offers datagrams above the bandwidth for a second of
// fake time: the delivery rate is the setting and the excess is dropped by
// the queue. BenchmarkLink_Throughput measures it in real time.
func TestLink_Throughput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bw = 10_000_000
		var mu sync.Mutex
		var first, last time.Time
		n := 0
		l, err := newLink(LinkConfig{Delay: 5 * time.Millisecond, Bandwidth: bw}, func(p []byte) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			if first.IsZero() {
				first = now
			} else {
				n++
			}
			last = now
		}, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		// 12 Mbit/s offered in 10 ms bursts of 10 datagrams.
		for range 100 {
			for range 10 {
				l.Send(make([]byte, MTU))
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Second)
		mu.Lock()
		rate := float64(n) * MTU * 8 / last.Sub(first).Seconds()
		mu.Unlock()
		if rel := rate/bw - 1; rel < -0.001 || rel > 0.001 {
			t.Errorf("rate %.0f bit/s, want %d (±0.1%%)", rate, bw)
		}
		if s := l.Stats(); s.DroppedQueue == 0 || s.Delivered+s.DroppedQueue != s.Sent {
			t.Errorf("stats %+v: an overload must drop at the queue and lose nothing else", s)
		}
	})
}
