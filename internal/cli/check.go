package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/earlyhints/earlyhints/inspect"
	"github.com/earlyhints/earlyhints/lab/chromium"
	"github.com/earlyhints/earlyhints/lab/firefox"
	"github.com/earlyhints/earlyhints/server"
)

// exitFindings is the exit status of a check whose findings reach --fail-on.
const exitFindings = 3

// exitCode carries an exit status that is not a failure to run, such as
// findings that reach --fail-on; its message is already printed.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

const checkExamples = `  # what a site sends over HTTP/1.1, HTTP/2 and HTTP/3, and what is wrong with it
  earlyhints check https://www.example.com/

  # a local server with a generated certificate, timings as the median of 5 runs
  earlyhints check --insecure --runs 5 https://127.0.0.1:8443/

  # in CI: machine-readable, fail on any warning
  earlyhints check --json --fail-on warn https://staging.example.com/ > check.json

  # what the proxy would hint for this page before you deploy it, and what it would leave out
  earlyhints check --learn https://www.example.com/

  # a logged-in page, following its redirects, and what Chromium did with the hints
  earlyhints check -H 'Cookie: session=...' --follow --browser https://www.example.com/account

  # what Firefox (Debian's firefox-esr, headless) did with the hints
  earlyhints check https://www.example.com/ --browser firefox
`

// browserFlag is --browser: bare, it means Chromium (as it always has);
// --browser chromium and --browser firefox choose the engine.
type browserFlag struct{ name string }

func (f *browserFlag) String() string { return f.name }

// IsBoolFlag lets --browser stand alone.
func (f *browserFlag) IsBoolFlag() bool { return true }

func (f *browserFlag) Set(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "chromium":
		f.name = "chromium"
	case "false", "":
		f.name = ""
	case "firefox":
		f.name = "firefox"
	default:
		return fmt.Errorf("unknown browser %q; use chromium or firefox", v)
	}
	return nil
}

// joinBrowserValue rewrites "--browser firefox" (a separate value) as
// "--browser=firefox", since a bare --browser is allowed too.
func joinBrowserValue(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "--browser" || a == "-browser") && i+1 < len(args) {
			switch strings.ToLower(args[i+1]) {
			case "chromium", "firefox":
				out = append(out, a+"="+args[i+1])
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// headerFlags collects repeated -H 'Name: value' flags.
type headerFlags struct{ h http.Header }

func (f *headerFlags) String() string { return "" }

func (f *headerFlags) Set(v string) error {
	name, value, err := parseHeaderFlag(v)
	if err != nil {
		return err
	}
	if f.h == nil {
		f.h = http.Header{}
	}
	f.h.Add(name, value)
	return nil
}

// parseHeaderFlag parses 'Name: value' as curl's -H takes it.
func parseHeaderFlag(v string) (name, value string, err error) {
	name, value, ok := strings.Cut(v, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	switch {
	case !ok:
		return "", "", fmt.Errorf("%q: write a header as 'Name: value'", v)
	case !httpguts.ValidHeaderFieldName(name):
		return "", "", fmt.Errorf("%q is not a header field name", name)
	case !httpguts.ValidHeaderFieldValue(value):
		return "", "", fmt.Errorf("the value of %s has a control character", name)
	}
	return http.CanonicalHeaderKey(name), value, nil
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "check URL [--proto h1,h2,h3] [--json] [--insecure] [--ca-cert F] [-H 'k: v'] [--runs N] [--follow] [--browser [chromium|firefox]] [--learn] [--fail-on error|warn] [--timeout 10s] [--max-time 60s]",
		checkExamples, stdout, stderr)
	protos := fs.String("proto", "h1,h2,h3", "protocols to check, comma-separated: h1, h2, h3 (HTTP/3 is tried over UDP even without Alt-Svc)")
	asJSON := fs.Bool("json", false, "print the report as JSON (the schema is in the README)")
	insecure := fs.Bool("insecure", false, "accept any certificate, like curl -k (with --browser, Chromium trusts the server's key by its pin)")
	caCert := fs.String("ca-cert", "", "PEM `file` of certificates to trust (a test server's, such as earlyhints proxy's generated one)")
	var headers headerFlags
	fs.Var(&headers, "H", "extra request header 'Name: value' (repeatable), such as a cookie")
	runs := fs.Int("runs", 1, "requests per protocol; times are the median")
	follow := fs.Bool("follow", false, "follow redirects and report each hop")
	var browser browserFlag
	fs.Var(&browser, "browser", "also load the page in a headless browser over h2 and h3 (a fresh profile each time, trusting the server's certificate) and report which hinted files it took from the 103: bare or chromium for Chromium, firefox for Debian's firefox-esr")
	learnFlag := fs.Bool("learn", false, "also show what the proxy would learn from the page and send in its 103 on the next navigation, and which files it would leave out and why (with --browser: which render-blocking files the 103 would miss)")
	failOn := fs.String("fail-on", "", "exit with status 3 when a finding is at least this severe: error or warn")
	timeout := fs.Duration("timeout", inspect.DefaultTimeout, "bound on each request: connecting, waiting for the response, reading what is read of it")
	maxTime := fs.Duration("max-time", inspect.DefaultMaxTime, "bound on the whole check: every protocol, redirect, hinted file and browser visit; what has not ended by then is reported as a timeout")
	logFormat := fs.String("log-format", "text", "log format on stderr: text or json")
	args = joinBrowserValue(args)
	// The URL may come before, between or after the flags.
	var target string
	rest := args
	for i, a := range args {
		if !strings.HasPrefix(a, "-") && (i == 0 || !takesValue(fs, args[i-1])) {
			if target == "" {
				target = a
				rest = append(append([]string(nil), args[:i]...), args[i+1:]...)
			}
			break
		}
	}
	if err := parseFlags(fs, rest, stdout); err != nil {
		return err
	}
	if target == "" {
		fmt.Fprintln(stderr, "earlyhints check: give the URL of a page, such as https://www.example.com/")
		fs.Usage()
		return errUsage
	}
	if *failOn != "" && *failOn != "error" && *failOn != "warn" {
		fmt.Fprintf(stderr, "--fail-on %q: use error or warn\n", *failOn)
		return errUsage
	}
	logger, err := newLogger(*logFormat, stderr)
	if err != nil {
		return err
	}
	cfg := inspect.Config{
		Insecure: *insecure, Header: headers.h, Runs: *runs, Follow: *follow, Timeout: *timeout, MaxTime: *maxTime, Logger: logger, Learn: *learnFlag,
	}
	for p := range strings.SplitSeq(*protos, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Protos = append(cfg.Protos, p)
		}
	}
	if *caCert != "" {
		pool, err := loadCertPool(*caCert)
		if err != nil {
			return err
		}
		cfg.RootCAs = pool
	}
	switch browser.name {
	case "chromium":
		if _, err := chromium.FindBinary(chromium.Config{}); err != nil {
			return fmt.Errorf("--browser: %w", err)
		}
		cfg.Browser = chromiumBrowser{logger: logger}
	case "firefox":
		if _, err := firefox.FindBinary(firefox.Config{}); err != nil {
			return fmt.Errorf("--browser firefox: %w", err)
		}
		cfg.Browser = firefoxBrowser{logger: logger}
	}
	rep, err := inspect.Check(ctx, target, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false) // Link values are full of < and >
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := inspect.WriteText(stdout, rep, isTerminal(stdout)); err != nil {
		return err
	}
	if *failOn != "" && rep.Worst().Rank() >= inspect.Severity(*failOn).Rank() {
		return exitCode(exitFindings)
	}
	return nil
}

// takesValue reports whether arg is a flag of fs that takes a value in the
// next argument.
func takesValue(fs *flag.FlagSet, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
}

func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path) //nolint:gosec // G304: the path is the user's own --ca-cert flag
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca-cert %s: no PEM certificate in it; give the server's certificate or its CA, PEM encoded", path)
	}
	return pool, nil
}

// isTerminal reports whether w is a terminal that wants colour.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// chromiumBrowser is inspect.Browser over headless Chromium: one fresh
// browser per visit, so every visit has a cold cache and new connections.
type chromiumBrowser struct{ logger *slog.Logger }

func (c chromiumBrowser) Visit(ctx context.Context, v inspect.BrowserVisitRequest) (*inspect.BrowserVisit, error) {
	u, err := url.Parse(v.URL)
	if err != nil {
		return nil, err
	}
	cfg := chromium.Config{Logger: c.logger}
	if v.Leaf != nil {
		cfg.SPKIHashes = []string{server.SPKIHash(v.Leaf)}
	}
	if v.Proto == inspect.H3 {
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
		cfg.QUICOrigins = []string{host}
	}
	if v.WithoutEarlyHints {
		off, _ := chromium.Flags(chromium.Config{})["disable-features"].(string)
		cfg.ExtraFlags = map[string]string{"disable-features": off + ",EarlyHintsPreloadForNavigation"}
	}
	b, err := chromium.Launch(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = b.Close() }()
	visit, err := b.Navigate(ctx, v.URL)
	if err != nil {
		return nil, err
	}
	out := &inspect.BrowserVisit{EarlyHints: visit.EarlyHints, FCP: visit.FCP, LCP: visit.LCP}
	for _, r := range visit.Resources {
		out.Resources = append(out.Resources, inspect.BrowserResource{Name: r.Name, InitiatorType: r.InitiatorType, RenderBlocking: r.RenderBlockingStatus == "blocking"})
	}
	for _, r := range visit.Requests {
		if r.FromEarlyHints {
			out.FromEarlyHints = append(out.FromEarlyHints, r.URL)
		}
	}
	return out, nil
}

// firefoxBrowser is inspect.Browser over headless Firefox: a fresh profile
// per visit, trusting the server's certificate as the check saw it.
type firefoxBrowser struct{ logger *slog.Logger }

// Name names the browser in the report.
func (firefoxBrowser) Name() string { return "Firefox" }

func (f firefoxBrowser) Visit(ctx context.Context, v inspect.BrowserVisitRequest) (*inspect.BrowserVisit, error) {
	u, err := url.Parse(v.URL)
	if err != nil {
		return nil, err
	}
	cfg := firefox.Config{Logger: f.logger, DisableEarlyHints: v.WithoutEarlyHints}
	if v.Leaf != nil {
		cfg.Certificates = [][]byte{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: v.Leaf.Raw})}
	}
	if v.Proto == inspect.H3 {
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
		cfg.HTTP3Origins = map[string]string{host: host}
	}
	b, err := firefox.Launch(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = b.Close() }()
	visit, err := b.Navigate(ctx, v.URL)
	if err != nil {
		return nil, err
	}
	out := &inspect.BrowserVisit{GotEarlyHints: visit.GotEarlyHints(), FromEarlyHints: visit.EarlyHinted(), FCP: visit.FCP, LCP: visit.LCP}
	for _, r := range visit.Resources {
		out.Resources = append(out.Resources, inspect.BrowserResource{Name: r.Name, InitiatorType: r.InitiatorType, RenderBlocking: r.RenderBlockingStatus == "blocking"})
	}
	return out, nil
}
