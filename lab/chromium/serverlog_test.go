package chromium

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
)

func TestServerLog_ServeHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		time.Sleep(20 * time.Millisecond)
		_, _ = io.WriteString(w, "<p>page")
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	log := NewServerLog(mux)
	srv := httptest.NewServer(log)
	t.Cleanup(srv.Close)

	var got1xx int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error { got1xx++; return nil }}
	get := func(path string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", srv.URL+path, nil)
		req.Header.Set("Cookie", "user=alice")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	get("/page?x=1")
	mark := log.Len()
	get("/gone")
	get("/empty")

	if got1xx != 1 {
		t.Errorf("client saw %d 1xx, want the page's 103 passed through", got1xx)
	}
	all := log.Entries()
	if len(all) != 3 {
		t.Fatalf("logged %d requests, want 3", len(all))
	}
	tests := []struct {
		path   string
		status int
		minGap time.Duration
	}{
		{"/page?x=1", 200, 20 * time.Millisecond}, // the 103 does not count as the response
		{"/gone", 410, 0},
		{"/empty", 200, 0},
	}
	for i, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e := all[i]
			if e.Path != tt.path || e.Status != tt.status {
				t.Errorf("entry %q status %d, want %q %d", e.Path, e.Status, tt.path, tt.status)
			}
			if e.Responded.IsZero() || e.Responded.Sub(e.Arrived) < tt.minGap {
				t.Errorf("responded %v after arrival, want at least %v", e.Responded.Sub(e.Arrived), tt.minGap)
			}
			if e.Header.Get("Cookie") != "user=alice" {
				t.Errorf("cookie %q not logged", e.Header.Get("Cookie"))
			}
		})
	}
	if since := log.Since(mark); len(since) != 2 || since[0].Path != "/gone" {
		t.Errorf("Since(mark) = %+v, want /gone and /empty", since)
	}
	if since := log.Since(99); len(since) != 0 {
		t.Errorf("Since past the end = %d entries", len(since))
	}
}

func TestVisit_Join(t *testing.T) {
	origin := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &Visit{
		TimeOrigin: float64(origin.UnixMicro()) / 1000,
		Resources: []ResourceTiming{
			{Name: "https://127.0.0.1:9/a.css", InitiatorType: "early-hints", StartTime: 310},
			{Name: "https://127.0.0.1:9/img.png", InitiatorType: "img", StartTime: 320},
		},
		Requests: []Request{
			{URL: "https://127.0.0.1:9/"},
			{URL: "https://127.0.0.1:9/a.css", FromEarlyHints: true},
		},
	}
	log := []ServerRequest{
		{Path: "/", Arrived: origin.Add(5 * time.Millisecond)},
		{Path: "/a.css", Arrived: origin.Add(12 * time.Millisecond)},
		{Path: "/a.css?v=2", Arrived: origin.Add(13 * time.Millisecond)},
	}
	fetches := v.Join(log)
	byURL := map[string]Fetch{}
	for _, f := range fetches {
		byURL[f.URL] = f
	}
	if len(fetches) != 3 {
		t.Fatalf("got %d fetches, want 3: %+v", len(fetches), fetches)
	}
	tests := []struct {
		url          string
		arrived      float64
		hasResource  bool
		hasRequest   bool
		serverCopies int
	}{
		{"https://127.0.0.1:9/", 5, false, true, 1},
		// Used at 310 ms, fetched at 12 ms: the join shows the real fetch.
		{"https://127.0.0.1:9/a.css", 12, true, true, 1},
		{"https://127.0.0.1:9/img.png", -1, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			f := byURL[tt.url]
			if f.ServerArrived < tt.arrived-0.01 || f.ServerArrived > tt.arrived+0.01 {
				t.Errorf("ServerArrived %.3f, want %.3f", f.ServerArrived, tt.arrived)
			}
			if (f.Resource != nil) != tt.hasResource || (f.Request != nil) != tt.hasRequest || len(f.Server) != tt.serverCopies {
				t.Errorf("resource %v request %v server %d, want %v %v %d", f.Resource != nil, f.Request != nil, len(f.Server), tt.hasResource, tt.hasRequest, tt.serverCopies)
			}
		})
	}
	if !v.RequestedPath("/a.css") || v.RequestedPath("/img.png") {
		t.Errorf("RequestedPath: a.css %v img.png %v, want true false", v.RequestedPath("/a.css"), v.RequestedPath("/img.png"))
	}
}

func TestRecorder_On(t *testing.T) {
	ts := func(s float64) cdp.MonotonicTime { return cdp.MonotonicTime(s) }
	r := &recorder{byID: map[network.RequestID]*Request{}}
	// A straggler of the previous page, before the navigation starts.
	r.on(&network.EventRequestWillBeSent{RequestID: "0", Request: &network.Request{URL: "https://h/favicon.ico"}, Type: network.ResourceTypeOther, Timestamp: ts(9)})
	r.on(&network.EventRequestWillBeSent{RequestID: "1", Request: &network.Request{URL: "https://h/"}, Type: network.ResourceTypeDocument, Timestamp: ts(10)})
	early := &network.EventResponseReceivedEarlyHints{RequestID: "1", Headers: network.Headers{"link": "</a.css>; rel=preload; as=style"}}
	r.on(early)
	r.on(early) // CDP may report the same 103 twice
	r.on(&network.EventRequestWillBeSent{RequestID: "2", Request: &network.Request{URL: "https://h/a.css"}, Timestamp: ts(10.005)})
	r.on(&network.EventResponseReceived{RequestID: "2", Response: &network.Response{Status: 200, FromEarlyHints: true}, Timestamp: ts(10.040)})
	r.on(&network.EventRequestServedFromCache{RequestID: "2"})
	hints, reqs := r.result()
	if len(hints) != 1 {
		t.Errorf("kept %d Link values, want the first 103's one", len(hints))
	}
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want the page and its stylesheet: %+v", len(reqs), reqs)
	}
	css := reqs[1]
	if !css.FromEarlyHints || !css.FromCache || css.Status != 200 {
		t.Errorf("stylesheet %+v, want from early hints, from cache, 200", css)
	}
	if css.Sent < 4.9 || css.Sent > 5.1 || css.Received < 39.9 || css.Received > 40.1 {
		t.Errorf("sent %.3f received %.3f ms, want 5 and 40", css.Sent, css.Received)
	}
}
