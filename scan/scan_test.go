package scan

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"

	"github.com/earlyhints/earlyhints/linkheader"
)

const page = "https://www.example.com/shop/item.html"

// scanLines scans html as served from page and formats the links.
func scanLines(t *testing.T, html string, opts Options) []string {
	t.Helper()
	if opts.Base == nil {
		opts.Base = mustURL(t, page)
	}
	res, err := Scan(strings.NewReader(html), opts)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	lines := make([]string, 0, len(res.Links))
	for _, l := range res.Links {
		lines = append(lines, formatLink(l))
	}
	return lines
}

type ruleCase struct {
	name string
	html string
	want []string
}

func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := scanLines(t, tc.html, Options{})
			if !slices.Equal(got, tc.want) {
				t.Errorf("links:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestScan_Stylesheets(t *testing.T) {
	runRules(t, []ruleCase{
		{"plain", `<link rel=stylesheet href=/a.css>`, []string{`<https://www.example.com/a.css>; rel=preload; as="style"`}},
		{"rel case and extra tokens", `<link REL="Stylesheet preload-ignored" href=a.css>`, []string{`<https://www.example.com/shop/a.css>; rel=preload; as="style"`}},
		{"media all dropped", `<link rel=stylesheet href=/a.css media=ALL>`, []string{`<https://www.example.com/a.css>; rel=preload; as="style"`}},
		{"width media left out", `<link rel=stylesheet href=/a.css media="(min-width: 40em)">`, nil},
		{"print skipped", `<link rel=stylesheet href=/p.css media=print>`, nil},
		{"only print skipped", `<link rel=stylesheet href=/p.css media="only print, print and (color)">`, nil},
		{"print or screen matches every window", `<link rel=stylesheet href=/p.css media="print, screen">`, []string{`<https://www.example.com/p.css>; rel=preload; as="style"`}},
		{"alternate skipped", `<link rel="alternate stylesheet" href=/alt.css title=alt>`, nil},
		{"disabled skipped", `<link rel=stylesheet href=/d.css disabled>`, nil},
		{"non-css type skipped", `<link rel=stylesheet href=/x.less type=text/less>`, nil},
		{"css type with params kept", `<link rel=stylesheet href=/c.css type="text/css; charset=utf-8">`, []string{`<https://www.example.com/c.css>; rel=preload; as="style"`}},
		{"crossorigin and integrity carried", `<link rel=stylesheet href=https://cdn.example.net/b.css crossorigin integrity="sha384-abc">`, []string{
			`<https://cdn.example.net/b.css>; rel=preload; as="style"; crossorigin; integrity="sha384-abc"`,
			`<https://cdn.example.net>; rel=preconnect; crossorigin`,
		}},
		{"no href", `<link rel=stylesheet>`, nil},
		{"body stylesheet within budget", `<body><p>hi</p><link rel=stylesheet href=/late.css>`, []string{`<https://www.example.com/late.css>; rel=preload; as="style"`}},
	})
}

func TestScan_Scripts(t *testing.T) {
	runRules(t, []ruleCase{
		{"sync head script", `<script src=/app.js></script>`, []string{`<https://www.example.com/app.js>; rel=preload; as="script"`}},
		{"javascript type", `<script type="text/javascript" src=/app.js></script>`, []string{`<https://www.example.com/app.js>; rel=preload; as="script"`}},
		{"inline script ignored", `<script>var s="<script src=/no.js></scr"+"ipt>"</script>`, nil},
		{"data block ignored", `<script type=application/ld+json src=/data.json></script>`, nil},
		{"nomodule ignored", `<script nomodule src=/legacy.js></script>`, nil},
		{"module becomes modulepreload", `<script type=module src=/m.js></script>`, []string{`<https://www.example.com/m.js>; rel=modulepreload`}},
		{"module keeps crossorigin use-credentials", `<script type=MODULE crossorigin=use-credentials src=/m.js></script>`, []string{`<https://www.example.com/m.js>; rel=modulepreload; crossorigin="use-credentials"`}},
		{"async after fonts and images", `<script async src=/a.js></script><link rel=preload as=font href=/f.woff2><script src=/s.js></script><body><img src=/i.png>`, []string{
			`<https://www.example.com/s.js>; rel=preload; as="script"`,
			`<https://www.example.com/f.woff2>; rel=preload; as="font"; crossorigin`,
			`<https://www.example.com/i.png>; rel=preload; as="image"`,
			`<https://www.example.com/a.js>; rel=preload; as="script"`,
		}},
		{"defer is low too", `<script defer src=/d.js></script><script src=/s.js></script>`, []string{
			`<https://www.example.com/s.js>; rel=preload; as="script"`,
			`<https://www.example.com/d.js>; rel=preload; as="script"`,
		}},
		{"body sync script kept, after the head's critical path", `<body><script src=/late.js></script>`, []string{`<https://www.example.com/late.js>; rel=preload; as="script"`}},
		{"script after </head> before <body> is still head", `</head><script src=/h.js></script><body>`, []string{`<https://www.example.com/h.js>; rel=preload; as="script"`}},
		{"body module kept", `<body><script type=module src=/m.js></script>`, []string{`<https://www.example.com/m.js>; rel=modulepreload`}},
		{"third-party sync script preconnect", `<script src=https://js.pay.example/v3.js></script>`, []string{
			`<https://js.pay.example/v3.js>; rel=preload; as="script"`,
			`<https://js.pay.example>; rel=preconnect`,
		}},
		{"third-party async script gets no preconnect", `<script async src=https://analytics.example/a.js></script>`, []string{
			`<https://analytics.example/a.js>; rel=preload; as="script"`,
		}},
	})
}

func TestScan_LinkRelations(t *testing.T) {
	runRules(t, []ruleCase{
		{"preload font gets crossorigin", `<link rel=preload as=font href=/f.woff2 type=font/woff2>`, []string{`<https://www.example.com/f.woff2>; rel=preload; as="font"; type="font/woff2"; crossorigin`}},
		{"preload without as ignored", `<link rel=preload href=/x>`, nil},
		{"preload with unknown as ignored", `<link rel=preload as=document href=/x>`, nil},
		{"preload image with imagesrcset", `<link rel=preload as=image href=/h.jpg imagesrcset="/h-1.jpg 1x, /h-2.jpg 2x" imagesizes=100vw fetchpriority=high>`, []string{
			`<https://www.example.com/h.jpg>; rel=preload; as="image"; fetchpriority="high"; imagesrcset="https://www.example.com/h-1.jpg 1x, https://www.example.com/h-2.jpg 2x"; imagesizes="100vw"`,
		}},
		{"preload fetch is cors", `<link rel=preload as=fetch href=https://api.example/d.json>`, []string{
			`<https://api.example/d.json>; rel=preload; as="fetch"`,
			`<https://api.example>; rel=preconnect; crossorigin`,
		}},
		{"fetchpriority low preload demoted", `<link rel=preload as=style href=/low.css fetchpriority=low><link rel=preload as=image href=/i.png>`, []string{
			`<https://www.example.com/i.png>; rel=preload; as="image"`,
			`<https://www.example.com/low.css>; rel=preload; as="style"; fetchpriority="low"`,
		}},
		{"modulepreload", `<link rel=modulepreload href=/chunk.js>`, []string{`<https://www.example.com/chunk.js>; rel=modulepreload`}},
		{"preconnect reduced to origin", `<link rel=preconnect href="https://Fonts.Example:443/css?x#y" crossorigin>`, []string{`<https://fonts.example>; rel=preconnect; crossorigin`}},
		{"dns-prefetch scheme-relative", `<link rel=dns-prefetch href=//stats.example>`, []string{`<https://stats.example>; rel=dns-prefetch`}},
		{"dns-prefetch dropped under preconnect", `<link rel=dns-prefetch href=//cdn.example><link rel="preconnect dns-prefetch" href=https://cdn.example>`, []string{`<https://cdn.example>; rel=preconnect`}},
		{"icon and prefetch ignored", `<link rel=icon href=/f.ico><link rel=prefetch href=/next.html><link rel=canonical href=/>`, nil},
	})
}

func TestScan_Images(t *testing.T) {
	runRules(t, []ruleCase{
		{"first body image", `<body><img src=/logo.png><img src=/second.png>`, []string{`<https://www.example.com/logo.png>; rel=preload; as="image"`}},
		{"fetchpriority high wins over first", `<body><img src=/logo.png><img fetchpriority=high src=/hero.jpg>`, []string{`<https://www.example.com/hero.jpg>; rel=preload; as="image"; fetchpriority="high"`}},
		{"at most two high images", `<body><img fetchpriority=high src=/1.jpg><img fetchpriority=high src=/2.jpg><img fetchpriority=high src=/3.jpg>`, []string{
			`<https://www.example.com/1.jpg>; rel=preload; as="image"; fetchpriority="high"`,
			`<https://www.example.com/2.jpg>; rel=preload; as="image"; fetchpriority="high"`,
		}},
		{"lazy skipped", `<body><img loading=lazy src=/lazy.png><img src=/eager.png>`, []string{`<https://www.example.com/eager.png>; rel=preload; as="image"`}},
		{"data url skipped", `<body><img src="data:image/gif;base64,R0lGOD"><img src=/real.png>`, []string{`<https://www.example.com/real.png>; rel=preload; as="image"`}},
		{"logo with small dimensions skipped", `<body><header><img src=/logo.svg width=180 height=32 alt=Shop></header><img src=/hero.jpg width=1200 height=600>`, []string{`<https://www.example.com/hero.jpg>; rel=preload; as="image"`}},
		{"avatar with small dimensions skipped", `<body><img src=/me.jpg width="64" height="64px"><img src=/cover.jpg>`, []string{`<https://www.example.com/cover.jpg>; rel=preload; as="image"`}},
		{"one dimension is not enough to tell", `<body><img src=/banner.jpg height=40><img src=/second.jpg>`, []string{`<https://www.example.com/banner.jpg>; rel=preload; as="image"`}},
		{"tracking pixel skipped", `<body><img src=/px.gif width=1 height=1><img src=/real.png>`, []string{`<https://www.example.com/real.png>; rel=preload; as="image"`}},
		{"low priority skipped", `<body><img fetchpriority=low src=/low.png><img src=/real.png>`, []string{`<https://www.example.com/real.png>; rel=preload; as="image"`}},
		{"picture skipped", `<body><picture><source srcset=/a.avif type=image/avif><img src=/a.jpg></picture><img src=/b.png>`, []string{`<https://www.example.com/b.png>; rel=preload; as="image"`}},
		{"srcset without src", `<body><img srcset="/s.jpg 480w, /l.jpg 1080w" sizes="50vw">`, []string{
			`<https://www.example.com/s.jpg>; rel=preload; as="image"; imagesrcset="https://www.example.com/s.jpg 480w, https://www.example.com/l.jpg 1080w"; imagesizes="50vw"`,
		}},
		{"srcset with commas in urls", `<body><img src=/a.jpg srcset="/img,1.jpg 1x,/img,2.jpg 2x">`, []string{
			`<https://www.example.com/a.jpg>; rel=preload; as="image"; imagesrcset="https://www.example.com/img,1.jpg 1x, https://www.example.com/img,2.jpg 2x"`,
		}},
		{"image beyond budget", `<body>` + strings.Repeat("<p>filler text</p>", 2000) + `<img fetchpriority=high src=/late.jpg>`, nil},
		{"third-party image preconnect", `<body><img src=https://img.cdn.example/hero.jpg>`, []string{
			`<https://img.cdn.example/hero.jpg>; rel=preload; as="image"`,
			`<https://img.cdn.example>; rel=preconnect`,
		}},
	})
}

func TestScan_Ignored(t *testing.T) {
	runRules(t, []ruleCase{
		{"comment", `<!-- <link rel=stylesheet href=/c.css> -->`, nil},
		{"style text", `<style>/* <link rel=stylesheet href=/s.css> */</style>`, nil},
		{"script text", `<script>document.write('<link rel=stylesheet href=/w.css>')</script>`, nil},
		{"noscript", `<noscript><link rel=stylesheet href=/n.css><img src=/n.png></noscript>`, nil},
		{"template", `<template><link rel=stylesheet href=/t.css><template><img src=/t.png></template></template><link rel=stylesheet href=/after.css>`, []string{`<https://www.example.com/after.css>; rel=preload; as="style"`}},
		{"svg content", `<body><svg><image href=/i.png /><script href=/s.js></script><style>.a{fill:red}</style><link rel=stylesheet href=/svg.css></svg><img src=/real.png>`, []string{`<https://www.example.com/real.png>; rel=preload; as="image"`}},
		{"img breaks out of svg style", `<body><svg><style><img src=/x.png></style></svg>`, []string{`<https://www.example.com/x.png>; rel=preload; as="image"`}},
		{"self-closing svg", `<body><svg/><img src=/real.png>`, []string{`<https://www.example.com/real.png>; rel=preload; as="image"`}},
		{"unclosed svg broken out", `<body><svg><div>x</div><img src=/real.png>`, []string{`<https://www.example.com/real.png>; rel=preload; as="image"`}},
		{"math", `<body><math><mi><img-not src=/m.png></mi></math><img src=/real.png>`, []string{`<https://www.example.com/real.png>; rel=preload; as="image"`}},
		{"textarea and title", `<title><link rel=stylesheet href=/t.css></title><body><textarea><img src=/ta.png></textarea>`, nil},
		{"unclosed title swallows the rest", `<title>x<link rel=stylesheet href=/t.css>`, nil},
		{"javascript and blob urls", `<link rel=stylesheet href="javascript:alert(1)"><script src="blob:https://x/1"></script>`, nil},
	})
}

func TestScan_Base(t *testing.T) {
	runRules(t, []ruleCase{
		{"base applies after", `<link rel=stylesheet href=a.css><base href=https://cdn.example.org/v1/><link rel=stylesheet href=b.css>`, []string{
			`<https://www.example.com/shop/a.css>; rel=preload; as="style"`,
			`<https://cdn.example.org/v1/b.css>; rel=preload; as="style"`,
			`<https://cdn.example.org>; rel=preconnect`,
		}},
		{"first base only", `<base href=/first/><base href=/second/><script src=s.js></script>`, []string{`<https://www.example.com/first/s.js>; rel=preload; as="script"`}},
		{"base without href does not count", `<base target=_blank><base href=/real/><script src=s.js></script>`, []string{`<https://www.example.com/real/s.js>; rel=preload; as="script"`}},
		{"javascript base ignored", `<base href="javascript:x"><script src=s.js></script>`, []string{`<https://www.example.com/shop/s.js>; rel=preload; as="script"`}},
	})
	res, err := Scan(strings.NewReader(`<base href="../v2/">`), Options{Base: mustURL(t, page)})
	if err != nil || res.Base == nil || res.Base.String() != "https://www.example.com/v2/" {
		t.Errorf("Result.Base = %v, %v; want https://www.example.com/v2/", res.Base, err)
	}
	res, _ = Scan(strings.NewReader(`<p>`), Options{})
	if res.Base != nil {
		t.Errorf("Result.Base = %v without a base; want nil", res.Base)
	}
}

func TestScan_URLs(t *testing.T) {
	runRules(t, []ruleCase{
		{"fragment dropped and deduplicated", `<link rel=stylesheet href="/a.css#x"><link rel=stylesheet href="/a.css#y"><link rel=stylesheet href="https://www.example.com/a.css">`, []string{`<https://www.example.com/a.css>; rel=preload; as="style"`}},
		{"dot segments", `<script src="../js/./x/../app.js"></script>`, []string{`<https://www.example.com/js/app.js>; rel=preload; as="script"`}},
		{"whitespace and newlines", "<script src=\" \n/a\tpp.js\n \"></script>", []string{`<https://www.example.com/app.js>; rel=preload; as="script"`}},
		{"entities decoded", `<script src="/a.js?x=1&amp;y=2&copy=3"></script>`, []string{`<https://www.example.com/a.js?x=1&y=2&copy=3>; rel=preload; as="script"`}},
		{"spaces and unicode escaped", `<script src="/é s.js?q=ü v"></script>`, []string{`<https://www.example.com/%C3%A9%20s.js?q=%C3%BC%20v>; rel=preload; as="script"`}},
		{"idn host", `<link rel=stylesheet href="https://bücher.example/x.css">`, []string{
			`<https://xn--bcher-kva.example/x.css>; rel=preload; as="style"`,
			`<https://xn--bcher-kva.example>; rel=preconnect`,
		}},
		{"credentials stripped", `<link rel=stylesheet href="https://user:pw@cdn.example/x.css">`, []string{
			`<https://cdn.example/x.css>; rel=preload; as="style"`,
			`<https://cdn.example>; rel=preconnect`,
		}},
		{"control characters in params", "<link rel=stylesheet href=/m.css media=\"screen\x01 and\n\n(color)\">", []string{`<https://www.example.com/m.css>; rel=preload; as="style"`}},
		{"same origin explicit port", `<script src="https://www.example.com:443/p.js"></script>`, []string{`<https://www.example.com/p.js>; rel=preload; as="script"`}},
	})
}

func TestScan_Order(t *testing.T) {
	html := `<html><head>
<link rel=preconnect href=https://fonts.example crossorigin>
<script type=module src=/m.js></script>
<script async src=/async.js></script>
<link rel=preload as=font href=https://fonts.example/f.woff2>
<script src=/sync.js></script>
<link rel=stylesheet href=/late-in-head.css>
<link rel=dns-prefetch href=//tracker.example>
<link rel=preload as=fetch href=/api.json>
</head><body><img src=https://img.example/hero.jpg><link rel=stylesheet href=/body.css>`
	want := []string{
		`<https://www.example.com/sync.js>; rel=preload; as="script"`,
		`<https://www.example.com/late-in-head.css>; rel=preload; as="style"`,
		`<https://fonts.example/f.woff2>; rel=preload; as="font"; crossorigin`,
		`<https://img.example/hero.jpg>; rel=preload; as="image"`,
		`<https://www.example.com/m.js>; rel=modulepreload`,
		`<https://www.example.com/api.json>; rel=preload; as="fetch"`,
		`<https://www.example.com/body.css>; rel=preload; as="style"`,
		`<https://www.example.com/async.js>; rel=preload; as="script"`,
		`<https://fonts.example>; rel=preconnect; crossorigin`,
		`<https://img.example>; rel=preconnect`,
		`<https://tracker.example>; rel=dns-prefetch`,
	}
	got := scanLines(t, html, Options{})
	if !slices.Equal(got, want) {
		t.Errorf("order:\n got %q\nwant %q", got, want)
	}
	res, err := Scan(strings.NewReader(html), Options{Base: mustURL(t, page)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocking != 3 { // the head's stylesheet, the sync script and the font
		t.Errorf("Blocking = %d, want 3", res.Blocking)
	}
}

func TestScan_NoBase(t *testing.T) {
	res, err := Scan(strings.NewReader(`<link rel=stylesheet href="//"><link rel=stylesheet href="css/a.css"><link rel=stylesheet href="https://cdn.example/b.css">`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []linkheader.Link{
		{URI: "css/a.css", Rel: []string{"preload"}, Params: []linkheader.Param{{Key: "as", Value: "style"}}},
		{URI: "https://cdn.example/b.css", Rel: []string{"preload"}, Params: []linkheader.Param{{Key: "as", Value: "style"}}},
		{URI: "https://cdn.example", Rel: []string{"preconnect"}},
	}
	if len(res.Links) != len(want) {
		t.Fatalf("links = %+v; want %+v", res.Links, want)
	}
	for i := range want {
		g, w := res.Links[i], want[i]
		if g.URI != w.URI || !slices.Equal(g.Rel, w.Rel) || !slices.Equal(g.Params, w.Params) {
			t.Errorf("link %d = %+v; want %+v", i, g, w)
		}
	}
}

func TestScan_Bounds(t *testing.T) {
	t.Run("MaxBytes stops before head end", func(t *testing.T) {
		html := `<link rel=stylesheet href=/a.css>` + strings.Repeat(`<meta name=x content=y>`, 5000) + `<link rel=stylesheet href=/late.css>`
		src := &countingReader{r: strings.NewReader(html)}
		res, err := Scan(src, Options{MaxBytes: 8 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Truncated || len(res.Links) != 1 || res.Links[0].URI != "/a.css" {
			t.Errorf("Truncated=%v links=%+v; want truncated with /a.css only", res.Truncated, res.Links)
		}
		if src.n > 8<<10+1 {
			t.Errorf("read %d bytes; MaxBytes is %d", src.n, 8<<10)
		}
	})
	t.Run("short document is not truncated", func(t *testing.T) {
		res, _ := Scan(strings.NewReader(`<link rel=stylesheet href=/a.css>`), Options{MaxBytes: 33})
		if res.Truncated {
			t.Error("Truncated for a document that fits exactly")
		}
	})
	t.Run("MaxLinks", func(t *testing.T) {
		var b strings.Builder
		for i := range 200 {
			b.WriteString(`<link rel=stylesheet href=/s` + strings.Repeat("x", i) + `.css>`)
		}
		res, err := Scan(strings.NewReader(b.String()), Options{MaxLinks: 5, MaxBytes: 1 << 20})
		if err != nil || len(res.Links) != 5 {
			t.Errorf("links = %d, %v; want 5", len(res.Links), err)
		}
	})
	t.Run("huge url dropped", func(t *testing.T) {
		res, _ := Scan(strings.NewReader(`<script src="/`+strings.Repeat("a", 5000)+`.js"></script>`), Options{})
		if len(res.Links) != 0 {
			t.Errorf("links = %d; want 0", len(res.Links))
		}
	})
	t.Run("one byte at a time", func(t *testing.T) {
		doc := readFixture(t, "store.html")
		a, errA := Scan(iotest.OneByteReader(bytes.NewReader(doc)), Options{})
		b, errB := Scan(bytes.NewReader(doc), Options{})
		if errA != nil || errB != nil || formatLinks(a.Links) != formatLinks(b.Links) {
			t.Errorf("byte-at-a-time reading changes the result: %v %v", errA, errB)
		}
	})
}

func TestScan_Errors(t *testing.T) {
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		r    io.Reader
		opts Options
		want error
	}{
		{"negative MaxBytes", strings.NewReader(""), Options{MaxBytes: -1}, ErrInvalidOptions},
		{"huge MaxBytes", strings.NewReader(""), Options{MaxBytes: MaxMaxBytes + 1}, ErrInvalidOptions},
		{"negative budget", strings.NewReader(""), Options{BodyBudget: -1}, ErrInvalidOptions},
		{"negative MaxLinks", strings.NewReader(""), Options{MaxLinks: -1}, ErrInvalidOptions},
		{"unknown encoding", strings.NewReader(""), Options{ContentEncoding: "compress"}, ErrUnsupportedEncoding},
		{"too many encodings", strings.NewReader(""), Options{ContentEncoding: "gzip, gzip, gzip, gzip"}, ErrUnsupportedEncoding},
		{"read error", iotest.ErrReader(boom), Options{}, ErrRead},
		{"read error in gzip", io.MultiReader(bytes.NewReader(gzipBytes(t, []byte("<html>"))[:12]), iotest.ErrReader(boom)), Options{ContentEncoding: "gzip"}, ErrRead},
		{"corrupt gzip", strings.NewReader("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-garbage"), Options{ContentEncoding: "gzip"}, ErrCorrupt},
		{"not gzip", strings.NewReader("<html><head><title>"), Options{ContentEncoding: "gzip"}, ErrCorrupt},
		{"corrupt br", strings.NewReader("\xff\xff\xff\xff<html>"), Options{ContentEncoding: "br"}, ErrCorrupt},
		{"corrupt zstd", strings.NewReader("\x28\xb5\x2f\xfd garbage"), Options{ContentEncoding: "zstd"}, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Scan(tc.r, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v; want %v", err, tc.want)
			}
		})
	}
	if _, err := Scan(iotest.ErrReader(boom), Options{}); !errors.Is(err, boom) {
		t.Errorf("err = %v; want it to wrap the reader's error", err)
	}
}

func TestScan_Encodings(t *testing.T) {
	doc := readFixture(t, "store.html")
	want, err := Scan(bytes.NewReader(doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ce string
		body     []byte
	}{
		{"identity", "identity", doc},
		{"x-gzip", "x-gzip", gzipBytes(t, doc)},
		{"upper case br", "BR", brotliBytes(t, doc)},
		{"zstd", "zstd", zstdBytes(t, doc)},
		{"gzip then br", "gzip, br", brotliBytes(t, gzipBytes(t, doc))},
		{"empty gzip body", "gzip", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Scan(bytes.NewReader(tc.body), Options{ContentEncoding: tc.ce})
			if err != nil {
				t.Fatal(err)
			}
			if tc.body == nil {
				if len(got.Links) != 0 {
					t.Errorf("links from an empty body: %v", got.Links)
				}
				return
			}
			if formatLinks(got.Links) != formatLinks(want.Links) {
				t.Errorf("decoded scan differs:\n%s\nwant\n%s", formatLinks(got.Links), formatLinks(want.Links))
			}
		})
	}
}

// Decompression bombs: a few KiB that expand to many MiB decode only up to
// MaxBytes and stop.
func TestScan_DecompressionBomb(t *testing.T) {
	bomb := make([]byte, 32<<20)
	copy(bomb, `<html><head><link rel=stylesheet href=/a.css>`)
	for i := 64; i < len(bomb); i++ {
		bomb[i] = ' '
	}
	tests := []struct {
		name, ce string
		body     []byte
	}{
		{"gzip", "gzip", gzipBytes(t, bomb)},
		{"br", "br", brotliBytes(t, bomb)},
		{"zstd", "zstd", zstdBytes(t, bomb)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Scan(bytes.NewReader(tc.body), Options{ContentEncoding: tc.ce})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Truncated || res.BytesScanned > DefaultMaxBytes || len(res.Links) != 1 {
				t.Errorf("truncated=%v scanned=%d links=%d; want truncated at %d with 1 link", res.Truncated, res.BytesScanned, len(res.Links), DefaultMaxBytes)
			}
		})
	}
}

func TestScan_EmptyCompressedFrames(t *testing.T) {
	// Endless empty gzip members yield nothing: the bound on compressed
	// input stops the scan instead of reading for ever.
	empty := gzipBytes(t, nil)
	r := io.MultiReader(bytes.NewReader(gzipBytes(t, []byte("<link rel=stylesheet href=/a.css>"))), &repeatReader{chunk: empty, n: 1 << 20})
	res, err := Scan(r, Options{ContentEncoding: "gzip"})
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v; want ErrCorrupt", err)
	}
	if len(res.Links) != 1 {
		t.Errorf("links = %v; want the one before the empty members", res.Links)
	}
}

// repeatReader yields chunk n times.
type repeatReader struct {
	chunk []byte
	n     int
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := copy(p, r.chunk[r.off:])
	r.off += k
	if r.off == len(r.chunk) {
		r.off = 0
		r.n--
	}
	return k, nil
}

func TestScan_ZstdWindowBound(t *testing.T) {
	// A frame declaring a 64 MiB window is refused rather than given the
	// memory (RFC 9659 caps HTTP zstd windows at 8 MiB).
	body := bytes.Repeat([]byte("<p>abcdefgh</p>"), 1<<20)
	z := zstdBytes(t, body, zstdWindow(64<<20))
	_, err := Scan(bytes.NewReader(z), Options{ContentEncoding: "zstd"})
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v; want ErrCorrupt for a 64 MiB window", err)
	}
}

func TestScan_Charset(t *testing.T) {
	tests := []struct {
		name, ct, want string
		body           []byte
	}{
		{"no declaration ascii", "", "utf-8", []byte(`<link rel=stylesheet href=/a.css>`)},
		{"meta charset", "", "windows-1252", []byte(`<meta charset="iso-8859-1"><link rel=stylesheet href=/a.css>`)},
		{"header wins over meta", "text/html; charset=utf-8", "utf-8", []byte(`<meta charset="shift_jis">`)},
		{"bom", "", "utf-16le", append([]byte{0xff, 0xfe}, utf16le(`<link rel=stylesheet href=/u.css>`)...)},
		{"invalid utf-8 sniffed", "", "windows-1252", []byte("<title>caf\xe9</title>")},
		{"unknown label falls back", "text/html; charset=x-klingon", "utf-8", []byte(`<p>`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Scan(bytes.NewReader(tc.body), Options{ContentType: tc.ct})
			if err != nil {
				t.Fatal(err)
			}
			if res.Charset != tc.want {
				t.Errorf("charset = %q; want %q", res.Charset, tc.want)
			}
		})
	}
	res, _ := Scan(bytes.NewReader(append([]byte{0xff, 0xfe}, utf16le(`<link rel=stylesheet href=/u.css>`)...)), Options{})
	if len(res.Links) != 1 || res.Links[0].URI != "/u.css" {
		t.Errorf("UTF-16 page links = %+v", res.Links)
	}
}

func zstdWindow(n int) zstd.EOption { return zstd.WithWindowSize(n) }

func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}
