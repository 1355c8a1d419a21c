package scan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// zstdMaxWindow is the largest zstd window accepted: RFC 9659 caps it at
// 8 MiB for HTTP Content-Encoding, and browsers refuse larger windows too,
// so a larger one is hostile or broken.
const zstdMaxWindow = 8 << 20

// maxEncodings bounds a Content-Encoding list such as "gzip, br".
const maxEncodings = 3

// charsetPrefix is how much of the document the charset prescan looks at,
// as the HTML standard's "prescan a byte stream" does.
const charsetPrefix = 1024

// body is the decoded, bounded, UTF-8 view of a response body.
type body struct {
	io.Reader
	src     *sourceReader
	raw     *boundedReader // bound on compressed input; nil for identity
	decoded *boundedReader // bound on decoded output (Options.MaxBytes)
	closers []func()
	charset string
	enc     encoding.Encoding // nil when the document is UTF-8
	peekErr error
}

func newBody(r io.Reader, opts Options) (*body, error) {
	b := &body{src: &sourceReader{r: r}}
	codings, err := parseEncodings(opts.ContentEncoding)
	if err != nil {
		return nil, err
	}
	var in io.Reader = b.src
	if len(codings) > 0 {
		// Compressed input is bounded too: a stream of empty blocks or
		// empty gzip members would otherwise be read for ever while
		// yielding nothing. Incompressible data costs a few bytes per
		// block, and decoders read whole blocks (zstd: up to 128 KiB).
		b.raw = newBoundedReader(in, 2*opts.MaxBytes+256<<10)
		in = b.raw
	}
	// Content codings are listed in the order they were applied.
	for i := len(codings) - 1; i >= 0; i-- {
		in, err = b.decoder(codings[i], in)
		if err != nil {
			b.close()
			return nil, b.err(err)
		}
	}
	b.decoded = newBoundedReader(in, opts.MaxBytes)
	b.Reader = b.detectCharset(b.decoded, opts.ContentType)
	return b, nil
}

func parseEncodings(ce string) ([]string, error) {
	var codings []string
	for c := range strings.SplitSeq(ce, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		switch c {
		case "", "identity":
			continue
		case "x-gzip":
			c = "gzip"
		case "gzip", "br", "zstd":
		default:
			return nil, fmt.Errorf("%w: %q; only gzip, br and zstd are decoded", ErrUnsupportedEncoding, c)
		}
		if len(codings) == maxEncodings {
			return nil, fmt.Errorf("%w: more than %d content codings in %q", ErrUnsupportedEncoding, maxEncodings, ce)
		}
		codings = append(codings, c)
	}
	return codings, nil
}

func (b *body) decoder(coding string, in io.Reader) (io.Reader, error) {
	switch coding {
	case "gzip":
		// flate's window is 32 KiB: memory is bounded by design.
		zr, err := gzip.NewReader(in)
		if errors.Is(err, io.EOF) {
			return bytes.NewReader(nil), nil // an empty body
		}
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, func() { _ = zr.Close() })
		return zr, nil
	case "br":
		// Brotli's window is at most 16 MiB (the decoder does not support
		// large windows) and it sizes its ring buffer to the stream.
		return brotli.NewReader(in), nil
	default: // zstd
		zr, err := zstd.NewReader(in,
			zstd.WithDecoderConcurrency(1), // synchronous: no goroutines left behind
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderMaxMemory(zstdMaxWindow),
		)
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, zr.Close)
		return zr, nil
	}
}

func (b *body) close() {
	for _, c := range b.closers {
		c()
	}
	b.closers = nil
}

// err classifies an error met while reading the body; nil and io.EOF mean
// the document simply ended.
func (b *body) err(err error) error {
	if err == nil || err == io.EOF {
		err = b.peekErr
	}
	if err == nil || err == io.EOF {
		return nil
	}
	switch {
	case b.src.err != nil:
		return fmt.Errorf("%w: %w", ErrRead, b.src.err)
	case b.raw != nil && b.raw.hit:
		return fmt.Errorf("%w: more than %d bytes of compressed input without reaching the end of the head", ErrCorrupt, b.raw.limit)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	default:
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
}

// detectCharset finds the document's encoding as a browser does (BOM,
// Content-Type charset, <meta charset> in the first 1024 bytes) and
// returns a reader of UTF-8.
func (b *body) detectCharset(r io.Reader, contentType string) io.Reader {
	prefix := make([]byte, 0, charsetPrefix)
	for len(prefix) < charsetPrefix {
		n, err := r.Read(prefix[len(prefix):charsetPrefix])
		prefix = prefix[:len(prefix)+n]
		if err != nil {
			b.peekErr = err
			break
		}
	}
	rest := r
	if b.peekErr != nil {
		rest = bytes.NewReader(nil)
	}
	enc, name, certain := charset.DetermineEncoding(prefix, contentType)
	if !certain && name == "windows-1252" && isASCII(prefix) {
		// Nothing was declared and nothing non-ASCII was seen: the
		// standard's fallback would be windows-1252, but nearly every page
		// served today is UTF-8, and the two agree on ASCII. A declared
		// windows-1252 (or iso-8859-1) is still honoured: the probe below
		// only turns "no declaration" into UTF-8.
		// (The trailing "." keeps DetermineEncoding from trimming the "é"
		// as a possibly partial rune.)
		n := min(len(prefix), charsetPrefix-3)
		probe := append(prefix[:n:n], "é."...)
		_, name, _ = charset.DetermineEncoding(probe, contentType)
	}
	b.charset = name
	in := io.MultiReader(bytes.NewReader(prefix), rest)
	if name == "utf-8" || enc == nil {
		b.charset = "utf-8"
		return in
	}
	b.enc = enc
	return transform.NewReader(in, enc.NewDecoder())
}

func isASCII(p []byte) bool {
	for _, c := range p {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// sourceReader remembers the first error of the caller's reader, so that
// it is not mistaken for a decoding error.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// boundedReader yields at most n bytes and records whether more were
// available (hit), so a scan cut at the bound can say so.
type boundedReader struct {
	r     io.Reader
	n     int // remaining
	limit int
	hit   bool
	done  bool
}

func newBoundedReader(r io.Reader, n int) *boundedReader {
	return &boundedReader{r: r, n: n, limit: n}
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		if !b.done {
			b.done = true
			b.hit = b.probe()
		}
		return 0, io.EOF
	}
	if len(p) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= n
	return n, err
}

// probe reads one byte past the bound to learn whether the input goes on.
func (b *boundedReader) probe() bool {
	var one [1]byte
	for range 8 { // a reader may return 0, nil a few times
		n, err := b.r.Read(one[:])
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
