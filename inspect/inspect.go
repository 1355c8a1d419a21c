package inspect

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/earlyhints/earlyhints/scan"
)

// ErrBadURL reports a URL that cannot be checked.
var ErrBadURL = errors.New("inspect: not a URL to check")

// probe is one protocol's view of one URL, with what the rules need beyond
// the Result.
type probe struct {
	res    *Result
	page   *url.URL
	client *client
	first  *exchange // the first run: the structure of the response
	html   bool
	scan   scan.Result
	// text is the decoded document for finding references; searchable is
	// false when it could not be decoded (br, zstd, deflate).
	text       string
	searchable bool
	// texts are the stylesheets and scripts fetched, for references.
	texts []text
	// fonts are the fonts the page's stylesheets declare first.
	fonts []*url.URL
	// targetProblems are hinted files a browser cannot reuse.
	targetProblems []targetProblem
	hop            int // 0 for the URL asked, then each redirect
	// header holds the extra request fields sent with the navigation:
	// Config.Header on the origin of the URL asked, none on another.
	header http.Header
	leaf   *x509.Certificate // the server's certificate, over TLS
	// learned is what the proxy would learn from the response and hint.
	learned *Learned
}

// Check requests rawURL over each protocol of cfg and reports what the
// server sent and what is wrong with it. A page that cannot be reached is
// reported as a finding; the error is for a URL or Config that cannot be
// checked at all.
func Check(ctx context.Context, rawURL string, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, err := parseTarget(rawURL)
	if err != nil {
		return nil, err
	}
	rep := &Report{URL: u.String(), Results: []Result{}, Findings: []Finding{}}
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.MaxTime, &maxTimeError{cfg.MaxTime})
	defer cancel()
	var probes []*probe
	var extra []Finding
	others := newClient("", &cfg) // targets on other origins: h2 or h1
	defer others.close()
	for _, proto := range cfg.Protos {
		if u.Scheme == "http" && proto != H1 {
			if !slices.ContainsFunc(extra, func(f Finding) bool { return f.Code == CodeNotHTTPS }) {
				extra = append(extra, Finding{
					Code: CodeNotHTTPS, Severity: SeverityWarn, Link: u.String(),
					Message: "an http:// page is checked over HTTP/1.1 only: browsers use Early Hints over HTTP/2 and HTTP/3, which need https; serve the page over https",
				})
			}
			continue
		}
		c := newClient(proto, &cfg)
		hop := u
		visited := map[string]bool{}
		for i := 0; ; i++ {
			visited[hop.String()] = true
			cfg.Logger.Debug("inspect: navigate", "proto", proto, "url", hop.String())
			hopCfg := cfg
			if !sameOrigin(hop, u) {
				// Cookies, credentials and every other -H field are the
				// user's for the origin asked: a redirect elsewhere gets
				// none of them, as a browser's cookie jar would not.
				hopCfg.Header = nil
			}
			p := navigate(ctx, c, hop, &hopCfg)
			p.hop = i
			probes = append(probes, p)
			if !cfg.Follow || p.first.err != nil || !isRedirect(p.res.Status) {
				break
			}
			next, err := hop.Parse(p.res.Location)
			if err != nil || next.Scheme != "https" && next.Scheme != "http" {
				break
			}
			if next.Scheme == "http" && proto != H1 {
				break
			}
			next.Fragment = ""
			if visited[next.String()] || i >= DefaultMaxRedirects {
				extra = append(extra, tooManyRedirects(proto, next, visited[next.String()], i+1))
				break
			}
			hop = next
		}
		for _, p := range probes {
			if p.client == c {
				checkTargets(ctx, p, others, &cfg)
			}
		}
		c.close()
	}
	rep.Findings = append(extra, findings(probes, &cfg)...)
	if cfg.Browser != nil {
		var more []Finding
		rep.Browser, more = browse(ctx, probes, &cfg)
		rep.Findings = append(rep.Findings, more...)
	}
	if cfg.Learn {
		rep.Learn = learnedOf(probes, rep.Browser)
	}
	sortFindings(rep.Findings)
	for _, p := range probes {
		rep.Results = append(rep.Results, *p.res)
	}
	return rep, nil
}

// tooManyRedirects is the finding for a chain of redirects the check
// stopped following: one that comes back to a URL it has been to, or one
// longer than DefaultMaxRedirects.
func tooManyRedirects(proto string, next *url.URL, loop bool, hops int) Finding {
	if loop {
		return Finding{
			Code: CodeTooManyRedirects, Severity: SeverityError, Proto: proto, Link: next.String(),
			Message: fmt.Sprintf("the redirects loop: after %d, the next leads back to %s; browsers give up with ERR_TOO_MANY_REDIRECTS and show no page; make the chain end at the page", hops, next),
		}
	}
	return Finding{
		Code: CodeTooManyRedirects, Severity: SeverityWarn, Proto: proto, Link: next.String(),
		Message: fmt.Sprintf("%d redirects and the page still redirects (next %s): the check follows %d; each costs the visitor a round trip, and Chromium gives up after 20; redirect once, to the final URL", hops, next, DefaultMaxRedirects),
	}
}

func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w; give an absolute URL such as https://example.com/", ErrBadURL, raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q; give an absolute http(s) URL without credentials, such as https://example.com/", ErrBadURL, raw)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.Fragment = ""
	return u, nil
}

// sameOrigin reports whether a and b have the same origin: scheme, host
// and port, the port written or the scheme's default.
func sameOrigin(a, b *url.URL) bool {
	return originOf(a) == originOf(b)
}

func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	return scheme + "://" + net.JoinHostPort(host, port)
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// navigationRequest is a GET of page as Chromium navigates to it.
func navigationRequest(page *url.URL, extra http.Header) *http.Request {
	req := &http.Request{Method: http.MethodGet, URL: page, Host: page.Host, Header: navigationHeader.Clone()}
	for k, v := range extra {
		if k = http.CanonicalHeaderKey(k); k == "Host" && len(v) > 0 {
			req.Host = v[0] // a virtual host reached by address
			continue
		}
		req.Header[k] = slices.Clone(v)
	}
	return req
}

// navigate requests page cfg.Runs times and keeps the first run's
// structure and the median of the runs' times.
func navigate(ctx context.Context, c *client, page *url.URL, cfg *Config) *probe {
	p := &probe{page: page, client: c, header: cfg.Header, res: &Result{Proto: c.proto, URL: page.String(), EarlyHints: []EarlyHints{}}}
	var finals, bodies []float64
	var hintTimes [][]float64
	for run := 0; run < cfg.Runs; run++ {
		ex := c.do(ctx, navigationRequest(page, cfg.Header), cfg.Timeout, MaxBodyBytes)
		if run == 0 {
			p.first = ex
		}
		if ex.err != nil {
			if run == 0 {
				p.res.Error = describe(ex.err)
			}
			break
		}
		p.res.Runs++
		finals = append(finals, ex.ms(ex.final))
		if !ex.body.IsZero() {
			bodies = append(bodies, ex.ms(ex.body))
		}
		k := 0
		for _, in := range ex.interims {
			if in.status != http.StatusEarlyHints {
				continue
			}
			if k == len(hintTimes) {
				hintTimes = append(hintTimes, nil)
			}
			hintTimes[k] = append(hintTimes[k], ex.ms(in.at))
			k++
		}
	}
	ex := p.first
	for _, in := range ex.interims {
		if in.status != http.StatusEarlyHints {
			p.res.Informational = append(p.res.Informational, in.status)
			continue
		}
		eh := EarlyHints{Links: in.header.Values("Link")}
		if eh.Links == nil {
			eh.Links = []string{}
		}
		for k := range in.header {
			if k != "Link" {
				eh.Fields = append(eh.Fields, k)
			}
		}
		slices.Sort(eh.Fields)
		if i := len(p.res.EarlyHints); i < len(hintTimes) {
			eh.TMS = median(hintTimes[i])
		}
		p.res.EarlyHints = append(p.res.EarlyHints, eh)
	}
	p.res.FinalHeadersMS, p.res.FirstByteMS = median(finals), median(bodies)
	if ex.resp == nil {
		return p
	}
	h := ex.resp.Header
	if ex.resp.TLS != nil && len(ex.resp.TLS.PeerCertificates) > 0 {
		p.leaf = ex.resp.TLS.PeerCertificates[0]
	}
	p.res.Status = ex.resp.StatusCode
	p.res.ContentType = h.Get("Content-Type")
	p.res.AltSvc = strings.Join(h.Values("Alt-Svc"), ", ")
	p.res.Location = h.Get("Location")
	p.res.Links = h.Values("Link")
	mt, _, _ := mime.ParseMediaType(p.res.ContentType)
	p.html = mt == "text/html" || mt == "application/xhtml+xml"
	if p.html && p.res.Status == http.StatusOK {
		p.scanDocument(ex)
		learned, err := learn(ctx, p, cfg)
		if err != nil {
			cfg.Logger.Debug("inspect: learn", "url", page.String(), "err", err)
		}
		p.learned = learned
	}
	return p
}

func (p *probe) scanDocument(ex *exchange) {
	enc := strings.ToLower(strings.TrimSpace(ex.resp.Header.Get("Content-Encoding")))
	res, err := scan.Scan(bytes.NewReader(ex.raw), scan.Options{
		Base: p.page, ContentEncoding: enc, ContentType: p.res.ContentType, ReportSkipped: true,
	})
	if err != nil && len(res.Links) == 0 {
		// An undecodable body: the other findings still stand.
		p.res.Suggested = nil
	}
	p.scan = res
	for _, l := range res.Links {
		p.res.Suggested = append(p.res.Suggested, l.String())
	}
	switch enc {
	case "", "identity":
		p.text, p.searchable = string(ex.raw), true
	case "gzip", "x-gzip":
		if zr, err := gzip.NewReader(bytes.NewReader(ex.raw)); err == nil {
			b, _ := io.ReadAll(io.LimitReader(zr, 2*MaxBodyBytes))
			p.text, p.searchable = string(b), len(b) > 0
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return float64(int64(m*10+0.5)) / 10 // 0.1 ms is all a network timing is worth
}

var _ = time.Second
