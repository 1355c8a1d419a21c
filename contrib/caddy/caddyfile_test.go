package caddyearlyhints

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestHandler_UnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Handler
		err      string
	}{
		{name: "bare", in: "early_hints", want: Handler{}},
		{name: "empty block", in: "early_hints {\n}", want: Handler{}},
		{
			name: "every setting",
			in: `early_hints {
				store file:/var/lib/caddy/hints.json
				snapshot-interval 30s
				redis-key-prefix site:
				redis-connect-timeout 2s
				redis-timeout 30ms
				redis-write-timeout 3s
				mode off
				private-quorum 4
				assumed-bandwidth 10000
				assumed-rtt 50ms
				max-preloads 6
				max-preconnects 2
				http1-hints
				query-params id,lang page
				cross-site-preload false
				deny-user-agents curl "Some Bot"
			}`,
			want: Handler{
				Store: "file:/var/lib/caddy/hints.json", SnapshotInterval: caddy.Duration(30 * time.Second),
				RedisKeyPrefix: "site:", RedisConnectTimeout: caddy.Duration(2 * time.Second),
				RedisTimeout: caddy.Duration(30 * time.Millisecond), RedisWriteTimeout: caddy.Duration(3 * time.Second),
				Mode: "off", PrivateQuorum: 4, AssumedBandwidth: 10000, AssumedRTT: caddy.Duration(50 * time.Millisecond),
				MaxPreloads: 6, MaxPreconnects: 2, HTTP1Hints: true, QueryParams: []string{"id", "lang", "page"},
				DenyUserAgents: []string{"curl", "Some Bot"},
			},
		},
		{name: "snapshots only on reload and stop", in: "early_hints {\n store file:h.json\n snapshot-interval 0\n}", want: Handler{Store: "file:h.json", SnapshotInterval: -1}},
		{name: "caddy spelling", in: "early_hints {\n private_quorum 5\n max_preloads 3\n}", want: Handler{PrivateQuorum: 5, MaxPreloads: 3}},
		{name: "redis", in: "early_hints {\n store redis://127.0.0.1:6379/0\n}", want: Handler{Store: "redis://127.0.0.1:6379/0"}},
		{name: "argument", in: "early_hints memory", err: "takes no arguments"},
		{name: "unknown", in: "early_hints {\n preload 3\n}", err: `unknown setting "preload"`},
		{name: "twice", in: "early_hints {\n max-preloads 3\n max-preloads 4\n}", err: "set twice"},
		{name: "negative count", in: "early_hints {\n max-preloads -1\n}", err: "is not a count"},
		{name: "quorum of one", in: "early_hints {\n private-quorum 1\n}", err: "use 2 or more"},
		{name: "zero duration", in: "early_hints {\n assumed-rtt 0s\n}", err: "not a positive duration"},
		{name: "two values", in: "early_hints {\n mode hints off\n}", err: "mode takes hints|off"},
		{name: "bad mode", in: "early_hints {\n mode learn\n}", err: "use hints or off"},
		{name: "push", in: "early_hints {\n mode push-digest\n}", err: "not offered inside Caddy"},
		{name: "bad store", in: "early_hints {\n store /var/lib/hints\n}", err: "use memory, file:PATH or redis://"},
		{name: "bad boolean", in: "early_hints {\n http1-hints yes\n}", err: "use true or false"},
		{name: "empty list", in: "early_hints {\n query-params\n}", err: "query-params takes names..."},
		{name: "only commas", in: "early_hints {\n deny-user-agents , ,\n}", err: "deny-user-agents takes substrings..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, tc.want) {
				t.Errorf("got %+v\nwant %+v", h, tc.want)
			}
		})
	}
}

// TestHandler_JSON: the JSON config Caddy stores holds every setting, by
// Caddy's snake_case names.
func TestHandler_JSON(t *testing.T) {
	h := Handler{Store: "memory", PrivateQuorum: 4, HTTP1Hints: true, QueryParams: []string{"id"}, AssumedRTT: caddy.Duration(time.Second)}
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"store":"memory","assumed_rtt":1000000000,"private_quorum":4,"http1_hints":true,"query_params":["id"]}`
	if string(data) != want && !sameJSON(t, data, want) {
		t.Errorf("JSON %s, want %s", data, want)
	}
	var back Handler
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, h) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func sameJSON(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestSettings_MatchTheProxy: every Caddyfile setting is a flag of
// `earlyhints proxy` with the same name, and the README's table lists
// each.
func TestSettings_MatchTheProxy(t *testing.T) {
	readme := readFile(t, "README.md")
	settingsGo := readFile(t, "../../internal/cli/settings.go")
	for _, s := range settings {
		if !strings.Contains(settingsGo, `"`+s.name+`", "`) {
			t.Errorf("%s is not a setting of the standalone proxy (internal/cli/settings.go)", s.name)
		}
		if !strings.Contains(readme, "| `"+s.name+"`") {
			t.Errorf("README.md's table lacks %s", s.name)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// FuzzHandler_UnmarshalCaddyfile: any block either fails with an error
// naming a line, or gives a handler that validates and survives Caddy's
// JSON.
func FuzzHandler_UnmarshalCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"", "store memory", "store file:/x\nsnapshot-interval 0", "private-quorum 1", "max-preloads -3",
		"query-params a,b c", "http1-hints\ncross-site-preload false", "mode off", "deny-user-agents \"a b\"",
		"assumed-rtt 1d", "store redis://h:1/0\nredis-timeout 5ms", "private_quorum 2\n{\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, block string) {
		tokens, err := caddyfile.Tokenize([]byte("early_hints {\n"+block+"\n}\n"), "Caddyfile")
		if err != nil {
			return
		}
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			if !strings.Contains(err.Error(), "Caddyfile:") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("parsed %q into a handler that does not validate: %v", block, err)
		}
		data, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back Handler
		if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, h) {
			t.Fatalf("JSON round trip of %s: %+v, %v", data, back, err)
		}
	})
}
