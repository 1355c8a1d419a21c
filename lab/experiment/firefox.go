package experiment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"slices"
	"time"

	"github.com/earlyhints/earlyhints/lab/firefox"
	"github.com/earlyhints/earlyhints/lab/site"
)

// firefoxBrowser is Debian's firefox-esr (lab/firefox) behind Browser. One
// firefoxBrowser is one profile: its first Load is a fresh profile on new
// connections; every later Load runs Firefox again on the same profile, so
// that it sees a warm HTTP cache on new connections.
//
// The server's certificate is trusted in the profile's NSS database. The
// page's third-party hosts reach the server through a CONNECT tunnel
// (lab/firefox.Tunnel) that dials the emulated network, their names
// accepted for the server's certificate by a certificate exception. Over
// HTTP/3 the page's origin is mapped to the server's QUIC endpoint; the
// third parties stay on HTTP/2 (Firefox sends no QUIC through a proxy).
type firefoxBrowser struct {
	env    Env
	b      *firefox.Browser
	tunnel *firefox.Tunnel
	loads  int
}

// firefoxFactory returns the factory of Firefox browsers, or the reason
// there is none.
func firefoxFactory(timeout time.Duration, logger *slog.Logger) (BrowserFactory, string) {
	binary, err := firefox.FindBinary(firefox.Config{})
	if err != nil {
		return nil, "firefox is not installed (apt-get install firefox-esr libnss3-tools, or set $FIREFOX); use --browser model"
	}
	if _, err := exec.LookPath("certutil"); err != nil {
		return nil, "certutil is not installed (apt-get install libnss3-tools): Firefox cannot trust the lab's certificate"
	}
	return func(env Env) (Browser, error) {
		return newFirefoxBrowser(env, binary, timeout, logger)
	}, ""
}

func newFirefoxBrowser(env Env, binary string, timeout time.Duration, logger *slog.Logger) (Browser, error) {
	if len(env.CertPEM) == 0 {
		return nil, errors.New("experiment: firefox: the server's certificate is unknown")
	}
	u, err := url.Parse(env.URL)
	if err != nil {
		return nil, fmt.Errorf("experiment: firefox: page URL: %w", err)
	}
	// Firefox gets a minute more than a navigation: it starts with each
	// load, which takes seconds on a loaded machine.
	cfg := firefox.Config{
		Binary: binary, Certificates: [][]byte{env.CertPEM}, HTTP1: env.Protocol == H1,
		Timeout: timeout + time.Minute, Logger: logger,
	}
	if env.Namespace != "" {
		// The page reports to a collector on the host's loopback, which
		// a browser in the client namespace cannot reach.
		return nil, errors.New("experiment: firefox runs in relay mode only (its page reports to the lab over loopback); use --netem relay")
	}
	if env.Protocol == H3 {
		if env.UDPAddr == "" {
			return nil, errors.New("experiment: firefox: no address for h3")
		}
		cfg.HTTP3Origins = map[string]string{u.Host: env.UDPAddr}
	}
	fb := &firefoxBrowser{env: env}
	if len(env.Hosts) > 0 && env.DialContext != nil {
		fb.tunnel, err = firefox.NewTunnel(env.Hosts, func(ctx context.Context) (net.Conn, error) {
			return env.DialContext(ctx, "tcp", env.TCPAddr)
		}, logger)
		if err != nil {
			return nil, fmt.Errorf("experiment: %w", err)
		}
		cfg.Proxy = fb.tunnel.Addr()
		cfg.CertificateOverrides = map[string][]byte{}
		for _, h := range env.Hosts {
			cfg.CertificateOverrides[net.JoinHostPort(h, "443")] = env.CertPEM
		}
	}
	fb.b, err = firefox.Launch(context.Background(), cfg)
	if err != nil {
		if fb.tunnel != nil {
			fb.tunnel.Close()
		}
		return nil, fmt.Errorf("experiment: %w", err)
	}
	return fb, nil
}

func (f *firefoxBrowser) Load(ctx context.Context, u string) (Measurement, error) {
	f.loads++
	v, err := f.b.Navigate(ctx, u)
	if err != nil {
		return Measurement{}, err
	}
	var log []site.LogEntry
	if f.env.ServerLog != nil {
		log = f.env.ServerLog()
	}
	return measurementOfFirefox(v, log, f.env.RTT, f.loads == 1)
}

func (f *firefoxBrowser) Close() error {
	err := f.b.Close()
	if f.tunnel != nil {
		f.tunnel.Close()
	}
	return err
}

// measurementOfFirefox turns what the page reported into the lab's
// quantities. Firefox reports no render-blocking status, so Render is the
// first contentful paint, bounded below by the document's end (what the
// model's render time stands for). Which files came through Early Hints is
// judged on the server: those the site was asked for before it wrote the
// document's headers, which only the 103 could have named then; Resource
// Timing's initiatorType "early-hints" is taken too.
func measurementOfFirefox(v *firefox.Visit, log []site.LogEntry, rtt time.Duration, cold bool) (Measurement, error) {
	nav := v.Navigation
	if nav.ResponseEnd <= 0 {
		return Measurement{}, errors.New("experiment: firefox reported no navigation timing (the page did not load)")
	}
	d := func(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }
	firstByte := nav.FinalHeaders()
	if nav.ResponseEnd < firstByte {
		// After a 103, firefox-esr 153 reports the interim response's end
		// as the document's responseEnd. The document's last byte is then
		// taken from the site's log, half a round trip after the site wrote
		// it, and never before its headers.
		nav.ResponseEnd = firstByte
		if end := documentEnd(v, log); !end.IsZero() {
			nav.ResponseEnd = max(firstByte, v.At(end)+ms(rtt)/2)
		}
	}
	wf := &Waterfall{
		HTMLFirstByteMS: firstByte, FCPMS: v.FCP, LCPMS: v.LCP,
		EarlyHintsMS: nav.FirstInterimResponseStart,
	}
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
	early := earlyOnServer(v, log)
	render, load := max(nav.ResponseEnd, v.FCP), max(nav.ResponseEnd, nav.LoadEventEnd)
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
		p := pathOf(r.Name)
		if slices.Contains(early, firefox.PathOf(r.Name)) || r.InitiatorType == "early-hints" {
			e.Initiator = "early-hints"
			if !slices.Contains(m.EarlyHinted, p) {
				m.EarlyHinted = append(m.EarlyHinted, p)
			}
		}
		switch {
		case r.TransferSize > 0:
			m.Bytes += int64(r.EncodedBodySize)
		case e.Initiator == "early-hints" && cold:
			m.Bytes += int64(r.EncodedBodySize)
			e.FromCache, e.Bytes = false, int64(r.EncodedBodySize)
		}
		wf.Entries = append(wf.Entries, e)
	}
	m.Bytes += int64(nav.EncodedBodySize)
	// A path the site served twice in the load (a hinted file the page
	// did not match) is waste.
	seen := map[string]bool{}
	for _, l := range log {
		if l.Status != 200 || l.Bytes == 0 {
			continue
		}
		k := l.Host + l.Path
		if seen[k] {
			m.Wasted += int64(l.Bytes)
		}
		seen[k] = true
	}
	m.Render, m.Load = d(render), d(load)
	wf.RenderMS, wf.LoadMS = render, load
	m.Waterfall = wf
	return m, nil
}

// documentEnd returns when the site wrote the document's last byte, zero
// if its log does not have it.
func documentEnd(v *firefox.Visit, log []site.LogEntry) time.Time {
	doc := firefox.PathOf(v.URL)
	for _, l := range log {
		if l.Path == doc {
			return l.End
		}
	}
	return time.Time{}
}

// earlyOnServer returns the request targets the site was asked for before
// it wrote the document's headers.
func earlyOnServer(v *firefox.Visit, log []site.LogEntry) []string {
	doc := firefox.PathOf(v.URL)
	var docAt time.Time
	for _, l := range log {
		if l.Path == doc && !l.FirstByte.IsZero() {
			docAt = l.FirstByte
			break
		}
	}
	if docAt.IsZero() {
		return nil
	}
	var out []string
	for _, l := range log {
		if l.Path != doc && l.Start.Before(docAt) {
			out = append(out, l.Path)
		}
	}
	return out
}
