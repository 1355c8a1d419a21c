package scan

import (
	"net/url"
	"strings"
	"testing"
)

// TestScan_ElementsThatEndTheHeadForTheParser: an <iframe> (or any element
// the tree builder takes as the start of the body) in the head does not end
// what Chromium's preload scanner treats as the head: the synchronous
// scripts after it are render-blocking, and the look-ahead into the body
// starts at </head>, <body> or an <img>.
func TestScan_ElementsThatEndTheHeadForTheParser(t *testing.T) {
	page, _ := url.Parse("https://www.news.example/a")
	doc := `<!doctype html><html><head><title>t</title>` +
		`<iframe src="https://tags.example/frame" style="display:none"></iframe>` +
		`<script>` + strings.Repeat("var x = 1;", 2000) + `</script>` +
		`<div>` + strings.Repeat("<span>markup</span>", 400) + `</div>` +
		`<script src="https://cdn.other.example/fig.js"></script>` +
		`<link rel=stylesheet href=/late.css>` +
		`</head><body><p>text</p></body></html>`
	res, err := Scan(strings.NewReader(doc), Options{Base: page})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]Kind{}
	for i, l := range res.Links {
		kinds[l.URI] = res.Kinds[i]
	}
	for uri, want := range map[string]Kind{
		"https://cdn.other.example/fig.js":  KindRenderBlocking,
		"https://www.news.example/late.css": KindRenderBlocking,
		"https://cdn.other.example":         KindPreconnect,
	} {
		got, ok := kinds[uri]
		if !ok {
			t.Errorf("%s not found: %v", uri, res.Links)
			continue
		}
		if got != want {
			t.Errorf("%s is %v, want %v", uri, got, want)
		}
	}
}
