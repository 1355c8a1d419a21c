package cli

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseConfig_Full(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := defaultSettings()
	if err := parseConfig("full.yaml", data, &s); err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	want := settings{
		Listen: "127.0.0.1:9443", Origin: "http://127.0.0.1:8080",
		Origins: map[string]string{"www.example.com": "http://10.0.0.5:8080", "shop.example.com": "h2c://10.0.0.6:8081"},
		TLSCert: "/etc/ssl/site.pem", TLSKey: "/etc/ssl/site.key",
		Store: "file:/var/lib/earlyhints/hints.json", SnapshotInterval: 30 * time.Second, PrivateQuorum: 4,
		RedisKeyPrefix: "shop:", RedisConnectTimeout: 2 * time.Second, RedisTimeout: 15 * time.Millisecond, RedisWriteTimeout: 3 * time.Second,
		AdminTokenFile: "/etc/earlyhints/admin-token", AdminHosts: []string{"admin.example.com"}, HTTP3: false, H2CListen: "127.0.0.1:8081",
		Mode: "off", LogFormat: "json", OriginTimeout: 5 * time.Second, PreserveHost: true,
		OriginIdleTimeout: 2 * time.Minute, OriginMaxHeaderBytes: 128 << 10, ExposeOriginErrors: true,
		TrustedProxies: []string{"10.0.0.0/8", "fd00::/8"},
		MaxPreloads:    6, MaxPreconnects: 2, HTTP1Hints: true,
		QueryParams: []string{"page", "lang"}, DenyUserAgents: []string{"BadBot", "OldProxy"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

func TestParseConfig_Errors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown key", "listen: :8443\norign: http://x\n", []string{"cfg.yaml:2:", `unknown key "orign"`, "known keys"}},
		{"snake case", "origin_timeout: 5s\n", []string{"cfg.yaml:1:", `did you mean "origin-timeout"`}},
		{"bad duration", "listen: :8443\n\norigin-timeout: 3x\n", []string{"cfg.yaml:3:", "origin-timeout", `"3x" is not a positive duration`}},
		{"bad bool", "http3: yes please\n", []string{"cfg.yaml:1:", "http3", "true or false"}},
		{"bad count", "max-preloads: -2\n", []string{"cfg.yaml:1:", "max-preloads", "whole number"}},
		{"bad mode", "mode: shove\n", []string{"cfg.yaml:1:", "mode", "hints, push, push-digest, off"}},
		{"duplicate", "listen: a:1\nlisten: b:2\n", []string{"cfg.yaml:2:", "listen", "first on line 1"}},
		{"origins not a map", "origins: http://x\n", []string{"cfg.yaml:1:", "origins", "mapping"}},
		{"origin nested", "origins:\n  a.example:\n    url: http://x\n", []string{"cfg.yaml:2:", "host: origin URL"}},
		{"value is a map", "listen:\n  port: 1\n", []string{"cfg.yaml:2:", "listen", "single value"}},
		{"not a mapping", "- a\n- b\n", []string{"cfg.yaml:1:", "mapping of settings"}},
		{"broken yaml", "listen: [\n", []string{"cfg.yaml", "line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaultSettings()
			err := parseConfig("cfg.yaml", []byte(tt.yaml), &s)
			if err == nil {
				t.Fatalf("parseConfig accepted %q", tt.yaml)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestProxySettings_FlagsOverrideFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "eh.yaml")
	if err := os.WriteFile(cfg, []byte("listen: 127.0.0.1:9443\norigin: http://a:1\nmax-preloads: 6\nhttp3: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := proxySettings([]string{"--config", cfg, "--origin", "http://b:2", "--http3", "--log-format", "json"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.Origin != "http://b:2" || !s.HTTP3 || s.LogFormat != "json" {
		t.Errorf("flags did not win: %+v", s)
	}
	if s.Listen != "127.0.0.1:9443" || s.MaxPreloads != 6 {
		t.Errorf("file values lost where no flag was given: %+v", s)
	}
	if s.OriginTimeout != 30*time.Second || s.Store != "memory" {
		t.Errorf("defaults lost: %+v", s)
	}
}

func TestProxySettings_BadFlag(t *testing.T) {
	for _, args := range [][]string{
		{"--origin-timeout", "soon"}, {"--mode", "shove"}, {"--nope"}, {"extra"},
	} {
		if _, err := proxySettings(args, io.Discard, io.Discard); err == nil {
			t.Errorf("proxySettings(%q) accepted it", args)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	full, _ := os.ReadFile("testdata/full.yaml")
	for _, seed := range []string{string(full), "", "listen: :1\n", "origins:\n  a: http://b\n", "query-params: [a, b]\n", "- x\n", "a: &x 1\nb: *x\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := defaultSettings()
		err := parseConfig("fuzz.yaml", data, &s)
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// TestProxySettings_DurationMinimums: a duration below what its setting
// can mean (1ns between snapshots burns a core) is refused, from a flag
// or the config file, with an error that names the key; 0 is accepted
// where it means something.
func TestProxySettings_DurationMinimums(t *testing.T) {
	tests := []struct {
		key, value string
		ok         bool
	}{
		{"snapshot-interval", "1ns", false},
		{"snapshot-interval", "99ms", false},
		{"snapshot-interval", "100ms", true},
		{"snapshot-interval", "0", true},
		{"snapshot-interval", "-1s", false},
		{"assumed-rtt", "1us", false},
		{"assumed-rtt", "0", true},
		{"origin-timeout", "1ns", false},
		{"origin-timeout", "0", false},
		{"origin-idle-timeout", "1ms", false},
		{"redis-timeout", "1ns", false},
		{"redis-timeout", "1ms", true},
		{"redis-connect-timeout", "1ms", false},
		{"redis-write-timeout", "1ms", false},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			var out strings.Builder
			_, err := proxySettings([]string{"--" + tt.key, tt.value}, &out, &out)
			if tt.ok != (err == nil) {
				t.Fatalf("--%s %s: %v, want accepted %v", tt.key, tt.value, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error()+out.String(), tt.key) {
				t.Errorf("flag error %q (%s) does not name %s", err, out.String(), tt.key)
			}
			s := defaultSettings()
			err = parseConfig("cfg.yaml", []byte(tt.key+": "+tt.value+"\n"), &s)
			if tt.ok != (err == nil) {
				t.Fatalf("%s: %s in a file: %v, want accepted %v", tt.key, tt.value, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), tt.key) {
				t.Errorf("file error %q does not name %s", err, tt.key)
			}
		})
	}
}
