//go:build integration

package redisstore_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/redisstore"
	"github.com/earlyhints/earlyhints/internal/redistest"
)

// benchPage is a route's typical hints: a few stylesheets, scripts, a
// font and a preconnect.
func benchPage() hintstore.Observation {
	var o hintstore.Observation
	for i := range 8 {
		o.Links = append(o.Links, hintstore.Link{Target: fmt.Sprintf("https://a.test/static/app.%d.css", i), Value: fmt.Sprintf("</static/app.%d.css>; rel=preload; as=style", i)})
	}
	return o
}

// BenchmarkGet_Hit is the request path: the hints of a route already
// read. The Redis store answers from its local copy, so the figures of
// memory and redis should be close (compare them as a ratio).
func BenchmarkGet_Hit(b *testing.B) {
	srv := redistest.Start(b)
	mem, err := hintstore.NewMemory(hintstore.MemoryConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = mem.Close() })
	stores := []struct {
		name string
		s    hintstore.Store
	}{{"memory", mem}, {"redis", open(b, srv, redisstore.Config{})}}
	const routes = 1000
	for _, st := range stores {
		for i := range routes {
			key := fmt.Sprintf("https://a.test/page/%d", i)
			if _, err := st.s.Observe(b.Context(), key, benchPage()); err != nil {
				b.Fatal(err)
			}
			if _, ok, _ := st.s.Get(b.Context(), key); !ok {
				b.Fatal("no hints after Observe")
			}
		}
		keys := make([]string, routes)
		for i := range keys {
			keys[i] = fmt.Sprintf("https://a.test/page/%d", i)
		}
		b.Run(st.name, func(b *testing.B) {
			ctx := b.Context()
			i := 0
			for b.Loop() {
				if _, ok, _ := st.s.Get(ctx, keys[i%routes]); !ok {
					b.Fatal("miss")
				}
				i++
			}
		})
		b.Run(st.name+"/parallel", func(b *testing.B) {
			ctx := b.Context()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, ok, _ := st.s.Get(ctx, keys[i%routes]); !ok {
						b.Error("miss")
						return
					}
					i++
				}
			})
		})
		b.Run(st.name+"/hinted", func(b *testing.B) {
			ctx := b.Context()
			target := benchPage().Links[3].Target
			for b.Loop() {
				if ok, _ := st.s.Hinted(ctx, target); !ok {
					b.Fatal("not hinted")
				}
			}
		})
	}
}

// BenchmarkObserve is a learn: one public observation, a round trip to
// Redis running the learning script.
func BenchmarkObserve(b *testing.B) {
	srv := redistest.Start(b)
	s := open(b, srv, redisstore.Config{})
	obs := benchPage()
	i := 0
	for b.Loop() {
		if _, err := s.Observe(b.Context(), fmt.Sprintf("https://a.test/page/%d", i%1000), obs); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGet_RedisDown is the request path while Redis is gone: a
// route never read before is a miss answered without waiting.
func BenchmarkGet_RedisDown(b *testing.B) {
	srv := redistest.Start(b)
	s := open(b, srv, redisstore.Config{})
	srv.Kill()
	for i := 0; s.Health().Up && i < 1000; i++ {
		_, _, _ = s.Get(b.Context(), fmt.Sprint("warm", i))
	}
	if s.Health().Up {
		b.Fatal("the store did not notice the outage")
	}
	i := 0
	for b.Loop() {
		if _, ok, _ := s.Get(b.Context(), fmt.Sprint("https://a.test/new/", i)); ok {
			b.Fatal("hints from a dead server")
		}
		i++
	}
}

// TestStore_MemoryPerRoute measures what a route costs Redis (run with
// -v for the figure the README quotes): 10,000 routes of eight links each,
// the stylesheets shared by every route (their target sets grow with the
// routes) and one script of the route's own.
func TestStore_MemoryPerRoute(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, redisstore.Config{KeyPrefix: "earlyhints:"})
	ctx := t.Context()
	used := func() int {
		t.Helper()
		n, err := strconv.Atoi(srv.Info("used_memory"))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := used()
	const routes = 10000
	for i := range routes {
		obs := benchPage()
		obs.Links[7] = hintstore.Link{Target: fmt.Sprintf("https://a.test/static/page.%d.js", i), Value: fmt.Sprintf("</static/page.%d.js>; rel=preload; as=script", i)}
		if _, err := s.Observe(ctx, fmt.Sprintf("https://a.test/products/%d", i), obs); err != nil {
			t.Fatal(err)
		}
	}
	per := (used() - before) / routes
	t.Logf("Redis memory per route of 8 links: %d bytes (%d routes)", per, routes)
	if per > 8<<10 {
		t.Errorf("a route costs Redis %d bytes, more than 8 KiB", per)
	}
}
