package earlyhints

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/linkheader"
)

func TestHintFromLink(t *testing.T) {
	page, _ := url.Parse("https://www.shop.example/products/42")
	tests := []struct {
		name       string
		link       string
		crossSite  bool
		wantErr    error
		wantString string // absolute form
		wantFormat string // relative to page
	}{
		{"stylesheet", `</s.css>; rel=preload; as=style`, false, nil,
			`<https://www.shop.example/s.css>; rel=preload; as=style`, `</s.css>; rel=preload; as=style`},
		{"relative path", `<../img/a.jpg>; rel=preload; as=image; fetchpriority=high`, false, nil,
			`<https://www.shop.example/img/a.jpg>; rel=preload; as=image; fetchpriority=high`, `</img/a.jpg>; rel=preload; as=image; fetchpriority=high`},
		{"font gets crossorigin", `</f.woff2>; rel=preload; as=font; type=font/woff2`, false, nil,
			`<https://www.shop.example/f.woff2>; rel=preload; as=font; type="font/woff2"; crossorigin`, `</f.woff2>; rel=preload; as=font; type="font/woff2"; crossorigin`},
		{"modulepreload defaults to script", `</m.js>; rel=modulepreload`, false, nil,
			`<https://www.shop.example/m.js>; rel=modulepreload`, `</m.js>; rel=modulepreload`},
		{"preconnect reduced to origin", `<https://cdn.example.net/lib/x.js?v=1>; rel=preconnect; crossorigin`, false, nil,
			`<https://cdn.example.net>; rel=preconnect; crossorigin`, `<https://cdn.example.net>; rel=preconnect; crossorigin`},
		{"dns-prefetch becomes preconnect", `<https://fonts.example.org>; rel=dns-prefetch`, false, nil,
			`<https://fonts.example.org>; rel=preconnect`, `<https://fonts.example.org>; rel=preconnect`},
		{"same site other host", `<https://static.shop.example/a.js>; rel=preload; as=script`, false, nil,
			`<https://static.shop.example/a.js>; rel=preload; as=script`, `<https://static.shop.example/a.js>; rel=preload; as=script`},
		{"fragment stripped, query kept", `</a.js?v=2#x>; rel=preload; as=script`, false, nil,
			`<https://www.shop.example/a.js?v=2>; rel=preload; as=script`, `</a.js?v=2>; rel=preload; as=script`},
		{"nopush kept", `</a.js>; rel=preload; as=script; nopush`, false, nil,
			`<https://www.shop.example/a.js>; rel=preload; as=script; nopush`, `</a.js>; rel=preload; as=script; nopush`},
		{"bad crossorigin is anonymous", `</a.js>; rel=preload; as=script; crossorigin=bogus`, false, nil,
			`<https://www.shop.example/a.js>; rel=preload; as=script; crossorigin`, `</a.js>; rel=preload; as=script; crossorigin`},
		{"cross site allowed", `<https://cdn.other.example/a.js>; rel=preload; as=script`, true, nil,
			`<https://cdn.other.example/a.js>; rel=preload; as=script`, `<https://cdn.other.example/a.js>; rel=preload; as=script`},
		{"cross site refused", `<https://cdn.other.example/a.js>; rel=preload; as=script`, false, ErrCrossSite, "", ""},
		{"preload without as", `</a.js>; rel=preload`, false, ErrMissingAs, "", ""},
		{"unknown as", `</a.js>; rel=preload; as=banana`, false, ErrMissingAs, "", ""},
		{"prefetch not acted on", `</next.html>; rel=prefetch`, false, ErrUnsupportedRel, "", ""},
		{"no rel", `</a.css>; as=style`, false, ErrUnsupportedRel, "", ""},
		{"javascript scheme", `<javascript:alert(1)>; rel=preload; as=script`, false, ErrBadTarget, "", ""},
		{"data scheme", `<data:text/css,x>; rel=preload; as=style`, false, ErrBadTarget, "", ""},
		{"http preconnect to a third party", `<http://cdn.example.net>; rel=preconnect`, false, ErrBadTarget, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			links, errs := linkheader.Parse(tc.link)
			if len(errs) != 0 || len(links) != 1 {
				t.Fatalf("bad test input %q: %v", tc.link, errs)
			}
			h, err := HintFromLink(links[0], page, tc.crossSite)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := h.String(); got != tc.wantString {
				t.Errorf("String() = %s\n         want %s", got, tc.wantString)
			}
			if got := h.Format(page); got != tc.wantFormat {
				t.Errorf("Format() = %s\n         want %s", got, tc.wantFormat)
			}
		})
	}
}

func TestHintFromLink_LoopbackAndIPs(t *testing.T) {
	page, _ := url.Parse("https://127.0.0.1:8443/")
	for _, tc := range []struct {
		link string
		ok   bool
	}{
		{`</a.css>; rel=preload; as=style`, true},
		{`<https://127.0.0.2:8443/a.css>; rel=preload; as=style`, false},
		{`<http://localhost:9000>; rel=preconnect`, true},
	} {
		links, _ := linkheader.Parse(tc.link)
		_, err := HintFromLink(links[0], page, false)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.link, err, tc.ok)
		}
	}
}

func TestParseHints_KeepsGoodBesideBad(t *testing.T) {
	page, _ := url.Parse("https://a.example/")
	hints, errs := ParseHints([]string{`</a.css>; rel=preload; as=style, broken; rel=preload, </a.css>; rel=preload; as=style`, `</b.js>; rel=preload`, `</c.js>; rel=modulepreload`}, page, false)
	if len(hints) != 2 || hints[0].URL != "https://a.example/a.css" || hints[1].URL != "https://a.example/c.js" {
		t.Fatalf("hints = %+v", hints)
	}
	if len(errs) != 2 {
		t.Fatalf("errs = %v, want the broken link and the preload without as", errs)
	}
}

func TestHint_InjectionNeverReachesTheHeader(t *testing.T) {
	page, _ := url.Parse("https://a.example/")
	fields := []string{"\r\nSet-Cookie: x=1", "a\"b", "x\x00y", "<>"}
	for _, f := range fields {
		h := Hint{Rel: RelPreload, URL: "https://a.example/a.css", As: "style", Type: f, Media: f, ImageSrcset: f, ImageSizes: f, Integrity: f}
		for _, out := range []string{h.String(), h.Format(page)} {
			if strings.ContainsAny(out, "\r\n\x00") {
				t.Fatalf("header injection through a field: %q", out)
			}
			if links, errs := linkheader.Parse(out); len(errs) != 0 || len(links) != 1 {
				t.Fatalf("%q does not parse back as one link: %v", out, errs)
			}
		}
	}
	if err := (Hint{Rel: RelPreload, URL: "https://a.example/a\r\n.css", As: "style"}).Validate(); err == nil {
		t.Fatal("a URL with CR LF validated")
	}
}

func FuzzHintFromLink(f *testing.F) {
	f.Add(`</a.css>; rel=preload; as=style`, "https://a.example/x/y")
	f.Add(`<//evil.example/a.js>; rel=preload; as=script`, "https://a.example/")
	f.Add(`<https://c.example/x>; rel=preconnect`, "http://127.0.0.1:8080/")
	f.Fuzz(func(t *testing.T, value, pageURL string) {
		page, err := url.Parse(pageURL)
		if err != nil || !page.IsAbs() {
			return
		}
		hints, _ := ParseHints([]string{value}, page, false)
		for _, h := range hints {
			if err := h.Validate(); err != nil {
				t.Fatalf("ParseHints returned an invalid hint %+v: %v", h, err)
			}
			out := h.Format(page)
			if strings.ContainsAny(out, "\r\n\x00") {
				t.Fatalf("unsafe output %q", out)
			}
			if h.Rel != RelPreconnect {
				u, _ := url.Parse(h.URL)
				if !sameSite(u, page) {
					t.Fatalf("cross-site preload %s for %s", h.URL, page)
				}
			}
		}
	})
}
