package site

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func newTestServer(t *testing.T, s http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s) // listens on 127.0.0.1:0
	t.Cleanup(srv.Close)
	return srv
}

func mustSite(t *testing.T, name string, opts Options) (*Profile, *Site) {
	t.Helper()
	p, err := ProfileByName(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

// reply is what the tests read of a response; do has read and closed its
// body by the time they see it.
type reply struct {
	StatusCode int
	Header     http.Header
}

func do(t *testing.T, c *http.Client, method, url, host string, hdr map[string]string) (*reply, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &reply{StatusCode: resp.StatusCode, Header: resp.Header}, b
}

func TestSite_ServeHTTP(t *testing.T) {
	p, s := mustSite(t, "news-article", Options{Think: -1})
	srv := newTestServer(t, s)
	c := srv.Client()

	t.Run("document", func(t *testing.T) {
		resp, body := do(t, c, "GET", srv.URL+"/", "", nil)
		if resp.StatusCode != 200 || len(body) != p.HTMLSize || !bytes.Equal(body, s.Document()) {
			t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("Cache-Control = %q", got)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q", got)
		}
		if resp.Header.Get("Link") != "" {
			t.Error("Link header without LinkHeaders")
		}
	})
	for _, r := range p.Resources {
		t.Run(r.URL(), func(t *testing.T) {
			url, host := srv.URL+r.Path, ""
			if r.ThirdParty != "" {
				host = r.Host() // routed by Host
			}
			resp, body := do(t, c, "GET", url, host, nil)
			wantBody, wantETag, _ := s.Body(r.URL())
			if resp.StatusCode != 200 || !bytes.Equal(body, wantBody) || len(body) != r.Size {
				t.Fatalf("status %d, %d bytes, want %d", resp.StatusCode, len(body), r.Size)
			}
			if got := resp.Header.Get("ETag"); got != wantETag {
				t.Errorf("ETag = %q, want %q", got, wantETag)
			}
			if got := resp.Header.Get("Content-Type"); got != r.contentType() {
				t.Errorf("Content-Type = %q, want %q", got, r.contentType())
			}
			if got := resp.Header.Get("Cache-Control"); got != r.cacheControl() {
				t.Errorf("Cache-Control = %q, want %q", got, r.cacheControl())
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Timing-Allow-Origin") != "*" {
				t.Error("missing CORS or Timing-Allow-Origin")
			}
			// Conditional request: 304 without a body.
			resp, body = do(t, c, "GET", url, host, map[string]string{"If-None-Match": `"x", ` + wantETag})
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("If-None-Match: status %d, %d bytes", resp.StatusCode, len(body))
			}
			if r.ThirdParty != "" {
				// And by the path prefix, whatever the Host.
				resp, body = do(t, c, "GET", srv.URL+ThirdPartyPrefix+r.Host()+r.Path, "", nil)
				if resp.StatusCode != 200 || !bytes.Equal(body, wantBody) {
					t.Errorf("prefix route: status %d", resp.StatusCode)
				}
				// Not on the first-party origin.
				if resp, _ := do(t, c, "GET", url, "", nil); resp.StatusCode != 404 {
					t.Errorf("third-party path served first-party: %d", resp.StatusCode)
				}
			}
		})
	}
	t.Run("head", func(t *testing.T) {
		r := p.Resources[0]
		resp, body := do(t, c, "HEAD", srv.URL+r.Path, "", nil)
		if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != strconv.Itoa(r.Size) {
			t.Errorf("HEAD: status %d, %d bytes, Content-Length %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"))
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if resp, _ := do(t, c, "GET", srv.URL+"/nope.css", "", nil); resp.StatusCode != 404 {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
		if resp, _ := do(t, c, "GET", srv.URL+"/_3p/unknown.example/x", "", nil); resp.StatusCode != 404 {
			t.Errorf("prefix: status %d, want 404", resp.StatusCode)
		}
	})
	t.Run("post", func(t *testing.T) {
		resp, _ := do(t, c, "POST", srv.URL+"/", "", nil)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("query ignored", func(t *testing.T) {
		if resp, _ := do(t, c, "GET", srv.URL+p.Resources[0].Path+"?cb=1", "", nil); resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestSite_Options(t *testing.T) {
	t.Run("link headers", func(t *testing.T) {
		_, s := mustSite(t, "spa-shell", Options{LinkHeaders: true, Think: -1})
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		want := []string{
			"</assets/index-B2x9kQ.css>; rel=preload; as=style",
			"</assets/index-D4f8aL.js>; rel=modulepreload",
			"</assets/vendor-Cq1mZt.js>; rel=modulepreload",
			"</assets/router-Bn3uXe.js>; rel=modulepreload",
			"</assets/page-home-Df7hQw.js>; rel=modulepreload",
			`</assets/inter-var-Bx4tQ.woff2>; rel=preload; as=font; type="font/woff2"; crossorigin`,
			"<https://www.analytics.example>; rel=preconnect",
		}
		if got := rec.Header().Values("Link"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("Link =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Assets carry no Link header.
		rec = httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/assets/index-B2x9kQ.css", nil))
		if rec.Header().Get("Link") != "" {
			t.Error("Link header on an asset")
		}
	})
	t.Run("preload in html", func(t *testing.T) {
		p, s := mustSite(t, "store-product", Options{PreloadInHTML: true})
		doc := string(s.Document())
		head := doc[:strings.Index(doc, "</head>")]
		pre := strings.Index(head, `<link rel="preload" href="/assets/theme.1e8b4d.css" as="style">`)
		sheet := strings.Index(head, `<link rel="stylesheet" href="/assets/theme.1e8b4d.css">`)
		if pre < 0 || sheet < 0 || pre > sheet {
			t.Errorf("preload at %d, stylesheet at %d", pre, sheet)
		}
		if !strings.Contains(head, `<link rel="preload" href="/assets/fonts/brand-bold.8e21.woff2" as="font" type="font/woff2" crossorigin>`) {
			t.Error("no font preload")
		}
		if !strings.Contains(head, `<link rel="preconnect" href="https://www.analytics.example">`) {
			t.Error("no preconnect for a third party")
		}
		if strings.Count(head, `rel="preconnect" href="https://pay.payments.example"`) != 1 {
			t.Error("the page's own preconnect is duplicated")
		}
		if len(doc) != p.HTMLSize {
			t.Errorf("document is %d bytes, want %d", len(doc), p.HTMLSize)
		}
		_, plain := mustSite(t, "store-product", Options{})
		if strings.Contains(string(plain.Document()), `rel="preload"`) {
			t.Error("preload without PreloadInHTML")
		}
	})
	t.Run("invalid", func(t *testing.T) {
		p, _ := ProfileByName("tiny")
		if _, err := New(p, Options{MaxLog: -1}); !errors.Is(err, ErrBadOptions) {
			t.Errorf("err = %v", err)
		}
	})
}

// TestSite_ThinkTime checks in a synctest bubble, where time is exact, that
// the think time delays the document only.
func TestSite_ThinkTime(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantThink time.Duration
	}{
		{"profile's", Options{}, 350 * time.Millisecond},
		{"override", Options{Think: 2 * time.Second}, 2 * time.Second},
		{"none", Options{Think: -1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p, s := mustSite(t, "store-product", tt.opts)
				for _, path := range []string{"/", p.Resources[0].Path, p.Resources[8].Path} {
					start := time.Now()
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
					want := time.Duration(0)
					if path == "/" {
						want = tt.wantThink
					}
					if got := time.Since(start); got != want || rec.Code != 200 {
						t.Errorf("%s: took %v, want %v (status %d)", path, got, want, rec.Code)
					}
				}
				log := s.Log()
				if len(log) != 3 || log[0].FirstByte.Sub(log[0].Start) != tt.wantThink || log[1].FirstByte != log[1].Start {
					t.Errorf("log = %+v", log)
				}
			})
		})
	}
}

// TestSite_ThinkTimeSocket checks the think time on a real socket with a
// lower bound only.
func TestSite_ThinkTimeSocket(t *testing.T) {
	const think = 150 * time.Millisecond
	_, s := mustSite(t, "tiny", Options{Think: think})
	srv := newTestServer(t, s)
	start := time.Now()
	if resp, _ := do(t, srv.Client(), "GET", srv.URL+"/", "", nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if d := time.Since(start); d < think {
		t.Errorf("document after %v, before the %v think time", d, think)
	}
}

func TestSite_CanceledDuringThink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, s := mustSite(t, "tiny", Options{Think: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
		go func() { time.Sleep(time.Second); cancel() }()
		s.ServeHTTP(httptest.NewRecorder(), req)
		if log := s.Log(); len(log) != 1 || !log[0].Canceled || log[0].End.Sub(log[0].Start) != time.Second {
			t.Fatalf("log = %+v", log)
		}
	})
}

func TestSite_Log(t *testing.T) {
	p, s := mustSite(t, "tiny", Options{MaxLog: 4})
	srv := newTestServer(t, s)
	c := srv.Client()
	do(t, c, "GET", srv.URL+"/", "", nil)
	do(t, c, "GET", srv.URL+"/style.css", "", nil)
	do(t, c, "HEAD", srv.URL+"/app.js", "", nil)
	do(t, c, "GET", srv.URL+"/missing", "", nil)
	log := s.Log()
	want := []struct {
		method, path  string
		status, bytes int
	}{
		{"GET", "/", 200, p.HTMLSize},
		{"GET", "/style.css", 200, 4000},
		{"HEAD", "/app.js", 200, 0},
		{"GET", "/missing", 404, 0},
	}
	if len(log) != len(want) {
		t.Fatalf("log has %d entries, want %d", len(log), len(want))
	}
	for i, w := range want {
		e := log[i]
		if e.Method != w.method || e.Path != w.path || e.Status != w.status || e.Bytes != w.bytes || e.Proto != "HTTP/1.1" {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
		if e.FirstByte.Before(e.Start) || e.End.Before(e.FirstByte) || (i > 0 && e.Start.Before(log[i-1].Start)) {
			t.Errorf("entry %d times out of order: %+v", i, e)
		}
	}
	do(t, c, "GET", srv.URL+"/", "", nil)
	if len(s.Log()) != 4 || s.Dropped() != 1 {
		t.Errorf("bounded log: %d entries, %d dropped", len(s.Log()), s.Dropped())
	}
	s.ResetLog()
	if len(s.Log()) != 0 || s.Dropped() != 0 {
		t.Error("ResetLog left entries")
	}
}

func TestSite_HeaderNotShared(t *testing.T) {
	_, s := mustSite(t, "tiny", Options{LinkHeaders: true})
	for range 2 {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		rec.Header().Add("Link", "<https://x.example/>; rel=preconnect") // what a middleware may do
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if n := len(rec.Header().Values("Link")); n != 2 {
		t.Fatalf("%d Link values, want 2", n)
	}
}

func BenchmarkNew(b *testing.B) {
	p, _ := ProfileByName("news-article")
	for b.Loop() {
		if _, err := New(p, Options{PreloadInHTML: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSite_ServeHTTP(b *testing.B) {
	p, _ := ProfileByName("news-article")
	s, err := New(p, Options{Think: -1})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/img/hero-1280.b81e.jpg", nil)
	b.SetBytes(int64(p.Resources[10].Size))
	for b.Loop() {
		s.ServeHTTP(httptest.NewRecorder(), req)
		s.ResetLog()
	}
}
