package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMain_Help(t *testing.T) {
	for _, name := range []string{"proxy", "demo", "version"} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(context.Background(), []string{name, "--help"}, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d, stderr %s", code, stderr.String())
			}
			for _, want := range []string{"Usage: earlyhints " + name, "Examples:", "earlyhints " + name} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("--help lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}

func TestMain_Usage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{nil, exitUsage, "Commands:"},
		{[]string{"nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"proxy", "--bogus"}, exitUsage, "bogus"},
		{[]string{"proxy"}, exitError, "no origin"},
		{[]string{"proxy", "--origin", "http://127.0.0.1:1", "--listen", "0.0.0.0:0"}, exitError, "--tls-cert"},
		{[]string{"proxy", "--origin", "http://x", "--store", "redis://127.0.0.1:1/0"}, exitError, "is the server running"},
		{[]string{"proxy", "--origin", "http://x", "--store", "mongodb://x"}, exitError, "use memory, file:PATH or redis://"},
		{[]string{"proxy", "--config", "testdata/does-not-exist.yaml"}, exitError, "does-not-exist.yaml"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(context.Background(), tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if !strings.Contains(stderr.String(), tt.out) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.out)
			}
		})
	}
}

func TestMain_Version(t *testing.T) {
	var stdout bytes.Buffer
	if code := Main(context.Background(), []string{"version"}, &stdout, io.Discard); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(stdout.String(), "earlyhints ") {
		t.Errorf("version output %q", stdout.String())
	}
}

func TestMain_ConfigErrorNamesKeyAndLine(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "eh.yaml")
	if err := os.WriteFile(cfg, []byte("origin: http://127.0.0.1:8080\nlisten: 127.0.0.1:0\nmax-preloads: lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := Main(context.Background(), []string{"proxy", "--config", cfg}, io.Discard, &stderr); code != exitError {
		t.Fatalf("exit %d, want %d", code, exitError)
	}
	if want := cfg + ":3: max-preloads:"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr.String(), want)
	}
}

var proxyURL = regexp.MustCompile(`serving (https://\S+) with a generated`)

func TestProxy_SnapshotSurvivesRestart(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<!doctype html><head><link rel="stylesheet" href="/s.css"></head><body>hi</body>`)
	}))
	t.Cleanup(origin.Close)
	snapshot := filepath.Join(t.TempDir(), "hints.json")
	args := []string{"proxy", "--origin", origin.URL, "--listen", "127.0.0.1:0", "--http3=false", "--store", "file:" + snapshot}

	// Hints are keyed by the host the client asked for; the proxy's own
	// port changes between the two runs.
	const site = "www.example.test"
	first := startMain(t, args...)
	base := first.waitOutput(t, proxyURL)
	learned := false
	// The first navigation teaches; learning is asynchronous. The deadline
	// only bounds a hang.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if nav := navigateHost(t, base+"/", site); len(nav.hints) > 0 {
			learned = true
			break
		}
	}
	if !learned {
		t.Fatal("the proxy never hinted the page")
	}
	if code := first.stop(t); code != exitOK {
		t.Fatalf("first proxy exited %d: %s", code, first.stderr.String())
	}
	if _, err := os.Stat(snapshot); err != nil {
		t.Fatalf("no snapshot after shutdown: %v", err)
	}

	second := startMain(t, args...)
	base = second.waitOutput(t, proxyURL)
	nav := navigateHost(t, base+"/", site)
	if len(nav.hints) != 1 || !strings.Contains(nav.hints[0].Get("Link"), "/s.css") {
		t.Fatalf("first navigation after restart got 103s %v, want the hints learned before", nav.hints)
	}
}
