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

// TestLink_RTT measures a ping-pong through two real Links: the median round
// trip must be within 1 ms of the setting.
func TestLink_RTT(t *testing.T) {
	const up, down = 7 * time.Millisecond, 8 * time.Millisecond
	echo := make(chan []byte, 1)
	back := make(chan []byte, 1)
	lDown, err := NewLink(LinkConfig{Delay: down}, func(p []byte) { back <- p })
	if err != nil {
		t.Fatal(err)
	}
	defer lDown.Close()
	lUp, err := NewLink(LinkConfig{Delay: up}, func(p []byte) { echo <- p })
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
	var rtts []time.Duration
	for i := 0; i < 21; i++ {
		start := time.Now()
		lUp.Send([]byte("ping"))
		select {
		case <-back:
		case <-time.After(time.Second):
			t.Fatal("ping lost")
		}
		rtts = append(rtts, time.Since(start))
	}
	slices.Sort(rtts)
	med := rtts[len(rtts)/2]
	t.Logf("Link RTT median %v (setting %v), min %v, max %v", med, up+down, rtts[0], rtts[len(rtts)-1])
	if d := med - (up + down); d < 0 || d > time.Millisecond {
		t.Errorf("median RTT %v, want within 1ms above %v", med, up+down)
	}
}

// TestLink_Throughput offers UDP-sized datagrams above the bandwidth for a
// second of real time; the delivery rate must be within 5 % of the setting.
func TestLink_Throughput(t *testing.T) {
	const bw = 10_000_000
	var mu sync.Mutex
	var first, last time.Time
	n := 0
	l, err := NewLink(LinkConfig{Delay: 5 * time.Millisecond, Bandwidth: bw}, func(p []byte) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if first.IsZero() {
			first = now
		} else {
			n++
		}
		last = now
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// 12 Mbit/s offered in 10 ms bursts of 10 datagrams.
	for i := 0; i < 100; i++ {
		for j := 0; j < 10; j++ {
			l.Send(make([]byte, MTU))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	rate := float64(n) * MTU * 8 / last.Sub(first).Seconds()
	mu.Unlock()
	t.Logf("Link rate %.3f Mbit/s (setting %.1f), drops %+v", rate/1e6, float64(bw)/1e6, l.Stats())
	if rate < 0.95*bw || rate > 1.05*bw {
		t.Errorf("rate %.0f bit/s, want within 5%% of %d", rate, bw)
	}
}
