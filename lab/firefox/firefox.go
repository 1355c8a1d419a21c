// Package firefox runs Debian's headless Firefox (firefox-esr) on a page and
// returns what the page itself measured: Navigation Timing, the paint
// marks (FCP, and LCP where Firefox has it) and Resource Timing.
//
// No driver is used (no geckodriver, no Marionette, no remote protocol).
// Each Browser has a profile of its own with a user.js that turns off what
// would make network traffic of its own (background updates, telemetry,
// safe browsing, captive-portal and connectivity checks, Normandy, first-run
// pages), a certificate database trusting the caller's certificates
// (certutil), and a small extension whose content script the browser runs in
// every document: after the load event (and the first contentful paint, up
// to a bound) it reads the page's performance entries and posts them as JSON
// to a collector on loopback that this package runs. Navigate waits for that
// report, bounded by its context, then stops Firefox (its whole process
// group) and keeps the profile for the next Navigate (a warm cache) until
// Close removes it.
//
// Firefox acts on a 103's preloads and preconnects (network.early-hints.*,
// on by default since Firefox 123 and set here explicitly). Which files came
// through Early Hints is best judged on the server side, requested before
// the document's final headers were written; Visit.EarlyHinted gives the
// browser's own view, from Resource Timing (see its comment).
package firefox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultBinary is where Debian's firefox-esr package puts the browser.
const DefaultBinary = "/usr/bin/firefox-esr"

// ErrNoBrowser is returned when no Firefox binary is found.
var ErrNoBrowser = errors.New("firefox: browser not found (apt-get install firefox-esr, or set $FIREFOX or Config.Binary)")

// ErrNoCertutil is returned when certificates are to be trusted and NSS's
// certutil is missing.
var ErrNoCertutil = errors.New("firefox: certutil not found (apt-get install libnss3-tools)")

// ErrBadConfig is returned by Config.Validate.
var ErrBadConfig = errors.New("firefox: invalid config")

// Config configures a browser. The zero value runs /usr/bin/firefox-esr
// with a fresh profile, HTTP/2 and no extra trusted certificate.
type Config struct {
	// Binary is the browser executable. "" means $FIREFOX, else
	// /usr/bin/firefox-esr, else firefox-esr or firefox on PATH.
	Binary string
	// Certificates are PEM certificates to trust for TLS servers: a CA
	// (trusted to issue server certificates) or a self-signed server
	// certificate (trusted as a peer).
	Certificates [][]byte
	// CertificateOverrides accept, for a "host:port", the PEM certificate
	// given even though it does not name that host (a certificate
	// exception, cert_override.txt): a third-party host tunnelled to a
	// server whose certificate names only its own address.
	CertificateOverrides map[string][]byte
	// HTTP3Origins are host:port origins whose HTTP/3 endpoint is reached
	// without an earlier Alt-Svc, as "host:port" → UDP address
	// ("127.0.0.1:4433"); the UDP address's host is ignored (the origin's
	// host is dialled). Empty turns HTTP/3 off.
	HTTP3Origins map[string]string
	// HTTP1 turns HTTP/2 off, so every https connection speaks HTTP/1.1.
	HTTP1 bool
	// Proxy, when set, is a host:port every connection to a host other than
	// a loopback address is tunnelled to (Firefox's HTTPS proxy, speaking
	// CONNECT): the way a page's third-party hosts reach a lab server. See
	// Tunnel.
	Proxy string
	// DisableEarlyHints turns off Firefox's use of 103 responses, for the
	// page's figures without them.
	DisableEarlyHints bool
	// ProfileDir is the profile. "" means a fresh temporary one, removed by
	// Close. Every Navigate of one Browser uses the same profile, so the
	// second sees the first's HTTP cache (on new connections).
	ProfileDir string
	// Prefs are extra user.js preferences (bool, int or string values).
	Prefs map[string]any
	// Timeout bounds one navigation, Firefox's start included. 0 means 60s.
	Timeout time.Duration
	// Prefix, when set, runs the browser through a wrapper command (for
	// example ["ip", "netns", "exec", "ns"]).
	Prefix []string
	// Logger receives the browser's notes. Nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports whether cfg can be launched.
func (c Config) Validate() error {
	if c.HTTP1 && len(c.HTTP3Origins) > 0 {
		return fmt.Errorf("%w: HTTP1 and HTTP3Origins together; choose one protocol per browser", ErrBadConfig)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: negative Timeout %v; use 0 for the default", ErrBadConfig, c.Timeout)
	}
	for o, a := range c.HTTP3Origins {
		if _, _, err := net.SplitHostPort(o); err != nil {
			return fmt.Errorf("%w: HTTP/3 origin %q is not host:port", ErrBadConfig, o)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%w: HTTP/3 address %q of %s is not host:port", ErrBadConfig, a, o)
		}
	}
	if c.Proxy != "" {
		if _, _, err := net.SplitHostPort(c.Proxy); err != nil {
			return fmt.Errorf("%w: Proxy %q is not host:port", ErrBadConfig, c.Proxy)
		}
	}
	return nil
}

// FindBinary returns the browser executable to use.
func FindBinary(cfg Config) (string, error) {
	for _, c := range []string{cfg.Binary, os.Getenv("FIREFOX"), DefaultBinary, "firefox-esr", "firefox"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Browser is one Firefox profile; each Navigate runs the browser on it.
type Browser struct {
	cfg     Config
	bin     string
	tempDir string
	col     *collector
}

// Launch prepares a profile (preferences, trusted certificates, the
// reporting extension) and the collector of the page's reports. Firefox
// itself starts with each Navigate.
func Launch(ctx context.Context, cfg Config) (_ *Browser, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	bin, err := FindBinary(cfg)
	if err != nil {
		return nil, err
	}
	b := &Browser{cfg: cfg, bin: bin}
	defer func() {
		if err != nil {
			_ = b.Close()
		}
	}()
	if b.cfg.ProfileDir == "" {
		dir, err := os.MkdirTemp("", "earlyhints-firefox-")
		if err != nil {
			return nil, fmt.Errorf("firefox: profile directory: %w", err)
		}
		b.tempDir, b.cfg.ProfileDir = dir, dir
	}
	b.col, err = newCollector()
	if err != nil {
		return nil, err
	}
	if err := writeProfile(ctx, b.cfg, b.col.url()); err != nil {
		return nil, err
	}
	return b, nil
}

// Navigate runs Firefox, loads url once the browser has started, waits
// for the page's report and stops the browser. It is bounded by
// Config.Timeout and by ctx.
func (b *Browser) Navigate(ctx context.Context, url string) (*Visit, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	reports := b.col.expect(url)
	defer b.col.done()

	// The extension navigates to url once Firefox has started.
	args := []string{"--headless", "--no-remote", "-profile", b.cfg.ProfileDir, "about:blank"}
	name := b.bin
	if len(b.cfg.Prefix) > 0 {
		name = b.cfg.Prefix[0]
		args = append(append(append([]string{}, b.cfg.Prefix[1:]...), b.bin), args...)
	}
	cmd := exec.Command(name, args...) //nolint:gosec // G204: the binary is the configured browser
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(), "MOZ_HEADLESS=1", "MOZ_CRASHREPORTER_DISABLE=1")
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("firefox: start %s: %w", b.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer b.stop(cmd, exited)

	select {
	case r := <-reports:
		v, err := r.visit()
		if err != nil {
			return nil, err
		}
		if v.URL == "" {
			v.URL = url
		}
		return v, nil
	case err := <-exited:
		exited <- err // for stop
		return nil, fmt.Errorf("firefox: the browser exited before the page reported (%v): %s", err, out.String())
	case <-ctx.Done():
		return nil, fmt.Errorf("firefox: no report from %s: %w (did the page load? is the certificate trusted?) %s", url, ctx.Err(), out.String())
	}
}

// stop ends the browser: SIGTERM, which Firefox answers by shutting down
// cleanly (writing its cache index and profile for the next Navigate),
// then SIGKILL to the whole process group after 10s.
func (b *Browser) stop(cmd *exec.Cmd, exited chan error) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	var err error
	done := false
	select {
	case err = <-exited:
		done = true
	case <-time.After(10 * time.Second):
		b.cfg.Logger.Debug("firefox: did not quit within 10s; killed")
	}
	// Content processes that outlived the parent, if any.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if !done {
		select {
		case err = <-exited:
		case <-time.After(5 * time.Second):
			b.cfg.Logger.Debug("firefox: the killed browser did not exit within 5s")
		}
	}
	b.cfg.Logger.Debug("firefox: stopped", "exit", err)
}

// Close stops the collector and removes a temporary profile.
func (b *Browser) Close() error {
	if b.col != nil {
		b.col.close()
	}
	if b.tempDir != "" {
		return os.RemoveAll(b.tempDir)
	}
	return nil
}

// writeProfile writes user.js, the extension and the certificate database.
func writeProfile(ctx context.Context, cfg Config, report string) error {
	if err := os.MkdirAll(filepath.Join(cfg.ProfileDir, "extensions"), 0o700); err != nil {
		return fmt.Errorf("firefox: profile directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.ProfileDir, "user.js"), []byte(userJS(cfg)), 0o600); err != nil {
		return fmt.Errorf("firefox: write user.js: %w (is the profile directory writable?)", err)
	}
	xpi, err := extension(report)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.ProfileDir, "extensions", extensionID+".xpi"), xpi, 0o600); err != nil {
		return fmt.Errorf("firefox: write the reporting extension: %w", err)
	}
	if err := overrides(cfg.ProfileDir, cfg.CertificateOverrides); err != nil {
		return err
	}
	return trust(ctx, cfg.ProfileDir, cfg.Certificates)
}

// tail keeps the last 2 KiB the browser printed, for an error message.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
