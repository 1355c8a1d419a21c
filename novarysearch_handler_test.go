package earlyhints_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/earlyhints/earlyhints"
)

// searchOrigin answers every navigation with a page whose own files name
// the query's values (as a page built for its query does), and the given
// No-Vary-Search field.
func searchOrigin(field string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if field != "" {
			w.Header().Set("No-Vary-Search", field)
		}
		w.Header().Set("Content-Type", "text/html")
		var links strings.Builder
		for k, vs := range r.URL.Query() {
			for _, v := range vs {
				fmt.Fprintf(&links, `<link rel="stylesheet" href="/css/%s-%s.css">`, k, v)
			}
		}
		fmt.Fprintf(w, `<html><head><link rel="stylesheet" href="/site.css">%s</head></html>`, links.String())
	}
}

// navigation is a browser's navigation to target, as the handler gets it.
func navigation(target string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	r.Header.Set("Sec-Fetch-Dest", "document")
	return r
}

// teach serves a navigation to each target and waits until each response
// is learned; it returns the route each was learned under.
func teach(t *testing.T, h *earlyhints.Handler, ev *events, targets ...string) []string {
	t.Helper()
	var routes []string
	for _, target := range targets {
		h.ServeHTTP(httptest.NewRecorder(), navigation(target))
		routes = append(routes, ev.wait(t, earlyhints.EventLearned).Route)
	}
	return routes
}

// TestHandler_NoVarySearch: the route key of a path follows the
// No-Vary-Search its responses send.
func TestHandler_NoVarySearch(t *testing.T) {
	const site = "https://shop.example"
	for _, tc := range []struct {
		name, field string
		same        [][2]string // one route
		apart       [][2]string // two routes
	}{
		{
			name: "params listed", field: `params=("utm_source" "utm_medium")`,
			same:  [][2]string{{"/p?utm_source=x", "/p?utm_source=y"}, {"/p?utm_source=x&utm_medium=m", "/p"}, {"/p?id=1&utm_source=x", "/p?id=1"}},
			apart: [][2]string{{"/p?id=1", "/p?id=2"}, {"/p?id=1", "/p"}},
		},
		{
			name: "every param", field: `params`,
			same: [][2]string{{"/p?id=1", "/p?id=2"}, {"/p?q=shoes&page=2", "/p"}},
		},
		{
			name: "every param but id", field: `params, except=("id")`,
			same:  [][2]string{{"/p?id=1&q=a", "/p?id=1&q=b"}, {"/p?q=a", "/p"}},
			apart: [][2]string{{"/p?id=1", "/p?id=2"}},
		},
		{
			name: "key order", field: `key-order`,
			same:  [][2]string{{"/p?a=1&b=2", "/p?b=2&a=1"}},
			apart: [][2]string{{"/p?a=1&b=2", "/p?a=1&b=3"}, {"/p?a=1", "/p"}},
		},
		{
			name: "order matters without key-order", field: `params=("utm_source")`,
			apart: [][2]string{{"/p?a=1&b=2", "/p?b=2&a=1"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ev := newHandler(t, searchOrigin(tc.field), earlyhints.Config{LearnInterval: -1})
			teach(t, h, ev, site+"/p?teach=1")
			for _, pair := range tc.same {
				a, b := h.RouteKey(navigation(site+pair[0])), h.RouteKey(navigation(site+pair[1]))
				if a != b {
					t.Errorf("%s and %s: routes %q and %q, want one", pair[0], pair[1], a, b)
				}
			}
			for _, pair := range tc.apart {
				a, b := h.RouteKey(navigation(site+pair[0])), h.RouteKey(navigation(site+pair[1]))
				if a == b {
					t.Errorf("%s and %s: one route %q, want two", pair[0], pair[1], a)
				}
			}
		})
	}
}

// TestHandler_NoVarySearchLearns: hints are learned and sent per route the
// field gives, from the very response that sent it; a value of the query
// that is not in the key is never hinted, and past the bound further
// queries share the path's route.
func TestHandler_NoVarySearchLearns(t *testing.T) {
	const site = "https://shop.example"
	h, ev := newHandler(t, searchOrigin(`params=("utm_source" "utm_medium")`), earlyhints.Config{LearnInterval: -1})
	routes := teach(t, h, ev, site+"/p?utm_source=newsletter", site+"/p?utm_source=banner", site+"/p?id=123", site+"/p?id=456")
	want := []string{site + "/p", site + "/p", site + "/p?id=123", site + "/p?id=456"}
	if fmt.Sprint(routes) != fmt.Sprint(want) {
		t.Fatalf("learned under %q, want %q", routes, want)
	}
	ctx := context.Background()
	for key, wantLinks := range map[string][]string{
		site + "/p":        {"/site.css"}, // utm_source's files are the visitor's own
		site + "/p?id=123": {"/site.css", "/css/id-123.css"},
		site + "/p?id=456": {"/site.css", "/css/id-456.css"},
	} {
		e, ok, err := h.Store().Get(ctx, key)
		if err != nil || !ok {
			t.Fatalf("%s: not stored (%v)", key, err)
		}
		var got []string
		for _, l := range e.Links {
			got = append(got, strings.TrimPrefix(l.Target, site))
		}
		if fmt.Sprint(got) != fmt.Sprint(wantLinks) {
			t.Errorf("%s: hints %q, want %q", key, got, wantLinks)
		}
	}
	// A 103 for id=123 names its own file; one for id=456 never does.
	h2 := httptest.NewRecorder()
	r := navigation(site + "/p?id=456")
	r.ProtoMajor, r.ProtoMinor, r.Proto = 2, 0, "HTTP/2.0"
	h.ServeHTTP(h2, r)
	if sent := ev.last(earlyhints.EventSent); sent.Route != site+"/p?id=456" {
		t.Fatalf("103 sent for route %q", sent.Route)
	}

	// Past the bound, a new id shares the path's route, and its value,
	// no longer in the key, is never hinted.
	for i := range 40 {
		teach(t, h, ev, fmt.Sprintf("%s/p?id=9%03d", site, i))
	}
	last := h.RouteKey(navigation(site + "/p?id=9039"))
	if last != site+"/p" {
		t.Fatalf("past the bound: route %q, want the path's", last)
	}
	e, _, _ := h.Store().Get(ctx, site+"/p")
	for _, l := range e.Links {
		if strings.Contains(l.Target, "9039") {
			t.Fatalf("the shared route hints %s, a value of one request", l.Target)
		}
	}
}

// logLines counts what a logger wrote.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), substr)
}

// TestHandler_NoVarySearchMalformed: a malformed field changes nothing
// (query-params keys the path as before) and is logged once for the path,
// with its reason, however many responses send it.
func TestHandler_NoVarySearchMalformed(t *testing.T) {
	const site = "https://shop.example"
	var logs logLines
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	h, ev := newHandler(t, searchOrigin(`params=(utm_source)`), earlyhints.Config{
		LearnInterval: -1, QueryParams: []string{"id"}, Logger: logger,
	})
	routes := teach(t, h, ev, site+"/p?id=1&utm_source=x", site+"/p?id=1&utm_source=y", site+"/p?id=2", site+"/p?id=2&b=1")
	want := []string{site + "/p?id=1", site + "/p?id=1", site + "/p?id=2", site + "/p?id=2"}
	if fmt.Sprint(routes) != fmt.Sprint(want) {
		t.Fatalf("learned under %q, want %q (query-params)", routes, want)
	}
	if n := logs.count("No-Vary-Search not understood"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs.buf.String())
	}
	if n := logs.count("inner list of strings"); n != 1 {
		t.Fatalf("the log does not say why:\n%s", logs.buf.String())
	}
}

// BenchmarkHandler_RouteKeyNoVarySearch measures the route key of a
// navigation with a query, without a rule (query-params) and under a
// path's No-Vary-Search, once the rule is known.
func BenchmarkHandler_RouteKeyNoVarySearch(b *testing.B) {
	const target = "https://shop.example/p?utm_source=news&id=42&utm_medium=mail"
	for _, field := range []string{"", `params=("utm_source" "utm_medium")`} {
		name := "query-params"
		if field != "" {
			name = "no-vary-search"
		}
		b.Run(name, func(b *testing.B) {
			ev := newEvents()
			h, err := earlyhints.New(searchOrigin(field), earlyhints.Config{LearnInterval: -1, QueryParams: []string{"id"}, Observer: ev})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			h.ServeHTTP(httptest.NewRecorder(), navigation(target))
			r := navigation(target)
			want := "https://shop.example/p?id=42"
			if got := h.RouteKey(r); got != want {
				b.Fatalf("route %q, want %q", got, want)
			}
			b.ReportAllocs()
			for b.Loop() {
				_ = h.RouteKey(r)
			}
		})
	}
}
