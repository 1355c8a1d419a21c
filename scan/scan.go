// Package scan is a streaming preload scanner: it reads the start of an HTML
// response and finds what a browser's own preload scanner would fetch early.
package scan

import (
	"io"
	"net/url"

	"github.com/earlyhints/earlyhints/linkheader"
)

// Options bound and direct a scan. The zero value works.
type Options struct {
	// Base is the document's URL; targets are resolved against it (or
	// against <base href>). Nil leaves targets as written.
	Base *url.URL
	// ContentEncoding is the response's Content-Encoding (gzip, br, zstd,
	// identity or empty).
	ContentEncoding string
	// ContentType is the response's Content-Type (its charset is honoured).
	ContentType string
	// MaxBytes bounds the decoded HTML read; 0 means 64 KiB.
	MaxBytes int
}

// Result is what a scan found.
type Result struct {
	// Links are preload/modulepreload/preconnect candidates in the order a
	// browser prioritises them, with absolute URIs when Options.Base is set.
	Links []linkheader.Link
	// Base is the effective base URL (after <base href>).
	Base *url.URL
	// Truncated is true when the scan stopped at MaxBytes before </head>.
	Truncated bool
}

// Scan reads r (the start of a response body) and returns its candidates.
func Scan(r io.Reader, opts Options) (Result, error) { panic("todo") }
