//go:build chromium

package caddyearlyhints

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
)

// TestChromium_UsesHintsThroughCaddy: a fresh Chromium profile, over
// HTTP/2 and over HTTP/3, fetches the page's stylesheet and script through
// the 103 Caddy sent (Resource Timing initiatorType early-hints).
//
// On bare loopback the 103 can come back before Chromium's HTTP/2 stream
// waits for response headers, and Chromium then drops it (see the main
// README); so each protocol gets up to a few fresh profiles, and one that
// used the hints passes.
func TestChromium_UsesHintsThroughCaddy(t *testing.T) {
	if _, err := chromium.FindBinary(chromium.Config{}); err != nil {
		t.Skip("no Chromium: apt-get install chromium, or run make test")
	}
	s := newSite(t)
	s.load(s.caddyfile(composed))
	c := s.h2Client("127.1.0.1")
	c.navigate(t, s.base+"/", nil)
	waitMetric(t, learnedMetric, 1)
	if got := c.navigate(t, s.base+"/", nil).links(t); len(got) != len(wantLinks) {
		t.Fatalf("the Go client got %q; Chromium would get the same", got)
	}

	const tries = 4
	for _, proto := range []string{"h2", "h3"} {
		t.Run(proto, func(t *testing.T) {
			cfg := chromium.Config{SPKIHashes: []string{s.spki}, Logger: slog.New(slog.DiscardHandler)}
			if proto == "h3" {
				cfg.QUICOrigins = []string{strings.TrimPrefix(s.base, "https://")}
			}
			var notes []string
			for i := range tries {
				early, note := chromiumVisit(t, cfg, s.base+"/", proto)
				if early["/static/site.css"] && early["/static/app.js"] {
					t.Logf("fresh profile %d of %d used the hints over %s", i+1, tries, proto)
					return
				}
				notes = append(notes, note)
			}
			t.Errorf("no fresh profile used the hints over %s:\n%s", proto, strings.Join(notes, "\n"))
		})
	}
}

// chromiumVisit loads url in a fresh profile and returns the paths that
// arrived through Early Hints.
func chromiumVisit(t *testing.T, cfg chromium.Config, url, proto string) (map[string]bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	b, err := chromium.Launch(ctx, cfg)
	if err != nil {
		t.Fatalf("launch chromium: %v", err)
	}
	defer b.Close()
	v, err := b.Navigate(ctx, url)
	if err != nil {
		t.Fatalf("visit: %v", err)
	}
	if v.Navigation.NextHopProtocol != proto {
		t.Errorf("the page came over %q, want %s", v.Navigation.NextHopProtocol, proto)
	}
	early := map[string]bool{}
	for _, r := range v.Resources {
		if i := strings.Index(r.Name, "/static/"); i >= 0 && r.InitiatorType == "early-hints" {
			early[r.Name[i:]] = true
		}
	}
	return early, strings.Join([]string{"103 links ", strings.Join(v.EarlyHints, ", "), "; early-hints resources ", keys(early)}, "")
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, " ")
}
