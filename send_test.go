package earlyhints

import (
	"testing"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/scan"
)

func TestKindOfValue(t *testing.T) {
	tests := []struct {
		value string
		want  scan.Kind
	}{
		{"</a.css>; rel=preload; as=style", scan.KindRenderBlocking},
		{"</a.js>; rel=preload; as=script", scan.KindRenderBlocking},
		{"</a.js>; rel=preload; as=script; fetchpriority=low", scan.KindDeferred},
		{"</f.woff2>; rel=preload; as=font; crossorigin", scan.KindFont},
		{"</h.jpg>; rel=preload; as=image; fetchpriority=high", scan.KindImage},
		{"</i.jpg>; rel=preload; as=image", scan.KindDeferred},
		{"</m.js>; rel=modulepreload", scan.KindModule},
		{"<https://cdn.example>; rel=preconnect; crossorigin", scan.KindPreconnect},
	}
	for _, tt := range tests {
		if got := kindOfValue(tt.value); got != tt.want {
			t.Errorf("kindOfValue(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

// TestMergeLinks_ByKind: what browsers were seen to fetch late goes after
// the page's links of its kind or a more urgent one, not after its images.
func TestMergeLinks_ByKind(t *testing.T) {
	link := func(v string) hintstore.Link { return hintstore.Link{Target: v, Value: v} }
	page := []hintstore.Link{
		link("</a.css>; rel=preload; as=style"),
		link("</h.jpg>; rel=preload; as=image; fetchpriority=high"),
		link("</i.jpg>; rel=preload; as=image"),
	}
	observed := []hintstore.Link{
		link("</f.woff2>; rel=preload; as=font; crossorigin"),
		link("</imp.css>; rel=preload; as=style"),
		link("</a.css>; rel=preload; as=style"), // already named
	}
	got := mergeLinks(page, observed)
	want := []string{
		"</a.css>; rel=preload; as=style",
		"</imp.css>; rel=preload; as=style",
		"</f.woff2>; rel=preload; as=font; crossorigin",
		"</h.jpg>; rel=preload; as=image; fetchpriority=high",
		"</i.jpg>; rel=preload; as=image",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d links, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Value != want[i] {
			t.Errorf("link %d = %s, want %s", i, got[i].Value, want[i])
		}
	}
	if len(page) != 3 || page[1].Value != want[3] {
		t.Errorf("the stored slice was changed: %v", page)
	}
}
