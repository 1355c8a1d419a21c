//go:build integration

package cli

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needBinary returns the path of an external program, skipping the test
// when it is missing, or failing it under CI=true.
func needBinary(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (apt-get install it, or run make test)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

// TestDemo_Curl runs the curl command the demo prints, with Debian's curl,
// and checks that the 103 and its links come before the 200.
func TestDemo_Curl(t *testing.T) {
	curl := needBinary(t, "curl")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	c := startMain(t, "demo", "--listen", "127.0.0.1:0", "--think", "300ms")
	base := c.waitOutput(t, demoURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sv", "--http2", "-k", "-H", "Accept: text/html", "-o", "/dev/null", base+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	var lines []string
	for l := range strings.SplitSeq(string(out), "\n") {
		lines = append(lines, strings.TrimSpace(strings.TrimPrefix(l, "< ")))
	}
	i103, i200, links := -1, -1, 0
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "HTTP/2 103"):
			i103 = i
		case strings.HasPrefix(l, "HTTP/2 200"):
			i200 = i
		case strings.HasPrefix(strings.ToLower(l), "link:") && i103 >= 0 && i200 < 0:
			links++
		}
	}
	if i103 < 0 || i200 < 0 || i103 > i200 {
		t.Fatalf("want HTTP/2 103 before HTTP/2 200 in curl's output:\n%s", out)
	}
	if links == 0 {
		t.Fatalf("the 103 carried no link: lines:\n%s", out)
	}
}
