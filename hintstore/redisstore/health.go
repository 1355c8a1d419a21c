package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/earlyhints/earlyhints/hintstore"
)

// health is the circuit breaker: down while Redis does not answer, so the
// request path stops waiting on it at once, and a probe runs until it
// answers again.
type health struct {
	down    atomic.Bool
	dropped atomic.Uint64 // observations not recorded
	errors  atomic.Uint64 // failed calls
	outages atomic.Uint64
	// streak counts failures in a row; one slow reply on a busy machine
	// is no outage.
	streak atomic.Int32

	// refused is set while the server answers but refuses writes (full,
	// read-only), from the first refusal to the next accepted write.
	refused atomic.Bool

	mu        sync.Mutex
	err       error
	since     time.Time
	refuseErr error
	refuseAt  time.Time
}

// Health is the state of a store's connection, for /healthz and metrics.
type Health struct {
	// Up is false while the server does not answer, or refuses writes.
	Up bool `json:"up"`
	// WritesRefused is true while the server answers but refuses writes
	// (out of memory under noeviction, a read-only replica): the hints it
	// holds are served, nothing new is learned.
	WritesRefused bool `json:"writes_refused,omitempty"`
	// Since is when Up last changed (or the store opened).
	Since time.Time `json:"since"`
	// Err is the failure that took the store down, while down.
	Err string `json:"error,omitempty"`
	// Dropped counts the observations not recorded (while down, or that
	// failed); Errors the calls that failed; Outages the times the store
	// went down.
	Dropped uint64 `json:"dropped"`
	Errors  uint64 `json:"errors"`
	Outages uint64 `json:"outages"`
	// LocalEntries counts the routes this node holds decoded; LocalHits
	// and LocalMisses count the Get calls it answered with hints and
	// without (whether from its copy or after asking the server).
	LocalEntries int    `json:"local_entries"`
	LocalHits    uint64 `json:"local_hits"`
	LocalMisses  uint64 `json:"local_misses"`
}

// Health reports the store's state.
func (s *Store) Health() Health {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	h := Health{
		Up: !s.health.down.Load(), Since: s.health.since,
		Dropped: s.health.dropped.Load(), Errors: s.health.errors.Load(), Outages: s.health.outages.Load(),
	}
	if !h.Up && s.health.err != nil {
		h.Err = s.health.err.Error()
	}
	if h.Up && s.health.refused.Load() && s.health.refuseErr != nil {
		h.Up, h.WritesRefused = false, true
		h.Since, h.Err = s.health.refuseAt, s.health.refuseErr.Error()
	}
	hits, misses, entries := s.routes.totals()
	h.LocalEntries, h.LocalHits, h.LocalMisses = entries, s.retiredHits.Load()+hits, misses
	return h
}

// failuresToOpen is how many failed calls in a row take the store down.
const failuresToOpen = 3

// ok records a call that got an answer.
func (h *health) ok() {
	if h.streak.Load() != 0 {
		h.streak.Store(0)
	}
}

// Unavailable returns why the server cannot be reached, wrapping
// hintstore.ErrUnavailable, or nil while it answers (for /healthz).
func (s *Store) Unavailable() error {
	if !s.health.down.Load() {
		if s.health.refused.Load() {
			h := s.Health()
			return fmt.Errorf("%w: Redis at %s refuses writes since %s (%s); its hints are served, nothing is learned, %d observations dropped",
				hintstore.ErrUnavailable, s.addr, h.Since.Format(time.RFC3339), h.Err, h.Dropped)
		}
		return nil
	}
	h := s.Health()
	return fmt.Errorf("%w: Redis at %s does not answer since %s (%s); serving without shared hints, %d observations dropped",
		hintstore.ErrUnavailable, s.addr, h.Since.Format(time.RFC3339), h.Err, h.Dropped)
}

// check returns an error wrapping hintstore.ErrUnavailable while down.
func (h *health) check() error {
	if h.down.Load() {
		return fmt.Errorf("%w: Redis does not answer", hintstore.ErrUnavailable)
	}
	return nil
}

// failed records a failed call; a failure to reach the server takes the
// store down (logged once) and starts the probe. A caller that gave up
// (its context ended) or an error reply from the server is no outage.
func (s *Store) failed(ctx context.Context, err error) {
	s.health.errors.Add(1)
	if ctx.Err() != nil {
		return
	}
	if _, ok := rueidis.IsRedisErr(err); ok {
		if refusal(err) {
			s.refused(err)
		}
		return
	}
	if errors.Is(err, hintstore.ErrUnavailable) || s.health.streak.Add(1) < failuresToOpen || !s.health.down.CompareAndSwap(false, true) {
		return
	}
	s.health.outages.Add(1)
	s.health.mu.Lock()
	s.health.err, s.health.since = err, time.Now()
	s.health.mu.Unlock()
	s.cfg.Logger.Warn("hint store: Redis does not answer; requests are served without shared hints and learning is dropped until it does",
		"addr", s.addr, "err", err,
		"fix", "check that the server runs and is reachable (redis-cli -u URL ping), or run with --store memory")
	s.wg.Add(1)
	go s.probe() //nolint:gosec // G118: the probe outlives the call that saw the outage; it stops with the store (s.stop), not with ctx
}

// refusal reports whether err is the server refusing a write for a state
// of its own (out of memory, read-only, a failing disk, missing
// replicas), not for the command.
func refusal(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, m := range []string{"OOM command not allowed", "READONLY", "MISCONF", "NOREPLICAS"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// refused records a write the server refused; the first of a run is
// logged.
func (s *Store) refused(err error) {
	if !s.health.refused.CompareAndSwap(false, true) {
		return
	}
	s.health.mu.Lock()
	s.health.refuseErr, s.health.refuseAt = err, time.Now()
	s.health.mu.Unlock()
	s.cfg.Logger.Warn("hint store: Redis refuses writes; the hints it holds are served, nothing new is learned until it accepts writes again",
		"addr", s.addr, "err", err,
		"fix", "give Redis more maxmemory or a maxmemory-policy that evicts (volatile-ttl, allkeys-lru), and point the store at the primary")
}

// wrote records a write the server accepted, ending a refusal.
func (h *health) wrote(s *Store) {
	if !h.refused.Load() || !h.refused.CompareAndSwap(true, false) {
		return
	}
	h.mu.Lock()
	since := h.refuseAt
	h.mu.Unlock()
	s.cfg.Logger.Info("hint store: Redis accepts writes again; learning is back", "addr", s.addr,
		"refused_for", time.Since(since).Round(time.Millisecond), "dropped_observations", h.dropped.Load())
}

// probe pings the server, backing off to 2s, until it answers.
func (s *Store) probe() {
	defer s.wg.Done()
	wait := 50 * time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
		err := s.client.Do(ctx, s.client.B().Ping().Build()).Error()
		cancel()
		if err == nil {
			break
		}
		wait = min(2*wait, 2*time.Second)
		t.Reset(wait)
	}
	// A server restarted empty lost the fleet's identity key: the check
	// puts back the one this node hashes with, so a node started later
	// agrees.
	s.checkIdentitySoon()
	// What this node read before may have changed meanwhile without a word
	// reaching it.
	s.retiredHits.Add(s.routes.reset())
	s.targets.reset()
	s.health.mu.Lock()
	down := time.Since(s.health.since)
	s.health.err, s.health.since = nil, time.Now()
	s.health.mu.Unlock()
	s.health.streak.Store(0)
	s.health.down.Store(false)
	s.cfg.Logger.Info("hint store: Redis answers again; shared hints are back", "addr", s.addr,
		"down_for", down.Round(time.Millisecond), "dropped_observations", s.health.dropped.Load())
}
