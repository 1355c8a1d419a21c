package site

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func loadExample(t testing.TB) *Replay {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "example.har"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rp, err := LoadHAR(f)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func TestLoadHAR_Example(t *testing.T) {
	rp := loadExample(t)
	p := rp.Profile
	if rp.PageURL != "https://shop.example/product/42" || p.HTMLPath != "/product/42" || p.HTMLSize != 12000 || p.HTML != nil {
		t.Fatalf("page %q path %q size %d", rp.PageURL, p.HTMLPath, p.HTMLSize)
	}
	if strings.Join(rp.Hosts, ",") != "shop.example,cdn.thirdparty.example" {
		t.Errorf("hosts = %v", rp.Hosts)
	}
	if p.Think != 180500*time.Microsecond {
		t.Errorf("think = %v", p.Think)
	}
	if got := p.Header.Get("Link"); got != "<https://cdn.thirdparty.example>; rel=preconnect" {
		t.Errorf("document Link = %q", got)
	}
	if p.Header.Get("Set-Cookie") != "" {
		t.Error("Set-Cookie replayed")
	}
	type want struct {
		typ          Type
		size, status int
		wait         time.Duration
		where        Where
		from         string
		blocking     bool
		verbatim     bool
	}
	wants := map[string]want{
		"/old-product/42":                              {TypeOther, 0, 301, 25 * time.Millisecond, WhereInjected, "", false, false},
		"/static/site.css?v=3":                         {TypeCSS, 20000, 200, 12 * time.Millisecond, WhereHead, "", true, false},
		"/static/critical.css":                         {TypeCSS, 26, 200, 4 * time.Millisecond, WhereHead, "", true, true},
		"/static/app.js":                               {TypeJS, 30000, 200, 15 * time.Millisecond, WhereHead, "", true, false},
		"https://cdn.thirdparty.example/lib/widget.js": {TypeJS, 25000, 200, 30 * time.Millisecond, WhereHead, "", false, false},
		"/static/brand.woff2":                          {TypeFont, 15000, 200, 8 * time.Millisecond, WhereCSS, "/static/site.css?v=3", false, false},
		"/img/product-42.jpg":                          {TypeImage, 50000, 200, 9 * time.Millisecond, WhereBodyStart, "", false, false},
		"/img/pixel.gif":                               {TypeImage, 43, 200, 0, WhereBodyMiddle, "", false, false},
		"/api/cart.json":                               {TypeJSON, 900, 200, 60 * time.Millisecond, WhereInjected, "/static/app.js", false, false},
		"/img/missing.png":                             {TypeOther, 120, 404, 5 * time.Millisecond, WhereInjected, "", false, false},
	}
	if len(p.Resources) != len(wants) {
		t.Errorf("%d resources, want %d: %v", len(p.Resources), len(wants), urls(p.Resources))
	}
	for _, r := range p.Resources {
		w, ok := wants[r.URL()]
		if !ok {
			t.Errorf("unexpected resource %s", r.URL())
			continue
		}
		got := want{r.Type, r.BodySize(), r.status(), r.Wait, r.Where, r.From, r.RenderBlocking, r.Body != nil}
		if got != w {
			t.Errorf("%s = %+v, want %+v", r.URL(), got, w)
		}
	}
	if r := p.Resources[0]; r.Header.Get("Location") != "/product/42" || r.CacheControl != "max-age=3600" {
		t.Errorf("redirect headers %v, cache-control %q", r.Header, r.CacheControl)
	}
	for _, r := range p.Resources {
		if r.URL() == "/img/product-42.jpg" && r.FetchPriority != "high" {
			t.Error("the high-priority first image lost fetchpriority=high")
		}
	}
}

// TestReplay_RoundTrip serves the example capture and fetches every URL the
// capture holds, by Host, checking status, size, type and wait.
func TestReplay_RoundTrip(t *testing.T) {
	rp := loadExample(t)
	s, err := rp.NewSite(Options{Think: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, s)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	var f harFile
	data, _ := os.ReadFile(filepath.Join("testdata", "example.har"))
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range f.Log.Entries {
		u, _ := url.Parse(e.Request.URL)
		if e.Request.Method != "GET" || u.Scheme != "https" {
			continue
		}
		resp, body := do(t, c, "GET", srv.URL+target(u), u.Host, nil)
		wantStatus := e.Response.Status
		if resp.StatusCode != wantStatus {
			t.Errorf("%s: status %d, want %d", u, resp.StatusCode, wantStatus)
		}
		wantSize := int(e.Response.Content.Size)
		if e.Response.Content.Text != nil {
			wantSize = len(*e.Response.Content.Text)
		}
		if len(body) != wantSize {
			t.Errorf("%s: %d bytes, want %d", u, len(body), wantSize)
		}
		if ct := resp.Header.Get("Content-Type"); ct != e.Response.Content.MimeType {
			t.Errorf("%s: Content-Type %q, want %q", u, ct, e.Response.Content.MimeType)
		}
		if e.Response.Content.Text != nil && string(body) != *e.Response.Content.Text {
			t.Errorf("%s: verbatim body differs", u)
		}
		checked++
	}
	if checked != 12 {
		t.Errorf("checked %d entries, want 12", checked)
	}
	// The synthetic document references what the capture loaded.
	doc := string(s.Document())
	for _, ref := range []string{`href="/static/site.css?v=3"`, `<script async src="https://cdn.thirdparty.example/lib/widget.js">`, `<img src="/img/product-42.jpg"`} {
		if !strings.Contains(doc, ref) {
			t.Errorf("document lacks %s", ref)
		}
	}
	css, _, _ := s.Body("/static/site.css?v=3")
	if !bytes.Contains(css, []byte(`url("/static/brand.woff2")`)) {
		t.Error("stylesheet does not reference the font")
	}
}

func TestReplay_Waits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rp := loadExample(t)
		s, err := rp.NewSite(Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			path string
			want time.Duration
		}{{"/product/42", 180500 * time.Microsecond}, {"/api/cart.json", 60 * time.Millisecond}, {"/img/pixel.gif", 0}} {
			start := time.Now()
			s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://shop.example"+tc.path, nil))
			if got := time.Since(start); got != tc.want {
				t.Errorf("%s waited %v, want %v", tc.path, got, tc.want)
			}
		}
	})
}

func TestLoadHAR_VerbatimDocument(t *testing.T) {
	html := `<!doctype html><html><head><link rel="stylesheet" href="/a.css"></head><body><img src="https://img.example/i.png"></body></html>`
	har := minimalHAR(html, `{"request":{"method":"GET","url":"https://site.example/a.css"},"response":{"status":200,"content":{"size":300,"mimeType":"text/css"}},"timings":{"wait":2}}`,
		`{"request":{"method":"GET","url":"https://img.example/i.png"},"response":{"status":200,"content":{"size":2000,"mimeType":"image/png"}},"timings":{"wait":2}}`)
	rp, err := LoadHAR(strings.NewReader(har))
	if err != nil {
		t.Fatal(err)
	}
	s, err := rp.NewSite(Options{PreloadInHTML: true, LinkHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Document()) != html {
		t.Errorf("document not verbatim: %q", s.Document())
	}
	m := s.Manifest()
	if m.Discovery[0].Offset != strings.Index(html, "/a.css") || m.Discovery[1].Offset != strings.Index(html, "https://img.example/i.png") {
		t.Errorf("offsets = %+v", m.Discovery)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got := rec.Header().Values("Link"); len(got) != 2 || got[0] != "</a.css>; rel=preload; as=style" {
		t.Errorf("Link = %q", got)
	}
}

func minimalHAR(html string, entries ...string) string {
	doc := fmt.Sprintf(`{"request":{"method":"GET","url":"https://site.example/"},"response":{"status":200,"content":{"size":%d,"mimeType":"text/html","text":%q}},"timings":{"wait":100}}`, len(html), html)
	return `{"log":{"version":"1.2","entries":[` + strings.Join(append([]string{doc}, entries...), ",") + `]}}`
}

func TestLoadHAR_Errors(t *testing.T) {
	many := make([]string, MaxHAREntries+1)
	for i := range many {
		many[i] = "{}"
	}
	tests := []struct {
		name string
		r    io.Reader
		want error
		msg  string
	}{
		{"not json", strings.NewReader("nope"), ErrBadHAR, ""},
		{"no document", strings.NewReader(`{"log":{"entries":[]}}`), ErrBadHAR, "no HTML document"},
		{"too many entries", strings.NewReader(`{"log":{"entries":[` + strings.Join(many, ",") + `]}}`), ErrHARTooLarge, "5001 entries"},
		{"too large", io.MultiReader(strings.NewReader(`{"log":{"entries":["`), strings.NewReader(strings.Repeat("x", MaxHARBytes))), ErrHARTooLarge, "50 MB"},
		{"huge body", strings.NewReader(minimalHAR("<p>", `{"request":{"method":"GET","url":"https://site.example/x"},"response":{"status":200,"content":{"size":1e12,"mimeType":"text/css"}}}`)), ErrBadHAR, "limit"},
		{"bad base64", strings.NewReader(minimalHAR("<p>", `{"request":{"method":"GET","url":"https://site.example/x"},"response":{"status":200,"content":{"size":3,"mimeType":"text/css","text":"!!!","encoding":"base64"}}}`)), ErrBadHAR, "base64"},
		{"truncated", strings.NewReader(minimalHAR("<p>")[:60]), ErrBadHAR, "unexpected end"},
		{"truncated gzip", bytes.NewReader(gzipped(t, minimalHAR("<p>"))[:40]), ErrBadHAR, "gzip"},
		{"header injection", strings.NewReader(minimalHAR("<p>", `{"request":{"method":"GET","url":"https://site.example/x"},"response":{"status":200,"headers":[{"name":"Link","value":"</a>\r\nSet-Cookie: a=b"}],"content":{"size":3,"mimeType":"text/css"}}}`)), ErrUnsafeHAR, "Link"},
		{"mime injection", strings.NewReader(minimalHAR("<p>", `{"request":{"method":"GET","url":"https://site.example/x"},"response":{"status":200,"content":{"size":3,"mimeType":"text/css\nX: y"}}}`)), ErrUnsafeHAR, "mimeType"},
		{"javascript document", strings.NewReader(`{"log":{"entries":[{"request":{"method":"GET","url":"javascript:alert(1)"},"response":{"status":200,"content":{"mimeType":"text/html"}}}]}}`), ErrBadHAR, "not an http"},
		{"relative document", strings.NewReader(`{"log":{"entries":[{"request":{"method":"GET","url":"/x"},"response":{"status":200,"content":{"mimeType":"text/html"}}}]}}`), ErrBadHAR, "not an http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadHAR(tt.r)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestLoadHAR_Fixtures replays the real captures under testdata/har (see
// its NOTICE): every one loads, keeps its third parties on their hosts,
// and builds a site that serves every replayed resource once asked.
func TestLoadHAR_Fixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "har", "*.har.gz"))
	if err != nil || len(files) < 3 {
		t.Fatalf("fixtures: %v, %v", files, err)
	}
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			rp, err := LoadHARFile(name)
			if err != nil {
				t.Fatal(err)
			}
			p := rp.Profile
			if len(p.Resources) < 8 || len(rp.Hosts) < 2 || p.Think <= 0 {
				t.Fatalf("%d resources, hosts %v, think %v", len(p.Resources), rp.Hosts, p.Think)
			}
			quick := p.Clone()
			for i := range quick.Resources {
				quick.Resources[i].Wait = 0 // the replay's waits are tested in TestReplay_Waits
			}
			s, err := New(quick, Options{Think: -1})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Resources {
				req := httptest.NewRequest("GET", r.Path, nil)
				req.Host = rp.Hosts[0]
				if r.ThirdParty != "" {
					req.Host = r.Host()
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				if rec.Code != r.status() || rec.Body.Len() != r.BodySize() {
					t.Errorf("%s: status %d, %d bytes; want %d, %d", r.URL(), rec.Code, rec.Body.Len(), r.status(), r.BodySize())
				}
			}
		})
	}
}

// A file of several page loads (WebPageTest's first and repeat views)
// replays the document's own.
func TestLoadHAR_PageRef(t *testing.T) {
	doc := `{"pageref":"page_1_0","request":{"method":"GET","url":"https://site.example/"},"response":{"status":200,"content":{"size":2000,"mimeType":"text/html"}}}`
	mine := `{"pageref":"page_1_0","request":{"method":"GET","url":"https://site.example/a.css"},"response":{"status":200,"content":{"size":50,"mimeType":"text/css"}}}`
	other := `{"pageref":"page_1_1","request":{"method":"GET","url":"https://site.example/b.css"},"response":{"status":200,"content":{"size":50,"mimeType":"text/css"}}}`
	rp, err := LoadHAR(strings.NewReader(`{"log":{"entries":[` + doc + "," + mine + "," + other + `]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Profile.Resources) != 1 || rp.Profile.Resources[0].Path != "/a.css" {
		t.Errorf("resources %+v, want /a.css alone", rp.Profile.Resources)
	}
}

func TestFirstPartyPaths(t *testing.T) {
	page, _ := url.Parse("https://www.shop.example/p")
	for in, want := range map[string]string{
		`<https://www.shop.example/a.css>; rel=preload; as=style, <https://cdn.example/b.js>; rel=preload`: `</a.css>; rel=preload; as=style, <https://cdn.example/b.js>; rel=preload`,
		`<https://WWW.shop.example:443/f.woff2?v=1>; rel=preload; as=font; crossorigin`:                    `</f.woff2?v=1>; rel=preload; as=font; crossorigin`,
		`</rel.css>; rel=preload`: `</rel.css>; rel=preload`,
		`<broken`:                 `<broken`,
	} {
		if got := firstPartyPaths(in, page); got != want {
			t.Errorf("firstPartyPaths(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadHAR_GrowsSmallDocument(t *testing.T) {
	har := `{"log":{"entries":[{"request":{"method":"GET","url":"https://s.example/"},"response":{"status":200,"content":{"size":10,"mimeType":"text/html"}}},
	{"request":{"method":"GET","url":"https://s.example/a.css"},"response":{"status":200,"content":{"size":100,"mimeType":"text/css"}}}]}}`
	rp, err := LoadHAR(strings.NewReader(har))
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Warnings) != 1 || rp.Profile.HTMLSize <= 10 {
		t.Fatalf("warnings %v, size %d", rp.Warnings, rp.Profile.HTMLSize)
	}
	if _, err := rp.NewSite(Options{PreloadInHTML: true}); err != nil {
		t.Fatal(err)
	}
}

func FuzzLoadHAR(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "example.har"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"log":{"entries":[{}]}}`))
	f.Add(gzipped(f, string(data)))
	f.Add([]byte(minimalHAR("<p>", `{"request":{"method":"GET","url":"https://site.example/x"},"response":{"status":200,"headers":[{"name":"Link","value":"<https://site.example/a.css>; rel=preload\n<https://o.example/b>; rel=preconnect"}],"content":{"size":3,"mimeType":"text/css"}},"_initiator":"https://site.example/","_initiator_type":"parser"}`)))
	f.Add([]byte(minimalHAR(`<link rel=stylesheet href="/a.css">`,
		`{"request":{"method":"GET","url":"https://site.example/a.css?x=\"<>"},"response":{"status":200,"content":{"size":50,"mimeType":"text/css"}},"_initiator":{"type":"script","url":"https://site.example/a.css"}}`)))
	f.Add([]byte(`{"log":{"entries":[{"request":{"method":"GET","url":"http://h/"},"response":{"status":200,"content":{"size":-1,"mimeType":"text/html"},"bodySize":-1},"timings":{"wait":1e300}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rp, err := LoadHAR(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := rp.Profile.Validate(); err != nil {
			t.Fatalf("LoadHAR returned an invalid profile: %v", err)
		}
		m, err := rp.Profile.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.TotalBytes > 4<<20 {
			return // keep each fuzz iteration cheap
		}
		p := rp.Profile.Clone()
		for i := range p.Resources {
			p.Resources[i].Wait = 0 // the fuzzer must not sleep
		}
		for _, opts := range []Options{{Think: -1}, {Think: -1, PreloadInHTML: true, LinkHeaders: true}} {
			s, err := New(p, opts)
			if err != nil {
				t.Fatalf("NewSite: %v", err)
			}
			for _, r := range rp.Profile.Resources {
				body, _, ok := s.Body(r.URL())
				if !ok || len(body) != r.BodySize() {
					t.Fatalf("%s: %d bytes, want %d", r.URL(), len(body), r.BodySize())
				}
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", p.htmlPath(), nil)
			req.Host = rp.Hosts[0]
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.Len() != len(s.Document()) {
				t.Fatalf("document: status %d, %d bytes", rec.Code, rec.Body.Len())
			}
		}
	})
}
