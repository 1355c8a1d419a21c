package netem

import (
	"fmt"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// offer sends count packets of size bytes, one every gap, through a shaper on
// made-up time, and returns the delivery times of those delivered.
func offer(s *shaper, count, size int, gap time.Duration) (out []time.Time, drops map[verdict]int) {
	drops = map[verdict]int{}
	for i := 0; i < count; i++ {
		at, v := s.admit(t0.Add(time.Duration(i)*gap), size, nil, 0)
		if v != deliver {
			drops[v]++
			continue
		}
		out = append(out, at)
	}
	return out, drops
}

func TestShaper_DelayAndSerialization(t *testing.T) {
	s := newShaper(LinkConfig{Delay: 10 * time.Millisecond, Bandwidth: 12_000_000}, t0, 0)
	// Three back-to-back 1500-byte packets at 12 Mbit/s take 1 ms each.
	for i, want := range []time.Duration{11, 12, 13} {
		at, v := s.admit(t0, 1500, nil, 0)
		if v != deliver || at.Sub(t0) != want*time.Millisecond {
			t.Errorf("packet %d: %v at %v, want delivery at %v", i, v, at.Sub(t0), want*time.Millisecond)
		}
	}
	// After the link went idle, a packet waits only for its own serialization.
	at, _ := s.admit(t0.Add(time.Second), 1500, nil, 0)
	if got := at.Sub(t0.Add(time.Second)); got != 11*time.Millisecond {
		t.Errorf("idle link: delivered after %v, want 11ms", got)
	}
}

func TestShaper_Throughput(t *testing.T) {
	for _, bw := range []int64{1_600_000, 10_000_000, 50_000_000} {
		t.Run(fmt.Sprintf("%dbps", bw), func(t *testing.T) {
			s := newShaper(LinkConfig{Delay: 35 * time.Millisecond, Bandwidth: bw}, t0, 0)
			// Offer twice the bandwidth for 2 s of made-up time.
			gap := time.Duration(1500 * 8 * int64(time.Second) / (2 * bw))
			out, drops := offer(s, int(2*time.Second/gap), 1500, gap)
			rate := float64(len(out)-1) * 1500 * 8 / out[len(out)-1].Sub(out[0]).Seconds()
			if rel := math.Abs(rate/float64(bw) - 1); rel > 0.001 {
				t.Errorf("delivered %.0f bit/s, want %d (±0.1%%)", rate, bw)
			}
			if drops[dropQueue] == 0 {
				t.Error("overload produced no queue drops")
			}
		})
	}
}

func TestShaper_QueueDropTail(t *testing.T) {
	cfg := LinkConfig{Bandwidth: 8_000_000, QueueBytes: 10 * 1000}
	s := newShaper(cfg, t0, 0)
	// A burst of 20 packets at one instant: 10 fit in the queue.
	out, drops := offer(s, 20, 1000, 0)
	if len(out) != 10 || drops[dropQueue] != 10 {
		t.Errorf("delivered %d, queue drops %d; want 10 and 10", len(out), drops[dropQueue])
	}
	// 1 ms later one packet (1000 B at 8 Mbit/s) has left: room for one more.
	if _, v := s.admit(t0.Add(time.Millisecond), 1000, nil, 0); v != deliver {
		t.Errorf("after one departure: %v, want deliver", v)
	}
	if _, v := s.admit(t0.Add(time.Millisecond), 1000, nil, 0); v != dropQueue {
		t.Errorf("queue full again: %v, want dropQueue", v)
	}
	if got, want := s.roomAt(t0.Add(time.Millisecond), 1000), t0.Add(2*time.Millisecond); !got.Equal(want) {
		t.Errorf("roomAt = %v, want %v", got.Sub(t0), want.Sub(t0))
	}
}

func TestLinkConfig_defaultQueue(t *testing.T) {
	tests := []struct {
		cfg  LinkConfig
		want int
	}{
		{LinkConfig{}, 0},
		{LinkConfig{Bandwidth: 1_000_000, Delay: time.Millisecond}, 64 << 10},
		// 50 Mbit/s × 20 ms = 125 000 B; × 1.5.
		{LinkConfig{Bandwidth: 50_000_000, Delay: 10 * time.Millisecond}, 187_500},
		{LinkConfig{Bandwidth: 50_000_000, QueueBytes: 3000}, 3000},
	}
	for _, tt := range tests {
		if got := tt.cfg.queueLimit(); got != tt.want {
			t.Errorf("%+v: queue %d, want %d", tt.cfg, got, tt.want)
		}
	}
}

func TestShaper_RandomLoss(t *testing.T) {
	for _, p := range []float64{0.02, 0.1, 0.5} {
		const n = 100_000
		s := newShaper(LinkConfig{Loss: p, Seed: 42}, t0, 0)
		_, drops := offer(s, n, 100, time.Microsecond)
		rate := float64(drops[dropLoss]) / n
		if !withinBinomial(rate, p, n, 4) {
			t.Errorf("loss %.4f, want %.2f within 4 sigma", rate, p)
		}
	}
}

func TestShaper_GilbertElliott(t *testing.T) {
	cfg := LinkConfig{PGoodToBad: 0.01, PBadToGood: 0.25, Seed: 9}
	const n = 400_000
	s := newShaper(cfg, t0, 0)
	lost, bursts, run := 0, 0, 0
	var runs int
	for i := 0; i < n; i++ {
		_, v := s.admit(t0.Add(time.Duration(i)*time.Microsecond), 100, nil, 0)
		if v == dropLoss {
			lost++
			run++
			continue
		}
		if run > 0 {
			bursts++
			runs += run
			run = 0
		}
	}
	want := cfg.MeanLoss() // 0.01/0.26
	// The loss indicators are correlated (lag-k correlation λ^k, λ = 1-p-r),
	// which inflates the variance of the mean by (1+λ)/(1-λ).
	lambda := 1 - cfg.PGoodToBad - cfg.PBadToGood
	sigma := math.Sqrt(want * (1 - want) / n * (1 + lambda) / (1 - lambda))
	rate := float64(lost) / n
	if math.Abs(rate-want) > 4*sigma {
		t.Errorf("mean loss %.4f, want %.4f ± %.4f", rate, want, 4*sigma)
	}
	if mean := float64(runs) / float64(bursts); math.Abs(mean-4) > 0.4 {
		t.Errorf("mean burst %.2f packets, want 1/PBadToGood = 4", mean)
	}
}

func TestShaper_JitterKeepsOrder(t *testing.T) {
	cfg := LinkConfig{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}
	s := newShaper(cfg, t0, 0)
	out, _ := offer(s, 2000, 100, 100*time.Microsecond)
	reorderCfg := cfg
	reorderCfg.Reorder = true
	outR, _ := offer(newShaper(reorderCfg, t0, 0), 2000, 100, 100*time.Microsecond)
	reordered := 0
	for i := 1; i < len(out); i++ {
		if out[i].Before(out[i-1]) {
			t.Fatalf("packet %d delivered before %d without Reorder", i, i-1)
		}
		if outR[i].Before(outR[i-1]) {
			reordered++
		}
		d := outR[i].Sub(t0.Add(time.Duration(i) * 100 * time.Microsecond))
		if d < 15*time.Millisecond || d > 25*time.Millisecond {
			t.Fatalf("packet %d delay %v outside 20ms ± 5ms", i, d)
		}
	}
	if reordered == 0 {
		t.Error("Reorder with jitter reordered nothing")
	}
}

func TestShaper_LossAsDelayKeepsFlowOrder(t *testing.T) {
	s := newShaper(LinkConfig{Delay: 10 * time.Millisecond, Loss: 0.3, Seed: 3}, t0, 0)
	var flowA, flowB time.Time
	late := 0
	for i := 0; i < 200; i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		order := &flowA
		if i%2 == 1 {
			order = &flowB
		}
		prev := *order
		at, v := s.admit(now, 100, order, 20*time.Millisecond)
		if v != deliver {
			t.Fatalf("packet %d: %v; a penalty must turn loss into delay", i, v)
		}
		if at.Before(prev) {
			t.Fatalf("packet %d overtakes its flow", i)
		}
		if at.Sub(now) >= 30*time.Millisecond {
			late++
		}
	}
	if late == 0 {
		t.Error("no packet carried the loss penalty")
	}
}

func TestShaper_Trace(t *testing.T) {
	for _, name := range []string{"12mbps.trace", "onoff.trace"} {
		t.Run(name, func(t *testing.T) {
			tr := loadTrace(t, name)
			s := newShaper(LinkConfig{Trace: tr, QueueBytes: 1 << 20}, t0, 0)
			// Saturate for 5 periods with MTU packets: one per opportunity.
			periods := 5
			gap := tr.Period() / time.Duration(2*len(tr.Millis))
			out, _ := offer(s, 2*len(tr.Millis)*periods, MTU, gap)
			end := t0.Add(time.Duration(periods) * tr.Period())
			delivered := 0
			for _, at := range out {
				if !at.After(end) {
					delivered++
				}
			}
			want := len(tr.Millis) * periods
			if delivered < want-2 || delivered > want+2 {
				t.Errorf("delivered %d packets in %d periods, want %d (one per opportunity)", delivered, periods, want)
			}
			rate := float64(delivered) * MTU * 8 / (time.Duration(periods) * tr.Period()).Seconds()
			if math.Abs(rate/float64(tr.Rate())-1) > 0.01 {
				t.Errorf("rate %.0f bit/s, trace rate %d", rate, tr.Rate())
			}
		})
	}
	t.Run("small packets share an opportunity", func(t *testing.T) {
		s := newShaper(LinkConfig{Trace: &Trace{Millis: []uint32{10}}}, t0, 0)
		for i := 0; i < 3; i++ {
			at, _ := s.admit(t0, 500, nil, 0)
			if at.Sub(t0) != 10*time.Millisecond {
				t.Errorf("packet %d at %v, want 10ms", i, at.Sub(t0))
			}
		}
		if at, _ := s.admit(t0, 500, nil, 0); at.Sub(t0) != 20*time.Millisecond {
			t.Errorf("fourth 500-byte packet at %v, want the next opportunity (20ms)", at.Sub(t0))
		}
	})
}
