package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// runConcurrent mixes every operation from several goroutines (meant for
// -race) and checks on every read the invariants that must hold whatever
// the interleaving: no repeated target, and no private link that only one
// requester ever produced.
func runConcurrent(t *testing.T, s *suite) {
	ctx := t.Context()
	const goroutines, rounds, routes = 8, 200, 10
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			who := fmt.Sprint("user", g)
			secret := fmt.Sprintf("secret-%d.png", g)
			for i := range rounds {
				key := fmt.Sprint("k", i%routes)
				var err error
				switch i % 4 {
				case 0, 1:
					_, err = s.s.Observe(ctx, key, private(who, "shared.css", secret))
				case 2:
					_, err = s.s.Observe(ctx, key, public("a.css", fmt.Sprint("b", g, ".js")))
				case 3:
					if i%40 == 3 {
						err = s.s.Forget(ctx, link("a.css").Target)
					}
				}
				if err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
				e, ok, err := s.s.Get(ctx, key)
				if err != nil {
					t.Errorf("goroutine %d: Get: %v", g, err)
					return
				}
				if ok {
					checkLinks(t, key, names(e.Links))
				}
				if i%50 == 0 {
					l, err := s.s.List(ctx, 3)
					if err != nil || len(l) > 3 {
						t.Errorf("List(3) = %d routes, %v", len(l), err)
						return
					}
					for _, e := range l {
						checkLinks(t, e.Key, names(e.Links))
					}
					if _, err := s.s.Stats(ctx); err != nil {
						t.Errorf("Stats: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	// Every goroutine produced shared.css privately on every route, so
	// it reached quorum everywhere, unless a later public page replaced it.
	st := s.stats()
	if st.Entries == 0 || st.Entries > routes {
		t.Fatalf("stats %+v, want between 1 and %d routes", st, routes)
	}
}

func checkLinks(t *testing.T, key, links string) {
	t.Helper()
	seen := map[string]bool{}
	for _, n := range strings.Split(links, ",") {
		if seen[n] {
			t.Errorf("%s: %s repeated in %s", key, n, links)
		}
		seen[n] = true
		if strings.HasPrefix(n, "secret-") {
			t.Errorf("%s: one requester's private link %s was hinted: %s", key, n, links)
		}
	}
}
