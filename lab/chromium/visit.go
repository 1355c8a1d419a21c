package chromium

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

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

// ResourceTiming is one PerformanceResourceTiming entry. Times are
// milliseconds since the page's time origin.
type ResourceTiming struct {
	Name          string  `json:"name"`
	InitiatorType string  `json:"initiatorType"`
	StartTime     float64 `json:"startTime"`
	// ConnectStart and ConnectEnd bracket the connection's set-up (TCP and
	// TLS, or QUIC); both equal FetchStart on a reused connection.
	ConnectStart    float64 `json:"connectStart"`
	ConnectEnd      float64 `json:"connectEnd"`
	RequestStart    float64 `json:"requestStart"`
	ResponseStart   float64 `json:"responseStart"`
	ResponseEnd     float64 `json:"responseEnd"`
	TransferSize    float64 `json:"transferSize"`
	EncodedBodySize float64 `json:"encodedBodySize"`
	NextHopProtocol string  `json:"nextHopProtocol"`
	// RenderBlockingStatus is "blocking" for a resource the first render
	// waited for, "non-blocking" otherwise.
	RenderBlockingStatus string `json:"renderBlockingStatus"`
}

// NavigationTiming is the PerformanceNavigationTiming entry of the page.
type NavigationTiming struct {
	ResourceTiming
	// FirstInterimResponseStart is when the first 1xx (the 103) arrived; 0
	// when there was none.
	FirstInterimResponseStart float64 `json:"firstInterimResponseStart"`
	// FinalResponseHeadersStart is when the final response's headers
	// arrived (ResponseStart is the 103's when there was one).
	FinalResponseHeadersStart float64 `json:"finalResponseHeadersStart"`
	DOMContentLoadedEventEnd  float64 `json:"domContentLoadedEventEnd"`
	LoadEventEnd              float64 `json:"loadEventEnd"`
}

// Visit is what one navigation recorded.
type Visit struct {
	URL string `json:"url"`
	// TimeOrigin is performance.timeOrigin: the Unix time in milliseconds
	// that the page's timings count from. It places server-side timestamps
	// on the page's timeline (see At).
	TimeOrigin float64          `json:"time_origin"`
	Navigation NavigationTiming `json:"navigation"`
	Resources  []ResourceTiming `json:"resources"`
	// FCP and LCP are milliseconds since TimeOrigin; 0 when the page did not
	// paint within the wait.
	FCP float64 `json:"fcp_ms"`
	LCP float64 `json:"lcp_ms"`
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

// Request returns the first request the browser made for url.
func (v *Visit) Request(url string) (Request, bool) {
	for _, r := range v.Requests {
		if r.URL == url {
			return r, true
		}
	}
	return Request{}, false
}

// RequestedPath reports whether the browser asked the network (or its cache)
// for a URL with this path, whatever the host.
func (v *Visit) RequestedPath(path string) bool {
	for _, r := range v.Requests {
		if u, err := url.Parse(r.URL); err == nil && u.Path == path {
			return true
		}
	}
	return false
}

// At returns t in milliseconds on the page's timeline (since TimeOrigin),
// the scale of Resource Timing. Browser and server share the machine's
// clock, so this is how a server-side timestamp is compared with the
// browser's timings.
func (v *Visit) At(t time.Time) float64 {
	return float64(t.UnixMicro())/1000 - v.TimeOrigin
}

// collectJS reads the page's timings. It waits for the first contentful
// paint (up to 3s: the load event can come before the first paint in a busy
// headless browser) and lets buffered LCP entries arrive.
const collectJS = `(async () => {
  const fcpEntry = () => performance.getEntriesByName('first-contentful-paint')[0];
  const fcp = await new Promise(resolve => {
    if (fcpEntry()) { resolve(fcpEntry().startTime); return; }
    const done = () => resolve((fcpEntry() || {}).startTime || 0);
    try {
      new PerformanceObserver(l => { if (fcpEntry()) done(); }).observe({type: 'paint', buffered: true});
    } catch (e) {}
    setTimeout(done, 3000);
  });
  const lcp = await new Promise(resolve => {
    let v = 0;
    try {
      new PerformanceObserver(l => { for (const e of l.getEntries()) v = e.startTime; })
        .observe({type: 'largest-contentful-paint', buffered: true});
    } catch (e) {}
    setTimeout(() => resolve(v), 50);
  });
  const nav = performance.getEntriesByType('navigation')[0];
  return JSON.stringify({
    time_origin: performance.timeOrigin,
    navigation: nav ? nav.toJSON() : {},
    resources: performance.getEntriesByType('resource').map(e => e.toJSON()),
    fcp_ms: fcp, lcp_ms: lcp,
  });
})()`

// Navigate loads url in the tab, waits for the load event, and returns what
// was recorded. It is bounded by Config.Timeout and by ctx.
func (b *Browser) Navigate(ctx context.Context, url string) (*Visit, error) {
	rec := &recorder{byID: map[network.RequestID]*Request{}}
	lctx, lcancel := context.WithCancel(b.tabCtx)
	defer lcancel()
	if err := chromedp.Listen(lctx, rec.on); err != nil {
		return nil, fmt.Errorf("chromium: listen: %w", err)
	}
	nctx, cancel := b.bound(ctx)
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(url)); err != nil {
		return nil, fmt.Errorf("chromium: navigate to %s: %w", url, err)
	}
	js, err := chromedp.Run(nctx, chromedp.Evaluate[string](collectJS, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("chromium: read timings of %s: %w", url, err)
	}
	v := &Visit{}
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
			// Requests of the previous page (its favicon) can still start
			// after the listener is in place; the visit begins with the
			// navigation's document request.
			if e.Type != network.ResourceTypeDocument {
				return
			}
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
			req.FromCache = req.FromCache || e.Response.FromDiskCache || e.Response.FromPrefetchCache
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
