package scan

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/earlyhints/earlyhints/linkheader"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the scanner's current output")

// formatLinks renders links one per line, independent of linkheader.Format,
// so that golden files pin the scanner alone.
func formatLinks(links []linkheader.Link) string {
	var b strings.Builder
	for _, l := range links {
		b.WriteString(formatLink(l))
		b.WriteByte('\n')
	}
	return b.String()
}

func formatLink(l linkheader.Link) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<%s>; rel=%s", l.URI, strings.Join(l.Rel, " "))
	for _, p := range l.Params {
		if p.Value == "" {
			fmt.Fprintf(&b, "; %s", p.Key)
			continue
		}
		fmt.Fprintf(&b, "; %s=%q", p.Key, p.Value)
	}
	return b.String()
}

func formatResult(res Result, err error) string {
	var b strings.Builder
	base := "<nil>"
	if res.Base != nil {
		base = res.Base.String()
	}
	fmt.Fprintf(&b, "# base: %s\n# charset: %s\n# truncated: %v\n", base, res.Charset, res.Truncated)
	if err != nil {
		fmt.Fprintf(&b, "# error: %v\n", err)
	}
	b.WriteString(formatLinks(res.Links))
	return b.String()
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipBytes(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func brotliBytes(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, 5)
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, p []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bigPage is a realistic head followed by megabytes of body, as a long
// article or a product listing with inline data would be.
func bigPage(t testing.TB, size int) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write(readFixture(t, "wordpress.html")[:strings.Index(string(readFixture(t, "wordpress.html")), "<body")])
	b.WriteString("<body><link rel=stylesheet href=/late-in-body.css><main>\n")
	row := `<div class="product"><a href="/p/%d"><img loading="lazy" src="/img/p%d.jpg" width="300" height="300"></a><p>Item %d, hand made.</p><script src="/widget-%d.js"></script></div>` + "\n"
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, row, i, i, i, i)
	}
	return b.Bytes()[:size]
}

// countingReader counts what the scanner pulls from the body.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type goldenCase struct {
	name        string
	body        func(t testing.TB) []byte
	page        string
	contentType string
	encoding    string
	maxBytes    int
}

func fixture(name string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return readFixture(t, name) }
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "wordpress", body: fixture("wordpress.html"), page: "https://morningbrew.example/"},
		{name: "nextjs", body: fixture("nextjs.html"), page: "https://app.acme.example/dashboard"},
		{name: "store", body: fixture("store.html"), page: "https://shop.example/products/linen-shirt"},
		{name: "amp", body: fixture("amp.html"), page: "https://news.example/outdoors/winter-trails.amp"},
		{name: "news", body: fixture("news.html"), page: "https://www.dailynews.example/world"},
		{name: "base", body: fixture("base.html"), page: "https://docs.example/guide/api.html"},
		{name: "broken", body: fixture("broken.html"), page: "http://portal.example/index.asp"},
		{name: "shift_jis", body: fixture("shift_jis.html"), page: "https://tenki.example/tokyo/"},
		{name: "windows1252_header", body: fixture("windows1252.html"), page: "https://cafe.example/menu", contentType: "text/html; charset=windows-1252"},
		{name: "windows1252_sniffed", body: fixture("windows1252.html"), page: "https://cafe.example/menu", contentType: "text/html"},
		{name: "nextjs_no_base", body: fixture("nextjs.html")},
		{
			name: "gzip", page: "https://morningbrew.example/", encoding: "gzip",
			body: func(t testing.TB) []byte { return gzipBytes(t, readFixture(t, "wordpress.html")) },
		},
		{
			name: "br", page: "https://shop.example/products/linen-shirt", encoding: "br",
			body: func(t testing.TB) []byte { return brotliBytes(t, readFixture(t, "store.html")) },
		},
		{
			name: "zstd", page: "https://app.acme.example/dashboard", encoding: "zstd",
			body: func(t testing.TB) []byte { return zstdBytes(t, readFixture(t, "nextjs.html")) },
		},
		{
			name: "gzip_truncated", page: "https://morningbrew.example/", encoding: "gzip",
			body: func(t testing.TB) []byte {
				z := gzipBytes(t, readFixture(t, "wordpress.html"))
				return z[:len(z)*3/5]
			},
		},
		{
			name: "big_5MiB", page: "https://morningbrew.example/shop/",
			body: func(t testing.TB) []byte { return bigPage(t, 5<<20) },
		},
		{
			name: "big_5MiB_gzip", page: "https://morningbrew.example/shop/", encoding: "gzip",
			body: func(t testing.TB) []byte { return gzipBytes(t, bigPage(t, 5<<20)) },
		},
		{
			name: "head_over_budget", page: "https://morningbrew.example/", maxBytes: 4096,
			body: fixture("wordpress.html"),
		},
	}
}

func TestScan_Golden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			var base *url.URL
			if tc.page != "" {
				base = mustURL(t, tc.page)
			}
			body := tc.body(t)
			src := &countingReader{r: bytes.NewReader(body)}
			res, err := Scan(src, Options{Base: base, ContentType: tc.contentType, ContentEncoding: tc.encoding, MaxBytes: tc.maxBytes})
			got := formatResult(res, err)
			// Whatever the body's size, the scanner reads a bounded prefix.
			if limit := 2*DefaultMaxBytes + 256<<10; src.n > limit {
				t.Errorf("read %d bytes of a %d-byte body; want at most %d", src.n, len(body), limit)
			}
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./scan -run TestScan_Golden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("scan of %s differs from %s:\n--- got\n%s--- want\n%s", tc.name, path, got, want)
			}
		})
	}
}

// The 5 MiB body is scanned without reading it: the head and the budget
// after it are a few KiB.
func TestScan_BigBodyReadsPrefixOnly(t *testing.T) {
	body := bigPage(t, 5<<20)
	for _, enc := range []string{"", "gzip", "br", "zstd"} {
		t.Run("encoding="+enc, func(t *testing.T) {
			in := body
			switch enc {
			case "gzip":
				in = gzipBytes(t, body)
			case "br":
				in = brotliBytes(t, body)
			case "zstd":
				in = zstdBytes(t, body)
			}
			src := &countingReader{r: bytes.NewReader(in)}
			res, err := Scan(src, Options{ContentEncoding: enc, Base: mustURL(t, "https://morningbrew.example/")})
			if err != nil {
				t.Fatal(err)
			}
			if res.Truncated {
				t.Error("Truncated set although the head ended within the bound")
			}
			// The decoder reads ahead a block; the HTML itself is a few KiB.
			if src.n > 512<<10 {
				t.Errorf("read %d of %d compressed bytes", src.n, len(in))
			}
			if res.BytesScanned > DefaultMaxBytes {
				t.Errorf("scanned %d bytes", res.BytesScanned)
			}
			if len(res.Links) == 0 {
				t.Error("found nothing")
			}
		})
	}
}

func TestScan_TruncatedGzipKeepsLinks(t *testing.T) {
	z := gzipBytes(t, readFixture(t, "wordpress.html"))
	res, err := Scan(bytes.NewReader(z[:len(z)*3/5]), Options{ContentEncoding: "gzip"})
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v; want ErrTruncated", err)
	}
	if len(res.Links) == 0 {
		t.Error("no links from the part that was there")
	}
}
