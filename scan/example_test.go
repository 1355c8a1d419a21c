package scan_test

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/earlyhints/earlyhints/scan"
)

func ExampleScan() {
	page, _ := url.Parse("https://shop.example/products/shirt")
	html := `<!doctype html><html><head>
<link rel="preconnect" href="https://fonts.example" crossorigin>
<script async src="https://analytics.example/a.js"></script>
<link rel="stylesheet" href="/css/site.css">
<link rel="stylesheet" href="/css/print.css" media="print">
<link rel="preload" as="font" href="https://fonts.example/inter.woff2">
<script src="/js/app.js"></script>
</head><body><img src="/img/hero.jpg" alt=""></body></html>`
	res, err := scan.Scan(strings.NewReader(html), scan.Options{Base: page, ContentType: "text/html; charset=utf-8"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, l := range res.Links {
		fmt.Println(res.Kinds[i], l.Rel[0], l.URI, l.Params)
	}
	// Output:
	// render-blocking preload https://shop.example/css/site.css [{as style}]
	// render-blocking preload https://shop.example/js/app.js [{as script}]
	// font preload https://fonts.example/inter.woff2 [{as font} {crossorigin }]
	// image preload https://shop.example/img/hero.jpg [{as image}]
	// deferred preload https://analytics.example/a.js [{as script}]
	// preconnect preconnect https://fonts.example [{crossorigin }]
}

// With ReportSkipped, a scan also says what the page names that it left
// out, and why.
func ExampleScan_skipped() {
	page, _ := url.Parse("https://news.example/world")
	html := `<head>
<link rel="stylesheet" href="/css/core.css" media="screen, projection">
<link rel="stylesheet" href="/css/wide.css" media="(min-width: 1024px)">
<link rel="stylesheet" href="/css/print.css" media="print">
<script src="http://widgets.example/ticker.js"></script>
</head><body><img src="http://img.news.example/lead.jpg" alt=""></body>`
	res, _ := scan.Scan(strings.NewReader(html), scan.Options{Base: page, ReportSkipped: true})
	for _, l := range res.Links {
		fmt.Println("hint", l.URI)
	}
	for _, s := range res.Skipped {
		fmt.Println("skip", s.Reason, s.Link.URI)
	}
	// Output:
	// hint https://news.example/css/core.css
	// hint https://img.news.example/lead.jpg
	// hint https://img.news.example
	// skip media https://news.example/css/wide.css
	// skip media https://news.example/css/print.css
	// skip mixed-content http://widgets.example/ticker.js
}
