package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/earlyhints/earlyhints/hintstore/redisstore"
	"github.com/earlyhints/earlyhints/server"
)

// settings are everything `earlyhints proxy` can be told, by flag or by the
// config file. Flag names and YAML keys are the same.
type settings struct {
	Listen string
	// altSvcPort is advertised for HTTP/3 instead of the listener's port
	// (the demo's relay); not configurable.
	altSvcPort int
	Origin     string
	Origins    map[string]string // host -> origin URL; YAML only
	TLSCert    string
	TLSKey     string
	SelfSigned bool
	Store      string
	// RedisKeyPrefix, RedisConnectTimeout, RedisTimeout and
	// RedisWriteTimeout configure --store redis://.
	RedisKeyPrefix      string
	RedisConnectTimeout time.Duration
	RedisTimeout        time.Duration
	RedisWriteTimeout   time.Duration
	HTTP3               bool
	H2CListen           string
	Mode                string
	Admin               string
	// AdminTokenFile names the file holding the admin token; the
	// EARLYHINTS_ADMIN_TOKEN environment variable is the other way to give it.
	AdminTokenFile   string
	AdminHosts       []string
	SnapshotInterval time.Duration
	PrivateQuorum    int
	// AssumedBandwidth is in kbit/s.
	AssumedBandwidth int
	// AssumedRTT stands in for a connection that does not measure its own.
	AssumedRTT    time.Duration
	LogFormat     string
	OriginTimeout time.Duration
	PreserveHost  bool

	OriginIdleTimeout    time.Duration
	OriginMaxHeaderBytes int
	ExposeOriginErrors   bool
	TrustedProxies       []string

	MaxPreloads      int
	MaxPreconnects   int
	MaxHintBytes     int
	HTTP1Hints       bool
	QueryParams      []string
	CrossSitePreload bool
	DenyUserAgents   []string
}

func defaultSettings() settings {
	return settings{
		Listen: ":" + server.DefaultPort, Store: "memory", HTTP3: true, Mode: "hints", LogFormat: "text",
		OriginTimeout: 30 * time.Second, SnapshotInterval: 10 * time.Second,
		RedisKeyPrefix: redisstore.DefaultKeyPrefix, RedisConnectTimeout: redisstore.DefaultConnectTimeout,
		RedisTimeout: redisstore.DefaultReadTimeout, RedisWriteTimeout: redisstore.DefaultWriteTimeout,
		OriginIdleTimeout: 60 * time.Second,
	}
}

// option is one setting: its flag name (also its YAML key), help text and
// how to read it from text.
type option struct {
	name  string
	usage string
	accessor
}

// accessor reads and writes one field of settings as text.
type accessor struct {
	set  func(s *settings, v string) error
	get  func(s *settings) string
	bool bool // a flag without a value means true
	list bool // a YAML sequence is accepted too
}

func str(p func(*settings) *string) accessor {
	return accessor{
		set: func(s *settings, v string) error { *p(s) = v; return nil },
		get: func(s *settings) string { return *p(s) },
	}
}

func boolean(p func(*settings) *bool) accessor {
	return accessor{
		set: func(s *settings, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not a boolean; use true or false", v)
			}
			*p(s) = b
			return nil
		},
		get:  func(s *settings) string { return strconv.FormatBool(*p(s)) },
		bool: true,
	}
}

func count(p func(*settings) *int) accessor {
	return accessor{
		set: func(s *settings, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("%q is not a count; use a whole number, 0 for the default", v)
			}
			*p(s) = n
			return nil
		},
		get: func(s *settings) string { return strconv.Itoa(*p(s)) },
	}
}

// duration reads a duration of at least least: below it a setting makes
// no sense (a timeout nothing meets, a loop that burns a core). zero, when
// set, is what 0 means for the setting, which then accepts it.
func duration(p func(*settings) *time.Duration, least time.Duration, zero string) accessor {
	return accessor{
		set: func(s *settings, v string) error {
			d, err := time.ParseDuration(v)
			switch {
			case err == nil && d == 0 && zero != "":
			case err != nil || d <= 0:
				if zero != "" {
					return fmt.Errorf("%q is not a duration; write it like 30s or 1m, or 0 for %s", v, zero)
				}
				return fmt.Errorf("%q is not a positive duration; write it like 30s or 1m", v)
			case d < least:
				return fmt.Errorf("%q is shorter than this setting allows (%v at least)", v, least)
			}
			*p(s) = d
			return nil
		},
		get: func(s *settings) string { return p(s).String() },
	}
}

func list(p func(*settings) *[]string) accessor {
	return accessor{
		set: func(s *settings, v string) error {
			var out []string
			for f := range strings.SplitSeq(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					out = append(out, f)
				}
			}
			*p(s) = out
			return nil
		},
		get:  func(s *settings) string { return strings.Join(*p(s), ",") },
		list: true,
	}
}

func choice(p func(*settings) *string, allowed ...string) accessor {
	return accessor{
		set: func(s *settings, v string) error {
			if !slices.Contains(allowed, v) {
				return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
			}
			*p(s) = v
			return nil
		},
		get: func(s *settings) string { return *p(s) },
	}
}

// proxyOptions lists every setting of `earlyhints proxy` but origins,
// which only the config file can hold, and --config itself.
func proxyOptions() []option {
	return []option{
		{
			"origin", "origin `URL` to forward to (http://, https:// or h2c:// for cleartext HTTP/2); with origins in the config file, the one for every other host",
			str(func(s *settings) *string { return &s.Origin }),
		},
		{
			"listen", "`address` of the HTTPS listener (HTTP/1.1 and HTTP/2); HTTP/3 uses the same port over UDP",
			str(func(s *settings) *string { return &s.Listen }),
		},
		{
			"tls-cert", "certificate chain `file` (PEM); read again on SIGHUP",
			str(func(s *settings) *string { return &s.TLSCert }),
		},
		{
			"tls-key", "private key `file` (PEM); read again on SIGHUP",
			str(func(s *settings) *string { return &s.TLSKey }),
		},
		{
			"self-signed", "use a generated certificate on a non-loopback address (a loopback address gets one anyway without --tls-cert)",
			boolean(func(s *settings) *bool { return &s.SelfSigned }),
		},
		{
			"store", "where hints are kept: memory; file:`PATH` (in memory, read from PATH at start, written there every snapshot-interval and at shutdown); or redis://[user:password@]host:port/db (rediss:// for TLS), shared by a fleet of proxies",
			str(func(s *settings) *string { return &s.Store }),
		},
		{
			"redis-key-prefix", "`prefix` of every key a redis:// store writes; every proxy of one fleet uses the same, fleets sharing a server use different ones",
			str(func(s *settings) *string { return &s.RedisKeyPrefix }),
		},
		{
			"redis-connect-timeout", "`duration` to wait for the Redis server when connecting",
			duration(func(s *settings) *time.Duration { return &s.RedisConnectTimeout }, 10*time.Millisecond, ""),
		},
		{
			"redis-timeout", "longest `duration` a request waits on Redis (a route or file this proxy has not read yet); past it the request goes on without hints",
			duration(func(s *settings) *time.Duration { return &s.RedisTimeout }, time.Millisecond, ""),
		},
		{
			"redis-write-timeout", "`duration` allowed to learning, purges and admin reads on Redis (off the request path)",
			duration(func(s *settings) *time.Duration { return &s.RedisWriteTimeout }, 10*time.Millisecond, ""),
		},
		{
			"http3", "serve HTTP/3 on the listen port over UDP and advertise it with Alt-Svc",
			boolean(func(s *settings) *bool { return &s.HTTP3 }),
		},
		{
			"h2c-listen", "`address` of an extra cleartext HTTP/2 listener (prior knowledge), for a load balancer in front",
			str(func(s *settings) *string { return &s.H2CListen }),
		},
		{
			"mode", "`mode` hints: learn and send 103 Early Hints; push or push-digest: legacy HTTP/2 server push of the learned hints (plain, or cache-aware with a digest cookie), Early Hints for clients that refuse push; off: only proxy",
			choice(func(s *settings) *string { return &s.Mode }, "hints", "push", "push-digest", "off"),
		},
		{
			"admin", "`address` of the admin listener: hint store page and API, /metrics, /healthz (keep it on loopback; empty: none)",
			str(func(s *settings) *string { return &s.Admin }),
		},
		{
			"admin-token-file", "`file` holding the token the admin listener requires (Authorization: Bearer, or as the Basic password); needed on a non-loopback admin address; EARLYHINTS_ADMIN_TOKEN also sets it",
			str(func(s *settings) *string { return &s.AdminTokenFile }),
		},
		{
			"admin-hosts", "comma-separated host `names` the admin listener answers to, besides IP addresses and localhost (other Host values are refused, against DNS rebinding)",
			list(func(s *settings) *[]string { return &s.AdminHosts }),
		},
		{
			"snapshot-interval", "how often (`duration`) --store file:PATH writes its snapshot while running, so a crash loses at most that much learning (0: only at shutdown)",
			duration(func(s *settings) *time.Duration { return &s.SnapshotInterval }, 100*time.Millisecond, "writing only at shutdown"),
		},
		{
			"private-quorum", "distinct visitors (by network and credentials) that must share a link of a personal page before it is hinted to anyone (`count`, 0 means 3, at least 2)",
			count(func(s *settings) *int { return &s.PrivateQuorum }),
		},
		{
			"assumed-bandwidth", "client bandwidth (`kbit/s`) a 103 is budgeted for: once a page's think time is known, its 103 names no more bytes than arrive at this rate before the document is ready (0 means 5000)",
			count(func(s *settings) *int { return &s.AssumedBandwidth }),
		},
		{
			"assumed-rtt", "client round trip (`duration`) the 103's budget subtracts from the think time where the connection measures none (cleartext HTTP/2 behind a load balancer, non-Linux TCP; 0 means 100ms)",
			duration(func(s *settings) *time.Duration { return &s.AssumedRTT }, time.Millisecond, "the default, 100ms"),
		},
		{
			"log-format", "log `format`: text or json",
			choice(func(s *settings) *string { return &s.LogFormat }, "text", "json"),
		},
		{
			"origin-timeout", "`duration` to wait for the origin's response headers (its think time included) before answering 504",
			duration(func(s *settings) *time.Duration { return &s.OriginTimeout }, 100*time.Millisecond, ""),
		},
		{
			"preserve-host", "send the client's Host header to the origin instead of the origin's own host name",
			boolean(func(s *settings) *bool { return &s.PreserveHost }),
		},
		{
			"origin-idle-timeout", "`duration` the origin may pause in the middle of a body before the response is cut (connection closed, or stream reset) and logged as origin-timeout",
			duration(func(s *settings) *time.Duration { return &s.OriginIdleTimeout }, 100*time.Millisecond, ""),
		},
		{
			"origin-max-header-bytes", "largest response headers (`bytes`) taken from the origin, final or 1xx; larger ones get the client a 502 (0 means 65536)",
			count(func(s *settings) *int { return &s.OriginMaxHeaderBytes }),
		},
		{
			"expose-origin-errors", "show the origin's address and the error in 502/504 bodies (development only: by default visitors see the request ID, the log has the rest)",
			boolean(func(s *settings) *bool { return &s.ExposeOriginErrors }),
		},
		{
			"trusted-proxies", "comma-separated `CIDRs` of proxies in front (load balancer, CDN) whose X-Forwarded-For/-Proto/-Host and Forwarded are kept and name the client (for the log, visitor identity and the origin); from any other peer they are replaced",
			list(func(s *settings) *[]string { return &s.TrustedProxies }),
		},
		{
			"max-preloads", "most preload links in one 103 (`count`, 0 means 100; the document budget usually binds first)",
			count(func(s *settings) *int { return &s.MaxPreloads }),
		},
		{
			"max-preconnects", "most preconnect links in one 103 (`count`, 0 means 12)",
			count(func(s *settings) *int { return &s.MaxPreconnects }),
		},
		{
			"max-hint-bytes", "most `bytes` of Link values in one 103 (0 means 16384; behind a proxy with small 1xx buffers, such as nginx's 4 KiB proxy_buffer_size, set it below them)",
			count(func(s *settings) *int { return &s.MaxHintBytes }),
		},
		{
			"http1-hints", "send 103 to HTTP/1.1 clients too (browsers ignore them there, some old clients break)",
			boolean(func(s *settings) *bool { return &s.HTTP1Hints }),
		},
		{
			"query-params", "comma-separated query parameter `names` that make pages distinct where the origin sends no No-Vary-Search (default: the query is ignored)",
			list(func(s *settings) *[]string { return &s.QueryParams }),
		},
		{
			"cross-site-preload", "allow preload targets on other sites (default: same site only)",
			boolean(func(s *settings) *bool { return &s.CrossSitePreload }),
		},
		{
			"deny-user-agents", "comma-separated User-Agent `substrings` that never get a 103",
			list(func(s *settings) *[]string { return &s.DenyUserAgents }),
		},
	}
}

// optionValue is a flag.Value that writes one option into a settings.
type optionValue struct {
	opt option
	s   *settings
}

func (v optionValue) String() string {
	if v.s == nil || v.opt.get == nil {
		return "" // the zero Value flag.PrintDefaults compares with
	}
	text := v.opt.get(v.s)
	if v.opt.bool && text == "false" {
		return "" // so PrintDefaults does not print "(default false)"
	}
	return text
}
func (v optionValue) Set(x string) error { return v.opt.set(v.s, x) }

func (v optionValue) IsBoolFlag() bool { return v.opt.bool }

// registerOptions defines a flag for each option, writing into s.
func registerOptions(fs *flag.FlagSet, opts []option, s *settings) {
	for _, o := range opts {
		fs.Var(optionValue{opt: o, s: s}, o.name, o.usage)
	}
}

// applyFlags copies the options given on the command line into dst, so
// they override the config file; options left out keep the file's value.
func applyFlags(fs *flag.FlagSet, opts []option, from, dst *settings) {
	byName := make(map[string]option, len(opts))
	for _, o := range opts {
		byName[o.name] = o
	}
	fs.Visit(func(f *flag.Flag) {
		if o, ok := byName[f.Name]; ok {
			_ = o.set(dst, o.get(from)) // the value parsed already once
		}
	})
}

// configError is a problem in the config file, with the file and line.
type configError struct {
	file string
	line int
	key  string
	msg  string
}

func (e *configError) Error() string {
	if e.key == "" {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.file, e.line, e.key, e.msg)
}

// loadConfigFile reads a YAML config file into s.
func loadConfigFile(path string, s *settings) error {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the file to read
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	return parseConfig(path, data, s)
}

// parseConfig reads YAML data (named name in errors) into s. Every key must
// be a known setting; every value must parse, else the error names the key
// and its line.
func parseConfig(name string, data []byte, s *settings) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return &configError{file: name, line: root.Line, msg: "the config file must be a mapping of settings (key: value)"}
	}
	opts := proxyOptions()
	byName := make(map[string]option, len(opts))
	known := []string{"origins"}
	for _, o := range opts {
		byName[o.name] = o
		known = append(known, o.name)
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if prev, dup := seen[key]; dup {
			return &configError{file: name, line: k.Line, key: key, msg: fmt.Sprintf("set twice (first on line %d)", prev)}
		}
		seen[key] = k.Line
		if key == "origins" {
			if err := parseOrigins(name, v, s); err != nil {
				return err
			}
			continue
		}
		o, ok := byName[key]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if alt := strings.ReplaceAll(key, "_", "-"); alt != key && (byName[alt].name != "" || alt == "origins") {
				msg += fmt.Sprintf(" (did you mean %q?)", alt)
			} else {
				msg += "; known keys: " + strings.Join(known, ", ")
			}
			return &configError{file: name, line: k.Line, msg: msg}
		}
		text, err := scalarText(v, o.list)
		if err == nil {
			err = o.set(s, text)
		}
		if err != nil {
			return &configError{file: name, line: v.Line, key: key, msg: err.Error()}
		}
	}
	return nil
}

// scalarText returns a scalar's text, or a sequence of scalars joined with
// commas when list is set.
func scalarText(v *yaml.Node, list bool) (string, error) {
	switch {
	case v.Kind == yaml.ScalarNode:
		return v.Value, nil
	case v.Kind == yaml.SequenceNode && list:
		parts := make([]string, 0, len(v.Content))
		for _, c := range v.Content {
			if c.Kind != yaml.ScalarNode || strings.Contains(c.Value, ",") {
				return "", errors.New("list items must be plain words")
			}
			parts = append(parts, c.Value)
		}
		return strings.Join(parts, ","), nil
	case list:
		return "", errors.New("expected a list or a comma-separated string")
	}
	return "", errors.New("expected a single value")
}

func parseOrigins(name string, v *yaml.Node, s *settings) error {
	if v.Kind != yaml.MappingNode {
		return &configError{file: name, line: v.Line, key: "origins", msg: "expected a mapping of host name to origin URL, such as\n  origins:\n    www.example.com: http://10.0.0.5:8080"}
	}
	if s.Origins == nil {
		s.Origins = make(map[string]string)
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		hk, uv := v.Content[i], v.Content[i+1]
		if hk.Kind != yaml.ScalarNode || uv.Kind != yaml.ScalarNode || hk.Value == "" || uv.Value == "" {
			return &configError{file: name, line: hk.Line, key: "origins", msg: "each entry is host: origin URL"}
		}
		if _, dup := s.Origins[hk.Value]; dup {
			return &configError{file: name, line: hk.Line, key: "origins." + hk.Value, msg: "listed twice"}
		}
		s.Origins[hk.Value] = uv.Value
	}
	return nil
}
