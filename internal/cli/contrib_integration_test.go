//go:build integration

package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// contrib/earlyhints.service passes systemd-analyze verify (with this test
// binary standing in for the installed one), and every flag its ExecStart
// gives the proxy exists.
func TestContrib_SystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing (apt-get install systemd, or run make test)")
		}
		t.Skip("systemd-analyze is missing")
	}
	unit, err := os.ReadFile("../../contrib/earlyhints.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "earlyhints.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/earlyhints"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "StateDirectory=earlyhints", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	var help bytes.Buffer
	Main(context.Background(), []string{"proxy", "--help"}, &help, &help)
	exec := regexp.MustCompile(`(?s)ExecStart=(.*?)\nExecReload`).FindSubmatch(unit)
	if exec == nil {
		t.Fatal("no ExecStart")
	}
	for _, flag := range regexp.MustCompile(`--[a-z0-9-]+`).FindAllString(string(exec[1]), -1) {
		if !strings.Contains(help.String(), "-"+strings.TrimLeft(flag, "-")+" ") {
			t.Errorf("ExecStart passes %s, which the proxy does not know", flag)
		}
	}
}
