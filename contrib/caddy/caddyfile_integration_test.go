//go:build integration

package caddyearlyhints

import (
	"fmt"
	"strings"
	"testing"
)

// TestCaddyfile_BadSettingGetsLineNumber: a mistake in the early_hints
// block fails the adapter with Caddy's usual error, naming the Caddyfile
// and the line of the mistake, and saying what to write instead.
func TestCaddyfile_BadSettingGetsLineNumber(t *testing.T) {
	s := newSite(t)
	for _, tc := range []struct {
		name, setting, want string
	}{
		{"not a count", "private-quorum many", `"many" is not a count`},
		{"quorum of one", "private-quorum 1", "use 2 or more"},
		{"unknown", "max-prelods 4", `unknown setting "max-prelods"`},
		{"store", "store ftp://hints", "use memory, file:PATH or redis://"},
		{"file without path", "store file:", "needs a path"},
		{"push", "mode push", "use hints or off"},
		{"duration", "assumed-rtt soon", "write it like 30s"},
		{"no value", "max-preloads", "max-preloads takes count"},
		{"boolean", "http1-hints maybe", "use true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := s.caddyfile("\tearly_hints {\n\t\tmax-preconnects 3\n\t\t" + tc.setting + "\n\t}")
			line := lineOf(text, tc.setting)
			_, err := adapt(text)
			if err == nil {
				t.Fatalf("adapted a Caddyfile with %q", tc.setting)
			}
			if want := fmt.Sprintf("Caddyfile:%d", line); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	t.Run("argument", func(t *testing.T) {
		text := s.caddyfile("\tearly_hints file:/tmp/x")
		if _, err := adapt(text); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("Caddyfile:%d", lineOf(text, "early_hints"))) {
			t.Errorf("early_hints with an argument: %v", err)
		}
	})
}

// lineOf is the 1-based line of text that contains s.
func lineOf(text, s string) int {
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}

// TestCaddyfile_Order: early_hints needs no order line: it runs after
// header and encode and before reverse_proxy, php_fastcgi and file_server
// whichever order the site block writes them in.
func TestCaddyfile_Order(t *testing.T) {
	text := `:8080 {
	file_server
	reverse_proxy /api/* 127.0.0.1:9000
	early_hints
	header X-A b
	encode gzip
}
`
	cfg, err := adapt(text)
	if err != nil {
		t.Fatal(err)
	}
	order := handlerOrder(string(cfg))
	want := []string{"headers", "encode", "early_hints", "reverse_proxy", "file_server"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("handlers in order %v, want %v\n%s", order, want, cfg)
	}
}

// handlerOrder lists the handler names of an adapted config in the order
// they appear.
func handlerOrder(cfg string) []string {
	var out []string
	for rest := cfg; ; {
		i := strings.Index(rest, `"handler":"`)
		if i < 0 {
			return out
		}
		rest = rest[i+len(`"handler":"`):]
		name := rest[:strings.IndexByte(rest, '"')]
		if name != "subroute" {
			out = append(out, name)
		}
	}
}
