package inspect

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
)

// Browser loads a page in a real browser, for Config.Browser. The command
// line implements it with headless Chromium or Firefox; this package only
// needs what the page did. A Browser that has a Name method (such as
// "Firefox") is called so in the report; any other is "Chromium".
type Browser interface {
	// Visit loads v.URL in a fresh profile (a cold cache) over v.Proto
	// (h2 or h3), trusting v.Leaf's key.
	Visit(ctx context.Context, v BrowserVisitRequest) (*BrowserVisit, error)
}

// BrowserVisitRequest is one page load asked of a Browser.
type BrowserVisitRequest struct {
	URL   string
	Proto string
	// Leaf is the server's certificate as the check saw it: a browser must
	// trust it fully (by its key), since Chromium discards early-hinted
	// files fetched over a connection with a certificate error.
	Leaf *x509.Certificate
	// WithoutEarlyHints turns the browser's use of Early Hints off, for
	// the paint times without them.
	WithoutEarlyHints bool
}

// BrowserVisit is what one page load did.
type BrowserVisit struct {
	// EarlyHints are the Link values of the 103 the browser received.
	EarlyHints []string
	// GotEarlyHints is set by a browser that tells that a 103 came (its
	// Navigation Timing's firstInterimResponseStart) but not its Link
	// values (Firefox).
	GotEarlyHints bool
	// Resources are the page's Resource Timing entries.
	Resources []BrowserResource
	// FromEarlyHints are the URLs the browser says it took from Early
	// Hints: the DevTools protocol's mark (Chromium), or requests sent
	// before the document's final headers arrived (Firefox).
	FromEarlyHints []string
	// FCP and LCP are milliseconds since the navigation began; 0 when the
	// page did not paint.
	FCP, LCP float64
}

// BrowserResource is one Resource Timing entry.
type BrowserResource struct {
	Name          string
	InitiatorType string
	// RenderBlocking is true for a file the first render waited for
	// (Resource Timing's renderBlockingStatus "blocking").
	RenderBlocking bool
}

// browse loads the page in cfg.Browser over h2 and h3 (those checked and
// answered) and reports, per file of the first 103, how the page got it.
func browse(ctx context.Context, probes []*probe, cfg *Config) ([]BrowserResult, []Finding) {
	name := "Chromium"
	if n, ok := cfg.Browser.(interface{ Name() string }); ok {
		name = n.Name()
	}
	var results []BrowserResult
	var out []Finding
	for _, p := range probes {
		if p.res.Proto != H2 && p.res.Proto != H3 || p.first.resp == nil || p.hop > 0 {
			continue
		}
		br := BrowserResult{Browser: name, Proto: p.res.Proto, EarlyHints: []string{}, Files: []BrowserFile{}}
		req := BrowserVisitRequest{URL: p.page.String(), Proto: p.res.Proto, Leaf: p.leaf}
		v, err := cfg.Browser.Visit(ctx, req)
		if err != nil {
			err = outOfTime(ctx, err)
			br.Error = err.Error()
			out = append(out, Finding{
				Code: CodeBrowserError, Severity: SeverityError, Proto: p.res.Proto, Link: req.URL,
				Message: fmt.Sprintf("%s could not load the page: %v", name, err),
			})
			results = append(results, br)
			continue
		}
		br.EarlyHints = append(br.EarlyHints, v.EarlyHints...)
		received := len(v.EarlyHints) > 0 || v.GotEarlyHints
		br.GotEarlyHints = received
		for _, r := range v.Resources {
			if r.RenderBlocking && !slices.Contains(br.Blocking, r.Name) {
				br.Blocking = append(br.Blocking, r.Name)
			}
		}
		br.FCPMS, br.LCPMS = round(v.FCP), round(v.LCP)
		without := req
		without.WithoutEarlyHints = true
		if w, err := cfg.Browser.Visit(ctx, without); err != nil {
			err = outOfTime(ctx, err)
			br.ErrorWithout = err.Error()
			out = append(out, Finding{
				Code: CodeBrowserError, Severity: SeverityError, Proto: p.res.Proto, Link: req.URL,
				Message: fmt.Sprintf("%s could not load the page with Early Hints off, so there are no figures without them to compare: %v", name, err),
			})
		} else {
			br.FCPWithoutMS, br.LCPWithoutMS = round(w.FCP), round(w.LCP)
		}
		var hinted []hinted
		if len(p.res.EarlyHints) > 0 {
			hinted = preloadsOf(p.res.EarlyHints[0].Links, p.page)
		}
		for _, h := range hinted {
			f := BrowserFile{URL: h.target.String(), Initiator: "not loaded"}
			for _, r := range v.Resources {
				if r.Name == f.URL {
					f.Initiator = r.InitiatorType
					break
				}
			}
			f.FromEarlyHints = slices.Contains(v.FromEarlyHints, f.URL)
			br.Files = append(br.Files, f)
			if f.Initiator != "early-hints" && !f.FromEarlyHints && received {
				out = append(out, Finding{
					Code: CodeBrowserNotUsed, Severity: SeverityWarn, Proto: p.res.Proto, Link: h.value,
					Message: fmt.Sprintf("%s did not take this file from the 103 (Resource Timing initiator %q): check the findings above for why (cacheability, crossorigin, attributes, a file the page does not use)", name, f.Initiator),
				})
			}
		}
		if len(hinted) > 0 && !received {
			out = append(out, Finding{
				Code: CodeBrowserNotUsed, Severity: SeverityWarn, Proto: p.res.Proto,
				Message: name + " received no 103 although the check did: a 103 that reaches the browser before it waits for the response (a server next to the browser) can be dropped over HTTP/2; check again from farther away",
			})
		}
		results = append(results, br)
	}
	return results, out
}

func round(ms float64) float64 { return float64(int64(ms*10+0.5)) / 10 }
