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
)

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
	for _, proto := range []string{"h2", "h3"} {
		t.Run(proto, func(t *testing.T) {
			cfg := chromium.Config{SPKIHashes: []string{spki}, Logger: slog.New(slog.DiscardHandler)}
			if proto == "h3" {
				cfg.QUICOrigins = []string{strings.TrimPrefix(base, "https://")}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			b, err := chromium.Launch(ctx, cfg)
			if err != nil {
				t.Fatalf("launch chromium: %v", err)
			}
			defer b.Close()
			v, err := b.Navigate(ctx, base+"/")
			if err != nil {
				t.Fatalf("navigate: %v", err)
			}
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
