package realpages

import (
	"bytes"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOrigin_ServeHTTP(t *testing.T) {
	o := &Origin{}
	page := &Page{Name: "p", URL: "https://www.example.com/a/b?c=1", HTML: []byte("<!doctype html><title>x</title>")}
	if err := o.Add(page); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, target, host, dest string
		wantType                 string
		check                    func(t *testing.T, body []byte)
	}{
		{"page", "/a/b?c=1", "WWW.example.com:443", "document", "text/html", func(t *testing.T, b []byte) {
			if !bytes.Equal(b, page.HTML) {
				t.Errorf("body %q, want the saved page", b)
			}
		}},
		{"stylesheet", "/s.php?x", "cdn.example.net", "style", "text/css", func(t *testing.T, b []byte) {
			if len(b) != DefaultSizes.Style || !strings.HasPrefix(string(b), "body{margin:0}") || !strings.HasSuffix(string(b), "*/\n") {
				t.Errorf("stylesheet of %d bytes: %.40q…", len(b), b)
			}
		}},
		{"script by extension", "/app.js", "www.example.com", "", "text/javascript", nil},
		{"font", "/f", "fonts.example.org", "font", "font/woff2", func(t *testing.T, b []byte) {
			if !bytes.HasPrefix(b, []byte("wOF2")) || len(b) != DefaultSizes.Font {
				t.Errorf("font of %d bytes", len(b))
			}
		}},
		{"image decodes", "/i.jpg", "img.example.org", "image", "image/png", func(t *testing.T, b []byte) {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Dx() < 1000 {
				t.Errorf("image %v, want one large enough to be the largest paint", img.Bounds())
			}
		}},
		{"other page of the host", "/a/other", "www.example.com", "iframe", "text/html", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.Host = tc.host
			if tc.dest != "" {
				r.Header.Set("Sec-Fetch-Dest", tc.dest)
			}
			w := httptest.NewRecorder()
			o.ServeHTTP(w, r)
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.wantType) {
				t.Fatalf("%d %s, want 200 %s", w.Code, w.Header().Get("Content-Type"), tc.wantType)
			}
			if tc.check != nil {
				tc.check(t, w.Body.Bytes())
			}
		})
	}
	log := o.Log()
	if len(log) != 6 || log[0].URL != "https://www.example.com/a/b?c=1" || log[0].Dest != "document" || log[1].URL != "https://cdn.example.net/s.php?x" {
		t.Errorf("log %+v", log)
	}
	o.Reset()
	if len(o.Log()) != 0 {
		t.Error("Reset left entries")
	}
}

func TestNormURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://EXAMPLE.com:443/a#f": "https://example.com/a",
		"http://example.com":          "http://example.com/",
		"//cdn.example.net/x.css":     "https://cdn.example.net/x.css",
		"/rel?q=1":                    "https://www.example.com/rel?q=1",
		"data:image/png;base64,xx":    "",
		"javascript:void(0)":          "",
	} {
		if got := normURL(in, mustURL(t, "https://www.example.com/page")); got != want {
			t.Errorf("normURL(%q) = %q, want %q", in, got, want)
		}
	}
}
