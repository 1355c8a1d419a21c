package earlyhints

import (
	"net/http"
	"net/url"
	"testing"
)

// BenchmarkLearner_Learn measures learning from one response off the
// request path: its Link header, a scan of a typical head (same-origin,
// relative and third-party targets), validation, caps, formatting and
// the store observation.
func BenchmarkLearner_Learn(b *testing.B) {
	h, err := New(http.NotFoundHandler(), Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	page, err := url.Parse("https://www.example.com/shop/item.html?id=7")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`<!doctype html><html><head><meta charset=utf-8><title>Item</title>
<link rel=stylesheet href=/static/css/site.css><link rel=stylesheet href="../assets/item.css?v=3">
<link rel=preconnect href=https://fonts.example.net crossorigin>
<link rel=preload href=/static/fonts/body.woff2 as=font type=font/woff2 crossorigin>
<script src=/static/js/vendor.js></script><script src="js/item.js" defer></script>
<script type=module src=/static/js/app.mjs></script><link rel=modulepreload href=/static/js/chunk-1.mjs>
<script src=https://cdn.example.com/lib/analytics.js async></script>
<link rel=stylesheet href=https://cdn.example.com/css/widgets.css>
</head><body><header><img src=/static/img/logo.svg alt=""></header>
<main><img src="/media/items/7/hero.jpg" fetchpriority=high alt=""></main></body></html>`)
	p := &pending{
		links:       []string{"</static/css/site.css>; rel=preload; as=style", "<https://cdn.example.com/lib/core.js>; rel=preload; as=script", "<https://fonts.example.net>; rel=preconnect"},
		body:        body,
		limit:       len(body),
		headEnd:     true,
		contentType: "text/html; charset=utf-8",
	}
	b.ReportAllocs()
	for b.Loop() {
		h.learner.learn("https://www.example.com/shop/item.html", page, p)
	}
}
