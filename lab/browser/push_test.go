package browser

import (
	"net/http"
	"strings"
	"testing"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

func TestLoad_Push(t *testing.T) {
	s := tinySite(t, false)
	s.push = []string{"/a.css", "/b.js", "/unused.js"}
	s.assets["/unused.js"] = asset{body: strings.Repeat("u", 3000), ctype: "text/javascript"}
	cache := &Cache{}

	cold := load(t, s, Config{Proto: H2, AcceptPush: true, Cache: cache})
	if cold.Pushes != 3 || cold.PushesCancelled != 0 {
		t.Fatalf("cold: %d pushes, %d cancelled (server errors %v)", cold.Pushes, cold.PushesCancelled, s.pushErrs)
	}
	for _, p := range []string{"/a.css", "/b.js"} {
		e := entryOf(t, cold, s, H2, p)
		if e.Initiator != InitPush || !e.Used || e.Wasted || e.Start >= cold.HTMLFirstByte {
			t.Errorf("cold %s: %+v (HTML first byte %v)", p, e, cold.HTMLFirstByte)
		}
		if n := s.count(p); n != 1 {
			t.Errorf("%s requested %d times, want once (the push)", p, n)
		}
	}
	u := entryOf(t, cold, s, H2, "/unused.js")
	if u.Used || !u.Wasted || u.WastedBytes != 3000 || cold.WastedBytes != 3000 {
		t.Errorf("unused push %+v, total wasted %d", u, cold.WastedBytes)
	}
	if cold.Connections != 1 {
		t.Errorf("connections = %d", cold.Connections)
	}

	// Warm: the pushes the page used went into the HTTP cache and are now
	// refused with RST_STREAM(CANCEL); the never-used push was not stored,
	// so it is accepted and wasted again.
	warm := load(t, s, Config{Proto: H2, AcceptPush: true, Cache: cache})
	if warm.Pushes != 3 || warm.PushesCancelled != 2 {
		t.Fatalf("warm: %d pushes, %d cancelled, want 3 and 2", warm.Pushes, warm.PushesCancelled)
	}
	var cancelledBytes int64
	for _, e := range warm.Entries {
		if e.Cancelled {
			if !e.Wasted || e.WastedBytes != e.Bytes {
				t.Errorf("cancelled push %+v not counted as waste", e)
			}
			cancelledBytes += e.Bytes
		}
	}
	if warm.WastedBytes != cancelledBytes+3000 {
		t.Errorf("warm wasted %d, want cancelled bytes %d + unused push 3000", warm.WastedBytes, cancelledBytes)
	}
	if css := entryOf(t, warm, s, H2, "/a.css"); css.Initiator != InitCache || !css.Used {
		t.Errorf("warm stylesheet %+v, want served from cache", css)
	}
}

func TestLoad_PushDisabledGetsNone(t *testing.T) {
	s := tinySite(t, false)
	s.push = []string{"/a.css"}
	res := load(t, s, Config{Proto: H2, H2PushClient: true})
	if res.Pushes != 0 {
		t.Errorf("%d pushes without AcceptPush", res.Pushes)
	}
	if len(s.pushErrs) != 1 || s.pushErrs[0] != http.ErrNotSupported {
		t.Errorf("server push errors %v, want ErrNotSupported", s.pushErrs)
	}
	if css := entryOf(t, res, s, H2, "/a.css"); css.Initiator != InitParser {
		t.Errorf("stylesheet %+v", css)
	}
}

func TestLoad_WarmCache(t *testing.T) {
	for _, proto := range []string{H1, H2, H3} {
		t.Run(proto, func(t *testing.T) {
			s := tinySite(t, true)
			cache := &Cache{}
			cold := load(t, s, Config{Proto: proto, UseEarlyHints: true, Cache: cache})
			if cold.Bytes == 0 || cache.Len() != 4 {
				t.Fatalf("cold: %d bytes, %d cached", cold.Bytes, cache.Len())
			}
			warm := load(t, s, Config{Proto: proto, UseEarlyHints: true, Cache: cache})
			// Immutable assets come from the cache; the no-cache document is
			// revalidated with If-None-Match and answered 304.
			if warm.Bytes != 0 || warm.WastedBytes != 0 {
				t.Errorf("warm load moved %d bytes (%d wasted), want 0", warm.Bytes, warm.WastedBytes)
			}
			doc := entryOf(t, warm, s, proto, "/")
			if !doc.Revalidated || doc.Status != http.StatusNotModified {
				t.Errorf("document %+v, want a 304 revalidation", doc)
			}
			for _, p := range []string{"/a.css", "/b.js", "/c.jpg"} {
				if e := entryOf(t, warm, s, proto, p); !e.FromCache || e.Initiator != InitCache || !e.Used {
					t.Errorf("%s: %+v", p, e)
				}
				if n := s.count(p); n != 1 {
					t.Errorf("%s requested %d times over two visits, want 1", p, n)
				}
			}
			if warm.RenderTime < s.think {
				t.Errorf("warm render %v before the document", warm.RenderTime)
			}
		})
	}
}

func TestLoad_Revalidation(t *testing.T) {
	s := tinySite(t, false)
	cache := &Cache{}
	load(t, s, Config{Proto: H2, Cache: cache})
	// Expire the stylesheet's freshness: it must be revalidated, and the
	// server (which ignores If-None-Match for assets) sends it again.
	cache.mu.Lock()
	e := cache.entries[strings.TrimSuffix(s.url(H2), "/")+"/a.css"]
	e.policy = httpx.CacheControl{NoCache: true, MaxAge: -1}
	e.header.Set("Etag", `"css1"`)
	cache.mu.Unlock()
	res := load(t, s, Config{Proto: H2, Cache: cache})
	css := entryOf(t, res, s, H2, "/a.css")
	if css.FromCache || css.Bytes != 15 || css.Initiator != InitParser {
		t.Errorf("revalidated stylesheet %+v", css)
	}
}
