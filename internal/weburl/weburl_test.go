package weburl

import (
	"errors"
	"net/url"
	"testing"
)

func TestSameSite(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"www.shop.example", "static.shop.example", true},
		{"shop.example", "shop.example.", true},
		{"a.shop.co.uk", "b.shop.co.uk", true},
		{"shop.co.uk", "other.co.uk", false},
		{"a.github.io", "b.github.io", false},
		{"shop.example", "shop.example.net", false},
		{"localhost", "localhost", true},
		{"localhost", "a.localhost", false},
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"[::1]", "[::1]", true},
		{"10.0.0.1", "1.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.a+"_"+tc.b, func(t *testing.T) {
			if got := SameSite(tc.a, tc.b); got != tc.want {
				t.Errorf("SameSite(%q, %q) = %v", tc.a, tc.b, got)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	base, err := FromURL(&url.URL{Scheme: "https", Host: "www.Shop.example:443", Path: "/d/page.html"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref, want string
		err       error
	}{
		{"a.css", "https://www.shop.example/d/a.css", nil},
		{"/x/%2A?q=%2a", "https://www.shop.example/x/%2A?q=%2a", nil}, // escapes kept as written
		{"../%2e%2E/a b.js", "https://www.shop.example/a%20b.js", nil},
		{`\\cdn.example\a.js`, "https://cdn.example/a.js", nil},
		{"https://u:p@cdn.example/a.js", "", ErrCredentials},
		{"/a%zz.js", "", ErrEscape},
		{"/%", "", ErrEscape},
		{"javascript:x", "", ErrScheme},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := Resolve(tc.ref, &base)
			if !errors.Is(err, tc.err) || err == nil && got.String() != tc.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q, %v", tc.ref, got.String(), err, tc.want, tc.err)
			}
		})
	}
	got, err := ResolveWithoutCredentials("https://u:p@CDN.example:443/a.js#f", &base)
	if err != nil || got.String() != "https://cdn.example/a.js" {
		t.Fatalf("ResolveWithoutCredentials = %q, %v", got.String(), err)
	}
}

func TestRelative(t *testing.T) {
	tests := []struct {
		ref, want string
		rel, ok   bool
	}{
		{"css/a.css", "css/a.css", true, true},
		{"../a b.js?x=é#f", "../a%20b.js?x=%C3%A9", true, true},
		{`a\b`, "a/b", true, true},
		{"/a%zz", "", true, false},
		{"https://cdn.example/x", "", false, true},
		{"//cdn.example/x", "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, rel, err := Relative(tc.ref)
			if rel != tc.rel || (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("Relative(%q) = %q, %v, %v", tc.ref, got, rel, err)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		abs  string
		want URL
		ok   bool
	}{
		{"https://a.example/x?q", URL{Scheme: "https", Host: "a.example", Rest: "/x?q"}, true},
		{"http://[::1]:8080/", URL{Scheme: "http", Host: "[::1]", Port: "8080", Rest: "/"}, true},
		{"https://a.example", URL{}, false},
		{"ftp://a.example/", URL{}, false},
		{"https:///x", URL{}, false},
	}
	for _, tc := range tests {
		got, ok := Split(tc.abs)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("Split(%q) = %+v, %v", tc.abs, got, ok)
		}
		if ok && got.String() != tc.abs {
			t.Errorf("Split(%q).String() = %q", tc.abs, got.String())
		}
	}
}

// FuzzResolve checks what holds for any reference: a resolved URL parses
// with net/url as an absolute http(s) URL without credentials or fragment,
// is canonical (resolving it again, or splitting it, gives it back), and
// its append form agrees with its string form.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/a.css", "a/b.js?x=1", "../%2e%2E/./a b|c/é?x='y'", `\\evil.example\a.js`, "https:x.js", "HTTP://[::1]:80/",
		"https://A.EXAMPLE:0443//x", "//cdn.example", "?q", "", "/%", "/a%zz", "https://u:p@h.example/", "https://127.1/",
	} {
		f.Add("https://www.example.com/dir/page.html?q=1", s)
	}
	f.Fuzz(func(t *testing.T, page, ref string) {
		p, err := url.Parse(page)
		if err != nil {
			return
		}
		base, err := FromURL(p)
		if err != nil {
			return
		}
		got, err := Resolve(ref, &base)
		b, originEnd, errAppend := AppendResolveWithoutCredentials(nil, ref, &base)
		if err != nil {
			if errAppend == nil && !errors.Is(err, ErrCredentials) {
				t.Fatalf("Resolve(%q) failed (%v), the append form gave %q", ref, err, b)
			}
			return
		}
		s := got.String()
		if errAppend != nil || string(b) != s || s[:originEnd] != got.Origin() {
			t.Fatalf("Resolve(%q) = %q, append form %q (origin end %d, %v)", ref, s, b, originEnd, errAppend)
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("Resolve(%q) = %q, not a plain absolute http(s) URL: %v", ref, s, err)
		}
		again, err := Resolve(s, nil)
		if err != nil || again != got {
			t.Fatalf("Resolve(%q) = %+v, resolved again %+v (%v)", ref, got, again, err)
		}
		if parts, ok := Split(s); !ok || parts != got {
			t.Fatalf("Split(%q) = %+v, %v; want %+v", s, parts, ok, got)
		}
	})
}
