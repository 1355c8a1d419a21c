package caddyearlyhints

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/earlyhints/earlyhints/hintstore"
)

func provision(t *testing.T, h *Handler) caddy.Context {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// TestHandler_CleanupKeepsSharedStore: a reload provisions the new
// handler before the old one is cleaned up; the store passes from one to
// the other with its hints, its snapshot written at the hand-over; the
// last cleanup closes it, writing the snapshot again.
func TestHandler_CleanupKeepsSharedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hints.json")
	old := &Handler{Store: "file:" + path, SnapshotInterval: caddy.Duration(-1)}
	provision(t, old)
	obs := hintstore.Observation{Links: []hintstore.Link{{Target: "https://example.com/site.css", Value: "</site.css>; rel=preload; as=style"}}}
	if _, err := old.store.store.Observe(context.Background(), "https://example.com/", obs); err != nil {
		t.Fatal(err)
	}

	next := &Handler{Store: "file:" + path, SnapshotInterval: caddy.Duration(-1), MaxPreloads: 3}
	provision(t, next)
	if next.store != old.store {
		t.Fatal("the new handler opened a store of its own")
	}
	other := &Handler{Store: "memory"}
	provision(t, other)
	if other.store == next.store {
		t.Fatal("a memory store and a file store are one")
	}

	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || !strings.Contains(string(data), "site.css") {
		t.Fatalf("no snapshot at the hand-over: %v %s", err, data)
	}
	if e, ok, err := next.store.store.Get(context.Background(), "https://example.com/"); err != nil || !ok || len(e.Links) != 1 {
		t.Fatalf("the kept store lost the hints: %+v %v %v", e, ok, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the last cleanup wrote no snapshot: %v", err)
	}
	if err := other.Cleanup(); err != nil {
		t.Fatal(err)
	}

	again := &Handler{Store: "file:" + path}
	provision(t, again)
	defer func() { _ = again.Cleanup() }()
	if _, ok, _ := again.store.store.Get(context.Background(), "https://example.com/"); !ok {
		t.Error("a new store did not read the snapshot")
	}
}

func TestHandler_ProvisionFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    Handler
		want string
	}{
		{"bad store", Handler{Store: "s3://bucket"}, "use memory, file:PATH or redis://"},
		{"quorum", Handler{PrivateQuorum: 1}, "use 2 or more"},
		{"redis down", Handler{Store: "redis://127.0.0.1:1/0", RedisConnectTimeout: caddy.Duration(200 * time.Millisecond)}, "store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			h := tc.h
			err := h.Provision(ctx)
			if err == nil {
				_ = h.Cleanup()
				t.Fatalf("provisioned %+v", tc.h)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}
