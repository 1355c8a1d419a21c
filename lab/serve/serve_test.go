package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/lab/experiment"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// gate is a fake experiment.Run that reports one cell, then waits until
// released or cancelled.
type gate struct {
	mu      sync.Mutex
	release chan struct{}
	started chan string
	ended   chan error
}

func newGate() *gate {
	return &gate{release: make(chan struct{}), started: make(chan string, 16), ended: make(chan error, 16)}
}

func (g *gate) run(ctx context.Context, s *experiment.Scenario, opts experiment.Options) (*experiment.Results, error) {
	cells := s.Cells()
	g.started <- s.Name
	opts.Progress(1, len(cells)+1, cells[0])
	res := &experiment.Results{Scenario: s.Name, Browser: s.Browser}
	for _, c := range cells {
		res.Cells = append(res.Cells, experiment.CellResult{Cell: c, Runs: 1, Render: experiment.Summary{Median: 500}})
	}
	opts.OnCell(res)
	select {
	case <-g.release:
		g.ended <- nil
		return res, nil
	case <-ctx.Done():
		g.ended <- ctx.Err()
		return res, ctx.Err()
	}
}

func newTestServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.Logger = quiet()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, hs
}

func postJSON(t *testing.T, base string, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(base+"/api/runs", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func getSnapshot(t *testing.T, base, id string) Snapshot {
	t.Helper()
	res, err := http.Get(base + "/api/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s Snapshot
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitStatus polls the API (bounded) until the run has the status.
func waitStatus(t *testing.T, base, id, want string) Snapshot {
	t.Helper()
	var s Snapshot
	for range 500 {
		if s = getSnapshot(t, base, id); s.Status == want {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s: status %q, want %q", id, s.Status, want)
	return s
}

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:8080", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{"0.0.0.0:8080", false, false},
		{"192.0.2.1:8080", false, false},
		{"0.0.0.0:8080", true, true},
		{"nonsense", false, false},
	} {
		err := CheckAddr(tc.addr, tc.remote)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddr(%q, %v) = %v", tc.addr, tc.remote, err)
		}
		if err != nil && !tc.remote && strings.Contains(tc.addr, ":8080") && tc.addr != "nonsense" && !strings.Contains(err.Error(), "--allow-remote") {
			t.Errorf("error %q does not say --allow-remote", err)
		}
	}
	if _, err := New(Config{Addr: "0.0.0.0:0"}); !errors.Is(err, ErrConfig) {
		t.Errorf("New on 0.0.0.0 without AllowRemote = %v", err)
	}
}

func TestParams_Validation(t *testing.T) {
	for _, tc := range []struct {
		body, param string
	}{
		{`{"page": "nope"}`, "page"},
		{`{"network": "moon"}`, "network"},
		{`{"network": "custom", "rtt_ms": -5}`, "rtt_ms"},
		{`{"network": "custom", "down_mbps": 0}`, "down_mbps"},
		{`{"network": "custom", "loss": 0.9}`, "loss"},
		{`{"network": "4g", "rtt_ms": 10}`, "network"},
		{`{"think_ms": 99999}`, "think_ms"},
		{`{"protocols": "h2,h4"}`, "protocols"},
		{`{"strategies": ["none", "magic"]}`, "strategies"},
		{`{"cache": "lukewarm"}`, "cache"},
		{`{"browser": "lynx"}`, "browser"},
		{`{"runs": 1000}`, "runs"},
		{`{"strategies": "none,preload,push,push-digest,early-hints", "protocols": "h1,h2,h3", "cache": "both", "runs": 1}`, "strategies"},
		{`{"colour": "red"}`, "body"},
	} {
		_, hs := newTestServer(t, Config{Run: newGate().run, MaxCells: 20})
		code, out := postJSON(t, hs.URL, tc.body)
		if code != http.StatusBadRequest || out["param"] != tc.param {
			t.Errorf("%s: %d %v, want 400 naming %s", tc.body, code, out, tc.param)
		}
	}
}

func TestParams_Form(t *testing.T) {
	form := url.Values{"protocols": {"h2", "h3"}, "strategies": {"none,early-hints"}, "network": {"custom"}, "rtt_ms": {"30"}, "down_mbps": {"20"}, "think_ms": {"200"}}
	r := httptest.NewRequest(http.MethodPost, "/api/runs", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p, err := ReadParams(r)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := p.Scenario(10, 40)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sc.Cells()); n != 4 {
		t.Errorf("%d cells, want 4 (h2, h3 × none, early-hints)", n)
	}
	if len(sc.Networks) != 1 || time.Duration(sc.Networks[0].RTT) != 30*time.Millisecond || sc.Networks[0].DownMbps != 20 {
		t.Errorf("custom network = %+v", sc.Networks)
	}
}

// A run goes queued → running → done through the API, its events stream
// the transitions, and the permalink draws its cells.
func TestRun_Lifecycle(t *testing.T) {
	g := newGate()
	_, hs := newTestServer(t, Config{Run: g.run})
	code, out := postJSON(t, hs.URL, `{"protocols": ["h2", "h3"], "strategies": "none,early-hints"}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, out)
	}
	id := out["id"].(string)
	if out["url"] != "/runs/"+id {
		t.Errorf("url = %v", out["url"])
	}
	// The events of the run, read while it runs.
	res, err := http.Get(hs.URL + "/api/runs/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("events Content-Type %q", ct)
	}
	<-g.started
	waitStatus(t, hs.URL, id, StatusRunning)
	close(g.release)
	snap := waitStatus(t, hs.URL, id, StatusDone)
	if len(snap.Results) != 4 || snap.Progress.Total == 0 {
		t.Errorf("done snapshot: %d results, progress %+v", len(snap.Results), snap.Progress)
	}
	var events, statuses []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, ev)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok && len(events) > 0 && events[len(events)-1] == "status" {
			var s map[string]string
			_ = json.Unmarshal([]byte(d), &s)
			statuses = append(statuses, s["status"])
		}
	}
	if len(events) == 0 || events[len(events)-1] != "end" {
		t.Errorf("events %v, want the stream to close with end", events)
	}
	if got := strings.Join(statuses, ","); got != "queued,running,done" && got != "running,done" {
		t.Errorf("status events %q, want queued,running,done", got)
	}
	if !strings.Contains(strings.Join(events, ","), "cell") {
		t.Errorf("events %v lack a cell event", events)
	}
	page := get(t, hs.URL+"/runs/"+id)
	for _, want := range []string{`data-status="done"`, "<table class=\"results\"", `<svg class="bars"`} {
		if !strings.Contains(page, want) {
			t.Errorf("permalink lacks %q", want)
		}
	}
	if list := get(t, hs.URL+"/api/runs"); !strings.Contains(list, `"id": "`+id+`"`) {
		t.Errorf("list lacks the run: %s", list)
	}
	if idx := get(t, hs.URL+"/"); !strings.Contains(idx, `href="/runs/`+id+`"`) || !strings.Contains(idx, `<form id="try"`) {
		t.Errorf("index lacks the form or the finished run")
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return string(b)
}

// The queue is bounded; a queued run and a running one can be cancelled,
// and the running one's Run sees its context end.
func TestRun_QueueAndCancel(t *testing.T) {
	g := newGate()
	_, hs := newTestServer(t, Config{Run: g.run, MaxQueued: 2})
	_, first := postJSON(t, hs.URL, `{}`)
	<-g.started // the worker holds the first; two more fill the queue
	_, second := postJSON(t, hs.URL, `{}`)
	_, _ = postJSON(t, hs.URL, `{}`)
	code, out := postJSON(t, hs.URL, `{}`)
	if code != http.StatusServiceUnavailable || !strings.Contains(out["error"].(string), "already waiting") {
		t.Errorf("a fourth run: %d %v, want 503", code, out)
	}
	cancel := func(id string) int {
		res, err := http.Post(hs.URL+"/api/runs/"+id+"/cancel", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := cancel(second["id"].(string)); c != http.StatusAccepted {
		t.Errorf("cancel queued: %d", c)
	}
	waitStatus(t, hs.URL, second["id"].(string), StatusCancelled)
	if c := cancel(first["id"].(string)); c != http.StatusAccepted {
		t.Errorf("cancel running: %d", c)
	}
	if err := <-g.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the running Run ended with %v, want its context cancelled", err)
	}
	waitStatus(t, hs.URL, first["id"].(string), StatusCancelled)
	if c := cancel(first["id"].(string)); c != http.StatusConflict {
		t.Errorf("cancel finished: %d, want 409", c)
	}
	// The cancelled queued run never started: the third one runs next.
	if name := <-g.started; name == "" {
		t.Error("the next queued run did not start")
	}
}

// Stopping the server cancels the running comparison and waits for it.
func TestServer_CloseCancelsRun(t *testing.T) {
	g := newGate()
	s, hs := newTestServer(t, Config{Run: g.run})
	_, out := postJSON(t, hs.URL, `{}`)
	<-g.started
	s.Close()
	select {
	case err := <-g.ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run ended with %v", err)
		}
	default:
		t.Fatal("Close returned before the running comparison ended")
	}
	if st := s.job(out["id"].(string)).snapshot().Status; st != StatusCancelled {
		t.Errorf("status after Close = %s", st)
	}
	if code, _ := postJSON(t, hs.URL, `{}`); code != http.StatusServiceUnavailable {
		t.Errorf("POST after Close: %d", code)
	}
}

// A real comparison in the model: the permalink has one waterfall per
// cell, for h2 and h3.
func TestRun_ModelPermalink(t *testing.T) {
	_, hs := newTestServer(t, Config{})
	code, out := postJSON(t, hs.URL, `{"page": "tiny", "network": "custom", "rtt_ms": 10, "think_ms": 50, "runs": 1}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, out)
	}
	id := out["id"].(string)
	var snap Snapshot
	for range 600 {
		if snap = getSnapshot(t, hs.URL, id); snap.finished() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if snap.Status != StatusDone || snap.Error != "" {
		t.Fatalf("run: %s %s", snap.Status, snap.Error)
	}
	page := get(t, hs.URL+"/runs/"+id)
	if n := strings.Count(page, `<td class="wf"><svg class="waterfall"`); n != 4 {
		t.Errorf("%d waterfalls on the permalink, want 4 (h2, h3 × none, early-hints)", n)
	}
	for _, want := range []string{"<th>h2</th><th>h3</th>", "early-hints", `data-mark="103"`} {
		if !strings.Contains(page, want) {
			t.Errorf("permalink lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the permalink needs a script")
	}
}

// TestRun_CancelFreesQueue: cancelling every queued run frees their
// places at once, while the running one still holds the worker.
func TestRun_CancelFreesQueue(t *testing.T) {
	g := newGate()
	_, hs := newTestServer(t, Config{Run: g.run})
	if code, out := postJSON(t, hs.URL, `{}`); code != http.StatusAccepted {
		t.Fatalf("first run: %d %v", code, out)
	}
	<-g.started // the worker holds the first; eight fill the queue
	var queued []string
	for range 8 {
		code, out := postJSON(t, hs.URL, `{}`)
		if code != http.StatusAccepted {
			t.Fatalf("queueing: %d %v", code, out)
		}
		queued = append(queued, out["id"].(string))
	}
	if code, _ := postJSON(t, hs.URL, `{}`); code != http.StatusServiceUnavailable {
		t.Fatalf("a full queue: %d, want 503", code)
	}
	for _, id := range queued {
		res, err := http.Post(hs.URL+"/api/runs/"+id+"/cancel", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("cancel %s: %d", id, res.StatusCode)
		}
	}
	code, out := postJSON(t, hs.URL, `{}`)
	if code != http.StatusAccepted {
		t.Fatalf("after cancelling the queue: %d %v, want 202", code, out)
	}
	// The new run is the next to start once the running one ends (the
	// gate, released, lets it finish).
	close(g.release)
	<-g.started
	waitStatus(t, hs.URL, out["id"].(string), StatusDone)
	for _, id := range queued {
		if st := getSnapshot(t, hs.URL, id).Status; st != StatusCancelled {
			t.Errorf("run %s: %s, want cancelled", id, st)
		}
	}
}

// TestParams_BodyTooLarge: a body over MaxBodyBytes is refused whole,
// form or JSON alike, with 413 naming the body; never read in part.
func TestParams_BodyTooLarge(t *testing.T) {
	g := newGate()
	_, hs := newTestServer(t, Config{Run: g.run})
	long := strings.Repeat("h2,", MaxBodyBytes/3) + "h3"
	for _, tc := range []struct {
		name, ct, body string
	}{
		{"form", "application/x-www-form-urlencoded", url.Values{"protocols": {long}}.Encode()},
		{"json", "application/json", `{"protocols": "` + long + `"}`},
	} {
		req, err := http.NewRequest(http.MethodPost, hs.URL+"/api/runs", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", tc.ct)
		req.Header.Set("Accept", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out apiError
		_ = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || out.Param != "body" || !strings.Contains(out.Error, "64 KiB") {
			t.Errorf("%s of %d bytes: %d %+v, want 413 naming the body", tc.name, len(tc.body), res.StatusCode, out)
		}
	}
	select {
	case name := <-g.started:
		t.Errorf("a run started (%s) from a body cut short", name)
	default:
	}
	// The same list within the bound is taken.
	if code, out := postJSON(t, hs.URL, `{"protocols": "`+strings.Repeat("h2,", 1000)+`h3"}`); code != http.StatusAccepted {
		t.Errorf("a long list within the bound: %d %v", code, out)
	}
}

// TestServer_CrossSite: a web page on another site cannot start or cancel
// runs (a cross-site form POST, an Origin that is not the server's, a
// name rebound to its address), while the page itself and clients that
// are not browsers can; POST /api/runs answers JSON, and the page's form
// without JavaScript posts to /runs, which goes to the permalink.
func TestServer_CrossSite(t *testing.T) {
	g := newGate()
	_, hs := newTestServer(t, Config{Run: g.run})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"protocols": {"h2"}, "strategies": {"none"}}.Encode()
	// answer is what post got back.
	type answer struct {
		StatusCode int
		Header     http.Header
	}
	post := func(path, host string, hdr map[string]string) (answer, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, hs.URL+path, strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if host != "" {
			req.Host = host
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return answer{res.StatusCode, res.Header}, string(b)
	}
	self := strings.TrimPrefix(hs.URL, "http://")
	for _, tc := range []struct {
		name, path, host string
		hdr              map[string]string
		want             int
	}{
		{"cross-site form", "/runs", "", map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross-site fetch", "/api/runs", "", map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site, other port", "/api/runs", "", map[string]string{"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign Origin, no Sec-Fetch-Site", "/api/runs", "", map[string]string{"Origin": "http://attacker.example"}, http.StatusForbidden},
		{"a name rebound to this address", "/api/runs", "attacker.example:80", map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "same-origin"}, http.StatusMisdirectedRequest},
	} {
		res, body := post(tc.path, tc.host, tc.hdr)
		if res.StatusCode != tc.want || !strings.Contains(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s, want %d with a JSON error", tc.name, res.StatusCode, body, tc.want)
		}
	}
	select {
	case name := <-g.started:
		t.Fatalf("a refused request started a run (%s)", name)
	default:
	}

	// The page itself, through its script: JSON.
	res, body := post("/api/runs", "", map[string]string{"Origin": hs.URL, "Sec-Fetch-Site": "same-origin"})
	var out map[string]string
	if res.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(body), &out) != nil || out["id"] == "" {
		t.Fatalf("same-origin POST /api/runs: %d %s", res.StatusCode, body)
	}
	// A client that is not a browser, without Accept: still JSON.
	res, body = post("/api/runs", "", nil)
	if res.StatusCode != http.StatusAccepted || !strings.Contains(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("POST /api/runs without Accept: %d %s, want 202 JSON", res.StatusCode, body)
	}
	// The form without JavaScript: to the permalink.
	res, body = post("/runs", self, map[string]string{"Origin": hs.URL, "Sec-Fetch-Site": "same-origin"})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/runs/") {
		t.Errorf("POST /runs: %d %s, want 303 to the permalink", res.StatusCode, body)
	}
	if idx := get(t, hs.URL+"/"); !strings.Contains(idx, `<form id="try" method="post" action="/runs" enctype="multipart/form-data">`) {
		t.Error("the page's form does not post to /runs")
	}

	// Cancelling from another site is refused too.
	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		path := "/api/runs/" + out["id"]
		if method == http.MethodPost {
			path += "/cancel"
		}
		req, _ := http.NewRequest(method, hs.URL+path, nil)
		req.Header.Set("Origin", "http://attacker.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site %s %s: %d, want 403", method, path, res.StatusCode)
		}
	}
	if st := getSnapshot(t, hs.URL, out["id"]).Status; st == StatusCancelled {
		t.Error("a cross-site request cancelled the run")
	}
}

func TestServer_KnownHost(t *testing.T) {
	s, _ := newTestServer(t, Config{Run: newGate().run, Hosts: []string{"lab.example."}})
	for host, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST.": true,
		"lab.example:8080": true, "Lab.Example": true, "10.1.2.3": true,
		"attacker.example:8080": false, "": false, "127.0.0.1.attacker.example": false,
	} {
		if got := s.knownHost(host); got != want {
			t.Errorf("knownHost(%q) = %v, want %v", host, got, want)
		}
	}
}
