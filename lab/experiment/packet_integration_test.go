//go:build integration

package experiment

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/netem"
)

// requirePacketMode skips (or, under CI, fails) when packet mode cannot
// run here: it needs root and the ip tool.
func requirePacketMode(t *testing.T) {
	t.Helper()
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		missing = "the ip tool (iproute2)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("packet mode needs %s; run the integration tests as root with iproute2 installed", missing)
	}
	t.Skipf("packet mode needs %s", missing)
}

func TestRun_PacketMode(t *testing.T) {
	requirePacketMode(t)
	s, err := ParseScenario(strings.NewReader(`
name: packet
runs: 1
run_timeout: 20s
budget: 2m
matrices:
  - pages: [tiny]
    strategies: [none, early-hints, push]
    protocols: [h2, h3]
    caches: [cold]
    networks: [4g]
    think_ms: [200]
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, s, Options{Netem: Packet, Logger: quietLogger()})
	if errors.Is(err, netem.ErrNeedRoot) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, c := range res.Cells {
		if c.Strategy == Push && c.Protocol == H3 {
			if c.Skipped == "" {
				t.Error("push over h3 was not skipped")
			}
			continue
		}
		if c.Runs != 1 {
			t.Errorf("%s: runs %d, skipped %q, errors %q", c.Key(), c.Runs, c.Skipped, c.Errors)
			continue
		}
		// The 4G profile's 70 ms round trip is real in packet mode: a page
		// needs at least the TCP or QUIC handshake and the request.
		if c.Render.Median < 70 {
			t.Errorf("%s: render %.0f ms, below one round trip of the emulated link", c.Key(), c.Render.Median)
		}
	}
	left, err := netem.SweepStale(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}
