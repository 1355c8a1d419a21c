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
	for _, l := range res.Links {
		fmt.Println(l.Rel[0], l.URI, l.Params)
	}
	// Output:
	// preload https://shop.example/css/site.css [{as style}]
	// preload https://shop.example/js/app.js [{as script}]
	// preload https://fonts.example/inter.woff2 [{as font} {crossorigin }]
	// preload https://shop.example/img/hero.jpg [{as image}]
	// preload https://analytics.example/a.js [{as script}]
	// preconnect https://fonts.example [{crossorigin }]
}
