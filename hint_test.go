package earlyhints

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/internal/weburl"
	"github.com/earlyhints/earlyhints/linkheader"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestHintFromLink(t *testing.T) {
	const shop = "https://www.shop.example/products/42"
	tests := []struct {
		name       string
		page       string // shop when empty
		link       string
		crossSite  bool
		wantErr    error
		wantString string // absolute form
		wantFormat string // relative to page
	}{
		{
			"stylesheet", "", `</s.css>; rel=preload; as=style`, false, nil,
			`<https://www.shop.example/s.css>; rel=preload; as=style`, `</s.css>; rel=preload; as=style`,
		},
		{
			"relative path", "", `<../img/a.jpg>; rel=preload; as=image; fetchpriority=high`, false, nil,
			`<https://www.shop.example/img/a.jpg>; rel=preload; as=image; fetchpriority=high`, `</img/a.jpg>; rel=preload; as=image; fetchpriority=high`,
		},
		{
			"path relative to the page's directory", "", `<a.js>; rel=preload; as=script`, false, nil,
			`<https://www.shop.example/products/a.js>; rel=preload; as=script`, `</products/a.js>; rel=preload; as=script`,
		},
		{
			"query only", "https://www.shop.example/p?x=1", `<?v=2>; rel=preload; as=fetch`, false, nil,
			`<https://www.shop.example/p?v=2>; rel=preload; as=fetch; crossorigin`, `</p?v=2>; rel=preload; as=fetch; crossorigin`,
		},
		{
			"base with a directory", "https://www.shop.example/static/", `<app.js>; rel=preload; as=script`, false, nil,
			`<https://www.shop.example/static/app.js>; rel=preload; as=script`, `</static/app.js>; rel=preload; as=script`,
		},
		{
			"font gets crossorigin", "", `</f.woff2>; rel=preload; as=font; type=font/woff2`, false, nil,
			`<https://www.shop.example/f.woff2>; rel=preload; as=font; type="font/woff2"; crossorigin`, `</f.woff2>; rel=preload; as=font; type="font/woff2"; crossorigin`,
		},
		{
			"as case folded", "", `</s.css>; rel=preload; as=STYLE`, false, nil,
			`<https://www.shop.example/s.css>; rel=preload; as=style`, `</s.css>; rel=preload; as=style`,
		},
		{
			"use-credentials kept", "", `</a.js>; rel=preload; as=script; crossorigin=USE-CREDENTIALS`, false, nil,
			`<https://www.shop.example/a.js>; rel=preload; as=script; crossorigin=use-credentials`, `</a.js>; rel=preload; as=script; crossorigin=use-credentials`,
		},
		{
			"crossorigin=anonymous written bare", "", `</a.js>; rel=preload; as=script; crossorigin=anonymous`, false, nil,
			`<https://www.shop.example/a.js>; rel=preload; as=script; crossorigin`, `</a.js>; rel=preload; as=script; crossorigin`,
		},
		{
			"bad crossorigin is anonymous", "", `</a.js>; rel=preload; as=script; crossorigin=bogus`, false, nil,
			`<https://www.shop.example/a.js>; rel=preload; as=script; crossorigin`, `</a.js>; rel=preload; as=script; crossorigin`,
		},
		{
			"first occurrence of a param wins", "", `</a.js>; rel=preload; as=script; as=style; crossorigin=use-credentials; crossorigin`, false, nil,
			`<https://www.shop.example/a.js>; rel=preload; as=script; crossorigin=use-credentials`, `</a.js>; rel=preload; as=script; crossorigin=use-credentials`,
		},
		{
			"invalid fetchpriority dropped", "", `</a.jpg>; rel=preload; as=image; fetchpriority=urgent`, false, nil,
			`<https://www.shop.example/a.jpg>; rel=preload; as=image`, `</a.jpg>; rel=preload; as=image`,
		},
		{
			"fetchpriority case folded", "", `</a.jpg>; rel=preload; as=image; fetchpriority=LOW`, false, nil,
			`<https://www.shop.example/a.jpg>; rel=preload; as=image; fetchpriority=low`, `</a.jpg>; rel=preload; as=image; fetchpriority=low`,
		},
		{
			"media, srcset, sizes, integrity kept", "", `</a.jpg>; rel=preload; as=image; media="(max-width: 600px)"; imagesrcset="a.jpg 1x, b.jpg 2x"; imagesizes=50vw; integrity="sha384-ab+c/="`, false, nil,
			`<https://www.shop.example/a.jpg>; rel=preload; as=image; media="(max-width: 600px)"; imagesrcset="a.jpg 1x, b.jpg 2x"; imagesizes=50vw; integrity="sha384-ab+c/="`,
			`</a.jpg>; rel=preload; as=image; media="(max-width: 600px)"; imagesrcset="a.jpg 1x, b.jpg 2x"; imagesizes=50vw; integrity="sha384-ab+c/="`,
		},
		{
			"trivial media dropped", "", `</s.css>; rel=preload; as=style; media=all`, false, nil,
			`<https://www.shop.example/s.css>; rel=preload; as=style`, `</s.css>; rel=preload; as=style`,
		},
		{
			"type with parameters", "", `</s.css>; rel=preload; as=style; type="text/css; charset=utf-8"`, false, nil,
			`<https://www.shop.example/s.css>; rel=preload; as=style; type="text/css; charset=utf-8"`, `</s.css>; rel=preload; as=style; type="text/css; charset=utf-8"`,
		},
		{
			"modulepreload defaults to script", "", `</m.js>; rel=modulepreload`, false, nil,
			`<https://www.shop.example/m.js>; rel=modulepreload`, `</m.js>; rel=modulepreload`,
		},
		{
			"modulepreload as=script", "", `</m.js>; rel=modulepreload; as=script; crossorigin=use-credentials`, false, nil,
			`<https://www.shop.example/m.js>; rel=modulepreload; crossorigin=use-credentials`, `</m.js>; rel=modulepreload; crossorigin=use-credentials`,
		},
		{
			"preconnect reduced to origin", "", `<https://cdn.example.net/lib/x.js?v=1>; rel=preconnect; crossorigin`, false, nil,
			`<https://cdn.example.net>; rel=preconnect; crossorigin`, `<https://cdn.example.net>; rel=preconnect; crossorigin`,
		},
		{
			"preconnect keeps a port, drops preload attributes", "", `<https://cdn.example.net:8443/x>; rel=preconnect; as=font; fetchpriority=high`, false, nil,
			`<https://cdn.example.net:8443>; rel=preconnect`, `<https://cdn.example.net:8443>; rel=preconnect`,
		},
		{
			"dns-prefetch becomes preconnect", "", `<https://fonts.example.org>; rel=dns-prefetch`, false, nil,
			`<https://fonts.example.org>; rel=preconnect`, `<https://fonts.example.org>; rel=preconnect`,
		},
		{
			"scheme-relative preconnect", "", `<//fonts.example.org>; rel=preconnect`, false, nil,
			`<https://fonts.example.org>; rel=preconnect`, `<https://fonts.example.org>; rel=preconnect`,
		},
		{
			"http preconnect to the page's own origin", "http://shop.example/", `<http://shop.example/x>; rel=preconnect`, false, nil,
			`<http://shop.example>; rel=preconnect`, `<http://shop.example>; rel=preconnect`,
		},
		{
			"http preconnect to localhost", "", `<http://localhost:9000>; rel=preconnect`, false, nil,
			`<http://localhost:9000>; rel=preconnect`, `<http://localhost:9000>; rel=preconnect`,
		},
		{
			"first supported rel wins", "", `<https://cdn.example.net/a.js>; rel="stylesheet preconnect preload"; as=script`, false, nil,
			`<https://cdn.example.net>; rel=preconnect`, `<https://cdn.example.net>; rel=preconnect`,
		},
		{
			"same site other host", "", `<https://static.shop.example/a.js>; rel=preload; as=script`, false, nil,
			`<https://static.shop.example/a.js>; rel=preload; as=script`, `<https://static.shop.example/a.js>; rel=preload; as=script`,
		},
		{
			"scheme-relative same site", "", `<//static.shop.example/a.js>; rel=preload; as=script`, false, nil,
			`<https://static.shop.example/a.js>; rel=preload; as=script`, `<https://static.shop.example/a.js>; rel=preload; as=script`,
		},
		{
			"fragment stripped, query kept", "", `</a.js?v=2#x>; rel=preload; as=script`, false, nil,
			`<https://www.shop.example/a.js?v=2>; rel=preload; as=script`, `</a.js?v=2>; rel=preload; as=script`,
		},
		{
			"nopush and anchor ignored", "", `</a.js>; rel=preload; as=script; nopush; anchor="#x"`, false, nil,
			`<https://www.shop.example/a.js>; rel=preload; as=script`, `</a.js>; rel=preload; as=script`,
		},
		{
			"dot segments removed", "", `</a/./b/../%2E%2e/c.css>; rel=preload; as=style`, false, nil,
			`<https://www.shop.example/c.css>; rel=preload; as=style`, `</c.css>; rel=preload; as=style`,
		},
		{
			"escapes kept as written, browser encoding applied", "", `</a%41|b/é.css?q='x'>; rel=preload; as=style`, false, nil,
			`<https://www.shop.example/a%41|b/%C3%A9.css?q=%27x%27>; rel=preload; as=style`, `</a%41|b/%C3%A9.css?q=%27x%27>; rel=preload; as=style`,
		},
		{
			"canonical host and default port", "", `<HTTPS://WWW.Shop.Example:443/a.css>; rel=preload; as=style`, false, nil,
			`<https://www.shop.example/a.css>; rel=preload; as=style`, `</a.css>; rel=preload; as=style`,
		},
		{
			"relative scheme form", "", `<https:a.css>; rel=preload; as=style`, false, nil,
			`<https://www.shop.example/products/a.css>; rel=preload; as=style`, `</products/a.css>; rel=preload; as=style`,
		},
		{
			"internationalised host", "", `<https://bücher.example/a.css>; rel=preload; as=style`, true, nil,
			`<https://xn--bcher-kva.example/a.css>; rel=preload; as=style`, `<https://xn--bcher-kva.example/a.css>; rel=preload; as=style`,
		},
		{
			"path that looks like a host stays absolute", "", `<https://www.shop.example//evil.example/a.js>; rel=preload; as=script`, false, nil,
			`<https://www.shop.example//evil.example/a.js>; rel=preload; as=script`, `<https://www.shop.example//evil.example/a.js>; rel=preload; as=script`,
		},
		{
			"other port is another origin", "", `<https://www.shop.example:8443/a.css>; rel=preload; as=style`, false, nil,
			`<https://www.shop.example:8443/a.css>; rel=preload; as=style`, `<https://www.shop.example:8443/a.css>; rel=preload; as=style`,
		},
		{
			"cross site allowed", "", `<https://cdn.other.example/a.js>; rel=preload; as=script`, true, nil,
			`<https://cdn.other.example/a.js>; rel=preload; as=script`, `<https://cdn.other.example/a.js>; rel=preload; as=script`,
		},

		{"cross site refused", "", `<https://cdn.other.example/a.js>; rel=preload; as=script`, false, ErrCrossSite, "", ""},
		{"cross site modulepreload refused", "", `<https://cdn.other.example/m.js>; rel=modulepreload`, false, ErrCrossSite, "", ""},
		{"scheme-relative cross site", "", `<//evil.example/a.js>; rel=preload; as=script`, false, ErrCrossSite, "", ""},
		{"backslashes name a host", "", `<\\evil.example\a.js>; rel=preload; as=script`, false, ErrCrossSite, "", ""},
		{"slash backslash names a host", "", `</\evil.example/a.js>; rel=preload; as=script`, false, ErrCrossSite, "", ""},
		{"public suffix is not a site", "https://a.github.io/", `<https://b.github.io/x.js>; rel=preload; as=script`, false, ErrCrossSite, "", ""},
		{"other IP address", "https://127.0.0.1:8443/", `<https://127.0.0.2:8443/a.css>; rel=preload; as=style`, false, ErrCrossSite, "", ""},
		{"preload without as", "", `</a.js>; rel=preload`, false, ErrMissingAs, "", ""},
		{"unknown as", "", `</a.js>; rel=preload; as=banana`, false, ErrMissingAs, "", ""},
		{"as=track not taken from a 103", "", `</a.vtt>; rel=preload; as=track`, false, ErrMissingAs, "", ""},
		{"as=video not preloaded", "", `</a.mp4>; rel=preload; as=video`, false, ErrMissingAs, "", ""},
		{"as=document not preloaded", "", `</next>; rel=preload; as=document`, false, ErrMissingAs, "", ""},
		{"modulepreload of a style", "", `</m.css>; rel=modulepreload; as=style`, false, ErrMissingAs, "", ""},
		{"type that is not a MIME type", "", `</f.woff2>; rel=preload; as=font; type=woff2`, false, ErrBadAttribute, "", ""},
		{"unknown top-level type", "", `</f.woff2>; rel=preload; as=font; type=foo/woff2`, false, ErrBadAttribute, "", ""},
		{"prefetch not acted on", "", `</next.html>; rel=prefetch`, false, ErrUnsupportedRel, "", ""},
		{"no rel", "", `</a.css>; as=style`, false, ErrUnsupportedRel, "", ""},
		{"javascript scheme", "", `<javascript:alert(1)>; rel=preload; as=script`, false, ErrBadTarget, "", ""},
		{"data scheme", "", `<data:text/css,x>; rel=preload; as=style`, false, ErrBadTarget, "", ""},
		{"credentials in the target", "", `<https://u:p@www.shop.example/a.css>; rel=preload; as=style`, false, ErrBadTarget, "", ""},
		{"mixed content", "", `<http://www.shop.example/a.css>; rel=preload; as=style`, false, ErrBadTarget, "", ""},
		{"empty label", "", `<https://www..shop.example/a.css>; rel=preload; as=style`, true, ErrBadTarget, "", ""},
		{"short IPv4 form", "", `<https://127.1/a.css>; rel=preload; as=style`, true, ErrBadTarget, "", ""},
		{"percent in host", "", `<https://evil.example%2f.shop.example/a.css>; rel=preload; as=style`, false, ErrBadTarget, "", ""},
		{"invalid percent-escape in the path", "", `</a%zz/%.css>; rel=preload; as=style`, false, ErrBadTarget, "", ""},
		{"port out of range", "", `<https://www.shop.example:99999/a.css>; rel=preload; as=style`, false, ErrBadTarget, "", ""},
		{"empty host", "", `<https://:443/a.css>; rel=preload; as=style`, false, ErrBadTarget, "", ""},
		{"extra slashes skipped as browsers do", "", `<https:///a.example/x.css>; rel=preload; as=style`, false, ErrCrossSite, "", ""},
		{"http preconnect to a third party", "", `<http://cdn.example.net>; rel=preconnect`, false, ErrBadTarget, "", ""},
		{"ftp preconnect", "", `<ftp://cdn.example.net>; rel=preconnect`, false, ErrBadTarget, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pageURL := tc.page
			if pageURL == "" {
				pageURL = shop
			}
			page := mustURL(t, pageURL)
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
			if err := h.Validate(); err != nil {
				t.Errorf("Validate() = %v for a hint HintFromLink returned", err)
			}
		})
	}
}

func TestHintFromLink_HandBuiltLinks(t *testing.T) {
	page := mustURL(t, "https://a.example/")
	// Links built by the HTML scanner are not lower-cased by a parser and
	// carry attribute values that span lines.
	l := linkheader.Link{URI: " /hero.jpg\n", Rel: []string{"Preload"}, Params: []linkheader.Param{
		{Key: "AS", Value: "Image"},
		{Key: "imagesrcset", Value: "hero-1x.jpg 1x,\n\t\thero-2x.jpg 2x "},
		{Key: "ImageSizes", Value: "\n100vw"},
	}}
	h, err := HintFromLink(l, page, false)
	if err != nil {
		t.Fatal(err)
	}
	want := Hint{Rel: RelPreload, URL: "https://a.example/hero.jpg", As: "image", ImageSrcset: "hero-1x.jpg 1x, hero-2x.jpg 2x", ImageSizes: "100vw"}
	if h != want {
		t.Errorf("got  %+v\nwant %+v", h, want)
	}
	if _, err := HintFromLink(linkheader.Link{URI: "/a\r\n.css", Rel: []string{"preload"}}, page, false); !errors.Is(err, ErrBadTarget) {
		t.Errorf("control character inside a target: err = %v", err)
	}
	for _, page := range []*url.URL{nil, mustURL(t, "/relative"), mustURL(t, "ftp://a.example/")} {
		if _, err := HintFromLink(l, page, false); !errors.Is(err, ErrBadTarget) {
			t.Errorf("page %v: err = %v, want ErrBadTarget", page, err)
		}
	}
}

func TestHint_Validate(t *testing.T) {
	tests := []struct {
		name string
		hint Hint
		want error
	}{
		{"preload", Hint{Rel: RelPreload, URL: "https://a.example/s.css", As: "style"}, nil},
		{"normalisable attributes", Hint{Rel: RelPreload, URL: "HTTPS://A.example/f.woff2", As: "Font", CrossOrigin: "whatever", FetchPriority: "urgent"}, nil},
		{"modulepreload without as", Hint{Rel: RelModulePreload, URL: "https://a.example/m.js"}, nil},
		{"preconnect origin", Hint{Rel: RelPreconnect, URL: "https://cdn.example"}, nil},
		{"preconnect origin with slash", Hint{Rel: RelPreconnect, URL: "https://cdn.example/"}, nil},
		{"unknown rel", Hint{Rel: "prefetch", URL: "https://a.example/s.css", As: "style"}, ErrUnsupportedRel},
		{"relative URL", Hint{Rel: RelPreload, URL: "/s.css", As: "style"}, ErrBadTarget},
		{"scheme-relative URL", Hint{Rel: RelPreload, URL: "//a.example/s.css", As: "style"}, ErrBadTarget},
		{"ftp", Hint{Rel: RelPreload, URL: "ftp://a.example/s.css", As: "style"}, ErrBadTarget},
		{"credentials", Hint{Rel: RelPreload, URL: "https://u@a.example/s.css", As: "style"}, ErrBadTarget},
		{"CR LF in URL", Hint{Rel: RelPreload, URL: "https://a.example/a\r\n.css", As: "style"}, ErrBadTarget},
		{"preconnect with a path", Hint{Rel: RelPreconnect, URL: "https://cdn.example/x.js"}, ErrBadTarget},
		{"preconnect with a query", Hint{Rel: RelPreconnect, URL: "https://cdn.example/?x"}, ErrBadTarget},
		{"preload without as", Hint{Rel: RelPreload, URL: "https://a.example/s.css"}, ErrMissingAs},
		{"modulepreload as style", Hint{Rel: RelModulePreload, URL: "https://a.example/m.js", As: "style"}, ErrMissingAs},
		{"bad type", Hint{Rel: RelPreload, URL: "https://a.example/s.css", As: "style", Type: "css"}, ErrBadAttribute},
		{"control in media", Hint{Rel: RelPreload, URL: "https://a.example/s.css", As: "style", Media: "a\x00b"}, ErrBadAttribute},
		{"LF in integrity", Hint{Rel: RelPreload, URL: "https://a.example/s.js", As: "script", Integrity: "sha256-x\r\nSet-Cookie: a=b"}, ErrBadAttribute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.hint.Validate()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHint_FormatNormalises(t *testing.T) {
	page := mustURL(t, "https://a.example/x")
	tests := []struct {
		name string
		hint Hint
		want string
	}{
		{"font gets crossorigin", Hint{Rel: RelPreload, URL: "https://a.example/f.woff2", As: "Font"}, `</f.woff2>; rel=preload; as=font; crossorigin`},
		{"invalid crossorigin", Hint{Rel: RelPreload, URL: "https://a.example/a.js", As: "script", CrossOrigin: "bogus"}, `</a.js>; rel=preload; as=script; crossorigin`},
		{"preconnect is absolute and bare", Hint{Rel: RelPreconnect, URL: "https://a.example", As: "font", Media: "x"}, `<https://a.example>; rel=preconnect`},
		{"other scheme is absolute", Hint{Rel: RelPreload, URL: "http://a.example/s.css", As: "style"}, `<http://a.example/s.css>; rel=preload; as=style`},
		{"origin only", Hint{Rel: RelPreload, URL: "https://a.example", As: "fetch"}, `</>; rel=preload; as=fetch; crossorigin`},
		{"explicit default port", Hint{Rel: RelPreload, URL: "https://A.EXAMPLE:443?q", As: "fetch", CrossOrigin: "use-credentials"}, `</?q>; rel=preload; as=fetch; crossorigin=use-credentials`},
		{"credentials never made relative", Hint{Rel: RelPreload, URL: "https://u@a.example/s.css", As: "style"}, `<https://u@a.example/s.css>; rel=preload; as=style`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.hint.Format(page); got != tc.want {
				t.Errorf("Format() = %s\n         want %s", got, tc.want)
			}
			if got := tc.hint.Format(nil); got != tc.hint.String() {
				t.Errorf("Format(nil) = %s, String() = %s", got, tc.hint.String())
			}
		})
	}
}

func TestHint_Link(t *testing.T) {
	h := Hint{Rel: RelPreload, URL: "https://a.example/f.woff2", As: "font", Type: "font/woff2"}
	l := h.Link()
	want := linkheader.Link{URI: h.URL, Rel: []string{"preload"}, Params: []linkheader.Param{{Key: "as", Value: "font"}, {Key: "type", Value: "font/woff2"}, {Key: "crossorigin"}}}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("Link() = %#v\nwant %#v", l, want)
	}
	l.Params[0].Value, l.Rel[0] = "x", "y"
	if again := h.Link(); !reflect.DeepEqual(again, want) {
		t.Fatal("Link() shares storage between calls")
	}
}

func TestHint_InjectionNeverReachesTheHeader(t *testing.T) {
	page := mustURL(t, "https://a.example/")
	for _, f := range []string{"\r\nSet-Cookie: x=1", "a\"b", "x\x00y", "<>", `\`, "\"", "a,b;c=d"} {
		hints := []Hint{
			{Rel: RelPreload, URL: "https://a.example/a.css", As: "style", Type: f, Media: f, ImageSrcset: f, ImageSizes: f, Integrity: f, CrossOrigin: f, FetchPriority: f},
			{Rel: RelPreload, URL: "https://a.example/a.css" + f, As: f},
			{Rel: Rel("preload" + f), URL: "https://a.example/" + f},
			{Rel: RelPreconnect, URL: "https://" + f, CrossOrigin: f},
		}
		for _, h := range hints {
			for _, out := range []string{h.String(), h.Format(page), h.Link().String()} {
				if strings.ContainsAny(out, "\r\n\x00") {
					t.Fatalf("header injection through a field: %q", out)
				}
				if links, errs := linkheader.Parse(out); len(errs) != 0 || len(links) != 1 {
					t.Fatalf("%q does not parse back as one link: %v", out, errs)
				}
			}
		}
	}
}

func TestParseHints(t *testing.T) {
	page := mustURL(t, "https://a.example/")
	hints, errs := ParseHints([]string{
		`</a.css>; rel=preload; as=style, broken; rel=preload, <https://A.EXAMPLE:443/a.css#x>; rel=preload; as=style`,
		`</b.js>; rel=preload`,
		`</c.js>; rel=modulepreload, <https://cdn.example>; rel=preconnect, <https://cdn.example/x>; rel=dns-prefetch`,
	}, page, false)
	want := []string{"preload https://a.example/a.css", "modulepreload https://a.example/c.js", "preconnect https://cdn.example"}
	var got []string
	for _, h := range hints {
		got = append(got, string(h.Rel)+" "+h.URL)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("hints = %q\nwant %q", got, want)
	}
	if len(errs) != 2 || !errors.Is(errs[0], linkheader.ErrMalformed) || !errors.Is(errs[1], ErrMissingAs) {
		t.Fatalf("errs = %v, want the broken link and the preload without as", errs)
	}

	// Long lists are deduplicated too.
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("</%d.js>; rel=preload; as=script", i%20))
	}
	hints, errs = ParseHints(many, page, false)
	if len(hints) != 20 || len(errs) != 0 {
		t.Fatalf("got %d hints, %v; want 20 distinct", len(hints), errs)
	}
	if hints, errs := ParseHints(nil, page, false); hints != nil || errs != nil {
		t.Fatalf("no values: %v, %v", hints, errs)
	}
}

func FuzzHintFromLink(f *testing.F) {
	f.Add(`</a.css>; rel=preload; as=style`, "https://a.example/x/y")
	f.Add(`<//evil.example/a.js>; rel=preload; as=script`, "https://a.example/")
	f.Add(`<https://c.example/x>; rel=preconnect`, "http://127.0.0.1:8080/")
	f.Add(`<\\evil.example\a.js>; rel=preload; as=script`, "https://www.a.example/p?q")
	f.Add(`<../%2e%2E/./a b|c/é?x='y'>; rel=modulepreload; crossorigin`, "https://a.example/d/e/")
	f.Add(`<https://A.EXAMPLE:0443//x>; rel=preload; as=font; type=font/woff2; media=all`, "https://a.example:443")
	f.Add(`<https:x.js>; rel=preload; as=script, <HTTP://[::1]:80/>; rel=preconnect`, "http://[::1]/")
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
			u, err := url.Parse(h.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
				t.Fatalf("hint URL %q is not a plain absolute http(s) URL: %v", h.URL, err)
			}
			base, _ := baseOf(page)
			t2, _ := weburl.Resolve(h.URL, nil)
			if h.Rel != RelPreconnect && !weburl.SameSite(t2.Host, base.Host) {
				t.Fatalf("cross-site preload %s for %s", h.URL, page)
			}
			for _, out := range []string{h.String(), h.Format(page)} {
				if strings.ContainsAny(out, "\r\n\x00") {
					t.Fatalf("unsafe output %q", out)
				}
				// What was written reads back as the same hint.
				links, errs := linkheader.Parse(out)
				if len(errs) != 0 || len(links) != 1 {
					t.Fatalf("%q does not parse back as one link: %v", out, errs)
				}
				again, err := HintFromLink(links[0], page, false)
				if err != nil || again != h {
					t.Fatalf("%q reads back as %+v, %v; want %+v", out, again, err, h)
				}
			}
		}
	})
}

func BenchmarkHintFromLink(b *testing.B) {
	page := mustURL(b, "https://www.shop.example/products/42")
	links, _ := linkheader.Parse(`</static/app.css>; rel=preload; as=style`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HintFromLink(links[0], page, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHints(b *testing.B) {
	page := mustURL(b, "https://www.shop.example/products/42")
	values := []string{
		`</static/site.css>; rel=preload; as=style, </static/app.js>; rel=preload; as=script`,
		`</f.woff2>; rel=preload; as=font; crossorigin, <https://cdn.example.com>; rel=preconnect`,
		`<https://static.shop.example/hero.jpg>; rel=preload; as=image; fetchpriority=high`,
	}
	b.ReportAllocs()
	for b.Loop() {
		if hints, _ := ParseHints(values, page, false); len(hints) != 5 {
			b.Fatal(hints)
		}
	}
}

func BenchmarkHint_Format(b *testing.B) {
	page := mustURL(b, "https://www.shop.example/products/42")
	h := Hint{Rel: RelPreload, URL: "https://www.shop.example/static/f.woff2", As: "font", Type: "font/woff2", CrossOrigin: "anonymous"}
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Format(page)
	}
}

func TestDroppedAttributes(t *testing.T) {
	tests := []struct {
		value string
		want  []string
	}{
		{`</a.css>; rel=preload; as=style; crossorigin; type="text/css"; fetchpriority=high`, nil},
		{`</a.css>; rel=preload; as=style; media="(min-width: 600px)"`, []string{"media"}},
		{`</i.jpg>; rel=preload; as=image; imagesrcset="i.jpg 1x"; imagesizes=100vw`, []string{"imagesrcset", "imagesizes"}},
		{`</a.js>; rel=preload; as=script; integrity="sha384-x"; nopush`, []string{"integrity", "nopush"}},
	}
	for _, tt := range tests {
		links, errs := linkheader.Parse(tt.value)
		if len(errs) > 0 || len(links) != 1 {
			t.Fatalf("Parse(%q): %v", tt.value, errs)
		}
		if got := DroppedAttributes(links[0]); !slices.Equal(got, tt.want) {
			t.Errorf("DroppedAttributes(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
	for as, want := range map[string]bool{"style": true, "Font": true, "fetch": true, "track": false, "": false, "document": false} {
		if got := AcceptedDestination(as); got != want {
			t.Errorf("AcceptedDestination(%q) = %v", as, got)
		}
	}
}
