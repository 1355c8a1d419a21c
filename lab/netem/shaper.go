package netem

import (
	"math/rand/v2"
	"time"
)

// verdict is what the model decided for one packet.
type verdict int

const (
	deliver verdict = iota
	dropQueue
	dropLoss
	// full: no room in the queue yet; the sender keeps the packet (see Link.offer).
	full
)

// defaultSeed is used when LinkConfig.Seed is 0.
const defaultSeed = 0x5eed_1ab5_0f_e4

// inTransmission is a packet admitted to the queue, until its last bit leaves.
type inTransmission struct {
	finish time.Time
	bytes  int
}

// shaper is the link model, free of goroutines and clocks: it is told when
// each packet arrives and answers when it is delivered, so it can be tested
// with made-up times. Not safe for concurrent use.
type shaper struct {
	cfg       LinkConfig
	limit     int // queue bytes, 0 = unlimited
	lossBad   float64
	start     time.Time // trace time zero
	rng       *rand.Rand
	bad       bool
	busyUntil time.Time
	fifo      []inTransmission // admitted packets not yet fully sent
	head      int
	queued    int // bytes in fifo[head:]
	lastOut   time.Time
	// Trace state: the current opportunity and the bytes left in it.
	opp     int64
	oppLeft int
}

func newShaper(cfg LinkConfig, start time.Time, stream uint64) *shaper {
	seed := cfg.Seed
	if seed == 0 {
		seed = defaultSeed
	}
	return &shaper{
		cfg:     cfg,
		limit:   cfg.queueLimit(),
		lossBad: cfg.lossInBad(),
		start:   start,
		rng:     rand.New(rand.NewPCG(seed, stream)), //nolint:gosec // a loss pattern reproducible from its seed, not a secret
		opp:     -1,
	}
}

// drain forgets packets whose transmission finished by now.
func (s *shaper) drain(now time.Time) {
	for s.head < len(s.fifo) && !s.fifo[s.head].finish.After(now) {
		s.queued -= s.fifo[s.head].bytes
		s.head++
	}
	if s.head == len(s.fifo) {
		s.fifo, s.head = s.fifo[:0], 0
	} else if s.head > 1024 && s.head*2 > len(s.fifo) {
		s.fifo = append(s.fifo[:0], s.fifo[s.head:]...)
		s.head = 0
	}
}

// fits reports whether a packet of wire bytes arriving now finds room.
func (s *shaper) fits(now time.Time, wire int) bool {
	s.drain(now)
	return s.limit == 0 || s.queued == 0 || s.queued+wire <= s.limit
}

// roomAt returns when enough of the queue will have drained for wire bytes.
func (s *shaper) roomAt(now time.Time, wire int) time.Time {
	if s.fits(now, wire) {
		return now
	}
	left := s.queued
	for _, p := range s.fifo[s.head:] {
		left -= p.bytes
		if left == 0 || left+wire <= s.limit {
			return p.finish
		}
	}
	return s.busyUntil
}

// lose draws the loss decision for one packet and advances the burst state.
func (s *shaper) lose() bool {
	c := &s.cfg
	if c.PGoodToBad == 0 {
		return c.Loss > 0 && s.rng.Float64() < c.Loss
	}
	p := c.Loss
	if s.bad {
		p = s.lossBad
	}
	lost := p > 0 && s.rng.Float64() < p
	if s.bad {
		s.bad = s.rng.Float64() >= c.PBadToGood
	} else {
		s.bad = s.rng.Float64() < c.PGoodToBad
	}
	return lost
}

// transmit reserves the transmitter for wire bytes and returns when the last
// bit has left.
func (s *shaper) transmit(now time.Time, wire int) time.Time {
	c := &s.cfg
	switch {
	case c.Trace != nil:
		return s.transmitTrace(now, wire)
	case c.Bandwidth > 0:
		begin := now
		if s.busyUntil.After(begin) {
			begin = s.busyUntil
		}
		return begin.Add(time.Duration(int64(wire) * 8 * int64(time.Second) / c.Bandwidth))
	default:
		return now
	}
}

// transmitTrace spends the trace's delivery opportunities on a packet as
// mahimahi does: each opportunity carries MTU bytes, a packet may span
// several, and bytes an opportunity could carry are lost when nothing waits.
func (s *shaper) transmitTrace(now time.Time, wire int) time.Time {
	tr := s.cfg.Trace
	if s.opp < 0 || !s.busyUntil.After(now) {
		// Idle link: the packet waits for the next opportunity, which arrives
		// with a full MTU. An opportunity at exactly "now" is usable.
		// If that is the opportunity the previous packet ended in, the packet
		// gets what is left of it.
		if next := tr.firstAtOrAfter(now.Sub(s.start)); next > s.opp {
			s.opp, s.oppLeft = next, MTU
		}
	}
	for left := wire; ; {
		if s.oppLeft == 0 {
			s.opp++
			s.oppLeft = MTU
		}
		use := min(left, s.oppLeft)
		s.oppLeft -= use
		left -= use
		if left == 0 {
			return s.start.Add(tr.opportunity(s.opp))
		}
	}
}

// admit decides the fate of a packet of wire bytes arriving at now. order is
// the last delivery time of the packet's flow (nil: the link's own), used to
// keep order; penalty, when positive, turns a loss into that much extra delay.
func (s *shaper) admit(now time.Time, wire int, order *time.Time, penalty time.Duration) (time.Time, verdict) {
	if !s.fits(now, wire) {
		return time.Time{}, dropQueue
	}
	extra := time.Duration(0)
	if s.lose() {
		if penalty <= 0 {
			return time.Time{}, dropLoss
		}
		extra = penalty
	}
	finish := s.transmit(now, wire)
	if finish.After(s.busyUntil) {
		s.busyUntil = finish
	}
	if s.limit > 0 {
		s.fifo = append(s.fifo, inTransmission{finish: finish, bytes: wire})
		s.queued += wire
	}
	d := s.cfg.Delay
	if j := s.cfg.Jitter; j > 0 {
		d += time.Duration(s.rng.Int64N(int64(2*j)+1)) - j
		d = max(d, 0)
	}
	at := finish.Add(d + extra)
	if order == nil {
		order = &s.lastOut
	}
	if !s.cfg.Reorder {
		if at.Before(*order) {
			at = *order
		}
		*order = at
	}
	return at, deliver
}
