package site

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestProfileByName_Builtins(t *testing.T) {
	tests := []struct {
		name             string
		minTotal, maxTot int
		critical         []string
		wantHinted       []string
	}{
		{
			name: "news-article", minTotal: 500_000, maxTot: 1_500_000,
			critical: []string{"/assets/main.4f1c2a.css", "/assets/article.9b2e71.css", "https://cmp.consent.example/cmp.js", "/assets/polyfills.2d7e09.js"},
			wantHinted: []string{
				"/assets/main.4f1c2a.css", "/assets/article.9b2e71.css", "/assets/fonts/serif-regular.3e1f.woff2",
				"/assets/fonts/sans-bold.a07c.woff2", "/assets/polyfills.2d7e09.js", "/img/hero-1280.b81e.jpg",
			},
		},
		{
			name: "store-product", minTotal: 500_000, maxTot: 1_500_000,
			critical: []string{"/assets/theme.1e8b4d.css", "/assets/vendor.77c0a3.css"},
			wantHinted: []string{
				"/assets/theme.1e8b4d.css", "/assets/vendor.77c0a3.css", "/assets/fonts/brand-regular.0b3d.woff2",
				"/assets/fonts/brand-bold.8e21.woff2", "/products/sneaker-main-1200.jpg",
			},
		},
		{
			name: "spa-shell", minTotal: 500_000, maxTot: 1_500_000,
			critical: []string{"/assets/index-B2x9kQ.css"},
			wantHinted: []string{
				"/assets/index-B2x9kQ.css", "/assets/index-D4f8aL.js", "/assets/vendor-Cq1mZt.js",
				"/assets/router-Bn3uXe.js", "/assets/page-home-Df7hQw.js", "/assets/inter-var-Bx4tQ.woff2",
			},
		},
		{
			name: "tiny", minTotal: 20_000, maxTot: 30_000,
			critical:   []string{"/style.css", "/app.js"},
			wantHinted: []string{"/style.css", "/app.js"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ProfileByName(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if p.Source == "" {
				t.Error("profile has no Source")
			}
			for _, opts := range []Options{{}, {PreloadInHTML: true, LinkHeaders: true}} {
				s, err := New(p, opts)
				if err != nil {
					t.Fatalf("New(%+v): %v", opts, err)
				}
				checkSite(t, p, s, opts)
			}
			m, err := p.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.TotalBytes < tt.minTotal || m.TotalBytes > tt.maxTot {
				t.Errorf("total bytes %d outside [%d, %d]", m.TotalBytes, tt.minTotal, tt.maxTot)
			}
			if got := urls(m.Critical); strings.Join(got, " ") != strings.Join(tt.critical, " ") {
				t.Errorf("critical = %v, want %v", got, tt.critical)
			}
			if got := urls(m.Hinted); strings.Join(got, " ") != strings.Join(tt.wantHinted, " ") {
				t.Errorf("hinted = %v, want %v", got, tt.wantHinted)
			}
			sum := 0
			for _, r := range m.Critical {
				sum += r.Size
			}
			if m.CriticalBytes != sum {
				t.Errorf("CriticalBytes = %d, want %d", m.CriticalBytes, sum)
			}
		})
	}
}

func urls(rs []Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.URL())
	}
	return out
}

// checkSite verifies sizes, bodies and where each reference sits.
func checkSite(t *testing.T, p *Profile, s *Site, opts Options) {
	t.Helper()
	doc := s.Document()
	if len(doc) != p.HTMLSize {
		t.Errorf("%+v: document is %d bytes, want %d", opts, len(doc), p.HTMLSize)
	}
	headEnd := bytes.Index(doc, []byte("</head>"))
	if headEnd < 0 {
		t.Fatal("document has no </head>")
	}
	// The text padding splits the body; middle references sit after the
	// first paragraph, end references after the second.
	firstP := bytes.Index(doc, []byte("<p>"))
	lastP := bytes.LastIndex(doc, []byte("</p>"))
	for _, r := range p.Resources {
		body, etag, ok := s.Body(r.URL())
		if !ok {
			t.Fatalf("no body for %s", r.URL())
		}
		if len(body) != r.Size {
			t.Errorf("%s: body is %d bytes, want %d", r.URL(), len(body), r.Size)
		}
		if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
			t.Errorf("%s: etag %q", r.URL(), etag)
		}
		ref := []byte(`="` + r.URL() + `"`)
		pos := bytes.Index(doc, ref)
		if opts.PreloadInHTML && r.Hinted() {
			// The first reference is then the preload, in the head.
			if pos < 0 || pos > headEnd {
				t.Errorf("%s: no preload in the head (at %d)", r.URL(), pos)
			}
		}
		last := bytes.LastIndex(doc, ref)
		switch r.Where {
		case WhereHead:
			if pos < 0 || last > headEnd {
				t.Errorf("%s: head reference at %d, head ends at %d", r.URL(), last, headEnd)
			}
		case WhereBodyStart:
			if last < headEnd || last > firstP {
				t.Errorf("%s: body-start reference at %d, want between %d and %d", r.URL(), last, headEnd, firstP)
			}
		case WhereBodyMiddle:
			if last < firstP || last > lastP {
				t.Errorf("%s: body-middle reference at %d, want between %d and %d", r.URL(), last, firstP, lastP)
			}
		case WhereBodyEnd:
			if last < lastP {
				t.Errorf("%s: body-end reference at %d, want after %d", r.URL(), last, lastP)
			}
		default:
			if last >= 0 && (!opts.PreloadInHTML || !r.Hinted()) {
				t.Errorf("%s (%s) is referenced by the HTML at %d", r.URL(), r.Where, last)
			}
			if r.From != "" {
				parent, _, _ := s.Body(r.From)
				want := r.URL()
				switch r.Where {
				case WhereCSS:
					want = `url("` + r.URL() + `")`
				case WhereImport:
					want = `import "` + r.URL() + `";`
				}
				if !bytes.Contains(parent, []byte(want)) {
					t.Errorf("%s: parent %s does not contain %q", r.URL(), r.From, want)
				}
			}
		}
	}
}

func TestProfileByName_Unknown(t *testing.T) {
	_, err := ProfileByName("nope")
	if !errors.Is(err, ErrUnknownProfile) || !strings.Contains(err.Error(), "news-article") {
		t.Fatalf("err = %v, want ErrUnknownProfile listing the names", err)
	}
}

func TestProfileByName_ReturnsCopies(t *testing.T) {
	a, _ := ProfileByName("tiny")
	a.Resources[0].Size = 1
	b, _ := ProfileByName("tiny")
	if b.Resources[0].Size == 1 {
		t.Fatal("ProfileByName shares state between calls")
	}
}

func TestProfile_Validate(t *testing.T) {
	base := func() *Profile { p, _ := ProfileByName("tiny"); return p }
	tests := []struct {
		name   string
		modify func(p *Profile)
		want   string
	}{
		{"valid", func(p *Profile) {}, ""},
		{"empty name", func(p *Profile) { p.Name = "" }, "empty name"},
		{"relative path", func(p *Profile) { p.Resources[0].Path = "a.css" }, "does not start with /"},
		{"space in path", func(p *Profile) { p.Resources[0].Path = "/a b.css" }, "space"},
		{"reserved prefix", func(p *Profile) { p.Resources[0].Path = "/_3p/x/a.css" }, "reserved"},
		{"duplicate", func(p *Profile) { p.Resources[1].Path = p.Resources[0].Path; p.Resources[1].Type = TypeCSS }, "listed twice"},
		{"html path clash", func(p *Profile) { p.Resources[0].Path = "/" }, "document's"},
		{"bad type", func(p *Profile) { p.Resources[0].Type = "video" }, "type"},
		{"bad where", func(p *Profile) { p.Resources[2].Where = "footer" }, "where"},
		{"async blocking", func(p *Profile) { p.Resources[1].Async = true }, "render-blocking"},
		{"image blocking", func(p *Profile) { p.Resources[2].RenderBlocking = true }, "render-blocking"},
		{"json in html", func(p *Profile) { p.Resources[2].Type = TypeJSON }, "cannot be referenced by the HTML"},
		{"missing parent", func(p *Profile) {
			p.Resources = append(p.Resources, Resource{Path: "/f.woff2", Type: TypeFont, Size: 100, Where: WhereCSS, From: "/nope.css"})
		}, "not a resource"},
		{"wrong parent type", func(p *Profile) {
			p.Resources = append(p.Resources, Resource{Path: "/f.woff2", Type: TypeFont, Size: 100, Where: WhereCSS, From: "/app.js"})
		}, "needs"},
		{"import of classic", func(p *Profile) {
			p.Resources = append(p.Resources, Resource{Path: "/m.js", Type: TypeJS, Size: 100, Where: WhereImport, From: "/app.js"})
		}, "only a module"},
		{"cycle", func(p *Profile) {
			p.Resources = append(p.Resources,
				Resource{Path: "/a.js", Type: TypeModule, Size: 100, Where: WhereImport, From: "/b.js"},
				Resource{Path: "/b.js", Type: TypeModule, Size: 100, Where: WhereImport, From: "/a.js"})
		}, "never reaches"},
		{"parent too small", func(p *Profile) {
			p.Resources[0].Size = 10
			p.Resources = append(p.Resources, Resource{Path: "/f.woff2", Type: TypeFont, Size: 100, Where: WhereCSS, From: "/style.css"})
		}, "cannot hold"},
		{"html too small", func(p *Profile) { p.HTMLSize = 100 }, "raise HTMLSize"},
		{"bad third party", func(p *Profile) { p.Resources[0].ThirdParty = "cdn.example" }, "origin"},
		{"third party with path", func(p *Profile) { p.Resources[0].ThirdParty = "https://cdn.example/x" }, "origin"},
		{"negative size", func(p *Profile) { p.Resources[0].Size = -1 }, "size"},
		{"huge size", func(p *Profile) { p.Resources[0].Size = MaxBodySize + 1 }, "size"},
		{"bad fetchpriority", func(p *Profile) { p.Resources[2].FetchPriority = "urgent" }, "fetchpriority"},
		{"tiny inline", func(p *Profile) { p.HeadInlineSize = 5 }, "inline"},
		{"negative think", func(p *Profile) { p.Think = -time.Second }, "think"},
		{"header injection", func(p *Profile) { p.Resources[0].CacheControl = "x\r\nSet-Cookie: a" }, "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.modify(p)
			err := p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadProfile) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want ErrBadProfile containing %q", err, tt.want)
			}
		})
	}
}
