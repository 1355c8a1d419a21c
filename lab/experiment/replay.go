package experiment

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/earlyhints/earlyhints/lab/site"
)

// HARPrefix marks a page of a matrix that is a capture of the scenario's
// hars: list ("har:shop") rather than a built-in profile.
const HARPrefix = "har:"

// MaxHARs bounds the captures of one scenario.
const MaxHARs = 20

// HARDef names a captured page load (a HAR file) that matrices replay as
// the page "har:NAME":
//
//	hars:
//	  - name: shop
//	    file: captures/shop.har     # relative to the scenario file; .har.gz too
//	    think: 300ms                # optional: the capture's own wait by default
type HARDef struct {
	Name string `yaml:"name"`
	// File is the HAR (gzip-compressed or not), relative to the scenario
	// file's directory.
	File string `yaml:"file"`
	// Think, when set, replaces the document's think time the capture
	// recorded (its wait). A matrix's think_ms overrides both.
	Think *Duration `yaml:"think"`

	// Replay is the loaded capture: set by ParseScenario and LoadScenario
	// from File, or by the caller (an upload) with File empty.
	Replay *site.Replay `yaml:"-"`
	line   int
}

// UnmarshalYAML decodes d and remembers its line for errors.
func (d *HARDef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "name", "file", "think":
			default:
				return fmt.Errorf("line %d: field %s not found in a capture; use name, file and think", k.Line, k.Value)
			}
		}
	}
	type plain HARDef
	if err := n.Decode((*plain)(d)); err != nil {
		return err
	}
	d.line = n.Line
	return nil
}

var harName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// HARName turns a file name into a capture name: its base without .har
// or .har.gz, characters other than letters, digits, dot, dash and
// underscore replaced.
func HARName(file string) string {
	base := filepath.Base(file)
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".har")
	b := []byte(base)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '.' && c != '-' && c != '_' {
			b[i] = '-'
		}
	}
	name := strings.Trim(string(b), "-.")
	if len(name) > 64 {
		name = name[:64]
	}
	if name == "" {
		name = "page"
	}
	return name
}

// loadHARs reads the captures the scenario names, relative to dir.
func (s *Scenario) loadHARs(dir string) error {
	for i := range s.HARs {
		d := &s.HARs[i]
		if d.Replay != nil || d.File == "" {
			continue // validateHARs reports a missing file
		}
		path := d.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		rp, err := site.LoadHARFile(path)
		if err != nil {
			return fmt.Errorf("%w: hars: %s (line %d): %w", ErrBadScenario, d.Name, d.line, err)
		}
		d.Replay = rp
	}
	return nil
}

// validateHARs checks the hars: list; pages names the pages the matrices
// use.
func (s *Scenario) validateHARs() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadScenario}, a...)...)
	}
	if len(s.HARs) > MaxHARs {
		return bad("hars: %d captures, more than %d; split the scenario", len(s.HARs), MaxHARs)
	}
	seen := map[string]bool{}
	for _, d := range s.HARs {
		at := ""
		if d.line > 0 {
			at = fmt.Sprintf(" (line %d)", d.line)
		}
		switch {
		case !harName.MatchString(d.Name):
			return bad("hars%s: name %q; give each capture a name of letters, digits, dot, dash or underscore, used as har:NAME in pages", at, d.Name)
		case seen[d.Name]:
			return bad("hars%s: capture %q named twice; give each its own name", at, d.Name)
		case d.Replay == nil && d.File == "":
			return bad("hars%s: capture %q has no file; set file: to a HAR exported from the browser's DevTools", at, d.Name)
		case d.Replay == nil:
			return bad("hars%s: capture %q was not loaded; load the scenario with LoadScenario or ParseScenarioIn", at, d.Name)
		case d.Think != nil && (*d.Think < 0 || time.Duration(*d.Think) > time.Minute):
			return bad("hars%s: capture %q: think %v out of range 0..1m", at, d.Name, time.Duration(*d.Think))
		}
		seen[d.Name] = true
	}
	return nil
}

// checkPage reports whether page names a built-in profile or a capture of
// the scenario.
func (s *Scenario) checkPage(page string) error {
	if name, ok := strings.CutPrefix(page, HARPrefix); ok {
		if s.har(name) == nil {
			var names []string
			for _, d := range s.HARs {
				names = append(names, HARPrefix+d.Name)
			}
			if len(names) == 0 {
				return fmt.Errorf("unknown page %q: the scenario names no captures; declare it under hars with name %s and the file of its capture", page, name)
			}
			return fmt.Errorf("unknown page %q; use one of %s, or declare it under hars", page, strings.Join(names, ", "))
		}
		return nil
	}
	if _, err := site.ProfileByName(page); err != nil {
		return fmt.Errorf("unknown page %q; use one of %s, or har:NAME for a capture declared under hars", page, strings.Join(site.ProfileNames(), ", "))
	}
	return nil
}

func (s *Scenario) har(name string) *HARDef {
	for i := range s.HARs {
		if s.HARs[i].Name == name {
			return &s.HARs[i]
		}
	}
	return nil
}

// PageProfile returns a fresh copy of the profile of page: a built-in
// profile, or the replay of a capture ("har:NAME") with the think time the
// scenario gives it.
func (s *Scenario) PageProfile(page string) (*site.Profile, error) {
	name, ok := strings.CutPrefix(page, HARPrefix)
	if !ok {
		return site.ProfileByName(page)
	}
	d := s.har(name)
	if d == nil || d.Replay == nil {
		return nil, fmt.Errorf("%w: %s", ErrBadScenario, s.checkPage(page))
	}
	p := d.Replay.Profile.Clone()
	if d.Think != nil {
		p.Think = time.Duration(*d.Think)
	}
	return p, nil
}

// PageThink returns the think time of page's own profile (a capture's
// with the scenario's override), without copying the profile; 0 for a page
// it does not know.
func (s *Scenario) PageThink(page string) time.Duration {
	if name, ok := strings.CutPrefix(page, HARPrefix); ok {
		d := s.har(name)
		switch {
		case d == nil || d.Replay == nil:
			return 0
		case d.Think != nil:
			return time.Duration(*d.Think)
		}
		return d.Replay.Profile.Think
	}
	if p, err := site.ProfileByName(page); err == nil {
		return p.Think
	}
	return 0
}

// PageHosts returns the host names (no port) page's resources and
// references name, the page's own first: for a capture, every host it
// fetched from; for a built-in profile, its third parties. A browser that
// resolves names itself maps them all to the server under test.
func (s *Scenario) PageHosts(page string) []string {
	p, err := s.PageProfile(page)
	if err != nil {
		return nil
	}
	var out []string
	add := func(h string) {
		h = strings.ToLower(h)
		for _, o := range out {
			if o == h {
				return
			}
		}
		out = append(out, h)
	}
	if name, ok := strings.CutPrefix(page, HARPrefix); ok {
		for _, h := range s.har(name).Replay.Hosts {
			if host, _, err := net.SplitHostPort(h); err == nil {
				h = host
			}
			add(h)
		}
	}
	for _, r := range p.Resources {
		if h := r.Host(); h != "" {
			add(h)
		}
	}
	return out
}

// UseHARs replaces the pages of every matrix by the captures defs (added to
// the scenario's hars:), so that a scenario's conditions run on real pages.
// A capture keeps its own think time: each matrix's think_ms becomes [-1].
// A real page can weigh megabytes where the built-in ones weigh hundreds
// of kilobytes: the run timeout becomes at least 90 s and the budget at
// least an hour per capture.
func (s *Scenario) UseHARs(defs []HARDef) error {
	if len(defs) == 0 {
		return nil
	}
	s.RunTimeout = max(s.RunTimeout, Duration(90*time.Second))
	s.Budget = max(s.Budget, Duration(time.Duration(len(defs))*time.Hour))
	var pages []string
	for _, d := range defs {
		if s.har(d.Name) != nil {
			return fmt.Errorf("%w: capture %q named twice; rename one of the files", ErrBadScenario, d.Name)
		}
		s.HARs = append(s.HARs, d)
		pages = append(pages, HARPrefix+d.Name)
	}
	for i := range s.Matrices {
		s.Matrices[i].Pages = append([]string(nil), pages...)
		s.Matrices[i].ThinkMS = []int{-1}
	}
	return s.Validate()
}
