package realpages

import (
	"net/url"
	"strings"
	"testing"
)

func TestNotTaken(t *testing.T) {
	for _, tc := range []struct {
		name, html, at, want string
	}{
		{"inline script", `<head><script>document.write('<script src="//x.example/a.js">')</script>`, "//x.example", "named inside an inline script"},
		{"comment", `<head><!-- <script src="//x.example/a.js"></script> -->`, "//x.example", "named inside a comment"},
		{"stray iframe", `<head><iframe></iframe><script src="//x.example/a.js"></script></head><body>`, "//x.example", "in the head after an element that begins the body"},
		{"body script", `<head></head><body><p>x</p><script src="//x.example/a.js"></script>`, "//x.example", "synchronous script in the body"},
		{"other", `<head><meta content="//x.example/a.js"></head>`, "//x.example", "named where the scanner does not take it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := notTaken([]byte(tc.html), strings.Index(tc.html, tc.at))
			if got != tc.want {
				t.Errorf("notTaken = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzScorePage: any page, any 103 and any truth are scored without a
// panic, with counts that add up.
func FuzzScorePage(f *testing.F) {
	f.Add(`<head><link rel=stylesheet href=/a.css><iframe></iframe><script src="//x.example/b.js"></script>`, "</a.css>; rel=preload; as=style", "https://www.example.com/a.css", "https://x.example/b.js")
	f.Add("<!--", "<//x>; rel=preconnect", "", "http://x/\x00")
	f.Fuzz(func(t *testing.T, html, hints, sameSite, third string) {
		p := &Page{Name: "p", URL: "https://www.example.com/", HTML: []byte(html)}
		tr := &Truth{
			URL: p.URL, Blocking: []string{sameSite, third}, Fonts: []string{third}, LCP: sameSite,
			Requests: []Fetch{{URL: p.URL, Dest: "document"}, {URL: sameSite, Dest: "style"}},
		}
		s := ScorePage(p, tr, &Result{Got103: true, Hints: []string{hints}}, ScoreConfig{})
		all := s.SameSiteAll()
		all.Add(s.ThirdPartyAll())
		if all.Got > all.Of || s.Precision.Got > s.Precision.Of || len(s.Misses) != all.Of-all.Got+s.Precision.Of-s.Precision.Got {
			t.Errorf("counts do not add up: %+v, %d misses", s, len(s.Misses))
		}
		if _, err := url.Parse(p.URL); err != nil {
			t.Fatal(err)
		}
	})
}
