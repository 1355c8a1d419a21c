package scan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// head64KiB is a 64 KiB head shaped like the heavy heads of real stores and
// news sites: the store fixture's links and scripts, dozens of meta tags,
// inline critical CSS, a JSON-LD block and an inline configuration script.
func head64KiB(tb testing.TB) []byte {
	tb.Helper()
	page := string(readFixture(tb, "store.html"))
	var b bytes.Buffer
	b.WriteString(page[:strings.Index(page, "<template")])
	for i := range 40 {
		fmt.Fprintf(&b, "<meta property=\"og:image:%d\" content=\"https://cdn.shopify.example/s/files/1/0123/products/shirt-%d.jpg?v=1696\">\n", i, i)
	}
	b.WriteString("<style data-shopify>\n")
	for i := 0; b.Len() < 30<<10; i++ {
		fmt.Fprintf(&b, ".grid__item--%d{flex:0 0 calc(25%% - var(--grid-gap)*3/4);max-width:calc(50%% - var(--gap))}@media screen and (min-width:750px){.grid--%d .card{padding:%dpx}}\n", i, i, i%32)
	}
	b.WriteString("</style>\n<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@type\":\"Product\",\"offers\":[")
	for i := 0; b.Len() < 40<<10; i++ {
		fmt.Fprintf(&b, `{"@type":"Offer","sku":"LS-%d","price":"49.00","url":"https://shop.example/products/linen-shirt?variant=%d"},`, i, 40000000+i)
	}
	b.WriteString("{}]}</script>\n<link rel=\"stylesheet\" href=\"//cdn.shopify.example/s/files/1/0123/t/4/assets/section-main-product.css?v=1\">\n<script>window.ShopifyAnalytics = {meta: {products: [")
	for i := 0; b.Len() < 64<<10; i++ {
		fmt.Fprintf(&b, `{"id":%d,"gid":"gid://shopify/Product/%d","vendor":"Northwind","variants":[{"id":%d,"price":4900,"name":"Linen Shirt - Size %d"}]},`, i, 7000000+i, 40000000+i, i%6)
	}
	return b.Bytes()[:64<<10]
}

// head64KiBDense is the worst case: the WordPress fixture's head repeated
// with fresh URLs, so that a third of its bytes are tags the scanner acts
// on (about 200 stylesheets, scripts and preloads).
func head64KiBDense(tb testing.TB) []byte {
	tb.Helper()
	page := string(readFixture(tb, "wordpress.html"))
	start := strings.Index(page, "<meta charset")
	end := strings.Index(page, "</head>")
	var b bytes.Buffer
	b.WriteString(page[:start])
	for i := 0; b.Len() < 64<<10; i++ {
		b.WriteString(strings.ReplaceAll(page[start:end], "ver=", fmt.Sprintf("ver=%d.", i)))
	}
	return b.Bytes()[:64<<10]
}

func BenchmarkScan64KiB(b *testing.B) {
	doc := head64KiB(b)
	base := mustURL(b, "https://morningbrew.example/")
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	r := bytes.NewReader(doc)
	for b.Loop() {
		r.Reset(doc)
		res, err := Scan(r, Options{Base: base})
		if err != nil || len(res.Links) == 0 {
			b.Fatalf("links %d truncated %v err %v", len(res.Links), res.Truncated, err)
		}
	}
}

func BenchmarkScan64KiBDense(b *testing.B) {
	doc := head64KiBDense(b)
	base := mustURL(b, "https://morningbrew.example/")
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	r := bytes.NewReader(doc)
	for b.Loop() {
		r.Reset(doc)
		if _, err := Scan(r, Options{Base: base}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScan64KiBGzip(b *testing.B) {
	doc := head64KiB(b)
	z := gzipBytes(b, doc)
	base := mustURL(b, "https://morningbrew.example/")
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	r := bytes.NewReader(z)
	for b.Loop() {
		r.Reset(z)
		if _, err := Scan(r, Options{Base: base, ContentEncoding: "gzip"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanTypicalPage is the common case: a real-sized page whose
// head ends early.
func BenchmarkScanTypicalPage(b *testing.B) {
	doc := readFixture(b, "store.html")
	base := mustURL(b, "https://shop.example/products/linen-shirt")
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	r := bytes.NewReader(doc)
	for b.Loop() {
		r.Reset(doc)
		if _, err := Scan(r, Options{Base: base}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanLongHead is a news page whose head is made long (215 KiB to
// the last stylesheet) by inlined CSS, JSON-LD and an SVG sprite, with
// inline fonts to match against the inline rules.
func BenchmarkScanLongHead(b *testing.B) {
	doc := readFixture(b, "news.html")
	base := mustURL(b, "https://www.dailynews.example/world")
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	r := bytes.NewReader(doc)
	for b.Loop() {
		r.Reset(doc)
		if _, err := Scan(r, Options{Base: base}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenizer64KiB is the floor: x/net/html's tokenizer alone over
// the same head, with nothing done per token.
func BenchmarkTokenizer64KiB(b *testing.B) {
	doc := head64KiB(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		z := html.NewTokenizer(bytes.NewReader(doc))
		for z.Next() != html.ErrorToken {
		}
	}
}
