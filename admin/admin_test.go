package admin_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earlyhints/earlyhints/admin"
	"github.com/earlyhints/earlyhints/hintstore"
)

func setup(t *testing.T) (*httptest.Server, hintstore.Store) {
	t.Helper()
	store, err := hintstore.NewMemory(hintstore.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, k := range []string{"https://a.test/", "https://a.test/<script>"} {
		if _, err := store.Observe(t.Context(), k, hintstore.Observation{Links: []hintstore.Link{{Target: "https://a.test/s.css", Value: "</s.css>; rel=preload; as=style"}}}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := admin.New(admin.Config{Store: store, Gatherer: prometheus.NewRegistry(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, store
}

func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdmin_API(t *testing.T) {
	srv, store := setup(t)
	tests := []struct {
		name, method, path string
		status             int
		contains           string
	}{
		{"page escapes keys", "GET", "/", 200, "https://a.test/&lt;script&gt;"},
		{"list", "GET", "/api/hints", 200, `"value": "\u003c/s.css\u003e; rel=preload; as=style"`},
		{"bad limit", "GET", "/api/hints?limit=-1", 400, "positive number"},
		{"stats", "GET", "/api/stats", 200, `"entries": 2`},
		{"health", "GET", "/healthz", 200, "ok"},
		{"metrics", "GET", "/metrics", 200, ""},
		{"purge needs a target", "DELETE", "/api/hints", 400, "?route="},
		{"purge by GET refused", "GET", "/api/hints?all=1", 200, ""},
		{"purge one", "DELETE", "/api/hints?route=https://a.test/", 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, srv.URL+tc.path)
			if status != tc.status || !strings.Contains(body, tc.contains) {
				t.Fatalf("%s %s = %d %q, want %d containing %q", tc.method, tc.path, status, body, tc.status, tc.contains)
			}
		})
	}
	es, _ := store.List(t.Context(), 0)
	if len(es) != 1 || es[0].Key != "https://a.test/<script>" {
		t.Fatalf("after purging one route: %+v", es)
	}
	if status, _ := do(t, "DELETE", srv.URL+"/api/hints?all=1"); status != 204 {
		t.Fatalf("purge all: %d", status)
	}
	_, body := do(t, "GET", srv.URL+"/api/stats")
	var st hintstore.Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Entries != 0 {
		t.Fatalf("stats after purge all: %s (%v)", body, err)
	}
}

func TestNew_NeedsStore(t *testing.T) {
	if _, err := admin.New(admin.Config{}); err == nil {
		t.Fatal("admin without a store accepted")
	}
}

// TestAdmin_Guard: a foreign Host (DNS rebinding) is refused; with a token,
// every request but /healthz needs it.
func TestAdmin_Guard(t *testing.T) {
	store, err := hintstore.NewMemory(hintstore.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := admin.New(admin.Config{Store: store, Gatherer: prometheus.NewRegistry(), Hosts: []string{"admin.example.net"}, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, host, path, auth string
		status                         int
	}{
		{"rebound name", "GET", "attacker.example:9090", "/api/hints", "Bearer s3cret", http.StatusMisdirectedRequest},
		{"rebound name purges nothing", "DELETE", "evil.test", "/api/hints?all=1", "Bearer s3cret", http.StatusMisdirectedRequest},
		{"empty host", "GET", "", "/api/stats", "Bearer s3cret", http.StatusMisdirectedRequest},
		{"ip literal", "GET", "127.0.0.1:9090", "/api/stats", "Bearer s3cret", http.StatusOK},
		{"ipv6 literal", "GET", "[::1]:9090", "/api/stats", "Bearer s3cret", http.StatusOK},
		{"localhost", "GET", "localhost:9090", "/api/stats", "Bearer s3cret", http.StatusOK},
		{"configured name", "GET", "Admin.Example.Net.:9090", "/api/stats", "Bearer s3cret", http.StatusOK},
		{"no token", "GET", "127.0.0.1:9090", "/api/stats", "", http.StatusUnauthorized},
		{"wrong token", "DELETE", "127.0.0.1:9090", "/api/hints?all=1", "Bearer nope", http.StatusUnauthorized},
		{"basic password", "GET", "127.0.0.1:9090", "/", "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:s3cret")), http.StatusOK},
		{"healthz open", "GET", "127.0.0.1:9090", "/healthz", "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
			r.Host = tc.host
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body.String())
			}
		})
	}
}
