//go:build chromium

package cli

import (
	"context"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
	"github.com/earlyhints/earlyhints/lab/netem"
)

func demoRelay(t *testing.T, network, target string) *netem.Relay {
	t.Helper()
	half := netem.LinkConfig{Delay: 10 * time.Millisecond}
	r, err := netem.NewRelay(t.Context(), netem.RelayConfig{
		Profile: netem.Profile{Name: "edge", Up: half, Down: half},
		Target:  target, Network: network, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("%s relay: %v", network, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

var demoSPKI = regexp.MustCompile(`--ignore-certificate-errors-spki-list=(\S+)`)

// TestDemo_Chromium opens the demo in Debian's Chromium, trusting the
// certificate the way the demo tells a person to, and checks from the page's
// Resource Timing that the stylesheets arrived through Early Hints.
func TestDemo_Chromium(t *testing.T) {
	if _, err := chromium.FindBinary(chromium.Config{}); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed (apt-get install chromium, or run make test): %v", err)
		}
		t.Skip("chromium is not installed")
	}
	c := startMain(t, "demo", "--listen", "127.0.0.1:0", "--think", "300ms")
	base := c.waitOutput(t, demoURL)
	spki := c.waitOutput(t, demoSPKI)
	addr := strings.TrimPrefix(base, "https://")
	// On bare loopback Chromium drops a 103 that arrives before it starts
	// waiting for the response headers (about one navigation in three over
	// HTTP/2), so the browser reaches the demo through relays that add a
	// 20 ms round trip, as any real network does.
	relays := map[string]*netem.Relay{"h2": demoRelay(t, "tcp", addr), "h3": demoRelay(t, "udp", addr)}
	for _, proto := range []string{"h2", "h3"} {
		t.Run(proto, func(t *testing.T) {
			relayed := relays[proto].Addr().String()
			cfg := chromium.Config{SPKIHashes: []string{spki}, Logger: slog.New(slog.DiscardHandler)}
			if proto == "h3" {
				cfg.QUICOrigins = []string{relayed}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			// The demo primed its pages under its own address; the relayed
			// address is another host:port, so a first visitor teaches it.
			visit := func() *chromium.Visit {
				b, err := chromium.Launch(ctx, cfg)
				if err != nil {
					t.Fatalf("launch chromium: %v", err)
				}
				defer b.Close()
				v, err := b.Navigate(ctx, "https://"+relayed+"/")
				if err != nil {
					t.Fatalf("navigate: %v", err)
				}
				return v
			}
			visit()
			v := visit() // a new visitor: fresh profile, cold cache
			if v.Navigation.NextHopProtocol != proto {
				t.Errorf("page came over %q, want %s", v.Navigation.NextHopProtocol, proto)
			}
			if v.Navigation.FirstInterimResponseStart <= 0 {
				t.Errorf("Chromium saw no 103 (navigation timing %+v)", v.Navigation)
			}
			early := map[string]bool{}
			for _, r := range v.Resources {
				if r.InitiatorType == "early-hints" {
					early[r.Name[strings.LastIndex(r.Name, "/"):]] = true
				}
			}
			for _, want := range []string{"/base.css", "/theme.css"} {
				if !early[want] {
					t.Errorf("%s did not arrive through Early Hints by the page's Resource Timing; early-hints resources: %v", want, early)
				}
			}
		})
	}
}
