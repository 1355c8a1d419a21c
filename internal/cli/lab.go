package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
	"github.com/earlyhints/earlyhints/lab/report"
	"github.com/earlyhints/earlyhints/lab/serve"
)

const labSynopsis = `lab [--scenario F] [--browser model|chromium|firefox|model,chromium,firefox] [--out DIR] [--quick] [--netem relay|packet]
       lab --serve ADDR [--allow-remote] [--serve-host NAME,...]

Measures no hints, preload, HTTP/2 push, cache-aware push and Early Hints
through the earlyhints proxy over emulated networks, and prints the median
and interquartile range of each cell with its gain over no hints. Early Hints
cells are compared with the bound min(T + δ, RTT + x_R).

Without --scenario it runs the built-in default scenario (about 5 minutes in
the model, under 20 with --browser model,chromium); --quick runs a subset
(4G, 300 ms think, HTTP/2, cold and warm, 3 runs). --browser chromium drives
Debian's headless Chromium through the same emulated network; push cells are
not measurable there (Chromium removed push). Results are also written to
DIR/results.json, DIR/results.csv and DIR/report.html (one self-contained
page with the article's claims, the model's error against Chromium and a
waterfall per cell). The exit status is 1 when a cell failed.`

const labExamples = `  earlyhints lab --quick
  earlyhints lab --quick --browser model,chromium   # the model beside Chromium
  earlyhints lab --serve 127.0.0.1:8080             # the interactive Try-it page
  earlyhints lab --scenario my.yaml --out results/
  sudo earlyhints lab --netem packet    # real TCP/QUIC congestion control
`

// runLab is the "lab" subcommand.
func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lab", labSynopsis, labExamples, stdout, stderr)
	scenarioPath := fs.String("scenario", "", "scenario YAML file, or a built-in name ("+strings.Join(experiment.BuiltinScenarioNames(), ", ")+"); default: the built-in default")
	browserName := fs.String("browser", "", "browser: model (the lab's browser model), chromium (Debian's, headless), firefox (Debian's firefox-esr, headless) or a list such as model,chromium,firefox (side by side); default: the scenario's")
	outDir := fs.String("out", "lab-results", "directory for results.json and results.csv")
	quick := fs.Bool("quick", false, "run the quick built-in scenario (under 3 minutes)")
	netemMode := fs.String("netem", "relay", "network emulation: relay (loopback relays, no root) or packet (namespaces and TUN, root)")
	verbose := fs.Bool("v", false, "log each failed run and skipped cell")
	serveAddr := fs.String("serve", "", "serve the interactive Try-it page on this `address` (such as 127.0.0.1:8080) instead of running a scenario")
	allowRemote := fs.Bool("allow-remote", false, "let --serve listen on an address that is not loopback (anyone reaching it starts browsers here)")
	serveHosts := fs.String("serve-host", "", "with --serve: host `names` (comma-separated) the page may be reached by, besides IP addresses, localhost and the --serve address's own name; any other Host is refused")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, format+"\n", a...)
		return errUsage
	}
	if *serveAddr != "" {
		if *quick || *scenarioPath != "" {
			return usageErr("--serve runs the comparisons its page asks for; drop --quick and --scenario")
		}
		cfg := serve.Config{Addr: *serveAddr, AllowRemote: *allowRemote, Netem: experiment.NetemMode(*netemMode)}
		for h := range strings.SplitSeq(*serveHosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				cfg.Hosts = append(cfg.Hosts, h)
			}
		}
		return serveLab(ctx, cfg, *verbose, stdout, stderr)
	}
	if *allowRemote {
		return usageErr("--allow-remote goes with --serve")
	}
	if *serveHosts != "" {
		return usageErr("--serve-host goes with --serve")
	}
	if *quick && *scenarioPath != "" {
		return usageErr("--quick and --scenario exclude each other; pick one")
	}
	mode := experiment.NetemMode(*netemMode)
	if mode != experiment.Relay && mode != experiment.Packet {
		return usageErr("unknown --netem %q; use relay or packet", *netemMode)
	}
	for _, b := range strings.Split(*browserName, ",") {
		switch strings.TrimSpace(b) {
		case "", experiment.BrowserModel, experiment.BrowserChromium, experiment.BrowserFirefox:
		default:
			return usageErr("unknown --browser %q; use model, chromium, firefox or a list such as model,chromium,firefox", b)
		}
	}

	s, err := loadLabScenario(*scenarioPath, *quick)
	if err != nil {
		return err
	}
	if *browserName != "" {
		s.Browser = *browserName
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	bar := report.NewProgress(stderr)
	fmt.Fprintf(stderr, "earlyhints lab: scenario %s, %d cells, browser %s, netem %s\n", s.Name, len(s.Cells()), s.Browser, mode)
	res, runErr := experiment.Run(ctx, s, experiment.Options{Netem: mode, Progress: bar.Update, Logger: logger})
	bar.Done()
	if res == nil {
		return runErr
	}
	if err := report.WriteTable(stdout, res); err != nil {
		return err
	}
	paths, err := report.WriteFiles(*outDir, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "earlyhints lab: wrote %s in %.0fs\n", strings.Join(paths, ", "), res.Elapsed)
	return runErr
}

// serveLab is `lab --serve`: the Try-it page until ctx ends.
func serveLab(ctx context.Context, cfg serve.Config, verbose bool, stdout, stderr io.Writer) error {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = logger
	srv, err := serve.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "earlyhints lab:", err)
		return errUsage
	}
	return srv.ListenAndServe(ctx, func(a string) {
		fmt.Fprintf(stdout, "earlyhints lab: Try it on http://%s/ (Ctrl-C to stop)\n", a)
	})
}

// loadLabScenario returns the scenario to run: --quick's, a built-in name,
// a file, or the default.
func loadLabScenario(path string, quick bool) (*experiment.Scenario, error) {
	switch {
	case quick:
		return experiment.BuiltinScenario("quick")
	case path == "":
		return experiment.BuiltinScenario("default")
	}
	if _, err := os.Stat(path); err != nil {
		for _, name := range experiment.BuiltinScenarioNames() {
			if name == path {
				return experiment.BuiltinScenario(name)
			}
		}
	}
	return experiment.LoadScenario(path)
}
