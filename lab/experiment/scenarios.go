package experiment

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed scenarios/*.yaml
var builtinScenarios embed.FS

// BuiltinScenario returns a scenario shipped with the lab:
//   - "default": the article's claims (about 5 minutes on 2 cores in the
//     model, under 20 with Chromium beside it);
//   - "quick": 4G, 300 ms think, HTTP/2, cold and warm, every strategy, 5
//     runs;
//   - "document-first": the document budget on 3G and 4G, 100 and 300 ms
//     think, HTTP/2 and HTTP/3;
//   - "har": the comparison run on captured pages (lab --har);
//   - "cellular": a trace-driven 4G link beside a fixed one;
//   - "loss": HTTP/3 vs HTTP/2 under loss, for packet mode.
func BuiltinScenario(name string) (*Scenario, error) {
	data, err := builtinScenarios.ReadFile("scenarios/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("%w: no built-in scenario %q; use one of %s", ErrBadScenario, name, strings.Join(BuiltinScenarioNames(), ", "))
	}
	s, err := ParseScenario(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("built-in scenario %s: %w", name, err)
	}
	return s, nil
}

// BuiltinScenarioNames lists the built-in scenarios, sorted.
func BuiltinScenarioNames() []string {
	entries, _ := fs.ReadDir(builtinScenarios, "scenarios")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}
