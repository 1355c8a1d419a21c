package netem

import (
	"errors"
	"testing"
	"time"
)

func TestProfileByName(t *testing.T) {
	tests := []struct {
		name string
		rtt  time.Duration
		down int64
	}{
		{"cable", 20 * time.Millisecond, 50_000_000},
		{"4G", 70 * time.Millisecond, 10_000_000},
		{"3g", 300 * time.Millisecond, 1_600_000},
		{" lossy ", 40 * time.Millisecond, 20_000_000},
		{"none", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ProfileByName(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if p.RTT() != tt.rtt || p.Down.Bandwidth != tt.down {
				t.Errorf("RTT %v down %d, want %v and %d", p.RTT(), p.Down.Bandwidth, tt.rtt, tt.down)
			}
			if err := p.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
	if p, _ := ProfileByName("lossy"); p.Down.MeanLoss() != 0.02 || p.Up.MeanLoss() != 0.02 {
		t.Errorf("lossy loss %v/%v, want 2%% each way", p.Up.MeanLoss(), p.Down.MeanLoss())
	}
	if _, err := ProfileByName("dialup"); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("unknown profile: err = %v, want ErrInvalidConfig", err)
	}
}

func TestLinkConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  LinkConfig
		ok   bool
	}{
		{"zero", LinkConfig{}, true},
		{"full", LinkConfig{Delay: time.Millisecond, Jitter: time.Millisecond, Bandwidth: 1, Loss: 0.1, PGoodToBad: 0.1, PBadToGood: 0.5, LossInBad: 0.9}, true},
		{"negative delay", LinkConfig{Delay: -1}, false},
		{"negative jitter", LinkConfig{Jitter: -1}, false},
		{"negative bandwidth", LinkConfig{Bandwidth: -1}, false},
		{"negative queue", LinkConfig{QueueBytes: -1}, false},
		{"loss above 1", LinkConfig{Loss: 1.5}, false},
		{"bad forever", LinkConfig{PGoodToBad: 0.1}, false},
		{"empty trace", LinkConfig{Trace: &Trace{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestRelayConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  RelayConfig
		ok   bool
	}{
		{"tcp", RelayConfig{Target: "127.0.0.1:80"}, true},
		{"udp localhost", RelayConfig{Target: "localhost:443", Network: "udp"}, true},
		{"ipv6 loopback", RelayConfig{Target: "[::1]:443"}, true},
		{"no target", RelayConfig{}, false},
		{"remote target", RelayConfig{Target: "192.0.2.1:80"}, false},
		{"public listen", RelayConfig{Target: "127.0.0.1:80", Listen: "0.0.0.0:0"}, false},
		{"sctp", RelayConfig{Target: "127.0.0.1:80", Network: "sctp"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); tt.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
