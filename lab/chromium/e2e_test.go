//go:build chromium

package chromium

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
)

// teach makes one visit with a fresh browser so that the middleware learns
// the page, and waits until it has.
func teach(t *testing.T, st *stack, p proto, path string) {
	t.Helper()
	mark := st.eventCount()
	b := launch(t, st.browser(t, p))
	st.visit(t, b, st.base(p)+path)
	b.Close()
	st.waitLearned(t, mark, 1)
}

// checkHinted asserts that a cold visit used Early Hints for the stylesheet
// and the script, as seen by the browser and by the origin.
func checkHinted(t *testing.T, p proto, base string, v *Visit, log []ServerRequest) {
	t.Helper()
	if v.Navigation.NextHopProtocol != string(p) {
		t.Errorf("page came over %q, want %q", v.Navigation.NextHopProtocol, p)
	}
	if v.Navigation.FirstInterimResponseStart <= 0 || len(v.EarlyHints) == 0 {
		t.Errorf("no 103 reached the page (firstInterimResponseStart %.1f, CDP 103 links %q)",
			v.Navigation.FirstInterimResponseStart, v.EarlyHints)
	}
	page := served(log, pagePath)
	if len(page) != 1 || page[0].Responded.IsZero() {
		t.Fatalf("origin served the page %d times, want 1: %+v", len(page), page)
	}
	fetches := map[string]Fetch{}
	for _, f := range v.Join(log) {
		fetches[f.URL] = f
	}
	for _, path := range []string{cssPath, jsPath} {
		rt, ok := v.Resource(base + path)
		if !ok {
			t.Errorf("%s: no Resource Timing entry", path)
			continue
		}
		if rt.InitiatorType != "early-hints" {
			t.Errorf("%s: initiatorType %q, want early-hints", path, rt.InitiatorType)
		}
		if req, ok := v.Request(base + path); !ok || !req.FromEarlyHints {
			t.Errorf("%s: CDP Response.fromEarlyHints false (request %+v)", path, req)
		}
		// The browser reports the resource when the page uses it; the
		// origin's log says when it was really fetched: before the page
		// itself had left the origin.
		got := served(log, path)
		if len(got) != 1 {
			t.Errorf("%s: origin served it %d times, want once", path, len(got))
			continue
		}
		if !got[0].Arrived.Before(page[0].Responded) {
			t.Errorf("%s reached the origin %v after the page's 200 was sent, want before",
				path, got[0].Arrived.Sub(page[0].Responded))
		}
		t.Logf("%s %s: fetched by the origin at %.0f ms, used by the page at %.0f ms (page's 200 sent at %.0f ms)",
			p, path, fetches[base+path].ServerArrived, rt.StartTime, v.At(page[0].Responded))
	}
}

// checkNotHinted asserts that no resource of the visit came through Early
// Hints.
func checkNotHinted(t *testing.T, v *Visit) {
	t.Helper()
	for _, rt := range v.Resources {
		if rt.InitiatorType == "early-hints" {
			t.Errorf("%s: initiatorType early-hints, want none", rt.Name)
		}
	}
	for _, r := range v.Requests {
		if r.FromEarlyHints {
			t.Errorf("%s: fromEarlyHints, want false", r.URL)
		}
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestStack_EarlyHintsFirstVisit: behind the proxy, on the second
// navigation to a page that thinks for 300 ms (the first one taught the
// proxy), a new visitor's Chromium preloads the stylesheet and the script
// from the 103 (Resource Timing says early-hints, CDP fromEarlyHints), and
// the origin sees them before it has sent the page: the origin holds the
// page until they arrive (pageHold), so that order does not depend on how
// fast a loaded machine runs Chromium. With hints off, nothing comes from
// a 103. How much sooner the page paints is BenchmarkStack_FCP's figure
// (about 300 ms, min(T + δ, RTT + x_R), on an idle machine).
func TestStack_EarlyHintsFirstVisit(t *testing.T) {
	for _, p := range []proto{h2, h3} {
		t.Run(string(p), func(t *testing.T) {
			on := newStack(t, stackConfig{think: thinkTime})
			off := newStack(t, stackConfig{think: thinkTime, hints: earlyhints.Config{Disabled: true}})
			teach(t, on, p, pagePath)
			on.hold.arm()
			// The same first visit with hints off, so both proxies start
			// with warm connections to the origin.
			b := launch(t, off.browser(t, p))
			off.visit(t, b, off.base(p)+pagePath)
			b.Close()

			const runs = 2
			var fcpOn, fcpOff []float64
			for i := range runs {
				b := launch(t, on.browser(t, p))
				v, log := on.visit(t, b, on.base(p)+pagePath)
				b.Close()
				checkHinted(t, p, on.base(p), v, log)
				fcpOn = append(fcpOn, v.FCP)

				b = launch(t, off.browser(t, p))
				v, _ = off.visit(t, b, off.base(p)+pagePath)
				b.Close()
				if v.Navigation.NextHopProtocol != string(p) {
					t.Errorf("hints off: page came over %q, want %q", v.Navigation.NextHopProtocol, p)
				}
				checkNotHinted(t, v)
				fcpOff = append(fcpOff, v.FCP)
				t.Logf("%s run %d: FCP %.0f ms with hints, %.0f ms without", p, i+1, fcpOn[i], fcpOff[i])
			}
			if slices.Contains(fcpOn, 0) || slices.Contains(fcpOff, 0) {
				t.Fatalf("a page did not paint: with hints %v, without %v", fcpOn, fcpOff)
			}
			t.Logf("%s: median FCP %.0f ms with Early Hints (page held for its assets), %.0f ms without",
				p, median(fcpOn), median(fcpOff))
		})
	}
}

// TestStack_HTTP1Ignored: with HTTP/1.1 hinting turned on, the 103 goes out
// over HTTP/1.1 and Chromium does not use it: browsers act on Early Hints
// over HTTP/2 and HTTP/3 only, which is why it is off by default.
func TestStack_HTTP1Ignored(t *testing.T) {
	st := newStack(t, stackConfig{think: thinkTime, hints: earlyhints.Config{AllowHTTP1: true}})
	teach(t, st, h1, pagePath)
	mark := st.eventCount()
	b := launch(t, st.browser(t, h1))
	v, log := st.visit(t, b, st.base(h1)+pagePath)
	if v.Navigation.NextHopProtocol != string(h1) {
		t.Fatalf("page came over %q, want http/1.1", v.Navigation.NextHopProtocol)
	}
	if sent := st.sent103(mark); sent["HTTP/1.1"] != 1 {
		t.Fatalf("middleware sent %v 103s, want one over HTTP/1.1 (else this test proves nothing)", sent)
	}
	checkNotHinted(t, v)
	page := served(log, pagePath)
	for _, path := range []string{cssPath, jsPath} {
		got := served(log, path)
		if len(page) != 1 || len(got) != 1 {
			t.Fatalf("origin served the page %d times and %s %d times, want once each", len(page), path, len(got))
		}
		if got[0].Arrived.Before(page[0].Responded) {
			t.Errorf("%s reached the origin before the page was sent: the browser used the 103", path)
		}
	}
	t.Logf("HTTP/1.1: firstInterimResponseStart %.1f ms, CDP 103 links %q, initiator types %v",
		v.Navigation.FirstInterimResponseStart, v.EarlyHints, initiators(v))
}

func initiators(v *Visit) map[string]string {
	out := map[string]string{}
	for _, rt := range v.Resources {
		out[rt.Name] = rt.InitiatorType
	}
	return out
}

// TestStack_WarmCache: a returning visitor still gets the 103, and the
// hinted resources come from the browser's cache: no bytes, no request at
// the origin. Early Hints cost nothing when the client already has the
// files, the opposite of push. Checked on the same connection (revisit) and
// on a new one (the browser restarted on the same profile).
func TestStack_WarmCache(t *testing.T) {
	for _, p := range []proto{h2, h3} {
		t.Run(string(p), func(t *testing.T) {
			st := newStack(t, stackConfig{think: thinkTime})
			b := launch(t, st.browser(t, p))
			url := st.base(p) + pagePath
			mark := st.eventCount()
			st.visit(t, b, url)
			st.waitLearned(t, mark, 1)

			for _, how := range []string{"revisit", "restart"} {
				if how == "restart" {
					if err := b.Restart(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				mark := st.eventCount()
				v, log := st.visit(t, b, url)
				if v.Navigation.NextHopProtocol != string(p) {
					t.Errorf("%s: page came over %q, want %q", how, v.Navigation.NextHopProtocol, p)
				}
				if n := len(st.sent103(mark)); n == 0 {
					t.Errorf("%s: no 103 sent to the returning visitor", how)
				}
				if len(served(log, pagePath)) != 1 {
					t.Errorf("%s: the page did not reach the origin", how)
				}
				for _, path := range []string{cssPath, jsPath} {
					rt, ok := v.Resource(st.base(p) + path)
					if !ok {
						t.Errorf("%s %s: no Resource Timing entry", how, path)
						continue
					}
					if rt.TransferSize != 0 {
						t.Errorf("%s %s: transferSize %.0f, want 0 (from the cache)", how, path, rt.TransferSize)
					}
					if n := len(served(log, path)); n != 0 {
						t.Errorf("%s %s: origin served it %d times, want none", how, path, n)
					}
					t.Logf("%s %s %s: initiatorType %q transferSize %.0f", p, how, path, rt.InitiatorType, rt.TransferSize)
				}
				if v.FCP <= 0 {
					t.Errorf("%s: no first contentful paint", how)
				}
			}
		})
	}
}

// TestStack_PersonalPage: a page that differs per user (cookie, personal
// avatar and script URLs, Cache-Control: private) is hinted only with what
// several users share. Another user's browser never requests the first
// user's personal URLs.
func TestStack_PersonalPage(t *testing.T) {
	// Every view analysed: the test waits for each to be learned from.
	st := newStack(t, stackConfig{think: 100 * time.Millisecond, hints: earlyhints.Config{LearnInterval: -1}})
	url := st.h2Base + mePath
	personal := func(user string) []string { return []string{avatar(user), userScript(user)} }

	visitAs := func(user string, visits int) (*Visit, []ServerRequest) {
		t.Helper()
		b := launch(t, st.browser(t, h2))
		if err := b.SetCookie(t.Context(), url, "user", user); err != nil {
			t.Fatal(err)
		}
		var v *Visit
		var log []ServerRequest
		for range visits {
			mark := st.eventCount()
			v, log = st.visit(t, b, url)
			st.waitLearned(t, mark, 0)
		}
		b.Close()
		for _, e := range served(log, mePath) {
			if c := e.Header.Get("Cookie"); c != "user="+user {
				t.Fatalf("origin got cookie %q for %s, want user=%s", c, user, user)
			}
		}
		return v, log
	}
	neverRequested := func(who string, v *Visit, log []ServerRequest, others ...string) {
		t.Helper()
		for _, other := range others {
			for _, path := range personal(other) {
				if v.RequestedPath(path) {
					t.Errorf("%s's browser requested %s of %s", who, path, other)
				}
				if n := len(served(log, path)); n != 0 {
					t.Errorf("origin served %s of %s %d times during %s's visit", path, other, n, who)
				}
			}
		}
	}

	// Alice comes twice: her personal URLs are seen twice, but by one
	// requester only.
	visitAs("alice", 2)
	v, log := visitAs("bob", 1)
	neverRequested("bob", v, log, "alice")
	if !v.RequestedPath(avatar("bob")) {
		t.Errorf("bob's own avatar was not loaded: the page is not what the test thinks")
	}

	// Alice, Bob and Dave share the stylesheet: three requesters (the
	// default quorum), so it may now be hinted; their avatars never are.
	visitAs("dave", 1)
	v, log = visitAs("carol", 1)
	neverRequested("carol", v, log, "alice", "bob", "dave")
	for _, link := range v.EarlyHints {
		for _, other := range []string{"alice", "bob", "dave"} {
			for _, path := range personal(other) {
				if strings.Contains(link, path) {
					t.Errorf("carol's 103 names %s: %q", path, link)
				}
			}
		}
	}
	t.Logf("carol's 103: %q; initiator types %v", v.EarlyHints, initiators(v))
	if rt, ok := v.Resource(st.h2Base + cssPath); !ok || rt.InitiatorType != "early-hints" {
		t.Errorf("the shared stylesheet was not hinted to carol (entry %+v): the page's hints are not working, so the privacy check proves little", rt)
	}
}
