package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/internal/syncbuf"
)

// startStack runs the product in front of a small origin with s's mode
// and an admin listener, and returns the stack once it serves.
func startStack(t *testing.T, mode string) (*stack, string) {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<!doctype html><head><link rel=stylesheet href=/s.css></head><body>hi</body>`)
			return
		}
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = io.WriteString(w, "body{}")
	}))
	t.Cleanup(origin.Close)
	s := defaultSettings()
	s.Origin, s.Listen, s.Mode, s.Admin, s.HTTP3 = origin.URL, "127.0.0.1:0", mode, "127.0.0.1:0", false
	st := serveStack(t, s)
	return st, "http://" + st.adminLn.Addr().String()
}

// buildStack is buildStackWithAccessLog logging requests to logger.
func buildStack(s settings, logger *slog.Logger) (*stack, error) {
	return buildStackWithAccessLog(s, logger, logger)
}

// serveStack builds the product from s and serves it until the test ends.
func serveStack(t *testing.T, s settings) *stack {
	t.Helper()
	st, err := buildStack(s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return serveBuilt(t, st)
}

// serveBuilt serves st until the test ends.
func serveBuilt(t *testing.T, st *stack) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		// Stopping through ctx makes serve report the cancellation, so only
		// the stop itself is checked.
		_ = st.serve(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("stack did not stop")
		}
	})
	return st
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestStack_AdminAndMetrics(t *testing.T) {
	st, adminURL := startStack(t, "hints")
	if got := get(t, adminURL+"/healthz"); strings.TrimSpace(got) != "ok" {
		t.Fatalf("healthz: %q", got)
	}
	navigate(t, st.srv.URL()+"/")
	if missing := st.waitLearned(st.srv.URL(), []string{"/"}, 5*time.Second); len(missing) > 0 {
		t.Fatal("nothing learned")
	}
	if nav := navigate(t, st.srv.URL()+"/"); len(nav.hints) != 1 {
		t.Fatalf("%d 103s", len(nav.hints))
	}
	if page := get(t, adminURL+"/"); !strings.Contains(page, "/s.css") {
		t.Fatalf("admin page does not list the learned hint:\n%s", page)
	}
	if routes := get(t, adminURL+"/api/routes"); !strings.Contains(routes, `"navigations": 2`) || !strings.Contains(routes, `"sent": 1`) {
		t.Fatalf("field view: %s", routes)
	}
	m := get(t, adminURL+"/metrics")
	for _, want := range []string{"earlyhints_responses_sent_total 1", "earlyhints_observations_total", "earlyhints_origin_think_seconds_count 2", "go_goroutines"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestStack_PushMode: a push-capable client (nghttp) is pushed the learned
// stylesheet; Go's client, which refuses push, still gets Early Hints.
func TestStack_PushMode(t *testing.T) {
	st, adminURL := startStack(t, "push")
	navigate(t, st.srv.URL()+"/")
	if missing := st.waitLearned(st.srv.URL(), []string{"/"}, 5*time.Second); len(missing) > 0 {
		t.Fatal("nothing learned")
	}
	if nav := navigate(t, st.srv.URL()+"/"); len(nav.hints) != 1 {
		t.Fatalf("a client that refuses push got %d 103s, want the Early Hints fallback", len(nav.hints))
	}
	bin, err := exec.LookPath("nghttp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nghttp not found: install nghttp2-client (make test does)")
		}
		t.Skip("nghttp not found")
	}
	out, err := exec.Command(bin, "-nv", "-H", "sec-fetch-mode: navigate", st.srv.URL()+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "recv PUSH_PROMISE") || !strings.Contains(string(out), ":path: /s.css") {
		t.Fatalf("no push of the stylesheet:\n%s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(get(t, adminURL+"/metrics"), "earlyhints_push_streams_total 1") {
		if time.Now().After(deadline) {
			t.Fatal("push not counted in metrics")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBuildStack_CorruptSnapshotStartsEmpty(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "truncated": `{"version":1,"entries":[{"key":"https://a.exa`} {
		t.Run(name, func(t *testing.T) {
			path := t.TempDir() + "/hints.json"
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := defaultSettings()
			s.Origin, s.Listen, s.HTTP3, s.Store = "http://127.0.0.1:1", "127.0.0.1:0", false, "file:"+path
			var log strings.Builder
			st, err := buildStack(s, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil {
				t.Fatalf("a corrupt snapshot stopped the proxy: %v", err)
			}
			_ = st.srv.Close()
			_ = st.mw.Close()
			_ = st.store.Close()
			if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 1 || !strings.Contains(log.String(), aside[0]) {
				t.Errorf("moved aside: %v; log: %s", aside, log.String())
			}
		})
	}
}

func TestBuildStack_BadTrustedProxies(t *testing.T) {
	s := defaultSettings()
	s.Origin, s.Listen, s.HTTP3, s.TrustedProxies = "http://127.0.0.1:1", "127.0.0.1:0", false, []string{"10.0.0.0/8", "lb.example"}
	_, err := buildStack(s, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "--trusted-proxies") || !strings.Contains(err.Error(), "lb.example") {
		t.Fatalf("error %v, want one naming --trusted-proxies and the bad entry", err)
	}
}

// TestStack_AccessLogOriginEarlyHints: an origin's own 103 that reaches the
// client is the access log's hinted and hint_links, with the middleware
// on (it forwards the 103) and off (--mode off: it passes through).
func TestStack_AccessLogOriginEarlyHints(t *testing.T) {
	for _, mode := range []string{"hints", "off"} {
		t.Run(mode, func(t *testing.T) {
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</a.css>; rel=preload; as=style, </b.js>; rel=preload; as=script")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Link")
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, `<!doctype html><body>hi</body>`)
			}))
			t.Cleanup(origin.Close)
			s := defaultSettings()
			s.Origin, s.Listen, s.Mode, s.HTTP3 = origin.URL, "127.0.0.1:0", mode, false
			var log syncbuf.Buffer
			st, err := buildStackWithAccessLog(s, slog.New(slog.DiscardHandler), slog.New(slog.NewJSONHandler(&log, nil)))
			if err != nil {
				t.Fatal(err)
			}
			serveBuilt(t, st)
			if nav := navigate(t, st.srv.URL()+"/"); len(nav.hints) != 1 {
				t.Fatalf("%d 103s reached the client, want the origin's one", len(nav.hints))
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(log.String(), `"msg":"request"`) {
				if time.Now().After(deadline) {
					t.Fatal("no access log line")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if line := log.String(); !strings.Contains(line, `"hinted":true`) || !strings.Contains(line, `"hint_links":2`) {
				t.Errorf("access log: %s; want hinted true with 2 links", line)
			}
		})
	}
}
