package cli

import (
	"strings"
	"testing"
)

func TestBrowserFlag_Set(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"true", "chromium", true},
		{"chromium", "chromium", true},
		{"Firefox", "firefox", true},
		{"false", "", true},
		{"lynx", "", false},
	}
	for _, tt := range tests {
		var f browserFlag
		err := f.Set(tt.in)
		if (err == nil) != tt.ok || f.name != tt.want {
			t.Errorf("Set(%q) = %q, %v; want %q, ok %v", tt.in, f.name, err, tt.want, tt.ok)
		}
	}
}

func TestJoinBrowserValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"check https://a/ --browser firefox", "check https://a/ --browser=firefox"},
		{"check --browser firefox https://a/", "check --browser=firefox https://a/"},
		{"check --browser https://a/", "check --browser https://a/"},
		{"check -browser chromium --json https://a/", "check -browser=chromium --json https://a/"},
		{"check https://a/ --browser", "check https://a/ --browser"},
	}
	for _, tt := range tests {
		if got := strings.Join(joinBrowserValue(strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("joinBrowserValue(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestCheck_BrowserUnknown: an unknown engine is a usage error naming the
// choices.
func TestCheck_BrowserUnknown(t *testing.T) {
	code, _, errOut := runMain("check", "--browser=lynx", "https://127.0.0.1:1/")
	if code != exitUsage || !strings.Contains(errOut, "use chromium or firefox") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
