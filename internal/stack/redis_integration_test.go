//go:build integration

package stack_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earlyhints/earlyhints/internal/redistest"
	"github.com/earlyhints/earlyhints/internal/stack"
)

// TestStack_RedisStore: two products sharing one Redis are one fleet:
// what one learns, the other's first visitor gets in a 103 (both name the
// origin's host in their route keys), and each exports the store's health.
func TestStack_RedisStore(t *testing.T) {
	redis := redistest.Start(t)
	origin := thinkingOrigin(t, 20*time.Millisecond)
	seen := make(learned, 1)
	cfg := stack.Config{Origin: origin, Store: redis.URL, RedisKeyPrefix: "fleet:", Logger: slog.New(slog.DiscardHandler)}
	cfgA := cfg
	cfgA.Observer = seen
	_, srvA, _ := served(t, cfgA)
	b, srvB, _ := served(t, cfg)

	navigate(t, srvA, srvA.URL()+"/", "", nil)
	seen.wait(t)
	r := httptest.NewRequest(http.MethodGet, srvB.URL()+"/", nil)
	r.TLS = &tls.ConnectionState{}
	key := b.Middleware.RouteKey(r)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok, _ := b.Store.Get(context.Background(), key); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other product never saw %s in the shared store", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := navigate(t, srvB, srvB.URL()+"/", "", nil); len(got) != 1 || !strings.Contains(strings.Join(got[0]["Link"], ","), "/s.css") {
		t.Fatalf("first navigation on the other product: %v, want one 103 naming the stylesheet", got)
	}
	if n, err := testutil.GatherAndCount(b.Registry, "earlyhints_store_up", "earlyhints_responses_sent_total"); err != nil || n != 2 {
		t.Errorf("store and middleware metrics: %d series, %v", n, err)
	}
}
