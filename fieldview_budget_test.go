package earlyhints

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestDocumentBudget(t *testing.T) {
	const mbit = 1_000_000
	tests := []struct {
		name      string
		think     time.Duration
		rtt       time.Duration
		bandwidth int64
		want      int64
	}{
		{"think time unknown", 0, 70 * time.Millisecond, 5 * mbit, 0},
		{"no bandwidth", 300 * time.Millisecond, 0, 0, 0},
		{"no round trip", 300 * time.Millisecond, 0, 8 * mbit, 300_000 + initialWindow},
		{"hinted requests arrive one round trip late", 300 * time.Millisecond, 100 * time.Millisecond, 8 * mbit, 200_000 + initialWindow},
		{"document ready before they arrive", 100 * time.Millisecond, 300 * time.Millisecond, 8 * mbit, initialWindow},
		{"think equals the round trip", 70 * time.Millisecond, 70 * time.Millisecond, 8 * mbit, initialWindow},
		{"negative round trip counts as none", 300 * time.Millisecond, -time.Second, 8 * mbit, 300_000 + initialWindow},
		{"absurd bandwidth is bounded", time.Hour, 0, 1 << 62, maxBudget + initialWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := documentBudget(tt.think, tt.rtt, tt.bandwidth); got != tt.want {
				t.Errorf("documentBudget(%v, %v, %d) = %d, want %d", tt.think, tt.rtt, tt.bandwidth, got, tt.want)
			}
		})
	}
}

// TestHandler_budgetFor: the connection's measurement, when there is one,
// replaces the assumed round trip and bandwidth, each on its own; a zero
// config budgets at 100 ms and 5 Mbit/s.
func TestHandler_budgetFor(t *testing.T) {
	const think = 400 * time.Millisecond
	path := func(rtt time.Duration, bw int64) func(*http.Request) (time.Duration, int64) {
		return func(*http.Request) (time.Duration, int64) { return rtt, bw }
	}
	tests := []struct {
		name         string
		cfg          Config
		think        time.Duration
		want         int64
		wantMeasured bool
	}{
		{"zero config", Config{}, think, documentBudget(think, DefaultAssumedRTT, DefaultAssumedBandwidth), false},
		{"think time unknown", Config{}, 0, 0, false},
		{"budget off", Config{AssumedBandwidth: -1, ConnPath: path(time.Millisecond, 1)}, think, 0, false},
		{"no assumed round trip", Config{AssumedRTT: -1}, think, documentBudget(think, 0, DefaultAssumedBandwidth), false},
		{"connection measures nothing", Config{ConnPath: path(0, 0)}, think, documentBudget(think, DefaultAssumedRTT, DefaultAssumedBandwidth), false},
		{"measured round trip", Config{ConnPath: path(300*time.Millisecond, 0)}, think, documentBudget(think, 300*time.Millisecond, DefaultAssumedBandwidth), true},
		{"measured bandwidth", Config{ConnPath: path(0, 1_600_000)}, think, documentBudget(think, DefaultAssumedRTT, 1_600_000), true},
		{"measured both", Config{AssumedRTT: time.Second, ConnPath: path(20*time.Millisecond, 50_000_000)}, think, documentBudget(think, 20*time.Millisecond, 50_000_000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(http.NotFoundHandler(), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = h.Close() })
			rf := h.field.route("https://example.com/")
			rf.thinkP50.Store(int64(tt.think))
			got, measured := budgetFor(&h.cfg, rf, httptest.NewRequest(http.MethodGet, "/", nil))
			if got != tt.want || measured != tt.wantMeasured {
				t.Errorf("budgetFor = %d, measured %t; want %d, %t", got, measured, tt.want, tt.wantMeasured)
			}
		})
	}
}
