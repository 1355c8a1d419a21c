package demo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/earlyhints/earlyhints/internal/demo"
)

func TestNew_Pages(t *testing.T) {
	h := demo.New(demo.Config{Think: -1})
	tests := []struct {
		path, wantType, wantBody string
		status                   int
	}{
		{"/", "text/html; charset=utf-8", `href="/static/base.css"`, 200},
		{"/account", "text/html; charset=utf-8", "/avatar/", 200},
		{"/static/base.css", "text/css; charset=utf-8", "@font-face", 200},
		{"/static/theme.css", "text/css; charset=utf-8", ":root", 200},
		{"/static/app.js", "text/javascript; charset=utf-8", "dataset", 200},
		{"/static/hero.svg", "image/svg+xml", "<svg", 200},
		{"/static/go.ttf", "font/ttf", "", 200},
		{"/static/page.html", "", "", 404},
		{"/avatar/0123456789abcdef.svg", "image/svg+xml", "visitor 0123456789abcdef", 200},
		{"/avatar/..%2fetc.svg", "", "", 404},
		{"/nope", "", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.wantType {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
			body, _ := io.ReadAll(rec.Body)
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body lacks %q", tt.wantBody)
			}
		})
	}
}

func TestNew_AccountIsPersonal(t *testing.T) {
	h := demo.New(demo.Config{Think: -1})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/account", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != "visitor" {
		t.Fatalf("cookies %v, want a visitor cookie", cookies)
	}
	if !strings.Contains(rec.Body.String(), "/avatar/"+cookies[0].Value+".svg") {
		t.Errorf("page does not name the visitor's own image")
	}
	req := httptest.NewRequest(http.MethodGet, "/account", nil)
	req.AddCookie(cookies[0])
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, req)
	if len(rec2.Result().Cookies()) != 0 || !strings.Contains(rec2.Body.String(), cookies[0].Value) {
		t.Errorf("returning visitor got a new identity")
	}
}

func TestNew_ThinkTimeAndOwnHints(t *testing.T) {
	h := demo.New(demo.Config{Think: 50 * time.Millisecond})
	rec := httptest.NewRecorder()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("answered after %v, want the 50ms think time", d)
		}
	})
	if l := rec.Header().Get("Link"); !strings.Contains(l, "/static/go.ttf") {
		t.Errorf("Link %q does not hint the font", l)
	}
	if st := rec.Header().Get("Server-Timing"); !strings.Contains(st, "dur=50") {
		t.Errorf("Server-Timing %q", st)
	}
}
