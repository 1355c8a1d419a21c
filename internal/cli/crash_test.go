package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCrashChild is not a test: TestProxy_KillNineKeepsWhatWasLearned runs
// the test binary again with EARLYHINTS_CRASH_CHILD set, and this runs the
// command in that child process, so that it can be killed with SIGKILL.
func TestCrashChild(t *testing.T) {
	args := os.Getenv("EARLYHINTS_CRASH_CHILD")
	if args == "" {
		t.Skip("runs only as the child of TestProxy_KillNineKeepsWhatWasLearned")
	}
	os.Exit(Main(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// startChild runs `earlyhints args…` in a child process and returns it
// with the base URL it serves on.
func startChild(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$") //nolint:gosec // the test binary itself
	cmd.Env = append(os.Environ(), "EARLYHINTS_CRASH_CHILD="+strings.Join(args, "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := proxyURL.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case base := <-found:
		return cmd, base
	case <-time.After(30 * time.Second):
		t.Fatal("the child proxy printed no address within 30s")
	}
	return nil, ""
}

// TestProxy_KillNineKeepsWhatWasLearned: with --store file:PATH the
// snapshot is written while the proxy runs, so a SIGKILL loses at most one
// snapshot interval of learning.
func TestProxy_KillNineKeepsWhatWasLearned(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<!doctype html><head><link rel="stylesheet" href="/crash.css"></head><body>hi</body>`)
	}))
	t.Cleanup(origin.Close)
	snapshot := filepath.Join(t.TempDir(), "hints.json")
	args := []string{
		"proxy", "--origin", origin.URL, "--listen", "127.0.0.1:0", "--http3=false",
		"--store", "file:" + snapshot, "--snapshot-interval", "100ms",
	}

	first, base := startChild(t, args...)
	navigate(t, base+"/")
	// The snapshot holds the route once an interval passed after learning;
	// the deadline only bounds a hang.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(snapshot); err == nil && strings.Contains(string(b), "/crash.css") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the snapshot never held the learned page")
		}
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	_, base = startChild(t, args...)
	nav := navigate(t, base+"/")
	if len(nav.hints) != 1 || !strings.Contains(nav.hints[0].Get("Link"), "/crash.css") {
		t.Fatalf("first navigation after kill -9 got 103s %v, want the hints learned before", nav.hints)
	}
}
