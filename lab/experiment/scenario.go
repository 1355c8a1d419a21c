package experiment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/earlyhints/earlyhints/lab/netem"
	"github.com/earlyhints/earlyhints/lab/site"
)

// Strategy is how a page's critical resources are announced.
type Strategy string

// The strategies.
const (
	// None: no hints; the browser discovers resources in the HTML.
	None Strategy = "none"
	// Preload: <link rel=preload> at the top of the HTML head.
	Preload Strategy = "preload"
	// Push: HTTP/2 push of the learned hints at request arrival.
	Push Strategy = "push"
	// PushDigest: cache-aware push (a cache digest cookie, as H2O's CASPer).
	PushDigest Strategy = "push-digest"
	// EarlyHints: a 103 Early Hints of the learned hints at request arrival.
	EarlyHints Strategy = "early-hints"
)

// Strategies lists every strategy, baseline first.
var Strategies = []Strategy{None, Preload, Push, PushDigest, EarlyHints}

// Protocol is the HTTP version the browser speaks to the server.
type Protocol string

// The protocols.
const (
	H1 Protocol = "h1"
	H2 Protocol = "h2"
	H3 Protocol = "h3"
)

// Protocols lists every protocol.
var Protocols = []Protocol{H1, H2, H3}

// Cache is the state of the browser's HTTP cache at the measured load.
type Cache string

// The cache states.
const (
	// Cold: a fresh cache, as on a first visit.
	Cold Cache = "cold"
	// Warm: the cache (and cookies) of one earlier visit of the same page.
	Warm Cache = "warm"
)

// Caches lists every cache state.
var Caches = []Cache{Cold, Warm}

// The browsers.
const (
	BrowserModel    = "model"
	BrowserChromium = "chromium"
	BrowserFirefox  = "firefox"
)

// Duration is a time.Duration written in YAML as "300ms", "2s" or 0.
type Duration time.Duration

// UnmarshalYAML accepts a Go duration string or the number 0.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a string such as \"300ms\"", n.Line)
	}
	if n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use e.g. \"300ms\" or \"2s\")", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Scenario is a lab experiment: shared settings and one or more matrices
// whose cells are the cross product of their lists. A cell that two
// matrices share runs once.
type Scenario struct {
	// Name labels the results. Default "scenario".
	Name string `yaml:"name"`
	// Description says what the scenario shows.
	Description string `yaml:"description"`
	// Browser is "model" (default), "chromium", "firefox", or several
	// separated by commas ("model,chromium,firefox"): every cell is then
	// measured in each, side by side.
	Browser string `yaml:"browser"`
	// Runs is the number of measured loads per cell. Default 5.
	Runs int `yaml:"runs"`
	// RunTimeout bounds one page load (the warm cache's priming load counts
	// separately). Default 30s.
	RunTimeout Duration `yaml:"run_timeout"`
	// Budget bounds the whole scenario; cells not started when it runs out
	// are reported as skipped. Default 15m.
	Budget Duration `yaml:"budget"`
	// CrossSitePreload lets the product preload other sites' files
	// (earlyhints --cross-site-preload) in every learning cell, such as a
	// third party's render-blocking script. Default false, as it ships:
	// other sites get a preconnect only.
	CrossSitePreload bool `yaml:"cross_site_preload"`
	// BlockThirdPartyCookies runs Chromium with third-party cookies
	// blocked (lab/chromium.Config.BlockThirdPartyCookies), as its
	// incognito mode does. Default false: allowed, as in Chrome's default
	// profile. The model has no cookies to block.
	BlockThirdPartyCookies bool `yaml:"block_third_party_cookies"`
	// Networks defines network profiles by name, in addition to (or
	// overriding) netem's presets: none, cable, 4g, 3g, lossy.
	Networks []NetworkDef `yaml:"networks"`
	// Matrices declare the cells.
	Matrices []Matrix `yaml:"matrices"`

	// HARs names captured page loads the matrices replay as pages
	// "har:NAME" (see HARDef).
	HARs []HARDef `yaml:"hars"`
}

// Matrix is a cross product of conditions. Every list must be non-empty
// except Think, which defaults to the page profile's own think time (-1).
type Matrix struct {
	// Name labels the matrix in the results (what it is meant to show).
	Name string `yaml:"name"`
	// Pages are lab/site profile names (news-article, store-product,
	// spa-shell, tiny) or captures of the scenario's hars: ("har:NAME").
	Pages      []string   `yaml:"pages"`
	Strategies []Strategy `yaml:"strategies"`
	Protocols  []Protocol `yaml:"protocols"`
	Caches     []Cache    `yaml:"caches"`
	// Networks names network profiles (netem presets or Scenario.Networks).
	Networks []string `yaml:"networks"`
	// ThinkMS lists server think times in milliseconds; -1 means the page
	// profile's own. Default [-1].
	ThinkMS []int `yaml:"think_ms"`
	// Runs overrides Scenario.Runs for this matrix when positive.
	Runs int `yaml:"runs"`
}

// NetworkDef is an inline network profile: a symmetric delay and loss,
// a bandwidth per direction.
type NetworkDef struct {
	Name string `yaml:"name"`
	// RTT is the round-trip propagation delay, split evenly.
	RTT Duration `yaml:"rtt"`
	// DownMbps and UpMbps are the bandwidths; 0 means unlimited.
	DownMbps float64 `yaml:"down_mbps"`
	UpMbps   float64 `yaml:"up_mbps"`
	// Loss is the random loss probability in each direction (0..1).
	Loss float64 `yaml:"loss"`
	// Jitter varies each packet's one-way delay by up to this much.
	Jitter Duration `yaml:"jitter"`
	// QueueBytes is each direction's queue; 0 = netem's default. In relay
	// mode a full queue delays TCP segments (the relay never drops bytes of
	// a stream) and drops UDP datagrams, as in packet mode.
	QueueBytes int `yaml:"queue_bytes"`

	// Trace names a mahimahi packet-delivery trace (one line per 1500-byte
	// delivery opportunity, in milliseconds), relative to the scenario
	// file: the downlink's capacity follows it instead of DownMbps, and the
	// uplink's too unless UpTrace names its own. RTT still sets the delay,
	// half each way, as mahimahi's mm-delay in front of mm-link does.
	Trace   string `yaml:"trace"`
	UpTrace string `yaml:"up_trace"`
	// down and up are the loaded traces.
	down, up *netem.Trace
}

// Profile returns the netem profile of d.
func (d NetworkDef) Profile() netem.Profile {
	one := func(mbps float64) netem.LinkConfig {
		return netem.LinkConfig{
			Delay:      time.Duration(d.RTT) / 2,
			Jitter:     time.Duration(d.Jitter),
			Bandwidth:  int64(mbps * 1e6),
			QueueBytes: d.QueueBytes,
			Loss:       d.Loss,
		}
	}
	p := netem.Profile{Name: d.Name, Up: one(d.UpMbps), Down: one(d.DownMbps)}
	p.Down.Trace, p.Up.Trace = d.down, d.up
	return p
}

// MaxCells bounds the cells of one scenario, so that a typo in a list
// cannot schedule days of work.
const MaxCells = 2000

// ParseScenario reads a YAML scenario. Unknown keys are errors naming the
// key and its line. The result has its defaults applied and is validated.
// The captures it names under hars: are read relative to the working
// directory (ParseScenarioIn and LoadScenario take another).
func ParseScenario(r io.Reader) (*Scenario, error) { return ParseScenarioIn(r, ".") }

// ParseScenarioIn is ParseScenario with the captures under hars: read
// relative to dir.
func ParseScenarioIn(r io.Reader, dir string) (*Scenario, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("experiment: read scenario: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the scenario is empty; declare at least one matrix", ErrBadScenario)
		}
		return nil, fmt.Errorf("%w: %s", ErrBadScenario, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	s.applyDefaults()
	if err := s.loadHARs(dir); err != nil {
		return nil, err
	}
	if err := s.loadTraces(dir); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadScenario reads a YAML scenario file.
func LoadScenario(path string) (*Scenario, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the scenario file
	if err != nil {
		return nil, fmt.Errorf("experiment: open scenario: %w", err)
	}
	defer f.Close()
	s, err := ParseScenarioIn(f, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s *Scenario) applyDefaults() {
	if s.Name == "" {
		s.Name = "scenario"
	}
	if s.Browser == "" {
		s.Browser = BrowserModel
	}
	if s.Runs == 0 {
		s.Runs = 5
	}
	if s.RunTimeout == 0 {
		s.RunTimeout = Duration(30 * time.Second)
	}
	if s.Budget == 0 {
		s.Budget = Duration(15 * time.Minute)
	}
	for i := range s.Matrices {
		if len(s.Matrices[i].ThinkMS) == 0 {
			s.Matrices[i].ThinkMS = []int{-1}
		}
	}
}

// Validate reports the first problem of the scenario, saying how to fix it.
func (s *Scenario) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadScenario}, a...)...)
	}
	for _, b := range s.Browsers() {
		if b != BrowserModel && b != BrowserChromium && b != BrowserFirefox {
			return bad("unknown browser %q; use model, chromium, firefox or a list such as model,chromium,firefox", b)
		}
	}
	switch {
	case len(s.Browsers()) == 0:
		return bad("no browser; use model, chromium, firefox or a list such as model,chromium,firefox")
	case s.Runs < 1 || s.Runs > 1000:
		return bad("runs %d out of range 1..1000", s.Runs)
	case s.RunTimeout < 0 || s.Budget < 0:
		return bad("run_timeout and budget must be positive")
	case len(s.Matrices) == 0:
		return bad("no matrices; declare at least one under matrices:")
	}
	if err := s.validateHARs(); err != nil {
		return err
	}
	defined := map[string]bool{}
	for _, d := range s.Networks {
		if d.Name == "" {
			return bad("an inline network needs a name")
		}
		if defined[strings.ToLower(d.Name)] {
			return bad("network %q defined twice", d.Name)
		}
		defined[strings.ToLower(d.Name)] = true
		if d.RTT < 0 || d.DownMbps < 0 || d.UpMbps < 0 || d.Jitter < 0 || d.QueueBytes < 0 {
			return bad("network %q: values must not be negative", d.Name)
		}
		if err := d.validateTrace(); err != nil {
			return bad("network %q: %v", d.Name, err)
		}
		if err := d.Profile().Validate(); err != nil {
			return bad("network %q: %v", d.Name, err)
		}
	}
	for i, m := range s.Matrices {
		where := fmt.Sprintf("matrix %d", i+1)
		if m.Name != "" {
			where = fmt.Sprintf("matrix %q", m.Name)
		}
		switch {
		case len(m.Pages) == 0:
			return bad("%s: no pages; use one of %s", where, strings.Join(site.ProfileNames(), ", "))
		case len(m.Strategies) == 0:
			return bad("%s: no strategies; use some of none, preload, push, push-digest, early-hints", where)
		case len(m.Protocols) == 0:
			return bad("%s: no protocols; use some of h1, h2, h3", where)
		case len(m.Caches) == 0:
			return bad("%s: no caches; use cold, warm or both", where)
		case len(m.Networks) == 0:
			return bad("%s: no networks; use a netem preset (%s) or an inline network", where, strings.Join(netem.ProfileNames(), ", "))
		case m.Runs < 0 || m.Runs > 1000:
			return bad("%s: runs %d out of range 0..1000", where, m.Runs)
		}
		for _, p := range m.Pages {
			if err := s.checkPage(p); err != nil {
				return bad("%s: %v", where, err)
			}
		}
		for _, st := range m.Strategies {
			if !slices.Contains(Strategies, st) {
				return bad("%s: unknown strategy %q; use none, preload, push, push-digest or early-hints", where, st)
			}
		}
		for _, p := range m.Protocols {
			if !slices.Contains(Protocols, p) {
				return bad("%s: unknown protocol %q; use h1, h2 or h3", where, p)
			}
		}
		for _, c := range m.Caches {
			if !slices.Contains(Caches, c) {
				return bad("%s: unknown cache %q; use cold or warm", where, c)
			}
		}
		for _, n := range m.Networks {
			if defined[strings.ToLower(n)] {
				continue
			}
			if _, err := netem.ProfileByName(n); err != nil {
				return bad("%s: unknown network %q; use a netem preset (%s) or define it under networks:", where, n, strings.Join(netem.ProfileNames(), ", "))
			}
		}
		for _, t := range m.ThinkMS {
			if t < -1 || t > 60_000 {
				return bad("%s: think_ms %d out of range -1..60000", where, t)
			}
		}
	}
	// Count before expanding, so that long lists cannot make Cells slow.
	planned := 0
	for _, m := range s.Matrices {
		planned += len(s.Browsers()) * len(m.Pages) * (len(m.Strategies) + 1) * len(m.Protocols) * len(m.Caches) * len(m.Networks) * len(m.ThinkMS)
		if planned > MaxCells {
			return bad("more than %d cells; split the scenario", MaxCells)
		}
	}
	if n := len(s.Cells()); n > MaxCells {
		return bad("%d cells, more than %d; split the scenario", n, MaxCells)
	}
	return nil
}

// Browsers returns the browsers of the scenario, in order, without
// repeats.
func (s *Scenario) Browsers() []string {
	var out []string
	for _, b := range strings.Split(s.Browser, ",") {
		b = strings.ToLower(strings.TrimSpace(b))
		if b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// Network returns the netem profile called name: an inline definition of
// the scenario first, then a netem preset.
func (s *Scenario) Network(name string) (netem.Profile, error) {
	for _, d := range s.Networks {
		if strings.EqualFold(d.Name, name) {
			return d.Profile(), nil
		}
	}
	p, err := netem.ProfileByName(name)
	if err != nil {
		return netem.Profile{}, fmt.Errorf("%w: %w", ErrBadScenario, err)
	}
	return p, nil
}
