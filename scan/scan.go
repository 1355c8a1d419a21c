// Package scan is a streaming preload scanner: it reads the start of an HTML
// response and finds what a browser's own preload scanner would fetch early.
//
// It runs over golang.org/x/net/html's tokenizer, so it never needs the whole
// document: it stops Options.BodyBudget bytes of markup (4 KiB) after the
// head ends, which is where the hero image of nearly every page sits, and
// never reads more than Options.MaxBytes (512 KiB) of decoded HTML whatever
// the body holds. Comments, inline scripts and styles (JSON-LD, inlined
// CSS), SVG sprites and templates do not count against the body budget:
// they hold nothing fetched early, and the files after them still are.
// Compressed bodies (gzip, br, zstd) are decoded with a hard bound on
// output and on decoder memory, and legacy charsets are decoded to UTF-8
// before URLs are taken from them.
//
// What it finds, and the order it returns it in, follows what Chromium's
// preload scanner and resource scheduler do, as a budget would spend it:
//
//  1. render-blocking stylesheets (media matching every browser window, not
//     alternate, not disabled; @import of the head's <style>) and
//     synchronous classic scripts of the head, in document order, and
//     explicit preloads as=style and as=script;
//  2. fonts: explicit preloads as=font, and the faces of inline @font-face
//     rules that inline rules use (see below), always with crossorigin;
//  3. the likely LCP image: the <img fetchpriority=high> within budget (at
//     most two), else the first <img> of the body that is not lazy, not
//     fetchpriority=low, not a 1x1 pixel and not inside <picture>; and
//     explicit preloads as=image;
//  4. module scripts and modulepreload links;
//  5. what does not hold up the first paint: fetch preloads and any with
//     fetchpriority=low, stylesheets after <body> or an <img> (Chromium
//     counts them in-body, blocking only what follows them), then async
//     and defer classic scripts of the head and stylesheets loaded
//     asynchronously (preload as=style with onload, media=print with
//     onload); a cap on preloads drops them first;
//  6. preconnects, capped apart from the preloads (Options.MaxConnects):
//     first one for every third-party origin of the render-blocking files
//     and fonts, then those written in the page, then one for every other
//     third-party origin above (async scripts excepted: they are mostly
//     analytics, not worth a connection on the critical path);
//  7. dns-prefetch links for origins that have no preconnect.
//
// Result.Kinds says which of these each link is. Within a class, document
// order is kept. Links are deduplicated by relation and absolute URL (a
// responsive image also by its srcset); the first occurrence in priority
// order wins.
//
// A media attribute is matched as a browser window matches it (Media
// Queries 4, three-valued): "screen", "all", "screen, projection", "not
// print" and "(min-width: 0)" match and are dropped from the link; print,
// speech, and a width the window may not have (unless Options.Viewport
// says) leave the stylesheet out, as it does not block rendering.
//
// Inline @font-face: a browser fetches a declared font only when text is
// drawn with it, so a face is hinted only when a rule of the inline CSS
// uses its family (directly or through a custom property), and only the
// face CSS font matching picks for that rule's weight and style. The
// first source a browser supports is taken (local() is assumed absent,
// embedded-opentype and svg are not supported). A face whose unicode-range
// leaves out Latin letters is a subset for other scripts and is left out.
//
// On an https: page, http: images are learned at the https: URL browsers
// upgrade them to; http: scripts, stylesheets, fonts and fetches are
// blocked by browsers and left out. Preload destinations Chromium does not
// act on in a 103 (anything but style, script, font, image and fetch) are
// left out too. With Options.ReportSkipped, Result.Skipped says what was
// left out and why.
//
// Content inside <script>, <style>, comments, <template>, <noscript>,
// <textarea>, <title> and SVG/MathML is ignored (an HTML element that breaks
// out of SVG, as browsers parse it, is not). Synchronous classic scripts
// after <body> or an <img> are not hinted: they block only what follows
// them. Content that merely implies a body (an SVG sprite or a <div> before
// <body>) starts the body budget but, as in Chromium's preload scanner,
// does not make the stylesheets and scripts after it in-body.
//
// URLs come out as browsers fetch them: resolved against the document URL or
// the first <base href>, whitespace and fragment removed, credentials
// dropped, host in punycode, default port dropped, path percent-encoded as
// UTF-8 (escapes kept as written) and query in the document's charset;
// data:, blob: and javascript: URLs are skipped. Resolution is the one the
// rest of the product uses (internal/weburl).
package scan

import (
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/earlyhints/earlyhints/linkheader"
)

// Defaults of Options.
const (
	// DefaultMaxBytes lets a scan go through heads that inline SVG
	// sprites, JSON-LD and critical CSS make long (a few hundred KiB on
	// real news and shop pages) to the files after them. It bounds the
	// tokenizer's buffer too.
	DefaultMaxBytes    = 512 << 10
	DefaultBodyBudget  = 32 << 10
	DefaultMaxLinks    = 64
	DefaultMaxConnects = 16
	// MaxMaxBytes bounds Options.MaxBytes: a preload scanner that reads
	// more than this is reading the page, not its head.
	MaxMaxBytes = 16 << 20
)

// Sentinel errors. Errors returned by Scan wrap one of them; a Result
// returned alongside an error still holds what was found before it.
var (
	// ErrInvalidOptions reports Options that fail Validate.
	ErrInvalidOptions = errors.New("scan: invalid options")
	// ErrUnsupportedEncoding reports a Content-Encoding the scanner cannot
	// decode; the body is not scanned.
	ErrUnsupportedEncoding = errors.New("scan: unsupported content encoding")
	// ErrTruncated reports a compressed body that ends in the middle of its
	// stream (typically a prefix of a larger response).
	ErrTruncated = errors.New("scan: compressed body is truncated")
	// ErrCorrupt reports a compressed body that does not decode, or that
	// needs more memory or input than the bounds allow.
	ErrCorrupt = errors.New("scan: compressed body is corrupt")
	// ErrRead reports an error of the underlying reader.
	ErrRead = errors.New("scan: reading body")
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
	// MaxBytes bounds the decoded HTML read; 0 means 512 KiB. At most
	// MaxMaxBytes.
	MaxBytes int
	// BodyBudget is how many bytes of markup after the end of the head
	// are still scanned for the hero image and late links; 0 means 4 KiB.
	// Comments, inline scripts and styles, SVG and templates do not count.
	BodyBudget int
	// MaxLinks bounds the preload and modulepreload links returned; 0
	// means 64.
	MaxLinks int
	// MaxConnects bounds the preconnect and dns-prefetch links returned,
	// on top of MaxLinks; 0 means 16.
	MaxConnects int
	// Viewport is the browser window media queries are matched against;
	// the zero value is a window of unknown size, for which a stylesheet
	// whose media depends on the width is left out.
	Viewport Viewport
	// ReportSkipped fills Result.Skipped with the links the page names
	// that the scan leaves out, and why.
	ReportSkipped bool
}

// Validate reports options out of range.
func (o Options) Validate() error {
	switch {
	case o.MaxBytes < 0 || o.MaxBytes > MaxMaxBytes:
		return fmt.Errorf("%w: MaxBytes %d is outside 0..%d; use 0 for the default of %d", ErrInvalidOptions, o.MaxBytes, MaxMaxBytes, DefaultMaxBytes)
	case o.BodyBudget < 0:
		return fmt.Errorf("%w: BodyBudget %d is negative; use 0 for the default of %d", ErrInvalidOptions, o.BodyBudget, DefaultBodyBudget)
	case o.MaxLinks < 0:
		return fmt.Errorf("%w: MaxLinks %d is negative; use 0 for the default of %d", ErrInvalidOptions, o.MaxLinks, DefaultMaxLinks)
	case o.MaxConnects < 0:
		return fmt.Errorf("%w: MaxConnects %d is negative; use 0 for the default of %d", ErrInvalidOptions, o.MaxConnects, DefaultMaxConnects)
	case o.Viewport.Width < 0 || o.Viewport.Height < 0:
		return fmt.Errorf("%w: Viewport %dx%d is negative; use 0 for a window of unknown size", ErrInvalidOptions, o.Viewport.Width, o.Viewport.Height)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.BodyBudget == 0 {
		o.BodyBudget = DefaultBodyBudget
	}
	if o.MaxLinks == 0 {
		o.MaxLinks = DefaultMaxLinks
	}
	if o.MaxConnects == 0 {
		o.MaxConnects = DefaultMaxConnects
	}
	return o
}

// Result is what a scan found.
type Result struct {
	// Links are preload/modulepreload/preconnect candidates in the order a
	// browser prioritises them, with absolute URIs when Options.Base is set.
	Links []linkheader.Link
	// Kinds holds the kind of each link: Kinds[i] is that of Links[i].
	Kinds []Kind
	// Blocking is how many of Links, at the front, are what rendering
	// waits for: render-blocking stylesheets, synchronous scripts of the
	// head, fonts, and the explicit preloads of those kinds (not
	// fetchpriority=low). Links[:Blocking] are the critical path.
	Blocking int
	// Skipped holds, with Options.ReportSkipped, the links the page names
	// that the scan left out and why (at most 256).
	Skipped []Skip
	// Base is the effective base URL (after <base href>).
	Base *url.URL
	// Truncated is true when the scan stopped at MaxBytes before </head>.
	Truncated bool
	// Charset is the name of the encoding the document was decoded from
	// ("utf-8", "windows-1252", "shift_jis", ...).
	Charset string
	// BytesScanned is how many decoded bytes of HTML were tokenized.
	BytesScanned int
}

// Scan reads r (the start of a response body) and returns its candidates.
//
// It stops reading early (end of head plus Options.BodyBudget), so r may be
// a whole response. On a decoding or read error it returns what it found
// before the error together with the error.
func Scan(r io.Reader, opts Options) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{Base: opts.Base}, err
	}
	opts = opts.withDefaults()
	body, err := newBody(r, opts)
	if err != nil {
		return Result{Base: opts.Base}, err
	}
	defer body.close()
	s := newScanner(body, opts)
	s.run()
	links, kinds, blocking := s.links()
	res := Result{
		Links:        links,
		Kinds:        kinds,
		Blocking:     blocking,
		Skipped:      s.skipped,
		Base:         s.base,
		Truncated:    s.truncated,
		Charset:      body.charset,
		BytesScanned: s.pos,
	}
	return res, body.err(s.tokErr)
}
