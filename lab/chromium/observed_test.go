//go:build chromium

package chromium

import (
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
)

// TestStack_ObservedFont: a font named only inside the page's stylesheet
// reaches the 103 once three visitors' browsers fetched it (the privacy
// quorum), with as=font and crossorigin, and the next fresh visit takes it
// from the 103.
//
// The document budget is off: the font (Liberation Sans, 410 KB) is more
// than a slow 4G link carries in the page's 100 ms think time, so with it
// the font is rightly left out (fieldview_test.go tests the budget).
func TestStack_ObservedFont(t *testing.T) {
	st := newStack(t, stackConfig{think: 100 * time.Millisecond, hints: earlyhints.Config{LearnInterval: -1, AssumedBandwidth: -1}})
	url := st.h2Base + fontPagePath
	visit := func(user string) *Visit {
		t.Helper()
		b := launch(t, st.browser(t, h2))
		defer b.Close()
		// The user cookie gives each visitor a network of its own
		// (visitorNetworks): the quorum counts people, not browsers.
		if err := b.SetCookie(t.Context(), url, "user", user); err != nil {
			t.Fatal(err)
		}
		v, _ := st.visit(t, b, url)
		// The load event does not wait for every font: wait until the
		// page's font is in, so its fetch is whole before the browser
		// closes.
		fonts, err := b.EvalString(t.Context(), `document.fonts.ready.then(() => [...document.fonts].map(f => f.family + ":" + f.status).join())`)
		if err != nil || !strings.Contains(fonts, "Body:loaded") {
			t.Fatalf("%s's page font did not load: %q, %v", user, fonts, err)
		}
		return v
	}
	for i, user := range []string{"ann", "ben", "cat"} {
		mark := st.eventCount()
		visit(user)
		// Wait for both fetches (the stylesheet and the font) to be
		// counted; the third visitor's bring both to quorum.
		deadline := time.Now().Add(10 * time.Second)
		for !observedFont(st.eventsSince(mark), i == 2) {
			if time.Now().After(deadline) {
				t.Fatalf("%s's font fetch was not observed: events %+v", user, st.eventsSince(mark))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	v := visit("dan")
	t.Logf("dan's 103: %q; initiator types %v", v.EarlyHints, initiators(v))
	if !strings.Contains(strings.Join(v.EarlyHints, ", "), "<"+fontPath+">; rel=preload; as=font; crossorigin") {
		t.Fatalf("the 103 does not name the font: %q", v.EarlyHints)
	}
	if rt, ok := v.Resource(st.h2Base + fontPath); !ok || rt.InitiatorType != "early-hints" {
		t.Fatalf("Chromium did not take the font from the 103: %+v", rt)
	}
}

// observedFont reports whether both of a visit's late fetches (the
// stylesheet and the font) were observed, and, when quorum is set, that
// both reached it: the learner takes them one by one, off the request
// path, so the first event does not mean the second is in.
func observedFont(events []earlyhints.Event, quorum bool) bool {
	n, links := 0, 0
	for _, e := range events {
		if e.Kind == earlyhints.EventLearned && strings.HasSuffix(e.Route, "#observed") {
			n++
			links = max(links, e.Links)
		}
	}
	return n >= 2 && (!quorum || links >= 2)
}
