package realpages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
	"github.com/earlyhints/earlyhints/server"
)

// Truth is what Chromium needed of one page.
type Truth struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Requests are the requests the origin served during the load, in
	// arrival order, the navigation first: every host's, since every host
	// lives on the stub origin.
	Requests []Fetch `json:"requests"`
	// Blocking are the files Resource Timing says the first render waited
	// for (renderBlockingStatus "blocking").
	Blocking []string `json:"blocking"`
	// Fonts are the fonts the page fetched.
	Fonts []string `json:"fonts"`
	// LCP is the image of the largest contentful paint, "" when that was
	// text (or nothing painted).
	LCP string `json:"lcp,omitempty"`
}

// Fetched reports whether the page fetched u (normalised).
func (t *Truth) Fetched(u string) bool {
	return slices.ContainsFunc(t.Requests, func(f Fetch) bool { return f.URL == u }) ||
		slices.Contains(t.Blocking, u) || slices.Contains(t.Fonts, u) || t.LCP == u
}

// Golden is the stored truth of a corpus.
type Golden struct {
	// Browser is the Chromium version that reported it.
	Browser string   `json:"browser"`
	Pages   []*Truth `json:"pages"`
}

// Truth returns the stored truth of the page called name.
func (g *Golden) Truth(name string) (*Truth, bool) {
	for _, t := range g.Pages {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// LoadGolden reads a golden file written by WriteGolden.
func LoadGolden(path string) (*Golden, error) {
	b, err := readGzip(path)
	if err != nil {
		return nil, fmt.Errorf("realpages: golden truth: %w (regenerate it: go test -tags chromium -run TestCorpusChromium -update ./lab/realpages)", err)
	}
	g := &Golden{}
	if err := json.Unmarshal(b, g); err != nil {
		return nil, fmt.Errorf("realpages: golden truth %s: %w (regenerate it with -update)", path, err)
	}
	return g, nil
}

// WriteGolden writes g to path, gzipped JSON.
func WriteGolden(path string, g *Golden) error {
	b, err := json.MarshalIndent(g, "", " ")
	if err != nil {
		return fmt.Errorf("realpages: golden truth: %w", err)
	}
	return os.WriteFile(path, gzipBytes(b), 0o644) //nolint:gosec // test data kept in the repository, readable by all
}

// Collector loads pages in one headless Chromium from one stub origin and
// reports their Truth.
type Collector struct {
	origin  *Origin
	srv     *server.Server
	cancel  context.CancelFunc
	served  chan error
	browser *chromium.Browser
	logger  *slog.Logger
}

// CollectorConfig configures NewCollector. The zero value finds Chromium
// as lab/chromium does and bounds each load to 30s.
type CollectorConfig struct {
	Binary  string
	Timeout time.Duration
	Logger  *slog.Logger
}

// NewCollector starts the stub origin (HTTPS, HTTP/2, on loopback) and a
// Chromium that resolves every host name to it.
func NewCollector(ctx context.Context, pages []*Page, cfg CollectorConfig) (_ *Collector, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	c := &Collector{origin: &Origin{NoStore: true}, served: make(chan error, 1), logger: cfg.Logger}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	for _, p := range pages {
		if err := c.origin.Add(p); err != nil {
			return nil, err
		}
	}
	c.srv, err = server.New(c.origin, server.Config{Addr: "127.0.0.1:0", DisableHTTP3: true, Logger: cfg.Logger, ShutdownTimeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("realpages: stub server: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	go func() { c.served <- c.srv.Serve(sctx) }()
	_, port, _ := net.SplitHostPort(c.srv.Addr())
	c.browser, err = chromium.Launch(ctx, chromium.Config{
		Binary:     cfg.Binary,
		SPKIHashes: []string{server.SPKIHash(c.srv.Certificate())},
		Timeout:    cfg.Timeout,
		Logger:     cfg.Logger,
		ExtraFlags: map[string]string{
			// Every host of every page, on the stub origin: nothing
			// leaves the machine.
			"host-resolver-rules": "MAP * 127.0.0.1:" + port,
			"window-size":         "1366,768",
			// lab/chromium's list, and no autofill queries.
			"disable-features": "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("realpages: %w", err)
	}
	return c, nil
}

// lcpJS reads the largest contentful paint's URL (an image's, "" for
// text), letting buffered entries arrive.
const lcpJS = `(async () => {
  let u = '';
  await new Promise(resolve => {
    try {
      new PerformanceObserver(l => { for (const e of l.getEntries()) u = e.url || ''; })
        .observe({type: 'largest-contentful-paint', buffered: true});
    } catch (e) {}
    setTimeout(resolve, 200);
  });
  return u;
})()`

// Collect loads p and reports what it needed.
func (c *Collector) Collect(ctx context.Context, p *Page) (*Truth, error) {
	c.origin.Reset()
	v, err := c.browser.Navigate(ctx, p.URL)
	if err != nil {
		return nil, fmt.Errorf("realpages: %s: %w", p.Name, err)
	}
	lcp, err := c.browser.EvalString(ctx, lcpJS)
	if err != nil {
		return nil, fmt.Errorf("realpages: %s: %w", p.Name, err)
	}
	base, _ := url.Parse(p.URL)
	t := &Truth{Name: p.Name, URL: normURL(p.URL, nil)}
	// The log begins with this navigation: a late request of the page
	// before belongs to that one.
	log := c.origin.Log()
	i := slices.IndexFunc(log, func(f Fetch) bool { return f.URL == t.URL && f.Dest == "document" })
	if i < 0 {
		return nil, fmt.Errorf("realpages: %s: the origin did not see the navigation to %s; check --host-resolver-rules", p.Name, t.URL)
	}
	t.Requests = log[i : i+1]
	for _, f := range log[i+1:] {
		// The browser's own requests (Sec-Fetch-Site: none after the
		// navigation: autofill, safe browsing) are not the page's.
		if f.Site != "none" {
			t.Requests = append(t.Requests, f)
		}
	}
	for _, r := range v.Resources {
		if r.RenderBlockingStatus != "blocking" {
			continue
		}
		// What the browser blocked (an http: stylesheet or script on an
		// https: page) never reached the origin: no hint can help it.
		u := served(t.Requests, normURL(r.Name, base))
		if u != "" && !slices.Contains(t.Blocking, u) {
			t.Blocking = append(t.Blocking, u)
		}
	}
	for _, f := range t.Requests {
		if f.Dest == "font" && !slices.Contains(t.Fonts, f.URL) {
			t.Fonts = append(t.Fonts, f.URL)
		}
	}
	if lcp != "" {
		t.LCP = served(t.Requests, normURL(lcp, base))
	}
	return t, nil
}

// served returns u as the origin served it (an http: URL the browser
// upgraded to https:), "" when the origin never saw it.
func served(log []Fetch, u string) string {
	if u == "" {
		return ""
	}
	alt := u
	if rest, ok := strings.CutPrefix(u, "http://"); ok {
		alt = "https://" + rest
	}
	for _, f := range log {
		if f.URL == u || f.URL == alt {
			return f.URL
		}
	}
	return ""
}

// Version is the browser's product string.
func (c *Collector) Version(ctx context.Context) string {
	s, err := c.browser.EvalString(ctx, "navigator.userAgent")
	if err != nil {
		return ""
	}
	return s
}

// Close stops the browser and the stub origin.
func (c *Collector) Close() {
	if c.browser != nil {
		_ = c.browser.Close()
	}
	if c.srv != nil {
		_ = c.srv.Close()
	}
	if c.cancel != nil {
		c.cancel()
		select {
		case err := <-c.served:
			if err != nil && !errors.Is(err, context.Canceled) {
				c.logger.Debug("realpages: stub server", "err", err)
			}
		case <-time.After(3 * time.Second):
		}
	}
}
