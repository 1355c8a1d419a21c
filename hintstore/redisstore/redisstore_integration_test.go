//go:build integration

package redisstore_test

import (
	"cmp"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/redisstore"
	"github.com/earlyhints/earlyhints/hintstore/storetest"
	"github.com/earlyhints/earlyhints/internal/redistest"
)

var prefixes atomic.Int64

// open returns a store on srv under a prefix of its own.
func open(t testing.TB, srv *redistest.Server, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	cfg.URL = srv.URL
	// The suite checks behaviour, not speed: on a busy machine a read may
	// take longer than the request path's default bound.
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, 5*time.Second)
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = fmt.Sprintf("test%d:", prefixes.Add(1))
	}
	s, err := redisstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fakeClock is a clock the suite moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestStore_Conformance(t *testing.T) {
	srv := redistest.Start(t)
	clock := &fakeClock{now: time.Now().Truncate(time.Millisecond)}
	storetest.Run(t, func(t *testing.T) hintstore.Store {
		return open(t, srv, redisstore.Config{TTL: time.Hour, Clock: clock.Now})
	}, storetest.Options{TTL: time.Hour, Advance: clock.Advance})
}

func TestStore_ConformanceRealClock(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) hintstore.Store {
		return open(t, srv, redisstore.Config{})
	}, storetest.Options{TTL: hintstore.DefaultTTL})
}
