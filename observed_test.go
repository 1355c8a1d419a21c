package earlyhints_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
)

// fontSite is a page whose font is named only inside its stylesheet, and
// a personal font per user. While hold is set, the page does not answer
// until the visitor's early fetches are done (release), as a slow origin
// that the browser outruns with the 103's hints.
type fontSite struct {
	hold    atomic.Bool
	release chan struct{}
}

func (s *fontSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/fonts":
		if s.hold.Load() {
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = io.WriteString(w, `<!doctype html><html><head><link rel=stylesheet href=/static/fonts.css></head><body>text</body></html>`)
	case strings.HasSuffix(r.URL.Path, ".css"):
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = io.WriteString(w, `@font-face{font-family:B;src:url(/static/body.woff2)}`)
	case strings.HasSuffix(r.URL.Path, ".woff2"):
		w.Header().Set("Content-Type", "font/woff2")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = io.WriteString(w, strings.Repeat("f", 2000))
	default:
		http.NotFound(w, r)
	}
}

// fetchSub fetches a subresource as a browser does after a page view:
// with its destination and the Referer of what named it.
func fetchSub(t *testing.T, c *http.Client, url, dest, referer, cookie string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Error(err)
		return
	}
	req.Header.Set("Sec-Fetch-Dest", dest)
	mode := "no-cors"
	if dest == "font" {
		mode = "cors"
	}
	req.Header.Set("Sec-Fetch-Mode", mode)
	req.Header.Set("Referer", referer)
	req.Header.Set("Cookie", cookie)
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestHandler_ObservedFetches: a font named only inside a stylesheet is
// learned from what browsers fetch, with as=font and crossorigin, once
// the privacy quorum of visitors fetched it; a file each visitor fetches
// under their own name never is. The fetches are attributed whether they
// come after the page (no 103 yet) or while the origin still thinks (the
// browser took the stylesheet from the 103 and the font from it).
func TestHandler_ObservedFetches(t *testing.T) {
	for _, tc := range []struct {
		name  string
		early bool // fetch on the 103, before the page answers
	}{
		{"after the page", false},
		{"during the think time", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := &fontSite{release: make(chan struct{})}
			h, ev := newHandler(t, site, earlyhints.Config{LearnInterval: -1, AssumedBandwidth: -1})
			srv := startH2(t, h)
			page := srv.URL + "/fonts"
			css, font := srv.URL+"/static/fonts.css", srv.URL+"/static/body.woff2"

			// A first visitor teaches the head (the stylesheet), so that
			// the next ones get a 103.
			navigate(t, clientFrom(srv, "127.9.0.1"), page, nil)
			waitEvents(t, ev, func(e earlyhints.Event) bool { return e.Kind == earlyhints.EventLearned && e.Links > 0 }, 1)

			observed := func(e earlyhints.Event) bool {
				return e.Kind == earlyhints.EventLearned && strings.HasSuffix(e.Route, "#observed")
			}
			users := []string{"ann", "ben", "cat"}
			for i, user := range users {
				c := clientFrom(srv, "127."+string(rune('1'+i))+".0.1")
				cookie := "user=" + user
				fetch := func() {
					fetchSub(t, c, css, "style", page, cookie)
					fetchSub(t, c, font, "font", css, cookie)
					fetchSub(t, c, srv.URL+"/u/"+user+"/hand.woff2", "font", css, cookie)
				}
				if !tc.early {
					v := navigate(t, c, page, http.Header{"Cookie": {cookie}})
					if len(v.early) != 1 {
						t.Fatalf("%s got %d 103s, want 1", user, len(v.early))
					}
					fetch()
				} else {
					site.hold.Store(true)
					v := navigateNotify(t, c, page, http.Header{"Cookie": {cookie}}, func() {
						// On the client's read loop: fetch beside it.
						go func() {
							fetch()
							site.release <- struct{}{}
						}()
					})
					site.hold.Store(false)
					if len(v.early) != 1 {
						t.Fatalf("%s got %d 103s, want 1", user, len(v.early))
					}
				}
				// The stylesheet and the shared font; the personal one carries
				// the visitor's cookie value and is never observed.
				waitEvents(t, ev, observed, 2*(i+1))
			}

			v := navigate(t, clientFrom(srv, "127.4.0.1"), page, http.Header{"Cookie": {"user=dan"}})
			if len(v.early) != 1 {
				t.Fatalf("dan got %d 103s, want 1", len(v.early))
			}
			links := v.early[0].Values("Link")
			if !hasValue(links, "</static/body.woff2>; rel=preload; as=font; crossorigin") {
				t.Errorf("dan's 103 does not name the observed font: %q", links)
			}
			for _, l := range links {
				if strings.Contains(l, "/u/") {
					t.Errorf("a file fetched under one visitor's name reached another's 103: %q", links)
				}
			}
		})
	}
}

// waitEvents waits until n events satisfy match.
func waitEvents(t *testing.T, ev *events, match func(earlyhints.Event) bool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ev.mu.Lock()
		got := 0
		for _, e := range ev.all {
			if match(e) {
				got++
			}
		}
		ev.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events within 10s", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hasValue(values []string, want string) bool {
	for _, v := range values {
		if v == want {
			return true
		}
	}
	return false
}

// TestHandler_SpeculativeNavigation: a prefetch or prerender of the page
// gets the learned 103 like any navigation, but is no view: what its
// network fetches next is not learned as the page's.
func TestHandler_SpeculativeNavigation(t *testing.T) {
	for _, purpose := range []http.Header{
		{"Sec-Purpose": {"prefetch"}},
		{"Sec-Purpose": {"prefetch;prerender"}},
		{"Purpose": {"prefetch"}},
	} {
		t.Run(purpose.Get("Sec-Purpose")+purpose.Get("Purpose"), func(t *testing.T) {
			site := &fontSite{release: make(chan struct{})}
			h, ev := newHandler(t, site, earlyhints.Config{LearnInterval: -1, AssumedBandwidth: -1})
			srv := startH2(t, h)
			page := srv.URL + "/fonts"
			navigate(t, clientFrom(srv, "127.9.0.1"), page, nil)
			waitEvents(t, ev, func(e earlyhints.Event) bool { return e.Kind == earlyhints.EventLearned && e.Links > 0 }, 1)
			for i := range 3 {
				c := clientFrom(srv, "127."+string(rune('1'+i))+".0.1")
				v := navigate(t, c, page, purpose)
				if len(v.early) != 1 {
					t.Fatalf("speculative navigation got %d 103s, want the learned one", len(v.early))
				}
				fetchSub(t, c, srv.URL+"/static/fonts.css", "style", page, "")
				fetchSub(t, c, srv.URL+"/static/body.woff2", "font", srv.URL+"/static/fonts.css", "")
			}
			_ = h.Close() // waits for learning in flight
			ev.mu.Lock()
			defer ev.mu.Unlock()
			for _, e := range ev.all {
				if e.Kind == earlyhints.EventLearned && strings.HasSuffix(e.Route, "#observed") {
					t.Errorf("a fetch after a speculative navigation was learned: %+v", e)
				}
			}
		})
	}
}
