package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/earlyhints/earlyhints/lab/experiment"
	"github.com/earlyhints/earlyhints/lab/report"
	"github.com/earlyhints/earlyhints/lab/serve"
	"github.com/earlyhints/earlyhints/lab/site"
)

const labSynopsis = `lab [--scenario F] [--har FILE]... [--browser model|chromium|firefox|model,chromium,firefox] [--out DIR] [--quick] [--netem relay|packet]
       lab --serve ADDR [--allow-remote] [--serve-host NAME,...]

Measures no hints, preload, HTTP/2 push, cache-aware push and Early Hints
through the earlyhints proxy over emulated networks, and prints the median
and interquartile range of each cell with its gain over no hints. Early Hints
cells are compared with the bound min(T + δ, RTT + x_R).

Without --scenario it runs the built-in default scenario (about 5 minutes in
the model, under 20 with --browser model,chromium); --quick runs a subset
(4G, 300 ms think, HTTP/2, cold and warm, 5 runs). --browser chromium drives
Debian's headless Chromium through the same emulated network; push cells are
not measurable there (Chromium removed push). Results are also written to
DIR/results.json, DIR/results.csv, DIR/report.html (one self-contained
page with the article's claims, the model's error against Chromium and a
waterfall per cell) and DIR/claims.md (each claim shown, refuted or not
resolved). The runs of the strategies compared are interleaved and gains
are medians of paired differences with a 95 % interval; a run taken while
the 1-minute load average exceeds the CPUs is measured again, and a report
measured on a busy machine says so. The exit status is 1 when a cell failed.

--har FILE (repeatable) replays a page load captured as a HAR file (Chrome
or Firefox DevTools: "Save all as HAR with content"; WebPageTest's HAR;
gzip-compressed or not): every strategy over 3G and 4G at the page's own
think time, HTTP/2 and HTTP/3, cold and warm, or the conditions of
--scenario/--quick with their pages replaced by the captures (at their own
think time).`

const labExamples = `  earlyhints lab --quick
  earlyhints lab --quick --browser model,chromium   # the model beside Chromium
  earlyhints lab --serve 127.0.0.1:8080             # the interactive Try-it page
  earlyhints lab --scenario my.yaml --out results/
  earlyhints lab --har shop.har --har blog.har.gz   # your own pages, replayed
  sudo earlyhints lab --netem packet    # real TCP/QUIC congestion control
`

// runLab is the "lab" subcommand.
func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lab", labSynopsis, labExamples, stdout, stderr)
	scenarioPath := fs.String("scenario", "", "scenario YAML file, or a built-in name ("+strings.Join(experiment.BuiltinScenarioNames(), ", ")+"); default: the built-in default")
	browserName := fs.String("browser", "", "browser: model (the lab's browser model), chromium (Debian's, headless), firefox (Debian's firefox-esr, headless) or a list such as model,chromium,firefox (side by side); default: the scenario's")
	outDir := fs.String("out", "lab-results", "directory for results.json, results.csv, report.html and claims.md")
	quick := fs.Bool("quick", false, "run the quick built-in scenario (about 2 minutes in the model)")
	netemMode := fs.String("netem", "relay", "network emulation: relay (loopback relays, no root) or packet (namespaces and TUN, root)")
	verbose := fs.Bool("v", false, "log each failed run and skipped cell")
	serveAddr := fs.String("serve", "", "serve the interactive Try-it page on this `address` (such as 127.0.0.1:8080) instead of running a scenario")
	allowRemote := fs.Bool("allow-remote", false, "let --serve listen on an address that is not loopback (anyone reaching it starts browsers here)")
	var hars harFiles
	fs.Var(&hars, "har", "replay the page load captured in this HAR `file` (repeatable; .har or .har.gz) instead of the scenario's pages")
	serveHosts := fs.String("serve-host", "", "with --serve: host `names` (comma-separated) the page may be reached by, besides IP addresses, localhost and the --serve address's own name; any other Host is refused")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, format+"\n", a...)
		return errUsage
	}
	if *serveAddr != "" {
		if *quick || *scenarioPath != "" || len(hars) > 0 {
			return usageErr("--serve runs the comparisons its page asks for (a HAR is uploaded there); drop --quick, --scenario and --har")
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

	if len(hars) > 0 && !*quick && *scenarioPath == "" {
		*scenarioPath = "har"
	}
	s, err := loadLabScenario(*scenarioPath, *quick)
	if err != nil {
		return err
	}
	if err := useHARs(s, hars); err != nil {
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

// harFiles is the repeatable --har flag.
type harFiles []string

func (h *harFiles) String() string { return strings.Join(*h, ",") }

func (h *harFiles) Set(v string) error {
	if v == "" {
		return errors.New("empty file name; name a HAR file")
	}
	*h = append(*h, v)
	return nil
}

// useHARs loads the captures and makes them the scenario's pages. A
// capture that cannot be replayed stops the run before any cell starts.
func useHARs(s *experiment.Scenario, files []string) error {
	if len(files) == 0 {
		return nil
	}
	var defs []experiment.HARDef
	names := map[string]int{}
	for _, f := range files {
		rp, err := site.LoadHARFile(f)
		if err != nil {
			return fmt.Errorf("--har: %w", err)
		}
		name := experiment.HARName(f)
		if n := names[name]; n > 0 {
			name = fmt.Sprintf("%s-%d", name, n+1)
		}
		names[experiment.HARName(f)]++
		defs = append(defs, experiment.HARDef{Name: name, Replay: rp})
	}
	if err := s.UseHARs(defs); err != nil {
		return fmt.Errorf("--har: %w", err)
	}
	return nil
}
