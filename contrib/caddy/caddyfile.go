package caddyearlyhints

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("early_hints", parseCaddyfile)
	// Before reverse_proxy (and so before php_fastcgi and file_server, which
	// come after it): the handlers whose responses teach the hints are
	// behind it, and encode, header and the like wrap it.
	httpcaddyfile.RegisterDirectiveOrder("early_hints", httpcaddyfile.Before, "reverse_proxy")
}

var _ caddyfile.Unmarshaler = (*Handler)(nil)

// setting is one subdirective of early_hints: its name (the standalone
// proxy's flag and YAML key), the argument it takes, and how it is read.
type setting struct {
	name  string
	arg   string
	parse func(h *Handler, args []string) error
}

// settings lists the subdirectives of early_hints, in the order the
// project README's settings table gives them.
var settings = []setting{
	{"store", "memory|file:PATH|redis://...", func(h *Handler, a []string) error {
		if len(a) != 1 {
			return errArgs
		}
		h.Store = a[0]
		_, err := parseStore(a[0])
		return err
	}},
	{"snapshot-interval", "duration (0: only on reload and stop)", func(h *Handler, a []string) error {
		if len(a) == 1 && (a[0] == "0" || a[0] == "0s") {
			h.SnapshotInterval = -1 // the JSON's "never while running"
			return nil
		}
		return durationSetting(func(h *Handler) *caddy.Duration { return &h.SnapshotInterval })(h, a)
	}},
	{"redis-key-prefix", "prefix", func(h *Handler, a []string) error {
		if len(a) != 1 {
			return errArgs
		}
		h.RedisKeyPrefix = a[0]
		return nil
	}},
	{"redis-connect-timeout", "duration", durationSetting(func(h *Handler) *caddy.Duration { return &h.RedisConnectTimeout })},
	{"redis-timeout", "duration", durationSetting(func(h *Handler) *caddy.Duration { return &h.RedisTimeout })},
	{"redis-write-timeout", "duration", durationSetting(func(h *Handler) *caddy.Duration { return &h.RedisWriteTimeout })},
	{"mode", "hints|off", func(h *Handler, a []string) error {
		if len(a) != 1 {
			return errArgs
		}
		h.Mode = a[0]
		return nil
	}},
	{"private-quorum", "count", countSetting(func(h *Handler) *int { return &h.PrivateQuorum })},
	{"assumed-bandwidth", "kbit/s", countSetting(func(h *Handler) *int { return &h.AssumedBandwidth })},
	{"assumed-rtt", "duration", durationSetting(func(h *Handler) *caddy.Duration { return &h.AssumedRTT })},
	{"max-preloads", "count", countSetting(func(h *Handler) *int { return &h.MaxPreloads })},
	{"max-preconnects", "count", countSetting(func(h *Handler) *int { return &h.MaxPreconnects })},
	{"max-hint-bytes", "bytes", countSetting(func(h *Handler) *int { return &h.MaxHintBytes })},
	{"http1-hints", "[true|false]", boolSetting(func(h *Handler) *bool { return &h.HTTP1Hints })},
	{"query-params", "names...", listSetting(func(h *Handler) *[]string { return &h.QueryParams })},
	{"cross-site-preload", "[true|false]", boolSetting(func(h *Handler) *bool { return &h.CrossSitePreload })},
	{"deny-user-agents", "substrings...", listSetting(func(h *Handler) *[]string { return &h.DenyUserAgents })},
}

// errArgs asks for the argument the setting's usage names.
var errArgs = errors.New("wrong number of arguments")

func countSetting(p func(*Handler) *int) func(*Handler, []string) error {
	return func(h *Handler, a []string) error {
		if len(a) != 1 {
			return errArgs
		}
		n, err := strconv.Atoi(a[0])
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a count; use a whole number, 0 for the default", a[0])
		}
		*p(h) = n
		return nil
	}
}

func durationSetting(p func(*Handler) *caddy.Duration) func(*Handler, []string) error {
	return func(h *Handler, a []string) error {
		if len(a) != 1 {
			return errArgs
		}
		d, err := caddy.ParseDuration(a[0])
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration; write it like 30s or 1m", a[0])
		}
		*p(h) = caddy.Duration(d)
		return nil
	}
}

func boolSetting(p func(*Handler) *bool) func(*Handler, []string) error {
	return func(h *Handler, a []string) error {
		switch len(a) {
		case 0:
			*p(h) = true
			return nil
		case 1:
			b, err := strconv.ParseBool(a[0])
			if err != nil {
				return fmt.Errorf("%q is not a boolean; use true or false, or no argument for true", a[0])
			}
			*p(h) = b
			return nil
		}
		return errArgs
	}
}

// listSetting takes its values as arguments, each of which may also be a
// comma-separated list as on the proxy's command line.
func listSetting(p func(*Handler) *[]string) func(*Handler, []string) error {
	return func(h *Handler, a []string) error {
		var out []string
		for _, arg := range a {
			for f := range strings.SplitSeq(arg, ",") {
				if f = strings.TrimSpace(f); f != "" {
					out = append(out, f)
				}
			}
		}
		if len(out) == 0 {
			return errArgs
		}
		*p(h) = out
		return nil
	}
}

// lookupSetting finds a subdirective by its name; Caddy's own spelling
// with underscores (private_quorum) is taken too.
func lookupSetting(name string) (setting, bool) {
	name = strings.ReplaceAll(name, "_", "-")
	for _, s := range settings {
		if s.name == name {
			return s, true
		}
	}
	return setting{}, false
}

func settingNames() string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// UnmarshalCaddyfile reads the early_hints directive:
//
//	early_hints [<matcher>] {
//	    store              memory|file:PATH|redis://...
//	    snapshot-interval  <duration>
//	    private-quorum     <count>
//	    max-preloads       <count>
//	    ...
//	}
//
// Every setting of the block is optional. An error names the line.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.Errf("early_hints takes no arguments, only a block of settings (did you mean `store %s`?)", d.Val())
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		s, ok := lookupSetting(name)
		if !ok {
			return d.Errf("unknown setting %q; early_hints knows %s", name, settingNames())
		}
		if seen[s.name] {
			return d.Errf("%s is set twice", s.name)
		}
		seen[s.name] = true
		args := d.RemainingArgs()
		if err := s.parse(h, args); err != nil {
			if errors.Is(err, errArgs) {
				return d.Errf("%s takes %s", s.name, s.arg)
			}
			return d.Errf("%s: %v", s.name, err)
		}
		// Range checks that need the other settings (a private quorum of
		// 1) are reported here too, at the line of the setting.
		if err := h.Validate(); err != nil {
			return d.Errf("%v", err)
		}
	}
	return nil
}

// parseCaddyfile builds the handler of one early_hints directive.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}
