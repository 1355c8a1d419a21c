package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var demoURL = regexp.MustCompile(`Open +(https://\S+?)/ `)

func TestDemo_FirstVisitGetsHints(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
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

var demoKey = regexp.MustCompile(`--ignore-certificate-errors-spki-list=(\S+)`)

// The demo keeps its certificate in the user's cache directory: the
// Chromium command it prints stays valid from one run to the next.
func TestDemo_KeepsCertificate(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	var keys []string
	for range 2 {
		c := startMain(t, "demo", "--listen", "127.0.0.1:0", "--think", "10ms", "--http3=false")
		keys = append(keys, c.waitOutput(t, demoKey))
		if !strings.Contains(c.stdout.String(), filepath.Join(cache, "earlyhints", "demo-cert.pem")) {
			t.Errorf("the demo does not say where it keeps its certificate:\n%s", c.stdout.String())
		}
		if code := c.stop(t); code != exitOK {
			t.Fatalf("demo exited %d: %s", code, c.stderr.String())
		}
	}
	if keys[0] != keys[1] {
		t.Errorf("the key changed from one run to the next: %s, then %s", keys[0], keys[1])
	}
	if fi, err := os.Stat(filepath.Join(cache, "earlyhints", "demo-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, fi)
	}
}
