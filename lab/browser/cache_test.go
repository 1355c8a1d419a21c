package browser

import (
	"net/http"
	"testing"
	"time"
)

func TestCache_Lookup(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name      string
		cc        string
		etag      string
		age       time.Duration
		stored    bool
		wantFresh bool
	}{
		{"max-age fresh", "max-age=60", "", 30 * time.Second, true, true},
		{"max-age stale", "max-age=60", `"e"`, 90 * time.Second, true, false},
		{"immutable without max-age", "public, immutable", "", 1000 * time.Hour, true, true},
		{"no-cache with etag", "no-cache", `"e"`, 0, true, false},
		{"no-store", "no-store, max-age=60", "", 0, false, false},
		{"no freshness no validator", "", "", 0, false, false},
		{"quoted max-age", `max-age="60"`, "", 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := now
			c := &Cache{Now: func() time.Time { return clock }}
			h := http.Header{}
			if tt.cc != "" {
				h.Set("Cache-Control", tt.cc)
			}
			if tt.etag != "" {
				h.Set("Etag", tt.etag)
			}
			c.store("https://x/a", http.StatusOK, h, []byte("body"))
			clock = now.Add(tt.age)
			got, ok := c.lookup("https://x/a")
			if ok != tt.stored {
				t.Fatalf("stored = %v, want %v", ok, tt.stored)
			}
			if ok && (got.fresh != tt.wantFresh || got.etag != tt.etag || string(got.body) != "body") {
				t.Errorf("lookup = %+v", got)
			}
		})
	}
}

func TestCache_RefreshAndBounds(t *testing.T) {
	clock := time.Unix(0, 0)
	c := &Cache{MaxBytes: 10, Now: func() time.Time { return clock }}
	h := http.Header{"Cache-Control": {"max-age=10"}, "Etag": {`"v1"`}}
	c.store("u", http.StatusOK, h, []byte("12345"))
	c.store("big", http.StatusOK, h, []byte("123456789"))
	if c.Len() != 1 || c.Size() != 5 {
		t.Fatalf("len %d size %d: the bound was not applied", c.Len(), c.Size())
	}
	c.store("err", http.StatusNotFound, h, nil)
	if c.Contains("err") {
		t.Error("a 404 was stored")
	}
	clock = clock.Add(20 * time.Second)
	if c.Contains("u") {
		t.Fatal("stale entry reported fresh")
	}
	c.refresh("u", http.Header{"Cache-Control": {"max-age=100"}})
	if !c.Contains("u") {
		t.Error("a 304's max-age did not refresh the entry")
	}
	c.Clear()
	if c.Len() != 0 || c.Size() != 0 {
		t.Error("Clear left entries")
	}
}
