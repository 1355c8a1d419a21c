package cli

import (
	"regexp"
	"strings"
	"testing"
)

var demoURL = regexp.MustCompile(`Open +(https://\S+?)/ `)

func TestDemo_FirstVisitGetsHints(t *testing.T) {
	c := startMain(t, "demo", "--listen", "127.0.0.1:0", "--think", "50ms", "--http3=false")
	base := c.waitOutput(t, demoURL)
	out := c.stdout.String()
	for _, want := range []string{
		"Primed:", "curl -sv --http2 -k", "--ignore-certificate-errors-spki-list=", "--user-data-dir=",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "chromium") && strings.Contains(line, "--ignore-certificate-errors ") {
			t.Errorf("demo suggests --ignore-certificate-errors, which makes Chromium drop the hints: %s", line)
		}
	}
	for _, page := range []string{"/", "/account"} {
		nav := navigate(t, base+page)
		if nav.status != 200 || len(nav.hints) != 1 {
			t.Fatalf("%s: status %d with %d 103s, want 200 after one 103", page, nav.status, len(nav.hints))
		}
		links := strings.Join(nav.hints[0].Values("Link"), ", ")
		if !strings.Contains(links, "/static/base.css") {
			t.Errorf("%s: 103 Link %q lacks the stylesheet", page, links)
		}
		if strings.Contains(links, "/avatar/") {
			t.Errorf("%s: 103 hints a visitor's personal image: %q", page, links)
		}
	}
	if code := c.stop(t); code != exitOK {
		t.Errorf("demo exited %d: %s", code, c.stderr.String())
	}
}
