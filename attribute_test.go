package earlyhints

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Attribution and the observed hint are functions of the request values
// and the view log: no Handler takes part.

func TestViewLog_attribute(t *testing.T) {
	page := httptest.NewRequest(http.MethodGet, "https://a.test/page", nil)
	page.RemoteAddr = "198.51.100.7:1"
	var views viewLog
	views.viewed(&navigation{requestFacts: requestFacts{r: page}, route: "https://a.test/page"}, "observed-key")

	fetch := func(method, url, addr, dest, referer string) *subresource {
		r := httptest.NewRequest(method, url, nil)
		r.RemoteAddr = addr
		if dest != "" {
			r.Header.Set("Sec-Fetch-Dest", dest)
		}
		if referer != "" {
			r.Header.Set("Referer", referer)
		}
		return &subresource{requestFacts: requestFacts{r: r}, proto: r.Proto}
	}
	tests := []struct {
		name   string
		s      *subresource
		as     string
		viewed bool
	}{
		{"stylesheet of the page", fetch("GET", "https://a.test/site.css", "198.51.100.99:2", "style", "https://a.test/page#top"), "style", true},
		// The stylesheet's fetch above made it a referer of the view.
		{"font of the stylesheet", fetch("GET", "https://a.test/body.woff2", "198.51.100.7:3", "font", "https://a.test/site.css"), "font", true},
		{"another network", fetch("GET", "https://a.test/site.css", "203.0.113.5:1", "style", "https://a.test/page"), "", false},
		{"no Referer", fetch("GET", "https://a.test/site.css", "198.51.100.7:1", "style", ""), "", false},
		{"not a preload destination", fetch("GET", "https://a.test/frame", "198.51.100.7:1", "iframe", "https://a.test/page"), "", false},
		{"not a GET", fetch("POST", "https://a.test/api", "198.51.100.7:1", "script", "https://a.test/page"), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, as, ok := views.attribute(tc.s)
			if ok != tc.viewed || as != tc.as {
				t.Fatalf("attribute = (%q, %v), want (%q, %v)", as, ok, tc.as, tc.viewed)
			}
			if ok && (v.key != "observed-key" || v.page.String() != "https://a.test/page") {
				t.Errorf("attributed to %q of %s, want observed-key of https://a.test/page", v.key, v.page)
			}
		})
	}
}

func TestObservedHint(t *testing.T) {
	page := httptest.NewRequest(http.MethodGet, "https://a.test/me", nil)
	page.Header.Set("Cookie", "uid=bob42")
	var views viewLog
	views.viewed(&navigation{requestFacts: requestFacts{r: page}, route: "https://a.test/me"}, "k")
	tests := []struct {
		name, url, dest, mode string
		want                  string // the hint's Link value; "" for none
	}{
		{"font, always CORS", "https://a.test/f.woff2", "font", "cors", "</f.woff2>; rel=preload; as=font; crossorigin"},
		{"module script", "https://a.test/app.mjs", "script", "cors", "</app.mjs>; rel=preload; as=script; crossorigin"},
		{"classic script", "https://a.test/app.js", "script", "no-cors", "</app.js>; rel=preload; as=script"},
		{"the page's cookie value", "https://a.test/u/bob42.css", "style", "no-cors", ""},
		{"cross-site", "https://cdn.example/x.css", "style", "no-cors", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.url, nil)
			r.Header.Set("Sec-Fetch-Dest", tc.dest)
			r.Header.Set("Sec-Fetch-Mode", tc.mode)
			r.Header.Set("Referer", "https://a.test/me")
			s := &subresource{requestFacts: requestFacts{r: r}, proto: r.Proto}
			v, as, ok := views.attribute(s)
			if !ok {
				t.Fatal("fetch not attributed to the page view")
			}
			link, ok := observedHint(s, v, as, nil, false)
			if ok != (tc.want != "") || link.Value != tc.want {
				t.Errorf("observedHint = (%q, %v), want %q", link.Value, ok, tc.want)
			}
		})
	}
}
