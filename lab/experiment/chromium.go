package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/earlyhints/earlyhints/lab/chromium"
	"github.com/earlyhints/earlyhints/lab/site"
)

// chromiumBrowser is Debian's Chromium (lab/chromium) behind Browser. One
// chromiumBrowser is one profile: its first Load is a fresh profile on new
// connections; every later Load restarts the browser on the same profile,
// so that it sees a warm HTTP cache (and its cookies) on new connections,
// as a visitor coming back does.
//
// The page's third-party hosts are mapped to the server under test with
// --host-resolver-rules, and the server's certificate is trusted by its key
// (Chromium discards Early Hints on a connection with a certificate error).
// Over HTTP/3 every origin of the page is forced onto QUIC.
type chromiumBrowser struct {
	env   Env
	b     *chromium.Browser
	url   func(string) string
	loads int
}

// chromiumFactory returns the factory of Chromium browsers, or the reason
// there is none. binary "" means the usual places (lab/chromium.FindBinary).
func chromiumFactory(binary string, timeout time.Duration, blockThirdPartyCookies bool, logger *slog.Logger) (BrowserFactory, string) {
	var err error
	if binary != "" {
		binary, err = exec.LookPath(binary)
	} else {
		binary, err = chromium.FindBinary(chromium.Config{})
	}
	if err != nil {
		return nil, "chromium is not installed (apt-get install chromium, or set $CHROMIUM); use --browser model"
	}
	return func(env Env) (Browser, error) {
		return newChromiumBrowser(env, binary, timeout, blockThirdPartyCookies, logger)
	}, ""
}

func newChromiumBrowser(env Env, binary string, timeout time.Duration, blockThirdPartyCookies bool, logger *slog.Logger) (Browser, error) {
	target := env.TCPAddr
	if env.Protocol == H3 {
		target = env.UDPAddr
	}
	if target == "" {
		return nil, fmt.Errorf("experiment: chromium: no address for %s", env.Protocol)
	}
	cfg := chromium.Config{
		Binary:     binary,
		SPKIHashes: []string{env.SPKI},
		Timeout:    timeout,
		Logger:     logger,
		HTTP1:      env.Protocol == H1,
		ExtraFlags: map[string]string{},
		// Third parties keep their cookies, as in Chrome's default
		// profile, unless the scenario blocks them: Chromium then never
		// uses a credentialed preconnect for a third party's no-cors file.
		BlockThirdPartyCookies: blockThirdPartyCookies,
	}
	if env.Namespace != "" {
		cfg.Prefix = []string{"ip", "netns", "exec", env.Namespace}
	}
	var rules []string
	for _, h := range env.Hosts {
		rules = append(rules, "MAP "+h+" "+target)
	}
	if len(rules) > 0 {
		cfg.ExtraFlags["host-resolver-rules"] = strings.Join(rules, ", ")
	}
	if env.Protocol == H3 {
		cfg.QUICOrigins = []string{target}
		for _, h := range env.Hosts {
			cfg.QUICOrigins = append(cfg.QUICOrigins, h+":443")
		}
	}
	// The page's own origin is the address dialled, the UDP relay's over
	// HTTP/3 (in relay mode its port differs from the TCP relay's).
	rewrite := func(u string) string {
		p, err := url.Parse(u)
		if err != nil {
			return u
		}
		p.Host = target
		return p.String()
	}
	b, err := chromium.Launch(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	return &chromiumBrowser{env: env, b: b, url: rewrite}, nil
}

func (c *chromiumBrowser) Load(ctx context.Context, u string) (Measurement, error) {
	if c.loads > 0 {
		if err := c.b.Restart(ctx); err != nil {
			return Measurement{}, fmt.Errorf("experiment: restart chromium: %w", err)
		}
	}
	c.loads++
	v, err := c.b.Navigate(ctx, c.url(u))
	if err != nil {
		return Measurement{}, err
	}
	m, err := measurementOfVisit(v, c.loads == 1)
	if err == nil && c.env.ServerLog != nil {
		placeHinted(m.Waterfall, v, c.env.ServerLog(), c.env.RTT)
	}
	return m, err
}

// placeHinted redraws the Early Hints preloads of wf from the server's log:
// Resource Timing times them from when the page took them out of the cache,
// not from when the browser fetched them after the 103. The browser's
// request is taken to leave half a round trip before the server saw it,
// and each byte to arrive half a round trip after the server wrote it.
func placeHinted(wf *Waterfall, v *chromium.Visit, log []site.LogEntry, rtt time.Duration) {
	half := ms(rtt) / 2
	used := map[int]bool{}
	for i := range wf.Entries {
		e := &wf.Entries[i]
		if e.Initiator != "early-hints" {
			continue
		}
		u, err := url.Parse(e.URL)
		if err != nil {
			continue
		}
		for k, l := range log {
			if used[k] || l.Path != u.RequestURI() {
				continue
			}
			used[k] = true
			e.StartMS = max(wf.EarlyHintsMS, v.At(l.Start)-half)
			e.RequestMS = e.StartMS
			e.FirstByteMS = max(e.RequestMS, v.At(l.FirstByte)+half)
			e.EndMS = max(e.FirstByteMS, v.At(l.End)+half)
			e.FromCache = false
			break
		}
	}
}

func (c *chromiumBrowser) Close() error { return c.b.Close() }

// measurementOfVisit turns what Chromium recorded into the lab's
// quantities, the model's render time included: when the document and
// every resource Chromium marked render-blocking had arrived.
func measurementOfVisit(v *chromium.Visit, cold bool) (Measurement, error) {
	nav := v.Navigation
	if nav.ResponseEnd <= 0 {
		return Measurement{}, errors.New("experiment: chromium recorded no navigation timing (the page did not load)")
	}
	d := func(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }
	firstByte := nav.FinalResponseHeadersStart
	if firstByte <= 0 {
		firstByte = nav.ResponseStart
	}
	wf := &Waterfall{
		HTMLFirstByteMS: firstByte, FCPMS: v.FCP, LCPMS: v.LCP,
		EarlyHintsMS: nav.FirstInterimResponseStart,
	}
	render, load := nav.ResponseEnd, max(nav.ResponseEnd, nav.LoadEventEnd)
	wf.Entries = append(wf.Entries, WaterfallEntry{
		URL: v.URL, Kind: "document", Initiator: "navigation",
		StartMS: nav.StartTime, ConnectStartMS: nav.ConnectStart, ConnectEndMS: nav.ConnectEnd,
		RequestMS: nav.RequestStart, FirstByteMS: firstByte, EndMS: nav.ResponseEnd,
		Bytes: int64(nav.TransferSize), RenderBlocking: true,
	})
	m := Measurement{HTML: d(nav.ResponseEnd), HTMLFirstByte: d(firstByte), FCP: d(v.FCP), LCP: d(v.LCP)}
	if nav.FirstInterimResponseStart > 0 {
		m.EarlyHintsAt = d(nav.FirstInterimResponseStart)
	}
	for _, r := range v.Resources {
		e := WaterfallEntry{
			URL: r.Name, Kind: kindOf(r.Name, r.InitiatorType), Initiator: initiatorOf(r.InitiatorType, r.TransferSize, r.EncodedBodySize),
			StartMS: r.StartTime, RequestMS: r.RequestStart, FirstByteMS: r.ResponseStart, EndMS: r.ResponseEnd,
			Bytes: int64(r.TransferSize), RenderBlocking: r.RenderBlockingStatus == "blocking",
			FromCache: r.TransferSize == 0 && r.EncodedBodySize > 0,
		}
		if r.ConnectEnd > r.ConnectStart {
			e.ConnectStartMS, e.ConnectEndMS = r.ConnectStart, r.ConnectEnd
		}
		if e.Initiator == "early-hints" {
			m.EarlyHinted = append(m.EarlyHinted, pathOf(r.Name))
		}
		// Body bytes, as the model counts them. A preload of the 103 reaches
		// the page through the HTTP cache (transfer size 0); on a cold
		// profile its body did come over the network.
		switch {
		case r.TransferSize > 0:
			m.Bytes += int64(r.EncodedBodySize)
		case e.Initiator == "early-hints" && cold:
			m.Bytes += int64(r.EncodedBodySize)
			e.FromCache, e.Bytes = false, int64(r.EncodedBodySize)
		}
		if e.RenderBlocking {
			render = max(render, r.ResponseEnd)
		}
		wf.Entries = append(wf.Entries, e)
	}
	m.Bytes += int64(nav.EncodedBodySize)
	// A URL the Network domain saw fetched twice (a preload the page did
	// not match, say) is waste.
	fetched := map[string]bool{}
	for _, r := range v.Requests {
		if r.FromCache || r.EncodedBytes == 0 {
			continue
		}
		if fetched[r.URL] {
			m.Wasted += int64(r.EncodedBytes)
		}
		fetched[r.URL] = true
	}
	m.Render, m.Load = d(render), d(load)
	wf.RenderMS, wf.LoadMS = render, load
	m.Waterfall = wf
	return m, nil
}

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	if h := p.Hostname(); h != "" && net.ParseIP(h) == nil {
		return p.Host + p.Path // a third party: keep its host
	}
	return p.Path
}

// initiatorOf and kindOf class a Resource Timing entry of a real browser
// (Chromium's or Firefox's, whose entries carry the same fields) for the
// waterfall.
func initiatorOf(initiatorType string, transferSize, encodedBodySize float64) string {
	switch initiatorType {
	case "early-hints":
		return "early-hints"
	case "css":
		return "css"
	}
	if transferSize == 0 && encodedBodySize > 0 {
		return "cache"
	}
	return "parser"
}

func kindOf(name, initiatorType string) string {
	p := strings.ToLower(pathOf(name))
	switch {
	case strings.HasSuffix(p, ".css"):
		return "style"
	case strings.HasSuffix(p, ".js"):
		return "script"
	case strings.HasSuffix(p, ".woff2"), strings.HasSuffix(p, ".woff"), strings.HasSuffix(p, ".ttf"):
		return "font"
	case strings.HasSuffix(p, ".jpg"), strings.HasSuffix(p, ".png"), strings.HasSuffix(p, ".svg"), strings.HasSuffix(p, ".webp"), strings.HasSuffix(p, ".gif"):
		return "image"
	case initiatorType == "fetch" || initiatorType == "xmlhttprequest":
		return "fetch"
	}
	return "other"
}
