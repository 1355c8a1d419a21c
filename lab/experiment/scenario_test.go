package experiment

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const minimal = `
name: t
matrices:
  - pages: [tiny]
    strategies: [early-hints]
    protocols: [h2]
    caches: [cold]
    networks: [4g]
`

func TestParseScenario(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // substrings of the error; nil = success
		check   func(t *testing.T, s *Scenario)
	}{
		{name: "minimal with defaults", yaml: minimal, check: func(t *testing.T, s *Scenario) {
			if s.Browser != BrowserModel || s.Runs != 5 || time.Duration(s.RunTimeout) != 30*time.Second || time.Duration(s.Budget) != 15*time.Minute {
				t.Errorf("defaults not applied: %+v", s)
			}
			if got := s.Matrices[0].ThinkMS; len(got) != 1 || got[0] != -1 {
				t.Errorf("think_ms default = %v, want [-1]", got)
			}
		}},
		{name: "product and browser settings", yaml: minimal + `
cross_site_preload: true
block_third_party_cookies: true
`, check: func(t *testing.T, s *Scenario) {
			if !s.CrossSitePreload || !s.BlockThirdPartyCookies {
				t.Errorf("cross_site_preload %v, block_third_party_cookies %v; want both true", s.CrossSitePreload, s.BlockThirdPartyCookies)
			}
		}},
		{name: "durations and inline network", yaml: `
runs: 2
run_timeout: 10s
budget: 0
networks:
  - {name: slow, rtt: 200ms, down_mbps: 1.5, up_mbps: 0.5, loss: 0.01}
matrices:
  - pages: [tiny]
    strategies: [none]
    protocols: [h1, h3]
    caches: [warm]
    networks: [slow, cable]
    think_ms: [0, 250]
`, check: func(t *testing.T, s *Scenario) {
			if time.Duration(s.RunTimeout) != 10*time.Second {
				t.Errorf("run_timeout = %v", time.Duration(s.RunTimeout))
			}
			p, err := s.Network("SLOW")
			if err != nil {
				t.Fatal(err)
			}
			if p.RTT() != 200*time.Millisecond || p.Down.Bandwidth != 1_500_000 || p.Up.Bandwidth != 500_000 || p.Down.Loss != 0.01 {
				t.Errorf("inline network = %+v", p)
			}
			if n := len(s.Cells()); n != 8 {
				t.Errorf("cells = %d, want 2 protocols × 2 networks × 2 think times = 8", n)
			}
		}},
		{name: "unknown top-level key names key and line", yaml: "name: t\nrun: 3\n", wantErr: []string{"line 2", "run"}},
		{name: "unknown matrix key names key and line", yaml: `
matrices:
  - pages: [tiny]
    strategy: [none]
`, wantErr: []string{"line 4", "strategy"}},
		{name: "unknown strategy", yaml: strings.Replace(minimal, "early-hints", "server-push", 1), wantErr: []string{`"server-push"`, "push-digest"}},
		{name: "unknown protocol", yaml: strings.Replace(minimal, "[h2]", "[quic]", 1), wantErr: []string{`"quic"`}},
		{name: "unknown network", yaml: strings.Replace(minimal, "[4g]", "[5g]", 1), wantErr: []string{`"5g"`, "networks:"}},
		{name: "unknown page", yaml: strings.Replace(minimal, "[tiny]", "[blog]", 1), wantErr: []string{`"blog"`, "news-article"}},
		{name: "unknown browser", yaml: "browser: lynx\n" + minimal, wantErr: []string{`"lynx"`}},
		{name: "bad duration", yaml: "run_timeout: soon\n" + minimal, wantErr: []string{"line 1", `"soon"`}},
		{name: "missing list", yaml: "matrices:\n  - pages: [tiny]\n", wantErr: []string{"no strategies"}},
		{name: "no matrices", yaml: "name: t\n", wantErr: []string{"no matrices"}},
		{name: "empty", yaml: "", wantErr: []string{"empty"}},
		{name: "negative runs", yaml: "runs: -1\n" + minimal, wantErr: []string{"runs -1"}},
		{name: "think out of range", yaml: minimal + "    think_ms: [-5]\n", wantErr: []string{"think_ms -5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseScenario(strings.NewReader(tt.yaml))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseScenario: %v", err)
				}
				tt.check(t, s)
				return
			}
			if err == nil {
				t.Fatalf("ParseScenario succeeded, want an error containing %q", tt.wantErr)
			}
			if !errors.Is(err, ErrBadScenario) {
				t.Errorf("error %v does not wrap ErrBadScenario", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestScenario_Cells(t *testing.T) {
	s, err := ParseScenario(strings.NewReader(`
browser: model
runs: 2
matrices:
  - name: a
    pages: [tiny]
    strategies: [early-hints, push]
    protocols: [h2]
    caches: [cold]
    networks: [4g]
    think_ms: [-1, 300]
  - name: b
    pages: [tiny]
    strategies: [none, early-hints]
    protocols: [h2]
    caches: [cold]
    networks: [4g]
    think_ms: [300]
    runs: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	cells := s.Cells()
	var keys []string
	for _, c := range cells {
		keys = append(keys, string(c.Strategy)+"@"+itoa(c.ThinkMS)+"×"+itoa(c.Runs))
	}
	// tiny's own think time is 0; "none" is added before each group; b's
	// cells are a's at 300 ms and keep the larger run count.
	want := "none@0×2 early-hints@0×2 push@0×2 none@300×4 early-hints@300×4 push@300×2"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("cells = %s\nwant    %s", got, want)
	}
	if got := cells[4].BaselineKey(); got != cells[3].Key() {
		t.Errorf("baseline of %s = %s, want %s", cells[4].Key(), got, cells[3].Key())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestBuiltinScenario(t *testing.T) {
	for _, name := range BuiltinScenarioNames() {
		t.Run(name, func(t *testing.T) {
			s, err := BuiltinScenario(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Cells()) == 0 {
				t.Fatal("no cells")
			}
		})
	}
	if _, err := BuiltinScenario("nope"); !errors.Is(err, ErrBadScenario) {
		t.Errorf("unknown built-in: err = %v, want ErrBadScenario", err)
	}
}

func TestLoadScenario(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte("name: t\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadScenario(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("LoadScenario error = %v, want the path and the key", err)
	}
}

func FuzzParseScenario(f *testing.F) {
	f.Add(minimal)
	f.Add("matrices: [{pages: [tiny], strategies: [none], protocols: [h1], caches: [cold], networks: [none], think_ms: [1]}]")
	f.Add("networks: [{name: x, rtt: 1s}]\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseScenario(strings.NewReader(in))
		if err != nil {
			return
		}
		if n := len(s.Cells()); n > MaxCells {
			t.Fatalf("%d cells accepted, bound is %d", n, MaxCells)
		}
	})
}
