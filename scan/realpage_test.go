package scan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Rules learned from real news, blog and shop heads.

func TestScan_MediaStylesheets(t *testing.T) {
	runRules(t, []ruleCase{
		{"screen and projection", `<link rel=stylesheet href=/css/main.css type=text/css media="screen, projection">`, []string{`<https://www.example.com/css/main.css>; rel=preload; as="style"`}},
		{"handheld and screen", `<link rel=stylesheet href=/m.css media="handheld, screen">`, []string{`<https://www.example.com/m.css>; rel=preload; as="style"`}},
		{"only screen", `<link rel=stylesheet href=/s.css media="only screen">`, []string{`<https://www.example.com/s.css>; rel=preload; as="style"`}},
		{"not print", `<link rel=stylesheet href=/s.css media="not print">`, []string{`<https://www.example.com/s.css>; rel=preload; as="style"`}},
		{"screen from zero", `<link rel=stylesheet href=/s.css media="screen and (min-width: 0)">`, []string{`<https://www.example.com/s.css>; rel=preload; as="style"`}},
		{"speech", `<link rel=stylesheet href=/s.css media=speech>`, nil},
		{"breakpoint left out", `<link rel=stylesheet href=/wide.css media="(min-width: 768px)"><link rel=stylesheet href=/all.css>`, []string{`<https://www.example.com/all.css>; rel=preload; as="style"`}},
		{"preload with media left out", `<link rel=preload as=image href=/m.jpg media="(max-width: 600px)"><link rel=preload as=image href=/any.jpg media=screen>`, []string{`<https://www.example.com/any.jpg>; rel=preload; as="image"`}},
		{"style element media", `<style media=print>@import "/print.css";</style><style media=screen>@import url(/screen.css);</style>`, []string{`<https://www.example.com/screen.css>; rel=preload; as="style"`}},
	})
	t.Run("known viewport", func(t *testing.T) {
		got := scanLines(t, `<link rel=stylesheet href=/wide.css media="(min-width: 768px)"><link rel=stylesheet href=/narrow.css media="(max-width: 767px)">`, Options{Viewport: Viewport{Width: 1280, Height: 800}})
		want := []string{`<https://www.example.com/wide.css>; rel=preload; as="style"`}
		if !slices.Equal(got, want) {
			t.Errorf("links:\n got %q\nwant %q", got, want)
		}
	})
}

func TestScan_AsyncStylesheets(t *testing.T) {
	runRules(t, []ruleCase{
		{"preload onload ranks after blocking and image", `<link rel=preload as=style href=/async.css onload="this.onload=null;this.rel='stylesheet'">` +
			`<link rel=stylesheet href=/critical.css><script src=/app.js></script><link rel=preload as=font href=/f.woff2><body><img src=/hero.jpg>`, []string{
			`<https://www.example.com/critical.css>; rel=preload; as="style"`,
			`<https://www.example.com/app.js>; rel=preload; as="script"`,
			`<https://www.example.com/f.woff2>; rel=preload; as="font"; crossorigin`,
			`<https://www.example.com/hero.jpg>; rel=preload; as="image"`,
			`<https://www.example.com/async.css>; rel=preload; as="style"`,
		}},
		{"media print onload is deferred", `<link rel=stylesheet href=/fonts.css media=print onload="this.media='all'"><link rel=stylesheet href=/main.css>`, []string{
			`<https://www.example.com/main.css>; rel=preload; as="style"`,
			`<https://www.example.com/fonts.css>; rel=preload; as="style"`,
		}},
		{"plain print still left out", `<link rel=stylesheet href=/print.css media=print>`, nil},
		{"async wins no place under the cap", strings.Repeat(`<link rel=preload as=style href=/a.css onload="this.rel='stylesheet'">`, 1) + `<link rel=stylesheet href=/b.css>`, []string{
			`<https://www.example.com/b.css>; rel=preload; as="style"`,
			`<https://www.example.com/a.css>; rel=preload; as="style"`,
		}},
	})
	// Under a cap of one preload, the render-blocking file is the one kept.
	got := scanLines(t, `<link rel=preload as=style href=/a.css onload="this.rel='stylesheet'"><link rel=stylesheet href=/b.css>`, Options{MaxLinks: 1})
	if want := []string{`<https://www.example.com/b.css>; rel=preload; as="style"`}; !slices.Equal(got, want) {
		t.Errorf("links:\n got %q\nwant %q", got, want)
	}
}

func TestScan_MixedContent(t *testing.T) {
	runRules(t, []ruleCase{
		{"image upgraded", `<body><img src=http://img.example/hero.jpg>`, []string{
			`<https://img.example/hero.jpg>; rel=preload; as="image"`,
			`<https://img.example>; rel=preconnect`,
		}},
		{"image port 80 and srcset upgraded", `<body><img src=http://img.example:80/a.jpg srcset="http://img.example/a.jpg 1x, http://img.example:8080/b.jpg 2x">`, []string{
			`<https://img.example/a.jpg>; rel=preload; as="image"; imagesrcset="https://img.example/a.jpg 1x, https://img.example:8080/b.jpg 2x"`,
			`<https://img.example>; rel=preconnect`,
		}},
		{"same-site image upgraded", `<link rel=preload as=image href=http://www.example.com/lcp.webp>`, []string{`<https://www.example.com/lcp.webp>; rel=preload; as="image"`}},
		{"script, stylesheet, font and module blocked", `<script src=http://cdn.example/a.js></script><link rel=stylesheet href=http://cdn.example/a.css>` +
			`<link rel=preload as=font href=http://cdn.example/f.woff2><script type=module src=http://cdn.example/m.js></script><link rel=preconnect href=http://cdn.example>`, nil},
	})
	t.Run("http page keeps http", func(t *testing.T) {
		got := scanLines(t, `<script src=http://cdn.example/a.js></script>`, Options{Base: mustURL(t, "http://www.example.com/")})
		want := []string{`<http://cdn.example/a.js>; rel=preload; as="script"`, `<http://cdn.example>; rel=preconnect`}
		if !slices.Equal(got, want) {
			t.Errorf("links:\n got %q\nwant %q", got, want)
		}
	})
}

func TestScan_InlineFonts(t *testing.T) {
	const faces = `@font-face{font-family:"Source Serif";src:url(/fonts/serif.eot);src:url(/fonts/serif.eot?#iefix) format("embedded-opentype"),url(/fonts/serif.woff2) format("woff2"),url(/fonts/serif.woff) format("woff");font-weight:400;font-style:normal;font-display:swap}
@font-face{font-family:"Source Serif";src:url(/fonts/serif-bold.woff2) format("woff2");font-weight:700}
@font-face{font-family:"Source Serif";src:url(/fonts/serif-italic.woff2) format("woff2");font-style:italic}
@font-face{font-family:Unused;src:url(/fonts/unused.woff2) format("woff2")}`
	runRules(t, []ruleCase{
		{"face used by a rule", `<style>` + faces + `body{font-family:"Source Serif",Georgia,serif}</style>`, []string{
			`<https://www.example.com/fonts/serif.woff2>; rel=preload; as="font"; crossorigin`,
		}},
		{"weight and style of the rules", `<style>` + faces + `body{font:16px/1.5 "Source Serif",serif}h1,h2{font-family:'source serif';font-weight:bold}em{font-family:"Source Serif";font-style:italic}</style>`, []string{
			`<https://www.example.com/fonts/serif.woff2>; rel=preload; as="font"; crossorigin`,
			`<https://www.example.com/fonts/serif-bold.woff2>; rel=preload; as="font"; crossorigin`,
			`<https://www.example.com/fonts/serif-italic.woff2>; rel=preload; as="font"; crossorigin`,
		}},
		{"declared but not used", `<style>` + faces + `</style>`, nil},
		{"through a custom property", `<style>` + faces + `:root{--font-body: "Source Serif", serif}body{font-family:var(--font-body)}</style>`, []string{
			`<https://www.example.com/fonts/serif.woff2>; rel=preload; as="font"; crossorigin`,
		}},
		{"nearest weight", `<style>@font-face{font-family:Inter;src:url(/i-300.woff2) format("woff2");font-weight:300}@font-face{font-family:Inter;src:url(/i-600.woff2) format("woff2");font-weight:600}p{font-family:Inter}</style>`, []string{
			`<https://www.example.com/i-300.woff2>; rel=preload; as="font"; crossorigin`,
		}},
		{"variable weight range", `<style>@font-face{font-family:Inter;src:url(/inter-var.woff2) format("woff2-variations");font-weight:100 900}body{font-family:Inter;font-weight:450}</style>`, []string{
			`<https://www.example.com/inter-var.woff2>; rel=preload; as="font"; crossorigin`,
		}},
		{"unicode-range subsets", `<style>
/* cyrillic */
@font-face{font-family:'Roboto';font-style:normal;font-weight:400;src:url(https://fonts.gstatic.example/s/roboto/v30/cyr.woff2) format('woff2');unicode-range:U+0301,U+0400-045F,U+0490-0491}
/* latin-ext */
@font-face{font-family:'Roboto';font-style:normal;font-weight:400;src:url(https://fonts.gstatic.example/s/roboto/v30/latin-ext.woff2) format('woff2');unicode-range:U+0100-02AF,U+1E00-1EFF}
/* latin */
@font-face{font-family:'Roboto';font-style:normal;font-weight:400;src:url(https://fonts.gstatic.example/s/roboto/v30/latin.woff2) format('woff2');unicode-range:U+0000-00FF,U+0131,U+2000-206F}
body{font-family:Roboto,sans-serif}</style>`, []string{
			`<https://fonts.gstatic.example/s/roboto/v30/latin.woff2>; rel=preload; as="font"; crossorigin`,
			`<https://fonts.gstatic.example>; rel=preconnect; crossorigin`,
		}},
		{"local and data sources skipped", `<style>@font-face{font-family:Brand;src:local("Brand Regular"),url(data:font/woff2;base64,AAAA) format("woff2"),url("/brand.woff") format("woff")}.logo{font-family:Brand}</style>`, []string{
			`<https://www.example.com/brand.woff>; rel=preload; as="font"; crossorigin`,
		}},
		{"inside @media and with comments", `<style>@media screen{/* icons */@font-face{font-family:icons;src:url(/icons.woff2?v=3#iefix) format("woff2")}}.icon:before{font-family:icons!important}</style>`, []string{
			`<https://www.example.com/icons.woff2?v=3>; rel=preload; as="font"; crossorigin`,
		}},
		{"used only in print or on hover", `<style>@font-face{font-family:P;src:url(/p.woff2)}@font-face{font-family:H;src:url(/h.woff2)}@media print{body{font-family:P}}a:hover,button:focus{font-family:H}</style>`, nil},
		{"used in a screen media block", `<style>@font-face{font-family:S;src:url(/s.woff2)}@media screen{h1{font-family:S}}</style>`, []string{
			`<https://www.example.com/s.woff2>; rel=preload; as="font"; crossorigin`,
		}},
		{"only svg and eot", `<style>@font-face{font-family:Old;src:url(/old.eot?#iefix) format("embedded-opentype"),url(/old.svg#Old) format("svg")}p{font-family:Old}</style>`, nil},
		{"after explicit preload fonts", `<link rel=preload as=font href=/a.woff2 crossorigin><style>@font-face{font-family:B;src:url(/b.woff2)}p{font-family:B}</style><link rel=stylesheet href=/s.css>`, []string{
			`<https://www.example.com/s.css>; rel=preload; as="style"`,
			`<https://www.example.com/a.woff2>; rel=preload; as="font"; crossorigin`,
			`<https://www.example.com/b.woff2>; rel=preload; as="font"; crossorigin`,
		}},
		{"inline @import is render-blocking", `<style>@charset "utf-8";@import url("/base.css");@import "print.css" print;.a{color:red}@import "/late.css";</style>`, []string{
			`<https://www.example.com/base.css>; rel=preload; as="style"`,
		}},
		{"style in svg is not css of the page", `<body><svg><style>@font-face{font-family:S;src:url(/s.woff2)}text{font-family:S}</style></svg>`, nil},
	})
}

func TestScan_LongHead(t *testing.T) {
	// A head made long by inlined CSS, JSON-LD and an SVG sprite before
	// its stylesheet and script, as on real news pages. The sprite implies
	// a body to the HTML parser, but Chromium's preload scanner still
	// counts what follows as render-blocking until <body> or an <img>.
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset=utf-8><title>News</title><style>`)
	for i := 0; b.Len() < 90<<10; i++ {
		fmt.Fprintf(&b, ".c-%d{margin:0 auto;padding:%dpx}\n", i, i%40)
	}
	b.WriteString(`</style><script type="application/ld+json">{"@context":"https://schema.org","itemListElement":[`)
	for i := 0; b.Len() < 130<<10; i++ {
		fmt.Fprintf(&b, `{"@type":"ListItem","position":%d,"url":"https://www.example.com/a/%d"},`, i, i)
	}
	b.WriteString(`{}]}</script><svg style="display:none"><defs>`)
	for i := 0; b.Len() < 200<<10; i++ {
		fmt.Fprintf(&b, `<symbol id="i%d" viewBox="0 0 24 24"><path d="M12 2L2 7l10 5 10-5-10-5z"/></symbol>`, i)
	}
	b.WriteString(`</defs></svg><link rel=stylesheet href=/site.css><script src=/app.js></script></head><body>`)
	b.WriteString(`<!-- ` + strings.Repeat("x", 8<<10) + ` --><link rel=stylesheet href=/in-body.css><img src=/hero.jpg><script src=/late.js></script>`)
	got := scanLines(t, b.String(), Options{})
	want := []string{
		`<https://www.example.com/site.css>; rel=preload; as="style"`,
		`<https://www.example.com/app.js>; rel=preload; as="script"`,
		`<https://www.example.com/hero.jpg>; rel=preload; as="image"`,
		`<https://www.example.com/in-body.css>; rel=preload; as="style"`,
		`<https://www.example.com/late.js>; rel=preload; as="script"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("links:\n got %q\nwant %q", got, want)
	}
}

func TestScan_EarlyHintDestinations(t *testing.T) {
	// Chromium acts on preloads as style, script, font, image and fetch in
	// a 103; json, track and the rest would be sent for nothing.
	runRules(t, []ruleCase{
		{"json, track, audio and document left out", `<link rel=preload as=json href=/d.json><link rel=preload as=track href=/c.vtt><link rel=preload as=audio href=/a.mp3><link rel=preload as=document href=/next.html>`, nil},
		{"the five kept", `<link rel=preload as=style href=/s.css><link rel=preload as=script href=/s.js><link rel=preload as=font href=/f.woff2><link rel=preload as=image href=/i.webp><link rel=preload as=fetch href=/api>`, []string{
			`<https://www.example.com/s.css>; rel=preload; as="style"`,
			`<https://www.example.com/s.js>; rel=preload; as="script"`,
			`<https://www.example.com/f.woff2>; rel=preload; as="font"; crossorigin`,
			`<https://www.example.com/i.webp>; rel=preload; as="image"`,
			`<https://www.example.com/api>; rel=preload; as="fetch"`,
		}},
	})
}

func TestScan_Kinds(t *testing.T) {
	html := `<link rel=preconnect href=https://cdn.example><link rel=stylesheet href=/a.css><script src=https://js.example/s.js></script>` +
		`<link rel=preload as=font href=/f.woff2><script type=module src=/m.js></script><script async src=/x.js></script>` +
		`<link rel=dns-prefetch href=//ads.example></head><body><img src=/hero.jpg>`
	res, err := Scan(strings.NewReader(html), Options{Base: mustURL(t, page)})
	if err != nil {
		t.Fatal(err)
	}
	want := []Kind{KindRenderBlocking, KindRenderBlocking, KindFont, KindImage, KindModule, KindDeferred, KindPreconnect, KindPreconnect, KindDNSPrefetch}
	if !slices.Equal(res.Kinds, want) {
		t.Errorf("Kinds = %v, want %v (links %q)", res.Kinds, want, formatLinks(res.Links))
	}
	if res.Blocking != 3 {
		t.Errorf("Blocking = %d, want 3", res.Blocking)
	}
	// The derived preconnect of the render-blocking script comes before
	// the page's own.
	if res.Links[6].URI != "https://js.example" || res.Links[7].URI != "https://cdn.example" {
		t.Errorf("preconnects = %q, %q", res.Links[6].URI, res.Links[7].URI)
	}
}

func TestScan_PreconnectSlots(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<link rel=preconnect href=https://fonts.googleapis.example><link rel=stylesheet href=https://cdnjs.example/lib.css>`)
	for i := range 80 {
		fmt.Fprintf(&b, `<link rel=stylesheet href=/css/part-%d.css>`, i)
	}
	res, err := Scan(strings.NewReader(b.String()), Options{Base: mustURL(t, page)})
	if err != nil {
		t.Fatal(err)
	}
	var connects []string
	preloads := 0
	for i, l := range res.Links {
		if res.Kinds[i] == KindPreconnect {
			connects = append(connects, l.URI)
		} else {
			preloads++
		}
	}
	if preloads != DefaultMaxLinks || !slices.Equal(connects, []string{"https://cdnjs.example", "https://fonts.googleapis.example"}) {
		t.Errorf("%d preloads and preconnects %q; want %d and both origins", preloads, connects, DefaultMaxLinks)
	}
	res, _ = Scan(strings.NewReader(b.String()), Options{Base: mustURL(t, page), MaxConnects: 1})
	if n := len(res.Links); n != DefaultMaxLinks+1 {
		t.Errorf("%d links with MaxConnects 1; want %d", n, DefaultMaxLinks+1)
	}
}

func TestScan_Skipped(t *testing.T) {
	html := `<link rel=stylesheet href=/wide.css media="(min-width: 1024px)"><script src=http://old.example/a.js></script>` +
		`<link rel=preload as=json href=/data.json><link rel=stylesheet href=/a.css><link rel=stylesheet href=/b.css>` +
		`<style>@font-face{font-family:X;src:url(/x.woff2)}</style>`
	res, err := Scan(strings.NewReader(html), Options{Base: mustURL(t, page), ReportSkipped: true, MaxLinks: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range res.Skipped {
		got = append(got, s.Reason.String()+" "+s.Link.URI)
	}
	want := []string{
		"media https://www.example.com/wide.css",
		"mixed-content http://old.example/a.js",
		"not-hintable https://www.example.com/data.json",
		"not-hintable https://www.example.com/x.woff2",
		"over-bound https://www.example.com/b.css",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Skipped:\n got %q\nwant %q", got, want)
	}
	if res, _ := Scan(strings.NewReader(html), Options{Base: mustURL(t, page)}); res.Skipped != nil {
		t.Errorf("Skipped = %v without ReportSkipped", res.Skipped)
	}
}
