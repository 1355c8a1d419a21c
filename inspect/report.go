package inspect

import (
	"cmp"
	"slices"
)

// Severity says how much a finding matters.
type Severity string

// Severities, most severe first.
const (
	// SeverityError is a defect: browsers ignore or misuse what the
	// server sends, or the check could not reach the page.
	SeverityError Severity = "error"
	// SeverityWarn is time or bandwidth left on the table.
	SeverityWarn Severity = "warn"
	// SeverityInfo is worth knowing and needs no action.
	SeverityInfo Severity = "info"
)

// Rank orders severities: error 2, warn 1, info 0, anything else -1.
func (s Severity) Rank() int {
	switch s {
	case SeverityError:
		return 2
	case SeverityWarn:
		return 1
	case SeverityInfo:
		return 0
	}
	return -1
}

// Finding codes. They are a contract (CI jobs match on them) and are
// documented in the README; a code is never renamed or reused.
const (
	CodeNo103                  = "no-103"
	CodeMultiple103            = "multiple-103"
	CodeLate103                = "late-103"
	Code103OnHTTP1             = "103-on-http1"
	Code103BeforeError         = "103-before-error"
	Code103BeforeRedirect      = "103-before-redirect"
	CodePreloadMissingAs       = "preload-missing-as"
	CodeAsNotAccepted          = "as-not-accepted"
	CodeFontMissingCrossorigin = "font-missing-crossorigin"
	CodeAttributeDropped       = "attribute-dropped"
	CodeRelIgnored             = "rel-ignored"
	CodeBadLinkTarget          = "bad-link-target"
	CodeMalformedLink          = "malformed-link"
	CodeHintTargetError        = "hint-target-error"
	CodeHintNotCacheable       = "hint-not-cacheable"
	CodeHintUnused             = "hint-unused"
	CodeCriticalNotHinted      = "critical-not-hinted"
	CodeHopByHopIn103          = "hop-by-hop-in-103"
	CodeTooManyHints           = "too-many-hints"
	CodeTooMany1xx             = "too-many-1xx"
	CodeH3NotAdvertised        = "h3-not-advertised"
	CodeH3Unavailable          = "h3-unavailable"
	CodeH2Unavailable          = "h2-unavailable"
	CodeUnreachable            = "unreachable"
	CodeTLSError               = "tls-error"
	CodeTimeout                = "timeout"
	CodeProtocolError          = "protocol-error"
	CodeHeadersTooLarge        = "headers-too-large"
	CodeErrorStatus            = "error-status"
	CodeRedirect               = "redirect"
	CodeNotHTML                = "not-html"
	CodeHeadTooLarge           = "head-too-large"
	CodeNotHTTPS               = "not-https"
	CodeBrowserNotUsed         = "browser-not-used"
	CodeBrowserError           = "browser-error"
	CodeTooManyRedirects       = "too-many-redirects"
)

// Finding is one thing the check found.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	// Proto is the protocol it was seen on (h1, h2, h3, or "" for the site).
	Proto string `json:"proto,omitempty"`
	// Link is the Link value or URL it concerns, if any.
	Link string `json:"link,omitempty"`
	// Message says what is wrong and what to do.
	Message string `json:"message"`
}

// Report is the outcome of Check. Its JSON form is a contract documented
// in the README.
type Report struct {
	URL      string    `json:"url"`
	Results  []Result  `json:"results"`
	Findings []Finding `json:"findings"`
	// Browser holds what Chromium did, with Config.Browser set.
	Browser []BrowserResult `json:"browser,omitempty"`
	// Learn is what the proxy would learn and hint, with Config.Learn.
	Learn *Learned `json:"learn,omitempty"`
}

// Result is what one protocol saw for one URL (one hop with Config.Follow).
type Result struct {
	Proto string `json:"proto"`
	URL   string `json:"url"`
	// Error is why the request failed; the other fields are then partial.
	Error  string `json:"error,omitempty"`
	Status int    `json:"status"`
	// EarlyHints are the 103 responses in arrival order.
	EarlyHints []EarlyHints `json:"early_hints"`
	// Informational are the statuses of other 1xx responses (100, 102).
	Informational []int `json:"informational,omitempty"`
	// FinalHeadersMS is when the final response's headers arrived, in
	// milliseconds after the request was sent (the median over the runs).
	FinalHeadersMS float64 `json:"final_headers_ms"`
	// FirstByteMS is when the first byte of the body arrived.
	FirstByteMS float64 `json:"first_byte_ms"`
	Runs        int     `json:"runs"`
	ContentType string  `json:"content_type,omitempty"`
	AltSvc      string  `json:"alt_svc,omitempty"`
	Location    string  `json:"location,omitempty"`
	// Advertised says, on an h3 result, whether an h1 or h2 response of
	// the check offered HTTP/3 with Alt-Svc (absent when none answered).
	Advertised *bool `json:"advertised,omitempty"`
	// Links are the Link values of the final response.
	Links []string `json:"links,omitempty"`
	// Suggested are the Link values the project's scanner would hint for
	// this page, most important first.
	Suggested []string `json:"suggested,omitempty"`
	// Targets are the hinted files as fetched.
	Targets []Target `json:"targets,omitempty"`
}

// EarlyHints is one 103 response.
type EarlyHints struct {
	// TMS is its arrival, in milliseconds after the request was sent (the
	// median over the runs).
	TMS   float64  `json:"t_ms"`
	Links []string `json:"links"`
	// Fields are the names of its other header fields.
	Fields []string `json:"fields,omitempty"`
}

// Target is one hinted file as the check fetched it.
type Target struct {
	URL          string `json:"url"`
	As           string `json:"as,omitempty"`
	Method       string `json:"method,omitempty"`
	Status       int    `json:"status,omitempty"`
	CacheControl string `json:"cache_control,omitempty"`
	Location     string `json:"location,omitempty"`
	Error        string `json:"error,omitempty"`
}

// BrowserResult is what a browser (Chromium or Firefox) did with the page
// over one protocol.
type BrowserResult struct {
	// Browser is "Chromium" or "Firefox".
	Browser string `json:"browser,omitempty"`
	Proto   string `json:"proto"`
	Error   string `json:"error,omitempty"`
	// EarlyHints are the Link values of the 103 the browser received
	// (Chromium; Firefox does not tell them).
	EarlyHints []string `json:"early_hints"`
	// GotEarlyHints is whether the browser received a 103.
	GotEarlyHints bool          `json:"got_early_hints"`
	Files         []BrowserFile `json:"files"`
	// Blocking are the files the first render waited for.
	Blocking []string `json:"blocking,omitempty"`
	// FCPMS and LCPMS are the paint metrics of the page with its hints;
	// the "Without" ones of a visit that blocked the hinted files' early
	// fetch (0 when not measured).
	FCPMS        float64 `json:"fcp_ms"`
	LCPMS        float64 `json:"lcp_ms"`
	FCPWithoutMS float64 `json:"fcp_without_ms,omitempty"`
	LCPWithoutMS float64 `json:"lcp_without_ms,omitempty"`
	// ErrorWithout is why the visit without Early Hints failed; the
	// "Without" figures are then absent.
	ErrorWithout string `json:"error_without,omitempty"`
}

// BrowserFile is one hinted file as the page loaded it.
type BrowserFile struct {
	URL string `json:"url"`
	// Initiator is Resource Timing's initiatorType: "early-hints" when
	// the browser used the 103's preload.
	Initiator string `json:"initiator"`
	// FromEarlyHints is the DevTools protocol's Response.fromEarlyHints
	// (Chromium), or a request sent before the document's final headers
	// arrived (Firefox).
	FromEarlyHints bool `json:"from_early_hints"`
}

// Worst returns the highest severity among the findings, or "" for none.
func (r *Report) Worst() Severity {
	var worst Severity
	for _, f := range r.Findings {
		if f.Severity.Rank() > worst.Rank() {
			worst = f.Severity
		}
	}
	return worst
}

// Count returns how many findings have severity s.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

var protoOrder = map[string]int{"": 0, "h1": 1, "h2": 2, "h3": 3}

// sortFindings puts the most severe first, then by protocol and code; the
// order within equal keys is the order the rules found them.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
			cmp.Compare(protoOrder[a.Proto], protoOrder[b.Proto]),
			cmp.Compare(a.Code, b.Code),
		)
	})
}
