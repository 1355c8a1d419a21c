package scan

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/internal/weburl"
)

func addFixtureSeeds(f *testing.F, add func(doc []byte)) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.html"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, p := range paths {
		doc, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(doc)
	}
}

// checkResult asserts what holds for any input: bounded output made of
// header-safe text.
func checkResult(t *testing.T, res Result, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	if len(res.Kinds) != len(res.Links) {
		t.Fatalf("%d kinds for %d links", len(res.Kinds), len(res.Links))
	}
	preloads, connects := 0, 0
	for i, k := range res.Kinds {
		if i > 0 && k < res.Kinds[i-1] {
			t.Fatalf("kinds out of order: %v", res.Kinds)
		}
		if k >= KindPreconnect {
			connects++
		} else {
			preloads++
		}
		if (k >= KindPreconnect) != (res.Links[i].Rel[0] == "preconnect" || res.Links[i].Rel[0] == "dns-prefetch") {
			t.Fatalf("link %d %+v has kind %v", i, res.Links[i], k)
		}
	}
	if preloads > opts.MaxLinks || connects > opts.MaxConnects {
		t.Fatalf("%d preloads and %d connections; MaxLinks is %d, MaxConnects %d", preloads, connects, opts.MaxLinks, opts.MaxConnects)
	}
	// Charset decoding can turn one byte into three of UTF-8.
	if res.BytesScanned > 3*opts.MaxBytes+charsetPrefix {
		t.Fatalf("scanned %d bytes; MaxBytes is %d", res.BytesScanned, opts.MaxBytes)
	}
	for _, l := range res.Links {
		if l.URI == "" || len(l.URI) > maxURLBytes {
			t.Fatalf("URI of %d bytes: %q", len(l.URI), l.URI)
		}
		for i := 0; i < len(l.URI); i++ {
			if c := l.URI[i]; c <= ' ' || c >= 0x7f || c == '>' || c == '<' || c == '"' {
				t.Fatalf("URI %q holds byte %#x", l.URI, c)
			}
		}
		if len(l.Rel) != 1 || !strings.Contains(" preload modulepreload preconnect dns-prefetch ", " "+l.Rel[0]+" ") {
			t.Fatalf("rel %q", l.Rel)
		}
		if opts.Base != nil && (l.Rel[0] == "preload" || l.Rel[0] == "modulepreload") {
			// Learning takes the scanner's URIs as resolved: each must be
			// in the canonical form, which resolving again leaves alone.
			parts, ok := weburl.Split(l.URI)
			again, err := weburl.Resolve(l.URI, nil)
			if !ok || err != nil || again.String() != l.URI || parts != again {
				t.Fatalf("URI %q is not canonical: split %+v, resolved again %q (%v)", l.URI, parts, again.String(), err)
			}
		}
		for _, p := range l.Params {
			if len(p.Value) > maxSrcsetBytes+maxURLBytes {
				t.Fatalf("param %s of %d bytes", p.Key, len(p.Value))
			}
			for i := 0; i < len(p.Value); i++ {
				if c := p.Value[i]; c < ' ' || c == 0x7f {
					t.Fatalf("param %s=%q holds byte %#x", p.Key, p.Value, c)
				}
			}
		}
	}
}

func FuzzScan(f *testing.F) {
	addFixtureSeeds(f, func(doc []byte) { f.Add(doc, "", uint16(0), uint16(0)) })
	f.Add([]byte(`<link rel=stylesheet href=/a.css><base href=//x.example/><script src=b.js></script>`), "text/html; charset=utf-8", uint16(64), uint16(8))
	f.Add([]byte("<svg><style><img src=/x></style><template><img src=/t>"), "text/html; charset=shift_jis", uint16(0), uint16(1))
	f.Add([]byte("\xff\xfe<\x00l\x00i\x00n\x00k\x00"), "", uint16(3), uint16(0))
	f.Add([]byte(`<img srcset=",,, ,x 1x,(((" src="&#0;&amp;&#x110000;">`), "", uint16(0), uint16(0))
	page := mustURL(f, "https://www.example.com/dir/page.html")
	f.Fuzz(func(t *testing.T, doc []byte, contentType string, maxBytes, budget uint16) {
		opts := Options{Base: page, ContentType: contentType, MaxBytes: int(maxBytes), BodyBudget: int(budget)}
		src := &countingReader{r: bytes.NewReader(doc)}
		res, err := Scan(src, opts)
		if err != nil {
			t.Fatalf("Scan of an uncompressed body: %v", err)
		}
		checkResult(t, res, opts)
		if limit := opts.withDefaults().MaxBytes + 1; src.n > limit {
			t.Fatalf("read %d bytes; MaxBytes is %d", src.n, limit-1)
		}
	})
}

// FuzzScanCompressed feeds hostile compressed streams: bombs, truncations,
// huge windows, garbage. The scan never panics, reads a bounded amount of
// input, decodes a bounded amount of output and reports errors through the
// package's sentinels.
func FuzzScanCompressed(f *testing.F) {
	encodings := []string{"gzip", "br", "zstd", "gzip, br"}
	bomb := bytes.Repeat([]byte{' '}, 4<<20)
	f.Add(gzipBytes(f, bomb), uint8(0))
	f.Add(brotliBytes(f, bomb), uint8(1))
	f.Add(zstdBytes(f, bomb), uint8(2))
	f.Add(zstdBytes(f, bomb, zstdWindow(64<<20)), uint8(2))
	f.Add([]byte("\x28\xb5\x2f\xfd\x00\x58\x00\x00"), uint8(2))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"), uint8(0))
	addFixtureSeeds(f, func(doc []byte) {
		z := gzipBytes(f, doc)
		f.Add(z, uint8(0))
		f.Add(z[:len(z)/2], uint8(0))
		b := brotliBytes(f, doc)
		f.Add(b, uint8(1))
		f.Add(b[:len(b)/2], uint8(1))
		f.Add(zstdBytes(f, doc), uint8(2))
		f.Add(brotliBytes(f, z), uint8(3))
	})
	f.Fuzz(func(t *testing.T, body []byte, enc uint8) {
		opts := Options{ContentEncoding: encodings[int(enc)%len(encodings)], MaxBytes: 8 << 10}
		src := &countingReader{r: bytes.NewReader(body)}
		res, err := Scan(src, opts)
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error outside the sentinels: %v", err)
		}
		checkResult(t, res, opts)
		if limit := 2*opts.MaxBytes + 256<<10 + 1; src.n > limit {
			t.Fatalf("read %d compressed bytes; bound is %d", src.n, limit)
		}
	})
}

// FuzzResolve checks the scanner's URLs against net/url on the references
// both read alike (plain ASCII, no backslashes, lower-case hosts without a
// port): where net/url resolves to an http(s) URL, the scanner's form must
// parse, and mean the same scheme, host, path and query. The bytes may
// differ: the scanner keeps escapes as written, as browsers do (%2A stays
// %2A), where net/url decodes some of them.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/a.css", "a/b.js?x=1&y=2", "https://cdn.example/x.css", "//cdn.example/x", "../a", "./a", "a/../b",
		"/a/%2Fb", "/a%41", "/a%zz", "https://Host/x", "https://h:443/x", "https://h", "https://h?q", "?q", "#f",
		"/a#b", "a:b", "a/b:c", "/a;b,c$!*+=@:", "/~user/", "/%7e", "/a//b", "https://h//x",
	} {
		f.Add("https://www.example.com/dir/page.html?q=1", s)
		f.Add("", s)
	}
	f.Add("http://h.example/", "/x")
	f.Add("https://h.example", "x")
	f.Fuzz(func(t *testing.T, base, ref string) {
		if !plainRef(ref) {
			return
		}
		var b *url.URL
		if base != "" {
			u, err := url.Parse(base)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !plainHost(u.Host) || u.User != nil || u.Opaque != "" {
				return
			}
			b = u
		}
		r := newResolver(b, nil)
		if b != nil && r.base == nil {
			return // a host browsers read as an IPv4 address, or none
		}
		got, _, ok := r.resolveString([]byte(ref))
		want, wantOK := netURLResolve(b, ref)
		if !wantOK || len(want.String()) > maxURLBytes {
			return // the scanner bounds what one link may carry
		}
		if !ok {
			t.Fatalf("base %q ref %q: net/url gives %q, the scanner refuses", base, ref, want)
		}
		g, err := url.Parse(got)
		if err != nil {
			t.Fatalf("base %q ref %q: %q does not parse: %v", base, ref, got, err)
		}
		if g.Scheme != want.Scheme || g.Host != want.Host || g.Path != want.Path || g.RawQuery != want.RawQuery {
			t.Fatalf("base %q ref %q: scanner %q, net/url %q", base, ref, got, want)
		}
	})
}

// plainRef accepts references net/url and browsers read alike: printable
// ASCII without backslashes or whitespace, valid escapes, no scheme but
// http(s) with a plain host, and no authority without a base.
func plainRef(ref string) bool {
	if ref, _, _ = strings.Cut(ref, "#"); ref == "" {
		return false // the document itself is no link
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c <= ' ' || c >= 0x7f || c == '\\' || strings.IndexByte("\"<>`{}|^[]'", c) >= 0 {
			return false
		}
		if c == '%' && (i+2 >= len(ref) || !isHex(ref[i+1]) || !isHex(ref[i+2])) {
			return false
		}
	}
	path := strings.ToLower(refPath(ref))
	if strings.Contains(path, "//") && strings.Contains("/"+path, "/.") || strings.Contains(path, "%2e") {
		// Empty segments beside dot segments: browsers (and RFC 3986) keep
		// them ("..//" on http://a is http://a//); net/url drops them. And
		// browsers read %2e as a dot ("%2E" on http://a is http://a/),
		// net/url as a name.
		return false
	}
	first, _, _ := strings.Cut(ref, "/")
	if strings.Contains(first, ":") {
		rest, ok := strings.CutPrefix(ref, "https://")
		if !ok {
			rest, ok = strings.CutPrefix(ref, "http://")
		}
		host, _, _ := strings.Cut(rest, "/")
		host, _, _ = strings.Cut(host, "?")
		host, _, _ = strings.Cut(host, "#")
		return ok && plainDNSHost(host)
	}
	if strings.HasPrefix(ref, "//") {
		host, _, _ := strings.Cut(ref[2:], "/")
		host, _, _ = strings.Cut(host, "?")
		host, _, _ = strings.Cut(host, "#")
		return plainDNSHost(host)
	}
	return true
}

// plainDNSHost is a plainHost whose last label starts with a letter: one
// that ends in a digit may be an IPv4 form, which browsers read in ways
// net/url does not ("0", "1.2.3"), and the scanner accepts only as
// dotted-decimal.
func plainDNSHost(h string) bool {
	if !plainHost(h) {
		return false
	}
	c := h[strings.LastIndexByte(h, '.')+1]
	return c < '0' || c > '9'
}

// refPath is the path of a reference, without scheme, authority or query.
func refPath(ref string) string {
	ref, _, _ = strings.Cut(ref, "?")
	for _, p := range []string{"https://", "http://", "//"} {
		if rest, ok := strings.CutPrefix(ref, p); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				return rest[i:]
			}
			return ""
		}
	}
	return ref
}

// netURLResolve is the reference: net/url's resolution, for an absolute
// http(s) result with a host.
func netURLResolve(base *url.URL, ref string) (*url.URL, bool) {
	if base == nil {
		return nil, false // nothing to compare a relative form with
	}
	u, err := url.Parse(ref)
	if err != nil {
		return nil, false
	}
	u = base.ResolveReference(u)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	return u, true
}

// plainHost accepts lower-case DNS names without a port or userinfo.
func plainHost(h string) bool {
	if h == "" || h[0] == '.' || h[len(h)-1] == '.' || strings.Contains(h, "..") {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func FuzzInlineCSS(f *testing.F) {
	for _, s := range []string{
		`@font-face{font-family:"A B";src:local(A),url(/a.woff2) format("woff2"),url('/a.woff') format('woff');font-weight:300 700;unicode-range:U+0000-00FF,U+4??}body{font:italic bold 1rem/1.4 "A B",serif}`,
		`@import url("x.css") screen;@import 'y.css';:root{--f:var(--g, "Z")}p{font-family:var(--f)}@font-face{font-family:Z;src:url(z.ttf)format("truetype")}`,
		`@media (min-width:0){@supports (display:grid){@font-face{font-family:N;src:url(n.woff2) tech(variations)}}}.n{font-family:N;font-weight:bolder}`,
		`/* unterminated`, `a{b:c`, `@font-face{src:url(`, `}}}{{{`, `"\`, `@import`, `x{font:}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, css string) {
		var c inlineCSS
		c.parse([]byte(css))
		used, unused := c.usedFonts(true)
		if len(used) > maxInlineFonts || len(c.faces) > maxFontFaces || len(c.uses) > maxFontUses || len(c.imports) > maxFontFaces {
			t.Fatalf("unbounded: %d used, %d faces, %d uses, %d imports", len(used), len(c.faces), len(c.uses), len(c.imports))
		}
		if len(used)+len(unused) < len(c.faces) {
			t.Fatalf("%d used and %d unused of %d faces", len(used), len(unused), len(c.faces))
		}
		for _, u := range append(used, unused...) {
			if u == "" || len(u) > len(css) {
				t.Fatalf("font URL %q from %q", u, css)
			}
		}
		// The whole scan takes the same CSS inline.
		res, _ := Scan(strings.NewReader("<style>"+css+"</style>"), Options{Base: &url.URL{Scheme: "https", Host: "example.com", Path: "/"}})
		checkResult(t, res, Options{})
	})
}
