package netem

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// MTU is the packet size a trace delivery opportunity carries, as in mahimahi,
// and the MTU of the TUN devices in packet mode.
const MTU = 1500

// minDefaultQueue is the smallest default queue: 64 KiB.
const minDefaultQueue = 64 << 10

// LinkConfig describes one direction of a link. The zero value is a perfect
// link: no delay, no loss, unlimited bandwidth.
type LinkConfig struct {
	// Delay is the one-way propagation delay. Default 0.
	Delay time.Duration
	// Jitter varies each packet's delay by a value drawn uniformly from
	// [-Jitter, +Jitter] (the delay never goes below 0). Packets still leave in
	// order unless Reorder is set, so jitter alone raises the mean delay a
	// little. Default 0.
	Jitter time.Duration
	// Reorder lets jitter reorder packets. Default false: a link keeps order.
	Reorder bool
	// Bandwidth is the serialization rate in bits per second; 0 means
	// unlimited. Ignored when Trace is set.
	Bandwidth int64
	// QueueBytes is the size of the drop-tail queue in front of the
	// transmitter, counting the packet being sent. Default: 1.5 × the
	// bandwidth-delay product (Bandwidth × 2×Delay), at least 64 KiB; no
	// limit on an unlimited link.
	QueueBytes int
	// Loss is the probability that a packet is lost, independently of the
	// others (in the good state when the Gilbert-Elliott fields are set).
	// 0..1, default 0.
	Loss float64
	// PGoodToBad is the per-packet probability of moving from the good to the
	// bad state of a Gilbert-Elliott burst-loss model. 0 (default) disables
	// burst loss.
	PGoodToBad float64
	// PBadToGood is the per-packet probability of leaving the bad state; the
	// mean burst lasts 1/PBadToGood packets. Required when PGoodToBad > 0.
	PBadToGood float64
	// LossInBad is the loss probability in the bad state. Default 1 when
	// PGoodToBad > 0 (the Gilbert model).
	LossInBad float64
	// Trace, when set, replaces Bandwidth by a mahimahi packet-delivery
	// trace: each opportunity lets MTU bytes leave, and the trace repeats.
	Trace *Trace
	// Seed seeds the generator for loss and jitter. 0 means a fixed default,
	// so runs are reproducible unless a seed is chosen.
	Seed uint64
}

// Validate reports whether c can be emulated.
func (c LinkConfig) Validate() error {
	prob := func(name string, v float64) error {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("%w: %s %v is not a probability between 0 and 1", ErrInvalidConfig, name, v)
		}
		return nil
	}
	switch {
	case c.Delay < 0:
		return fmt.Errorf("%w: negative delay %v", ErrInvalidConfig, c.Delay)
	case c.Jitter < 0:
		return fmt.Errorf("%w: negative jitter %v", ErrInvalidConfig, c.Jitter)
	case c.Bandwidth < 0:
		return fmt.Errorf("%w: negative bandwidth %d", ErrInvalidConfig, c.Bandwidth)
	case c.QueueBytes < 0:
		return fmt.Errorf("%w: negative queue size %d", ErrInvalidConfig, c.QueueBytes)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", c.Loss}, {"PGoodToBad", c.PGoodToBad}, {"PBadToGood", c.PBadToGood}, {"LossInBad", c.LossInBad}} {
		if err := prob(p.name, p.v); err != nil {
			return err
		}
	}
	if c.PGoodToBad > 0 && c.PBadToGood == 0 {
		return fmt.Errorf("%w: PGoodToBad without PBadToGood would stay in the bad state forever; set PBadToGood", ErrInvalidConfig)
	}
	if c.Trace != nil {
		if err := c.Trace.validate(); err != nil {
			return err
		}
	}
	return nil
}

// lossInBad returns LossInBad with its default applied.
func (c LinkConfig) lossInBad() float64 {
	if c.LossInBad == 0 {
		return 1
	}
	return c.LossInBad
}

// MeanLoss returns the long-run fraction of packets the loss models drop
// (queue drops not included).
func (c LinkConfig) MeanLoss() float64 {
	if c.PGoodToBad == 0 {
		return c.Loss
	}
	bad := c.PGoodToBad / (c.PGoodToBad + c.PBadToGood)
	return (1-bad)*c.Loss + bad*c.lossInBad()
}

// Rate returns the average delivery rate in bits per second: the trace's
// when set, else Bandwidth (0 = unlimited).
func (c LinkConfig) Rate() int64 {
	if c.Trace != nil {
		return c.Trace.Rate()
	}
	return c.Bandwidth
}

// queueLimit returns the queue size in bytes, 0 meaning unlimited.
func (c LinkConfig) queueLimit() int {
	if c.QueueBytes > 0 {
		return c.QueueBytes
	}
	rate := c.Rate()
	if rate == 0 {
		return 0
	}
	// The direction's own delay stands in for the other one: the presets are
	// symmetric in delay.
	bdp := float64(rate) / 8 * (2 * c.Delay).Seconds()
	return max(minDefaultQueue, int(1.5*bdp))
}

// Profile is a named pair of link directions: Up carries packets from the
// client to the server, Down from the server to the client.
type Profile struct {
	Name     string
	Up, Down LinkConfig
}

// Validate reports whether both directions can be emulated.
func (p Profile) Validate() error {
	if err := p.Up.Validate(); err != nil {
		return fmt.Errorf("profile %q up: %w", p.Name, err)
	}
	if err := p.Down.Validate(); err != nil {
		return fmt.Errorf("profile %q down: %w", p.Name, err)
	}
	return nil
}

// RTT returns the round-trip propagation delay (without serialization).
func (p Profile) RTT() time.Duration { return p.Up.Delay + p.Down.Delay }

const mbit = 1_000_000

// The presets. Delays are split evenly between directions; uplinks are slower
// than downlinks as on real access networks (shapes follow WebPageTest's and
// Lighthouse's throttling profiles).
var presets = map[string]Profile{
	// No shaping at all: a baseline.
	"none": {Name: "none"},
	// Cable: 20 ms RTT, 50 Mbit/s down, 10 Mbit/s up.
	"cable": {
		Name: "cable",
		Up:   LinkConfig{Delay: 10 * time.Millisecond, Bandwidth: 10 * mbit},
		Down: LinkConfig{Delay: 10 * time.Millisecond, Bandwidth: 50 * mbit},
	},
	// 4G: 70 ms RTT, 10 Mbit/s down, 5 Mbit/s up.
	"4g": {
		Name: "4g",
		Up:   LinkConfig{Delay: 35 * time.Millisecond, Bandwidth: 5 * mbit},
		Down: LinkConfig{Delay: 35 * time.Millisecond, Bandwidth: 10 * mbit},
	},
	// 3G: 300 ms RTT, 1.6 Mbit/s down, 768 kbit/s up.
	"3g": {
		Name: "3g",
		Up:   LinkConfig{Delay: 150 * time.Millisecond, Bandwidth: 768_000},
		Down: LinkConfig{Delay: 150 * time.Millisecond, Bandwidth: 1_600_000},
	},
	// Lossy: 40 ms RTT, 20 Mbit/s each way, 2 % random loss each way.
	"lossy": {
		Name: "lossy",
		Up:   LinkConfig{Delay: 20 * time.Millisecond, Bandwidth: 20 * mbit, Loss: 0.02},
		Down: LinkConfig{Delay: 20 * time.Millisecond, Bandwidth: 20 * mbit, Loss: 0.02},
	},
}

// ProfileNames lists the preset names, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(presets)+1)
	for n := range presets {
		names = append(names, n)
	}
	names = append(names, "4g-varying")
	sort.Strings(names)
	return names
}

// ProfileByName returns a preset by name, case-insensitively: none, cable,
// 4g, 3g, lossy, or 4g-varying (4G's 70 ms RTT with a capacity that varies
// as a cellular link's, from mahimahi traces; see cellular.go).
func ProfileByName(name string) (Profile, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "4g-varying" {
		return varying()
	}
	p, ok := presets[name]
	if !ok {
		return Profile{}, fmt.Errorf("%w: unknown network profile %q; use one of %s", ErrInvalidConfig, name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}
