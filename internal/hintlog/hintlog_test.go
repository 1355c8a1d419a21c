package hintlog_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/hintlog"
	"github.com/earlyhints/earlyhints/proxy"
)

func TestObserver(t *testing.T) {
	sent := func(n int) earlyhints.Event { return earlyhints.Event{Kind: earlyhints.EventSent, Links: n} }
	tests := []struct {
		name      string
		events    []earlyhints.Event
		hinted    bool
		hintLinks float64
	}{
		{"nothing", nil, false, 0},
		{"skipped", []earlyhints.Event{{Kind: earlyhints.EventSkipped, Reason: earlyhints.ReasonNoHints}}, false, 0},
		{"sent", []earlyhints.Event{sent(3)}, true, 3},
		{"forwarded", []earlyhints.Event{{Kind: earlyhints.EventForwarded, Links: 2}}, true, 2},
		{"the first 103 counts", []earlyhints.Event{sent(3), {Kind: earlyhints.EventForwarded, Links: 5}}, true, 3},
		{"suppressed", []earlyhints.Event{sent(1), {Kind: earlyhints.EventSuppressed, Links: 4}}, true, 1},
		{"left out", []earlyhints.Event{{Kind: earlyhints.EventLeftOut, Links: 2}, sent(1)}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var passed []earlyhints.EventKind
			o := hintlog.Observer(earlyhints.ObserverFunc(func(e earlyhints.Event) { passed = append(passed, e.Kind) }))
			var buf bytes.Buffer
			h := proxy.AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for _, e := range tt.events {
					e.Request = r
					o.Observe(e)
				}
				w.WriteHeader(http.StatusOK)
			}), slog.New(slog.NewJSONHandler(&buf, nil)))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			if line["hinted"] != tt.hinted || line["hint_links"] != tt.hintLinks {
				t.Errorf("hinted=%v hint_links=%v, want %v and %v", line["hinted"], line["hint_links"], tt.hinted, tt.hintLinks)
			}
			if len(passed) != len(tt.events) {
				t.Errorf("next got %v, want all %d events", passed, len(tt.events))
			}
		})
	}
}

// TestObserver_outsideTheAccessLog: events of a request the access log does
// not see, or of no request, only go on to next.
func TestObserver_outsideTheAccessLog(t *testing.T) {
	n := 0
	o := hintlog.Observer(earlyhints.ObserverFunc(func(earlyhints.Event) { n++ }))
	o.Observe(earlyhints.Event{Kind: earlyhints.EventSent, Links: 1})
	o.Observe(earlyhints.Event{Kind: earlyhints.EventSent, Links: 1, Request: httptest.NewRequest(http.MethodGet, "/", nil)})
	hintlog.Observer(nil).Observe(earlyhints.Event{Kind: earlyhints.EventSent})
	if n != 2 {
		t.Errorf("next got %d events, want 2", n)
	}
}

// TestPassthrough: with the middleware off, the 103s a handler writes are
// the access log's hinted and hint_links; the first one counts.
func TestPassthrough(t *testing.T) {
	tests := []struct {
		name      string
		early     [][]string // Link values of each 103 written
		hinted    bool
		hintLinks float64
	}{
		{"no 103", nil, false, 0},
		{"one 103", [][]string{{"</a.css>; rel=preload; as=style, </b.js>; rel=preload; as=script"}}, true, 2},
		{"the first 103 counts", [][]string{{"</a.css>; rel=preload; as=style"}, {"</b.js>; rel=preload; as=script", "</c.js>; rel=preload; as=script"}}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := proxy.AccessLog(hintlog.Passthrough(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for _, links := range tt.early {
					w.Header()["Link"] = links
					w.WriteHeader(http.StatusEarlyHints)
					w.Header().Del("Link")
				}
				w.WriteHeader(http.StatusOK)
			})), slog.New(slog.NewJSONHandler(&buf, nil)))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			if line["status"] != 200.0 {
				t.Errorf("logged status %v, want the final 200", line["status"])
			}
			if line["hinted"] != tt.hinted || line["hint_links"] != tt.hintLinks {
				t.Errorf("hinted=%v hint_links=%v, want %v and %v", line["hinted"], line["hint_links"], tt.hinted, tt.hintLinks)
			}
		})
	}
}
