// Package chromium drives Debian's headless Chromium over the DevTools
// protocol and records, for each navigation, what the browser did with
// Early Hints: Navigation and Resource Timing, paint metrics and the
// Network events (including responseReceivedEarlyHints and
// Response.fromEarlyHints).
//
// chromedp is kept behind this package's small API (Launch, Navigate,
// Restart, Close), so a change of its API stays here.
package chromium

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// DefaultBinary is where Debian's chromium package puts the browser.
const DefaultBinary = "/usr/bin/chromium"

// ErrNoBrowser is returned when no Chromium binary is found.
var ErrNoBrowser = errors.New("chromium: browser not found (apt-get install chromium, or set Config.Binary)")

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
	// UserDataDir is the profile. "" means a fresh temporary one, removed
	// by Close. Reuse a directory (with Restart) for a warm cache.
	UserDataDir string
	// Timeout bounds one navigation. 0 means 30s.
	Timeout time.Duration
	// ExtraFlags are passed as --name=value (value "" for a bare flag).
	ExtraFlags map[string]string
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

// Launch starts Chromium.
func Launch(ctx context.Context, cfg Config) (*Browser, error) {
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
	if err := b.start(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
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
		flags["ignore-certificate-errors-spki-list"] = join(cfg.SPKIHashes)
	}
	if len(cfg.QUICOrigins) > 0 {
		flags["enable-quic"] = true
		flags["origin-to-force-quic-on"] = join(cfg.QUICOrigins)
	} else {
		flags["disable-quic"] = true
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

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

func (b *Browser) start(ctx context.Context) error {
	bin, err := FindBinary(b.cfg)
	if err != nil {
		return err
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(bin), chromedp.WSURLReadTimeout(30 * time.Second)}
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

func (b *Browser) stop() {
	if b.tabCancel != nil {
		b.tabCancel()
	}
	if b.allocCancel != nil {
		b.allocCancel()
	}
	b.tabCancel, b.allocCancel = nil, nil
}

// Close stops the browser and removes a temporary profile.
func (b *Browser) Close() error {
	b.stop()
	if b.tempDir != "" {
		return os.RemoveAll(b.tempDir)
	}
	return nil
}

// Request is what the Network domain said about one request.
type Request struct {
	URL            string  `json:"url"`
	Initiator      string  `json:"initiator"`
	Sent           float64 `json:"sent_ms"` // relative to the navigation's request
	Received       float64 `json:"received_ms"`
	Finished       float64 `json:"finished_ms"`
	Status         int64   `json:"status"`
	Protocol       string  `json:"protocol"`
	FromEarlyHints bool    `json:"from_early_hints"`
	FromCache      bool    `json:"from_cache"`
	EncodedBytes   float64 `json:"encoded_bytes"`
}

// ResourceTiming is one PerformanceResourceTiming entry.
type ResourceTiming struct {
	Name            string  `json:"name"`
	InitiatorType   string  `json:"initiatorType"`
	StartTime       float64 `json:"startTime"`
	ResponseStart   float64 `json:"responseStart"`
	ResponseEnd     float64 `json:"responseEnd"`
	TransferSize    float64 `json:"transferSize"`
	NextHopProtocol string  `json:"nextHopProtocol"`
}

// NavigationTiming is the PerformanceNavigationTiming entry of the page.
type NavigationTiming struct {
	ResourceTiming
	FirstInterimResponseStart float64 `json:"firstInterimResponseStart"`
	RequestStart              float64 `json:"requestStart"`
	DOMContentLoadedEventEnd  float64 `json:"domContentLoadedEventEnd"`
	LoadEventEnd              float64 `json:"loadEventEnd"`
}

// Visit is what one navigation recorded.
type Visit struct {
	URL        string           `json:"url"`
	Navigation NavigationTiming `json:"navigation"`
	Resources  []ResourceTiming `json:"resources"`
	FCP        float64          `json:"fcp_ms"`
	LCP        float64          `json:"lcp_ms"`
	// EarlyHints holds the Link values of the 103 the browser received.
	EarlyHints []string  `json:"early_hints"`
	Requests   []Request `json:"requests"`
}

// Resource returns the Resource Timing entry whose URL is url.
func (v *Visit) Resource(url string) (ResourceTiming, bool) {
	for _, r := range v.Resources {
		if r.Name == url {
			return r, true
		}
	}
	return ResourceTiming{}, false
}

const collectJS = `(async () => {
  const lcp = await new Promise(resolve => {
    let v = 0;
    try {
      new PerformanceObserver(l => { for (const e of l.getEntries()) v = e.startTime; })
        .observe({type: 'largest-contentful-paint', buffered: true});
    } catch (e) {}
    setTimeout(() => resolve(v), 50);
  });
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0;
  return JSON.stringify({
    navigation: nav ? nav.toJSON() : {},
    resources: performance.getEntriesByType('resource').map(e => e.toJSON()),
    fcp_ms: fcp, lcp_ms: lcp,
  });
})()`

// Navigate loads url in the tab, waits for the load event, and returns what
// was recorded.
func (b *Browser) Navigate(ctx context.Context, url string) (*Visit, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	rec := &recorder{byID: map[network.RequestID]*Request{}}
	lctx, lcancel := context.WithCancel(b.tabCtx)
	defer lcancel()
	if err := chromedp.Listen(lctx, rec.on); err != nil {
		return nil, fmt.Errorf("chromium: listen: %w", err)
	}
	run := func(a chromedp.Action[chromedp.Void]) error {
		done := make(chan error, 1)
		go func() { done <- chromedp.Do(b.tabCtx, a) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := run(chromedp.Navigate(url)); err != nil {
		return nil, fmt.Errorf("chromium: navigate to %s: %w", url, err)
	}
	js, err := chromedp.Run(b.tabCtx, chromedp.Evaluate[string](collectJS, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("chromium: read timings of %s: %w", url, err)
	}
	v := &Visit{URL: url}
	if err := json.Unmarshal([]byte(js), v); err != nil {
		return nil, fmt.Errorf("chromium: decode timings: %w", err)
	}
	v.URL = url
	v.EarlyHints, v.Requests = rec.result()
	return v, nil
}

// recorder collects Network events in arrival order.
type recorder struct {
	mu       sync.Mutex
	order    []network.RequestID
	byID     map[network.RequestID]*Request
	early    []string
	earlyFor network.RequestID
	t0       float64
}

func (r *recorder) on(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ms := func(t float64) float64 { return (t - r.t0) * 1000 }
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if r.t0 == 0 {
			r.t0 = e.Timestamp.Float64()
		}
		if _, ok := r.byID[e.RequestID]; ok {
			return // a redirect keeps the first request's entry
		}
		req := &Request{URL: e.Request.URL, Sent: ms(e.Timestamp.Float64())}
		if e.Initiator != nil {
			req.Initiator = string(e.Initiator.Type)
		}
		r.byID[e.RequestID] = req
		r.order = append(r.order, e.RequestID)
	case *network.EventResponseReceivedEarlyHints:
		if r.earlyFor != "" {
			return // a browser acts on the first 103 only; CDP may repeat it
		}
		r.earlyFor = e.RequestID
		for k, v := range e.Headers {
			if strings.EqualFold(k, "link") {
				if s, ok := v.(string); ok {
					r.early = append(r.early, s)
				}
			}
		}
	case *network.EventResponseReceived:
		if req, ok := r.byID[e.RequestID]; ok && e.Response != nil {
			req.Received = ms(e.Timestamp.Float64())
			req.Status = e.Response.Status
			req.Protocol = e.Response.Protocol
			req.FromEarlyHints = e.Response.FromEarlyHints
			req.FromCache = e.Response.FromDiskCache || e.Response.FromPrefetchCache
		}
	case *network.EventLoadingFinished:
		if req, ok := r.byID[e.RequestID]; ok {
			req.Finished = ms(e.Timestamp.Float64())
			req.EncodedBytes = e.EncodedDataLength
		}
	case *network.EventRequestServedFromCache:
		if req, ok := r.byID[e.RequestID]; ok {
			req.FromCache = true
		}
	}
}

func (r *recorder) result() ([]string, []Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, *r.byID[id])
	}
	return append([]string(nil), r.early...), out
}
