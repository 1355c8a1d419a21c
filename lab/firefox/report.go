package firefox

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// extensionID names the reporting extension in the profile.
const extensionID = "timings@earlyhints.lab"

// maxReport bounds one report's size.
const maxReport = 4 << 20

// contentJS runs in every document at document_start. After the load event
// it waits for the first contentful paint (up to 3s: a busy headless
// browser can paint after the load event), gives buffered LCP entries a
// moment, and hands the page's performance entries to the background
// script. Only the top document reports.
const contentJS = `(() => {
  if (window.top !== window) return;
  const perf = window.performance;
  let lcp = 0;
  try {
    new PerformanceObserver(l => { for (const e of l.getEntries()) lcp = e.startTime; })
      .observe({type: 'largest-contentful-paint', buffered: true});
  } catch (e) {}
  const fcp = () => { const e = perf.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : 0; };
  const send = () => {
    const nav = perf.getEntriesByType('navigation')[0];
    browser.runtime.sendMessage({
      url: location.href,
      time_origin: perf.timeOrigin,
      navigation: nav ? nav.toJSON() : {},
      resources: perf.getEntriesByType('resource').map(e => e.toJSON()),
      fcp_ms: fcp(), lcp_ms: lcp,
    });
  };
  const wait = (n) => { if (fcp() > 0 || n <= 0) { setTimeout(send, 50); } else { setTimeout(() => wait(n - 1), 50); } };
  const start = () => setTimeout(() => wait(60), 0);
  if (document.readyState === 'complete') start(); else window.addEventListener('load', start, {once: true});
})();
`

// backgroundJS posts each report to the collector, and starts the
// navigation: Firefox opens about:blank, and once the extension runs and
// the browser's own start-up work has settled (settleMS), the background
// script asks the collector for the page and loads it in the tab. The
// page's timings then count from a navigation of a started browser, as
// Chromium's do, not from the middle of Firefox's start-up.
const backgroundJS = `browser.runtime.onMessage.addListener(m => {
  fetch(REPORT, {method: 'POST', body: JSON.stringify(m), headers: {'Content-Type': 'text/plain'}}).catch(() => {});
});
setTimeout(async () => {
  try {
    const u = await (await fetch(NEXT)).text();
    if (!u) return;
    const tabs = await browser.tabs.query({currentWindow: true, active: true});
    if (tabs.length > 0) await browser.tabs.update(tabs[0].id, {url: u});
    else await browser.tabs.create({url: u});
  } catch (e) {}
}, SETTLE_MS);
`

// settleMS is how long the background script lets Firefox's start-up
// work (session, extensions, caches) run before it navigates.
const settleMS = 1500

// extension builds the reporting extension, posting to report.
func extension(report string) ([]byte, error) {
	manifest, err := json.Marshal(map[string]any{
		"manifest_version":          2,
		"name":                      "earlyhints lab timings",
		"version":                   "1.0",
		"browser_specific_settings": map[string]any{"gecko": map[string]any{"id": extensionID}},
		"permissions":               []string{"<all_urls>"},
		"background":                map[string]any{"scripts": []string{"background.js"}},
		"content_scripts": []any{map[string]any{
			"matches": []string{"<all_urls>"}, "js": []string{"content.js"}, "run_at": "document_start",
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("firefox: extension manifest: %w", err)
	}
	next := strings.Replace(report, "/report/", "/next/", 1)
	bg := "const REPORT = " + mustJSON(report) + ";\nconst NEXT = " + mustJSON(next) + ";\nconst SETTLE_MS = " + strconv.Itoa(settleMS) + ";\n" + backgroundJS
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"manifest.json", string(manifest)}, {"background.js", bg}, {"content.js", contentJS}} {
		w, err := z.Create(f.name)
		if err != nil {
			return nil, fmt.Errorf("firefox: extension: %w", err)
		}
		if _, err := io.WriteString(w, f.body); err != nil {
			return nil, fmt.Errorf("firefox: extension: %w", err)
		}
	}
	if err := z.Close(); err != nil {
		return nil, fmt.Errorf("firefox: extension: %w", err)
	}
	return buf.Bytes(), nil
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// collector receives the pages' reports on loopback. The path carries a
// random token, so that nothing else on the machine can post a report.
type collector struct {
	ln    net.Listener
	srv   *http.Server
	token string

	mu      sync.Mutex
	waiting chan []byte
	next    string // the page the browser is to load
}

func newCollector() (*collector, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("firefox: report listener: %w", err)
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	c := &collector{ln: ln, token: hex.EncodeToString(tok)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /report/"+c.token, c.receive)
	mux.HandleFunc("GET /next/"+c.token, func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		u := c.next
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, u)
	})
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go c.srv.Serve(ln) //nolint:errcheck // ends with close
	return c, nil
}

func (c *collector) url() string { return "http://" + c.ln.Addr().String() + "/report/" + c.token }

func (c *collector) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReport))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting != nil {
		select {
		case c.waiting <- body:
		default: // a second report of the same navigation
		}
	}
}

// expect sets the page to load and makes a channel for its report; done
// stops delivering.
func (c *collector) expect(page string) <-chan report {
	ch := make(chan []byte, 1)
	out := make(chan report, 1)
	c.mu.Lock()
	c.waiting, c.next = ch, page
	c.mu.Unlock()
	go func() {
		if b, ok := <-ch; ok {
			out <- report(b)
		}
	}()
	return out
}

func (c *collector) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting != nil {
		close(c.waiting)
		c.waiting = nil
	}
	c.next = ""
}

func (c *collector) close() { _ = c.srv.Close() }

// report is the JSON a page posted.
type report []byte

func (r report) visit() (*Visit, error) {
	v := &Visit{}
	if err := json.Unmarshal(r, v); err != nil {
		return nil, fmt.Errorf("firefox: decode the page's report: %w", err)
	}
	return v, nil
}

// ResourceTiming is one PerformanceResourceTiming entry. Times are
// milliseconds since the page's time origin.
type ResourceTiming struct {
	Name            string  `json:"name"`
	InitiatorType   string  `json:"initiatorType"`
	StartTime       float64 `json:"startTime"`
	ConnectStart    float64 `json:"connectStart"`
	ConnectEnd      float64 `json:"connectEnd"`
	RequestStart    float64 `json:"requestStart"`
	ResponseStart   float64 `json:"responseStart"`
	ResponseEnd     float64 `json:"responseEnd"`
	TransferSize    float64 `json:"transferSize"`
	EncodedBodySize float64 `json:"encodedBodySize"`
	NextHopProtocol string  `json:"nextHopProtocol"`
	// RenderBlockingStatus is "blocking" or "non-blocking" where the
	// browser reports it ("" where it does not).
	RenderBlockingStatus string `json:"renderBlockingStatus"`
}

// NavigationTiming is the PerformanceNavigationTiming entry of the page.
type NavigationTiming struct {
	ResourceTiming
	// FirstInterimResponseStart is when the first 1xx (the 103) arrived; 0
	// when there was none.
	FirstInterimResponseStart float64 `json:"firstInterimResponseStart"`
	// FinalResponseHeadersStart is when the final response's headers
	// arrived.
	FinalResponseHeadersStart float64 `json:"finalResponseHeadersStart"`
	DOMContentLoadedEventEnd  float64 `json:"domContentLoadedEventEnd"`
	LoadEventEnd              float64 `json:"loadEventEnd"`
}

// FinalHeaders returns when the final response's headers arrived.
func (n NavigationTiming) FinalHeaders() float64 {
	if n.FinalResponseHeadersStart > 0 {
		return n.FinalResponseHeadersStart
	}
	return n.ResponseStart
}

// Visit is what one navigation's page reported.
type Visit struct {
	URL string `json:"url"`
	// TimeOrigin is performance.timeOrigin, Unix milliseconds: it places
	// server-side timestamps on the page's timeline (At).
	TimeOrigin float64          `json:"time_origin"`
	Navigation NavigationTiming `json:"navigation"`
	Resources  []ResourceTiming `json:"resources"`
	// FCP and LCP are milliseconds since TimeOrigin; 0 when the page did
	// not paint within the wait (or, for LCP, Firefox has none).
	FCP float64 `json:"fcp_ms"`
	LCP float64 `json:"lcp_ms"`
}

// At returns t in milliseconds on the page's timeline.
func (v *Visit) At(t time.Time) float64 {
	return float64(t.UnixMicro())/1000 - v.TimeOrigin
}

// Resource returns the first Resource Timing entry whose URL is u.
func (v *Visit) Resource(u string) (ResourceTiming, bool) {
	for _, r := range v.Resources {
		if r.Name == u {
			return r, true
		}
	}
	return ResourceTiming{}, false
}

// GotEarlyHints reports whether a 1xx response came before the document.
func (v *Visit) GotEarlyHints() bool { return v.Navigation.FirstInterimResponseStart > 0 }

// EarlyHinted returns the URLs the browser fetched from the 103, as the
// page sees it: entries with initiatorType "early-hints", or whose request
// left before the document's final headers arrived (only the 103 can have
// named them then). A server-side log is the firmer judge (see the package
// comment); this is the browser's own signal.
func (v *Visit) EarlyHinted() []string {
	final := v.Navigation.FinalHeaders()
	var out []string
	seen := map[string]bool{}
	for _, r := range v.Resources {
		early := r.InitiatorType == "early-hints" || (final > 0 && r.RequestStart > 0 && r.RequestStart < final)
		if early && !seen[r.Name] {
			seen[r.Name] = true
			out = append(out, r.Name)
		}
	}
	return out
}

// PathOf returns the request target (path and query) of u, "" if u does
// not parse.
func PathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.RequestURI()
}
