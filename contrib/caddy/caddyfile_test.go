package caddyearlyhints

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/earlyhints/earlyhints"
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
				max-hint-bytes 4096
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
				MaxPreloads: 6, MaxPreconnects: 2, MaxHintBytes: 4096, HTTP1Hints: true, QueryParams: []string{"id", "lang", "page"},
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
		{name: "hint bytes below one link", in: "early_hints {\n max-hint-bytes 10\n}", err: "use at least 64"},
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

// TestSettings_OneTable: the project README's settings table is the one
// table of the three products. It lists every setting of the standalone
// proxy (internal/cli/settings.go), every Caddyfile setting (named as the
// proxy's flag) with its JSON key, and every field of earlyhints.Config,
// and the defaults it gives for the caps, the quorum and the budget are
// the middleware's.
func TestSettings_OneTable(t *testing.T) {
	rows := settingsTable(t, readFile(t, "../../README.md"))
	byName := map[string][]string{}
	goFields := map[string]bool{}
	for _, r := range rows {
		for _, name := range codeSpans(r[0]) {
			byName[name] = r
		}
		for _, f := range codeSpans(r[2]) {
			goFields[f] = true
		}
	}

	flagRe := regexp.MustCompile(`(?m)^\t\t\t"([a-z0-9-]+)", "`)
	flags := flagRe.FindAllStringSubmatch(readFile(t, "../../internal/cli/settings.go"), -1)
	if len(flags) < 30 {
		t.Fatalf("found %d proxy settings in settings.go; has its layout changed?", len(flags))
	}
	for _, m := range flags {
		if byName[m[1]] == nil {
			t.Errorf("the README's settings table lacks the proxy's %s", m[1])
		}
	}

	jsonKeys := map[string]bool{}
	ht := reflect.TypeFor[Handler]()
	for i := range ht.NumField() {
		if tag := ht.Field(i).Tag.Get("json"); tag != "" {
			jsonKeys[strings.Split(tag, ",")[0]] = true
		}
	}
	for _, s := range settings {
		if !slices.ContainsFunc(flags, func(m []string) bool { return m[1] == s.name }) {
			t.Errorf("%s is not a setting of the standalone proxy (internal/cli/settings.go)", s.name)
		}
		row := byName[s.name]
		key := strings.ReplaceAll(s.name, "-", "_")
		if row == nil || !slices.Contains(codeSpans(row[1]), key) {
			t.Errorf("the README's settings table does not give %s the Caddy JSON key %s", s.name, key)
		}
		if !jsonKeys[key] {
			t.Errorf("the Caddyfile's %s has no JSON field %s", s.name, key)
		}
	}
	for _, r := range rows {
		for _, key := range codeSpans(r[1]) {
			if !jsonKeys[key] && !strings.Contains(r[1], "Caddy's own") {
				t.Errorf("the README's settings table names a Caddy JSON key %s the module lacks", key)
			}
		}
	}

	ct := reflect.TypeFor[earlyhints.Config]()
	for i := range ct.NumField() {
		if f := ct.Field(i); f.IsExported() && !goFields[f.Name] {
			t.Errorf("the README's settings table lacks earlyhints.Config.%s", f.Name)
		}
	}

	for name, want := range map[string]string{
		"max-preloads":      strconv.Itoa(earlyhints.DefaultMaxPreloads),
		"max-preconnects":   strconv.Itoa(earlyhints.DefaultMaxPreconnects),
		"max-hint-bytes":    strconv.Itoa(earlyhints.DefaultMaxHeaderBytes),
		"private-quorum":    strconv.Itoa(earlyhints.DefaultPrivateQuorum),
		"assumed-bandwidth": strconv.Itoa(earlyhints.DefaultAssumedBandwidth / 1000),
		"assumed-rtt":       earlyhints.DefaultAssumedRTT.String(),
	} {
		if row := byName[name]; row == nil || strings.Trim(row[3], "` ") != want {
			t.Errorf("the README's default of %s is %q, the middleware's %s", name, row, want)
		}
	}
	if strings.Contains(readFile(t, "README.md"), "| `max-preloads`") {
		t.Error("contrib/caddy/README.md has a settings table of its own again; the project README's is the one")
	}
}

// settingsTable returns the cells of the rows of the table under the
// README's "## Configuration".
func settingsTable(t *testing.T, readme string) [][]string {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows [][]string
	for line := range strings.SplitSeq(section, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| flag") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 {
			t.Fatalf("settings table row with %d cells, want 5: %s", len(cells), line)
		}
		rows = append(rows, cells)
	}
	return rows
}

// codeSpans returns the `code` spans of a table cell.
func codeSpans(cell string) []string {
	var out []string
	parts := strings.Split(cell, "`")
	for i := 1; i < len(parts); i += 2 {
		out = append(out, parts[i])
	}
	return out
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
