package browser

import (
	"net/http"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// DefaultCacheBytes bounds a Cache whose MaxBytes is zero.
const DefaultCacheBytes = 256 << 20

// Cache is the model's HTTP cache, keyed by absolute URL. It honours
// Cache-Control max-age, immutable, no-cache and no-store, and revalidates
// with If-None-Match when an entry has an ETag. The zero value is an empty
// cache ready to use; share one between Loads for warm visits.
//
// Simplifications: a response is stored only when it is a 200 with an
// explicit freshness (max-age or immutable) or a validator (ETag);
// "immutable" without max-age counts as fresh (fingerprinted assets);
// heuristic freshness from Last-Modified, Vary and Expires are ignored.
type Cache struct {
	// MaxBytes bounds the stored bodies; 0 means DefaultCacheBytes. When
	// full, new responses are not stored.
	MaxBytes int64
	// Now is the clock used for freshness; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
	size    int64
}

type cacheEntry struct {
	header   http.Header
	body     []byte
	storedAt time.Time
	policy   httpx.CacheControl
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// cached is what a lookup found.
type cached struct {
	header http.Header
	body   []byte
	fresh  bool   // usable without contacting the server
	etag   string // validator for a conditional request
}

// lookup returns the entry for url, if any.
func (c *Cache) lookup(url string) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[url]
	if e == nil {
		return cached{}, false
	}
	age := c.now().Sub(e.storedAt)
	p := e.policy
	fresh := !p.NoCache && ((p.MaxAge >= 0 && age < time.Duration(p.MaxAge)*time.Second) || (p.Immutable && p.MaxAge < 0))
	return cached{header: e.header, body: e.body, fresh: fresh, etag: e.header.Get("Etag")}, true
}

// store keeps a complete 200 response when its headers allow.
func (c *Cache) store(url string, status int, h http.Header, body []byte) {
	p := httpx.ParseCacheControl(h)
	if status != http.StatusOK || p.NoStore {
		return
	}
	if p.MaxAge < 0 && !p.Immutable && h.Get("Etag") == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.MaxBytes
	if limit == 0 {
		limit = DefaultCacheBytes
	}
	if c.entries == nil {
		c.entries = make(map[string]*cacheEntry)
	}
	if old := c.entries[url]; old != nil {
		c.size -= int64(len(old.body))
	}
	if c.size+int64(len(body)) > limit {
		delete(c.entries, url)
		return
	}
	c.size += int64(len(body))
	c.entries[url] = &cacheEntry{header: h.Clone(), body: body, storedAt: c.now(), policy: p}
}

// refresh applies a 304's headers to the stored entry and restarts its age.
func (c *Cache) refresh(url string, h http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[url]
	if e == nil {
		return
	}
	for _, k := range []string{"Cache-Control", "Etag", "Expires", "Date"} {
		if v := h.Values(k); len(v) > 0 {
			e.header[k] = v
		}
	}
	e.policy = httpx.ParseCacheControl(e.header)
	e.storedAt = c.now()
}

// Len returns the number of stored responses.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Size returns the stored body bytes.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Clear empties the cache (a cold start).
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.size = 0
}

// Contains reports whether url is stored and fresh.
func (c *Cache) Contains(url string) bool {
	e, ok := c.lookup(url)
	return ok && e.fresh
}
