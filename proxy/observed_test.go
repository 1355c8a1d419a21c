package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints"
)

// fetchAs requests path as a browser fetching a subresource of dest,
// referred by referer.
func fetchAs(t *testing.T, c *http.Client, s *stack, path, dest, referer, cookie string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+s.srv.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Dest", dest)
	req.Header.Set("Sec-Fetch-Mode", map[bool]string{true: "cors", false: "no-cors"}[dest == "font"])
	req.Header.Set("Referer", "https://"+s.srv.Addr()+referer)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode
}

// TestObserved_FontNamedInStylesheet: a font named only inside the page's
// stylesheet is never seen by the head scan; once distinct visitors'
// browsers fetched it (Referer chain page → stylesheet → font), the 103
// names it with as=font and crossorigin. A file only one visitor fetched
// (a personal avatar) never is.
func TestObserved_FontNamedInStylesheet(t *testing.T) {
	for _, proto := range bothProtos {
		t.Run(proto, func(t *testing.T) {
			origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/":
					w.Header().Set("Content-Type", "text/html")
					_, _ = io.WriteString(w, `<!doctype html><head><link rel=stylesheet href=/site.css></head><body><img src=/avatar.png></body>`)
				case strings.HasSuffix(r.URL.Path, ".css"):
					w.Header().Set("Content-Type", "text/css")
					w.Header().Set("Cache-Control", "public, max-age=3600")
					_, _ = io.WriteString(w, `@font-face{font-family:f;src:url(/fonts/body.woff2)}`)
				default:
					w.Header().Set("Cache-Control", "public, max-age=3600")
					_, _ = io.WriteString(w, "data")
				}
			}))
			ev := &learnedCounter{}
			s := startStack(t, origin, stackOptions{hints: earlyhints.Config{Observer: ev, LearnInterval: -1}})
			visitors := []string{"alice", "bob", "carol", "dave", "erin"}
			for i, who := range visitors {
				c := s.clientAt(t, proto, fmt.Sprintf("127.%d.0.1", i+1))
				hints, _ := visitWith(t, c, s, "/", nil)
				got := joined(hints)
				if strings.Contains(got, "/avatars/") {
					t.Fatalf("%s's 103 names an avatar: %s", who, got)
				}
				if i == earlyhints.DefaultPrivateQuorum {
					if !strings.Contains(got, "</fonts/body.woff2>; rel=preload; as=font; crossorigin") {
						t.Fatalf("after %d visitors fetched the font, %s's 103 is %q", i, who, got)
					}
					if !strings.Contains(got, "</site.css>") || strings.Index(got, "site.css") > strings.Index(got, "body.woff2") {
						t.Fatalf("the head's stylesheet should come first: %s", got)
					}
				}
				fetchAs(t, c, s, "/site.css", "style", "/", "")
				fetchAs(t, c, s, "/fonts/body.woff2", "font", "/site.css", "")
				fetchAs(t, c, s, "/avatars/"+who+".png", "image", "/", "")
				// A fetch no page view explains is not learned from.
				fetchAs(t, c, s, "/elsewhere.js", "script", "/unknown-page", "")
				// The page view and the three fetches it explains.
				waitFor(t, "learned", &ev.learned, int64(4*(i+1)))
			}
		})
	}
}
