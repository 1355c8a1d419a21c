// Package chromium drives Debian's headless Chromium over the DevTools
// protocol and records, for each navigation, what the browser did with
// Early Hints: Navigation and Resource Timing, paint metrics and the
// Network events (including responseReceivedEarlyHints and
// Response.fromEarlyHints).
//
// Chromium reports an Early Hints preload when the page uses it, not when it
// was fetched, so the package also keeps a server-side request log
// (ServerLog) and joins it with a Visit on the page's timeline (Visit.Join).
//
// chromedp is kept behind this package's small API (Launch, Navigate,
// SetCookie, Restart, Close), so a change of its API stays here.
//
// Three facts about Chromium shape how it is used (all seen with Chromium
// 156 and asserted by the tests of this package):
//   - it hands an Early Hints preload to the page through its HTTP cache: a
//     hinted resource that is not cacheable is fetched twice and Resource
//     Timing says "link", not "early-hints";
//   - it fetches the hinted files on a connection with a certificate error
//     and then discards them: the test certificate must be trusted by its
//     key (Config.SPKIHashes), and be a short-lived leaf certificate, not a
//     long-lived CA certificate such as httptest's;
//   - on HTTP/2 it drops a 103 that arrives before the stream waits for the
//     response headers, which on loopback (no round trip) is about a third
//     of navigations: put a link with a round trip between browser and
//     server (lab/netem's relay) when the hints must be used.
package chromium

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// DefaultBinary is where Debian's chromium package puts the browser.
const DefaultBinary = "/usr/bin/chromium"

// ErrNoBrowser is returned when no Chromium binary is found.
var ErrNoBrowser = errors.New("chromium: browser not found (apt-get install chromium, or set Config.Binary)")

// ErrBadConfig is returned by Config.Validate.
var ErrBadConfig = errors.New("chromium: invalid config")

// Config configures a browser. The zero value launches /usr/bin/chromium
// with a fresh profile over HTTP/2, trusting no extra certificate.
type Config struct {
	// Binary is the browser executable. "" means $CHROMIUM, else
	// /usr/bin/chromium, else chromium or chromium-browser on PATH.
	Binary string
	// SPKIHashes are base64 SHA-256 hashes of certificate public keys to
	// trust (--ignore-certificate-errors-spki-list). Chromium discards
	// Early Hints preloads on a connection with certificate errors, so the
	// test certificate must be trusted this way, never ignored.
	SPKIHashes []string
	// QUICOrigins are host:port origins to reach over HTTP/3
	// (--origin-to-force-quic-on). Empty disables QUIC.
	QUICOrigins []string
	// HTTP1 turns HTTP/2 off (--disable-http2), so every https connection
	// speaks HTTP/1.1. Default false. It cannot be combined with QUICOrigins.
	HTTP1 bool
	// UserDataDir is the profile. "" means a fresh temporary one, removed
	// by Close. Reuse a directory (with Restart) for a warm cache.
	UserDataDir string
	// BlockThirdPartyCookies makes a fresh profile block third-party
	// cookies, as Chromium's incognito mode and some users' settings do.
	// Default false: third parties get their cookies, as in Chrome's
	// default profile. It decides more than cookies: with third-party
	// cookies blocked, Chromium fetches a third party's no-cors file
	// (a plain <script src>) in privacy mode on a connection of its own,
	// so a credentialed preconnect to that origin (from the page or a
	// 103) opens a connection the file never uses.
	BlockThirdPartyCookies bool
	// Timeout bounds one navigation. 0 means 30s.
	Timeout time.Duration
	// ExtraFlags are passed as --name=value (value "" for a bare flag).
	ExtraFlags map[string]string
	// Prefix, when set, runs the browser through a wrapper command: the
	// browser's command line is appended to it (for example
	// ["ip", "netns", "exec", "ns"] to run it in a network namespace).
	Prefix []string
	// Logger receives the browser's warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// Browser is one running Chromium with one profile.
type Browser struct {
	cfg     Config
	tempDir string

	allocCtx    context.Context
	allocCancel context.CancelFunc
	tabCtx      context.Context
	tabCancel   context.CancelFunc
}

// FindBinary returns the browser executable to use.
func FindBinary(cfg Config) (string, error) {
	for _, c := range []string{cfg.Binary, os.Getenv("CHROMIUM"), DefaultBinary, "chromium", "chromium-browser"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Validate reports whether cfg can be launched.
func (c Config) Validate() error {
	if c.HTTP1 && len(c.QUICOrigins) > 0 {
		return fmt.Errorf("%w: HTTP1 and QUICOrigins together; choose one protocol per browser", ErrBadConfig)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("%w: negative Timeout %v; use 0 for the default", ErrBadConfig, c.Timeout)
	}
	return nil
}

// Launch starts Chromium.
func Launch(ctx context.Context, cfg Config) (*Browser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Browser{cfg: cfg}
	if b.cfg.UserDataDir == "" {
		dir, err := os.MkdirTemp("", "earlyhints-chromium-")
		if err != nil {
			return nil, fmt.Errorf("chromium: profile directory: %w", err)
		}
		b.tempDir, b.cfg.UserDataDir = dir, dir
	}
	if err := writePreferences(b.cfg); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.start(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// writePreferences gives a profile that has none yet the settings of cfg
// that no command-line flag sets: the third-party cookie control
// (profile.cookie_controls_mode: 0 allows them, 1 blocks them). A profile
// that has its own Preferences keeps them.
func writePreferences(cfg Config) error {
	dir := filepath.Join(cfg.UserDataDir, "Default")
	path := filepath.Join(dir, "Preferences")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	mode := 0
	if cfg.BlockThirdPartyCookies {
		mode = 1
	}
	prefs, err := json.Marshal(map[string]any{"profile": map[string]any{"cookie_controls_mode": mode}})
	if err != nil {
		return fmt.Errorf("chromium: preferences: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("chromium: profile directory: %w", err)
	}
	if err := os.WriteFile(path, prefs, 0o600); err != nil {
		return fmt.Errorf("chromium: write %s: %w (is the profile directory writable?)", path, err)
	}
	return nil
}

// Flags returns the command-line flags a browser with cfg runs with.
func Flags(cfg Config) map[string]any {
	flags := map[string]any{
		"headless":                       true,
		"no-sandbox":                     true,
		"disable-gpu":                    true,
		"no-first-run":                   true,
		"no-default-browser-check":       true,
		"disable-background-networking":  true,
		"disable-component-update":       true,
		"disable-sync":                   true,
		"disable-extensions":             true,
		"disable-default-apps":           true,
		"metrics-recording-only":         true,
		"mute-audio":                     true,
		"disable-features":               "Translate,OptimizationHints,MediaRouter",
		"user-data-dir":                  cfg.UserDataDir,
		"disable-dev-shm-usage":          true,
		"disable-renderer-backgrounding": true,
	}
	if len(cfg.SPKIHashes) > 0 {
		flags["ignore-certificate-errors-spki-list"] = strings.Join(cfg.SPKIHashes, ",")
	}
	if len(cfg.QUICOrigins) > 0 {
		flags["enable-quic"] = true
		flags["origin-to-force-quic-on"] = strings.Join(cfg.QUICOrigins, ",")
	} else {
		flags["disable-quic"] = true
	}
	if cfg.HTTP1 {
		flags["disable-http2"] = true
	}
	for k, v := range cfg.ExtraFlags {
		if v == "" {
			flags[k] = true
		} else {
			flags[k] = v
		}
	}
	return flags
}

func (b *Browser) start(ctx context.Context) error {
	bin, err := FindBinary(b.cfg)
	if err != nil {
		return err
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(bin), chromedp.WSURLReadTimeout(30 * time.Second)}
	if len(b.cfg.Prefix) > 0 {
		wrapper, err := exec.LookPath(b.cfg.Prefix[0])
		if err != nil {
			return fmt.Errorf("chromium: wrapper command: %w", err)
		}
		prefix := b.cfg.Prefix
		opts = append(opts, chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.Path = wrapper
			cmd.Args = append(append([]string{}, prefix...), cmd.Args...)
		}))
	}
	for k, v := range Flags(b.cfg) {
		opts = append(opts, chromedp.Flag(k, v))
	}
	b.allocCtx, b.allocCancel = chromedp.NewExecAllocator(context.WithoutCancel(ctx), opts...)
	b.tabCtx, b.tabCancel = chromedp.NewContext(b.allocCtx,
		chromedp.WithErrorf(func(f string, a ...any) { b.cfg.Logger.Debug(fmt.Sprintf("chromium: "+f, a...)) }))
	if _, err := chromedp.Call(b.tabCtx, network.Enable, network.EnableParams{}); err != nil {
		return fmt.Errorf("chromium: start %s: %w", bin, err)
	}
	return nil
}

// Restart closes the browser (and so every connection) and starts it again
// on the same profile: the next navigation has a warm cache on a new
// connection.
func (b *Browser) Restart(ctx context.Context) error {
	b.stop()
	return b.start(ctx)
}

// stop closes the browser gracefully (Browser.close), so that it writes its
// disk cache and profile before a Restart reads them, then frees the
// contexts. A browser that does not close within 10s is killed.
func (b *Browser) stop() {
	if b.tabCancel != nil {
		ctx, cancel := context.WithTimeout(b.tabCtx, 10*time.Second)
		if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
			b.cfg.Logger.Debug("chromium: close", "err", err)
		}
		cancel()
		b.tabCancel()
	}
	if b.allocCancel != nil {
		b.allocCancel()
	}
	b.tabCancel, b.allocCancel = nil, nil
}

// Close stops the browser and removes a temporary profile. Unlike
// Restart it does not wait for the browser to write its profile: the
// process is killed.
func (b *Browser) Close() error {
	if b.tempDir == "" {
		b.stop() // a profile the caller keeps: let the browser save it
	} else {
		if b.allocCancel != nil {
			b.allocCancel()
		}
		if b.tabCancel != nil {
			b.tabCancel()
		}
		b.tabCancel, b.allocCancel = nil, nil
	}
	if b.tempDir != "" {
		return os.RemoveAll(b.tempDir)
	}
	return nil
}

// SetCookie stores a cookie for url in the browser's profile, as if the
// site had set it: the way a test logs a user in without a login page.
func (b *Browser) SetCookie(ctx context.Context, url, name, value string) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: name, Value: value, URL: url}); err != nil {
		return fmt.Errorf("chromium: set cookie %s for %s: %w", name, url, err)
	}
	return nil
}

// bound derives a context for one command on the tab, ended by the
// navigation timeout or by ctx, whichever comes first. Ending it does not
// close the tab: only the context made by chromedp.NewContext does.
func (b *Browser) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	tctx, cancel := context.WithTimeout(b.tabCtx, b.cfg.Timeout)
	stop := context.AfterFunc(ctx, cancel)
	return tctx, func() { stop(); cancel() }
}

// Screenshot captures the whole page the tab shows, as PNG.
func (b *Browser) Screenshot(ctx context.Context) ([]byte, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return nil, fmt.Errorf("chromium: screenshot: %w", err)
	}
	return png, nil
}

// EvalString evaluates a JavaScript expression whose value is a string
// (JSON.stringify a structure) in the page, awaiting a promise.
func (b *Browser) EvalString(ctx context.Context, expr string) (string, error) {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return "", fmt.Errorf("chromium: evaluate: %w", err)
	}
	return s, nil
}
