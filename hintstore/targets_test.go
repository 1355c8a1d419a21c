package hintstore

import (
	"slices"
	"strconv"
	"testing"
)

// TestTargetIndex: a target's routes are kept whether few (a slice) or
// many (a set past smallSet), and a target leaves the index with its last
// route.
func TestTargetIndex(t *testing.T) {
	for _, n := range []int{1, smallSet, smallSet + 1, 5 * smallSet} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ix := targetIndex{routes: make(map[string]targetRoutes)}
			var want []string
			for i := range n {
				r := "https://a.test/p/" + strconv.Itoa(i)
				want = append(want, r)
				ix.set(r, nil, targetLinks("https://a.test/site.css", r+".jpg"))
				ix.set(r, targetLinks("https://a.test/site.css", r+".jpg"), targetLinks("https://a.test/site.css", r+".jpg")) // again: no duplicate
			}
			got := ix.routesOf("https://a.test/site.css")
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("routes of the shared target: %d, want %d", len(got), len(want))
			}
			if !ix.has(want[0]+".jpg") || len(ix.routesOf(want[0]+".jpg")) != 1 {
				t.Fatalf("a route's own target: %v", ix.routesOf(want[0]+".jpg"))
			}
			for _, r := range want {
				ix.set(r, targetLinks("https://a.test/site.css", r+".jpg"), nil)
			}
			if len(ix.routes) != 0 || ix.has("https://a.test/site.css") {
				t.Fatalf("%d targets left after every route went", len(ix.routes))
			}
		})
	}
}

// targetLinks returns links to targets, as the index records them.
func targetLinks(targets ...string) []Link {
	out := make([]Link, 0, len(targets))
	for _, t := range targets {
		out = append(out, Link{Target: t})
	}
	return out
}
