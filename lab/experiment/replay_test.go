package experiment

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/site"
)

// fixtureHAR copies a capture of lab/site/testdata/har into dir.
func fixtureHAR(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "site", "testdata", "har", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const harScenario = `
name: replay
runs: 1
networks:
  - {name: fast, rtt: 10ms, down_mbps: 50, up_mbps: 20}
hars:
  - name: wiki
    file: captures/www.wikipedia.org.har.gz
  - name: shop
    file: captures/www.izettle.com.har.gz
    think: 50ms
matrices:
  - pages: [har:wiki, har:shop, tiny]
    strategies: [early-hints]
    protocols: [h2]
    caches: [cold]
    networks: [fast]
`

func TestLoadScenario_HARs(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "captures"), 0o700); err != nil {
		t.Fatal(err)
	}
	fixtureHAR(t, filepath.Join(dir, "captures"), "www.wikipedia.org.har.gz")
	fixtureHAR(t, filepath.Join(dir, "captures"), "www.izettle.com.har.gz")
	if err := os.WriteFile(filepath.Join(dir, "captures", "broken.har"), []byte(`{"log":{"entries":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(yaml string) string {
		p := filepath.Join(dir, "s.yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s, err := LoadScenario(write(harScenario))
	if err != nil {
		t.Fatal(err)
	}
	think := map[string]int{}
	for _, c := range s.Cells() {
		think[c.Page] = c.ThinkMS
	}
	// The capture's own wait (286 ms), the scenario's override, the
	// built-in profile's own.
	if think["har:wiki"] != 286 || think["har:shop"] != 50 {
		t.Errorf("think times = %v, want wiki 286 (its wait), shop 50 (overridden)", think)
	}
	hosts := s.PageHosts("har:wiki")
	if len(hosts) != 2 || hosts[0] != "www.wikipedia.org" || hosts[1] != "en.wikipedia.org" {
		t.Errorf("hosts = %v, want the page's host then its third party's", hosts)
	}

	tests := []struct {
		name, yaml string
		want       error
		msg        []string
	}{
		{"unknown capture", strings.Replace(harScenario, "har:shop", "har:nope", 1), ErrBadScenario, []string{`"har:nope"`, "har:wiki, har:shop"}},
		{"no captures", "matrices:\n  - {pages: [har:x], strategies: [none], protocols: [h2], caches: [cold], networks: [4g]}\n", ErrBadScenario, []string{"declare it under hars"}},
		{"missing file", strings.Replace(harScenario, "www.izettle.com", "missing", 1), ErrBadScenario, []string{"shop (line 9)", "no such file"}},
		{"no file", strings.Replace(harScenario, "    file: captures/www.izettle.com.har.gz\n", "", 1), ErrBadScenario, []string{"line 9", "has no file"}},
		{"malformed", strings.Replace(harScenario, "www.izettle.com.har.gz", "broken.har", 1), site.ErrBadHAR, []string{"broken.har", "shop"}},
		{"bad name", strings.Replace(harScenario, "name: shop", "name: 'a b'", 1), ErrBadScenario, []string{"line 9", "letters, digits"}},
		{"twice", strings.Replace(harScenario, "name: shop", "name: wiki", 1), ErrBadScenario, []string{"named twice"}},
		{"unknown key", strings.Replace(harScenario, "think: 50ms", "wait: 50ms", 1), ErrBadScenario, []string{"line 11", "wait"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadScenario(write(tt.yaml))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("err = %v, want it to name %q", err, m)
				}
			}
		})
	}
}

func TestScenario_UseHARs(t *testing.T) {
	s, err := BuiltinScenario("quick")
	if err != nil {
		t.Fatal(err)
	}
	rp, err := site.LoadHARFile(filepath.Join("..", "site", "testdata", "har", "www.wikipedia.org.har.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UseHARs([]HARDef{{Name: HARName("www.wikipedia.org.har.gz"), Replay: rp}}); err != nil {
		t.Fatal(err)
	}
	if s.Budget < Duration(time.Hour) || s.RunTimeout < Duration(90*time.Second) {
		t.Errorf("budget %v, run timeout %v: want room for a heavy page", time.Duration(s.Budget), time.Duration(s.RunTimeout))
	}
	for _, c := range s.Cells() {
		if c.Page != "har:www.wikipedia.org" || c.ThinkMS != 286 {
			t.Fatalf("cell %s: want the capture at its own think time", c.Key())
		}
	}
	if err := s.UseHARs([]HARDef{{Name: "www.wikipedia.org", Replay: rp}}); !errors.Is(err, ErrBadScenario) {
		t.Errorf("a second capture of the same name: err = %v", err)
	}
}

// A capture replays through the whole stack: the model browser requests
// every resource of the capture exactly once, each third party on its own
// origin (its Host), and the document after the capture's think time.
func TestStack_ReplaysHAR(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			rp, err := site.LoadHARFile(filepath.Join("..", "site", "testdata", "har", name))
			if err != nil {
				t.Fatal(err)
			}
			s := &Scenario{HARs: []HARDef{{Name: "page", Replay: rp}}}
			checkReplayOnce(t, s, "har:page", BrowserModel, newModelBrowser)
		})
	}
}

// checkReplayOnce loads page once in a fresh browser of factory through
// the stack (no hints, HTTP/2, a fast network) and checks the site's log.
func checkReplayOnce(t *testing.T, s *Scenario, page, browser string, factory BrowserFactory) {
	t.Helper()
	prof, err := s.PageProfile(page)
	if err != nil {
		t.Fatal(err)
	}
	cell := Cell{Page: page, Strategy: None, Protocol: H2, Cache: Cold, Network: "fast", ThinkMS: 20, Browser: browser}
	network := NetworkDef{Name: "fast", RTT: Duration(10 * time.Millisecond), DownMbps: 50, UpMbps: 20}.Profile()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	st, err := newStack(ctx, stackConfig{cell: cell, network: network, netem: Relay, logger: quietLogger(), pages: s})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := factory(st.env)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st.site.ResetLog()
	lctx, lcancel := context.WithTimeout(ctx, 60*time.Second)
	defer lcancel()
	if _, err := b.Load(lctx, st.env.URL); err != nil {
		t.Fatal(err)
	}
	type key struct{ host, path string }
	got := map[key]int{}
	for _, e := range st.site.Log() {
		host := strings.ToLower(e.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		got[key{host, e.Path}]++
	}
	// The document on the page's own origin (the address dialled).
	docs := 0
	for k, n := range got {
		if k.path == prof.HTMLPath {
			docs += n
		}
	}
	if docs != 1 {
		t.Errorf("document %s requested %d times", prof.HTMLPath, docs)
	}
	// What the document and its stylesheets name is requested once, each
	// third party on its own origin; what scripts fetch (the model runs
	// none) at most once; nothing outside the capture.
	known := map[key]bool{}
	for _, r := range prof.Resources {
		host := r.Host()
		n := 0
		for k, c := range got {
			if k.path == r.Path && (k.host == host || host == "" && !isThirdParty(prof, k.host)) {
				n += c
				known[k] = true
			}
		}
		discoverable := r.Where == site.WhereHead || r.Where == site.WhereBodyStart ||
			r.Where == site.WhereBodyMiddle || r.Where == site.WhereBodyEnd ||
			// Chromium fetches a font only for text that uses it, and the
			// generated markup names no font family; the model fetches
			// every @font-face.
			r.Where == site.WhereCSS && (r.Type != site.TypeFont || browser == BrowserModel)
		switch {
		case discoverable && n != 1:
			t.Errorf("%s (%s) requested %d times on its origin", r.URL(), r.Where, n)
		case n > 1:
			t.Errorf("%s (%s) requested %d times", r.URL(), r.Where, n)
		}
	}
	for k := range got {
		// Chromium asks for /favicon.ico on its own.
		if !known[k] && k.path != prof.HTMLPath && k.path != "/favicon.ico" {
			t.Errorf("request outside the capture: %s %s", k.host, k.path)
		}
	}
	if t.Failed() {
		t.Logf("log: %v", got)
	}
}

func isThirdParty(p *site.Profile, host string) bool {
	for _, r := range p.Resources {
		if r.Host() == host {
			return true
		}
	}
	return false
}

// fixtureNames lists the captures of lab/site/testdata/har.
func fixtureNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "site", "testdata", "har", "*.har.gz"))
	if err != nil || len(files) < 3 {
		t.Fatalf("captures: %v, %v", files, err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}
