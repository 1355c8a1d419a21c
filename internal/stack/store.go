package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/redisstore"
)

// openStore opens the store cfg.Store names.
func openStore(cfg Config, logger *slog.Logger) (hintstore.Store, error) {
	spec := cfg.Store
	switch {
	case spec == "" || spec == "memory":
		return hintstore.NewMemory(hintstore.MemoryConfig{Logger: logger})
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, errors.New("--store file: needs a path, such as file:/var/lib/earlyhints/hints.json")
		}
		// A corrupt snapshot is moved aside and the proxy starts empty: a
		// restart must never be blocked by a file it wrote itself.
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path, SnapshotInterval: max(cfg.SnapshotInterval, 0), IgnoreCorruptSnapshot: true, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("open hint store %s: %w", path, err)
		}
		return m, nil
	case strings.HasPrefix(spec, "redis://") || strings.HasPrefix(spec, "rediss://"):
		r, err := redisstore.New(redisstore.Config{
			URL:            spec,
			KeyPrefix:      cfg.RedisKeyPrefix,
			ConnectTimeout: cfg.RedisConnectTimeout,
			ReadTimeout:    cfg.RedisTimeout,
			WriteTimeout:   cfg.RedisWriteTimeout,
			Logger:         logger,
		})
		if err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		return r, nil
	}
	return nil, fmt.Errorf("--store %q: use memory, file:PATH or redis://host:port/db", spec)
}

// identityKey is the key of the requester hashes: a shared store keeps
// one for the whole fleet, so one visitor counts once towards a quorum
// whichever proxy served them; nil means one per process.
func identityKey(store hintstore.Store) ([]byte, error) {
	r, ok := store.(*redisstore.Store)
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key, err := r.IdentityKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	return key, nil
}

// fleetIdentity follows the identity key a shared store keeps for the
// fleet, which changes when Redis loses it; nil for other stores.
func fleetIdentity(store hintstore.Store) func() ([]byte, string) {
	if r, ok := store.(*redisstore.Store); ok {
		return r.CurrentIdentity
	}
	return nil
}

// redisCollectors exports the state of a Redis store on /metrics.
func redisCollectors(r *redisstore.Store) []prometheus.Collector {
	up := func() float64 {
		if r.Health().Up {
			return 1
		}
		return 0
	}
	counter := func(name, help string, f func(redisstore.Health) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "earlyhints_store_" + name, Help: help}, func() float64 { return float64(f(r.Health())) })
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earlyhints_store_up", Help: "1 while the shared store's server answers, 0 while requests go without its hints."}, up),
		counter("errors_total", "Calls to the shared store's server that failed.", func(h redisstore.Health) uint64 { return h.Errors }),
		counter("dropped_total", "Observations not recorded because the shared store's server did not answer.", func(h redisstore.Health) uint64 { return h.Dropped }),
		counter("outages_total", "Times the shared store's server stopped answering.", func(h redisstore.Health) uint64 { return h.Outages }),
		counter("local_hits_total", "Hint lookups answered with hints by this node.", func(h redisstore.Health) uint64 { return h.LocalHits }),
		counter("local_misses_total", "Hint lookups answered without hints by this node.", func(h redisstore.Health) uint64 { return h.LocalMisses }),
	}
}
