package proxy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/syncbuf"
	"github.com/earlyhints/earlyhints/proxy"
)

const think = 300 * time.Millisecond

const page = `<!doctype html><html><head>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js"></script>
</head><body><h1>hello</h1></body></html>`

// thinkingOrigin answers / after think time with an HTML page that names a
// stylesheet and a script, plus its own Link header for a font.
func thinkingOrigin(t *testing.T) string {
	return startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Cache-Control", "max-age=3600")
			_, _ = io.WriteString(w, "body{}")
			return
		}
		time.Sleep(think)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Origin", "yes")
		w.Header().Add("Link", "</static/font.woff2>; rel=preload; as=font; crossorigin")
		_, _ = io.WriteString(w, page)
	}))
}

func TestProxy_SecondNavigationGetsEarlyHints(t *testing.T) {
	for _, proto := range []string{"h2", "h3"} {
		t.Run(proto, func(t *testing.T) {
			s := startStack(t, thinkingOrigin(t), stackOptions{})
			c := s.client(t, proto)
			first := navigate(t, c, s, "", "/")
			if len(first.interim) != 0 {
				t.Fatalf("first navigation got %d interim responses, want none (nothing learned yet)", len(first.interim))
			}
			waitLearned(t, s, "/")

			v := navigate(t, c, s, "", "/")
			if v.res.StatusCode != http.StatusOK || v.body != page {
				t.Fatalf("second navigation: status %d, body %q", v.res.StatusCode, v.body)
			}
			if len(v.interim) != 1 || v.interim[0].code != http.StatusEarlyHints {
				t.Fatalf("got interim responses %+v, want exactly one 103", v.interim)
			}
			links := strings.Join(v.interim[0].header.Values("Link"), ", ")
			for _, want := range []string{"/static/site.css", "/static/app.js", "/static/font.woff2"} {
				if !strings.Contains(links, want) {
					t.Errorf("103 Link %q lacks %s", links, want)
				}
			}
			// Generous bounds: the 103 goes out on arrival, the 200 after the
			// origin's think time.
			if at := v.interim[0].at; at >= v.final || at > think*2/3 {
				t.Errorf("103 arrived after %v, 200 after %v; want the 103 well before the %v think time", at, v.final, think)
			}
			if v.final < think {
				t.Errorf("200 arrived after %v, before the origin's %v think time", v.final, think)
			}
		})
	}
}

func TestProxy_NoHintsOverHTTP1ByDefault(t *testing.T) {
	s := startStack(t, thinkingOrigin(t), stackOptions{})
	c := s.client(t, "h1")
	navigate(t, c, s, "", "/")
	waitLearned(t, s, "/")
	v := navigate(t, c, s, "", "/")
	if v.res.ProtoMajor != 1 {
		t.Fatalf("client spoke %s, want HTTP/1.1", v.res.Proto)
	}
	if len(v.interim) != 0 {
		t.Fatalf("HTTP/1.1 navigation got %+v, want no 103", v.interim)
	}
}

// earlyOrigin sends its own 103 (with hop-by-hop fields that must not pass)
// before a page whose final headers differ from the 103's.
func earlyOrigin(t *testing.T) string {
	return startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Link", "</static/early.css>; rel=preload; as=style")
		h.Set("X-Early", "from-103")
		h.Set("Connection", "X-Conn-Only")
		h.Set("X-Conn-Only", "secret")
		h.Set("Keep-Alive", "timeout=5")
		w.WriteHeader(http.StatusEarlyHints)
		clear(h)
		time.Sleep(50 * time.Millisecond)
		h.Set("Content-Type", "text/html")
		h.Set("X-Final", "from-200")
		_, _ = io.WriteString(w, page)
	}))
}

func TestProxy_OriginEarlyHintsPassOnceAndNeverRepeat(t *testing.T) {
	s := startStack(t, earlyOrigin(t), stackOptions{})
	c := s.client(t, "h2")
	first := navigate(t, c, s, "", "/")
	if len(first.interim) != 1 {
		t.Fatalf("first visit: got %d interim responses, want the origin's one 103", len(first.interim))
	}
	if got := first.interim[0].header.Get("Link"); !strings.Contains(got, "/static/early.css") {
		t.Errorf("first visit 103 Link = %q, want the origin's", got)
	}
	waitLearned(t, s, "/")
	second := navigate(t, c, s, "", "/")
	if len(second.interim) != 1 {
		t.Fatalf("second visit: got %d interim responses, want exactly one", len(second.interim))
	}
	links := strings.Join(second.interim[0].header.Values("Link"), ", ")
	for _, want := range []string{"/static/early.css", "/static/site.css"} {
		if !strings.Contains(links, want) {
			t.Errorf("learned 103 Link %q lacks %s", links, want)
		}
	}
	for _, v := range []visit{first, second} {
		assertOnlyOriginHeaders(t, v.res.Header)
	}
}

// assertOnlyOriginHeaders checks that a final response carries the origin's
// final fields and nothing from a 103.
func assertOnlyOriginHeaders(t *testing.T, h http.Header) {
	t.Helper()
	if h.Get("X-Final") != "from-200" {
		t.Errorf("final response lacks the origin's X-Final: %v", h)
	}
	for _, k := range []string{"Link", "X-Early", "X-Conn-Only", "Keep-Alive"} {
		if v := h.Values(k); len(v) > 0 {
			t.Errorf("final response carries %s: %q, which the origin sent only in its 103", k, v)
		}
	}
	// Alt-Svc is the server's own advertisement and must survive the
	// origin's 1xx.
	if h.Get("Alt-Svc") == "" {
		t.Errorf("final response lost Alt-Svc after the origin's 103")
	}
}

func TestProxy_CleansHopByHopFromOrigin1xx(t *testing.T) {
	// With hinting off the origin's 103 goes through the proxy alone, over
	// HTTP/1.1 where a Connection field would be visible.
	s := startStack(t, earlyOrigin(t), stackOptions{hints: earlyhints.Config{Disabled: true}})
	v := navigate(t, s.client(t, "h1"), s, "", "/")
	if len(v.interim) != 1 {
		t.Fatalf("got %d interim responses, want the origin's 103", len(v.interim))
	}
	h := v.interim[0].header
	if h.Get("Link") == "" {
		t.Errorf("103 lost the origin's Link: %v", h)
	}
	// A 103 carries hints only: not the origin's other fields, not the
	// server's Alt-Svc, nothing hop-by-hop.
	for _, k := range []string{"Connection", "X-Conn-Only", "Keep-Alive", "X-Early", "Alt-Svc"} {
		if h.Get(k) != "" {
			t.Errorf("103 carries hop-by-hop %s: %q", k, h.Get(k))
		}
	}
	assertOnlyOriginHeaders(t, v.res.Header)
}

func TestProxy_OriginDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	s := startStack(t, "http://"+addr, stackOptions{logger: logger, proxy: proxy.Config{Logger: logger}})
	v := navigate(t, s.client(t, "h2"), s, "", "/")
	if v.res.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", v.res.StatusCode)
	}
	id := v.res.Header.Get("X-Request-Id")
	if id == "" || !strings.Contains(v.body, id) || !strings.Contains(v.body, "connection refused") {
		t.Errorf("502 body %q lacks the reason or the request ID %q", v.body, id)
	}
	if strings.Contains(v.body, addr) {
		t.Errorf("502 body %q shows the origin's address to the visitor", v.body)
	}
	_ = s.stop(t)
	line := logLine(t, &logs, "request")
	if line["request_id"] != id || line["outcome"] != proxy.OutcomeOriginError || line["status"] != 502.0 {
		t.Errorf("access log %v, want request_id %s, outcome origin-error, status 502", line, id)
	}
	warn := logLine(t, &logs, "origin failed")
	if warn["request_id"] != id || warn["origin"] != "http://"+addr || warn["path"] != "/" || warn["host"] == "" {
		t.Errorf("warning %v lacks the request ID, origin, host or path", warn)
	}

	exposed := startStack(t, "http://"+addr, stackOptions{proxy: proxy.Config{ExposeErrors: true}})
	v = navigate(t, exposed.client(t, "h2"), exposed, "", "/")
	for _, want := range []string{"http://" + addr, "connection refused", "Check that it is running"} {
		if !strings.Contains(v.body, want) {
			t.Errorf("502 body with ExposeErrors %q does not mention %q", v.body, want)
		}
	}
}

// logLine returns the first JSON log line with message msg.
func logLine(t *testing.T, logs *syncbuf.Buffer, msg string) map[string]any {
	t.Helper()
	for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err == nil && m["msg"] == msg {
			return m
		}
	}
	t.Fatalf("no log line %q in:\n%s", msg, logs.String())
	return nil
}

func TestProxy_OriginHangs(t *testing.T) {
	release := make(chan struct{})
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	timeout := 200 * time.Millisecond
	s := startStack(t, origin, stackOptions{proxy: proxy.Config{Timeout: timeout, ExposeErrors: true}})
	v := navigate(t, s.client(t, "h2"), s, "", "/")
	if v.res.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", v.res.StatusCode)
	}
	if v.final < timeout {
		t.Errorf("504 after %v, before the %v timeout", v.final, timeout)
	}
	if !strings.Contains(v.body, "--origin-timeout") {
		t.Errorf("504 body %q does not say what to change", v.body)
	}
}

func TestProxy_UnknownHost(t *testing.T) {
	var forwarded sync.WaitGroup
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded.Add(1) // reaching here at all is the failure
		_, _ = io.WriteString(w, "origin")
	}))
	u, _ := url.Parse(origin)
	s := startStack(t, "", stackOptions{proxy: proxy.Config{Origins: map[string]*url.URL{"site.example": u}}})
	c := s.client(t, "h1")
	for _, host := range []string{"other.example", "evil.example:443", "127.0.0.1"} {
		v := navigate(t, c, s, host, "/")
		if v.res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: status %d, want 421", host, v.res.StatusCode)
		}
	}
	if v := navigate(t, c, s, "SITE.example:8443", "/"); v.res.StatusCode != http.StatusOK || v.body != "origin" {
		t.Errorf("configured host: status %d body %q, want the origin's 200", v.res.StatusCode, v.body)
	}
}

func TestProxy_ForwardingHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	hosts := make(chan string, 1)
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		hosts <- r.Host
	}))
	s := startStack(t, origin, stackOptions{})
	req, _ := http.NewRequest(http.MethodGet, "https://"+s.srv.Addr()+"/x", nil)
	req.Header.Set("Forwarded", "for=6.6.6.6")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	res, err := s.client(t, "h2").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	h := <-got
	if want := "for=127.0.0.1;host=\"" + s.srv.Addr() + "\";proto=https"; h.Get("Forwarded") != want {
		t.Errorf("Forwarded = %q, want %q", h.Get("Forwarded"), want)
	}
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "https" || h.Get("X-Forwarded-Host") != s.srv.Addr() {
		t.Errorf("X-Forwarded-* = %q %q %q", h.Get("X-Forwarded-For"), h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host"))
	}
	if host, want := <-hosts, strings.TrimPrefix(origin, "http://"); host != want {
		t.Errorf("origin saw Host %q, want its own %q", host, want)
	}
}

func TestProxy_StreamsBodies(t *testing.T) {
	release := make(chan struct{})
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "data: two\n\n")
	}))
	s := startStack(t, origin, stackOptions{})
	res, err := s.client(t, "h2").Get("https://" + s.srv.Addr() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n') // arrives while the origin still holds the stream open
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: two") {
		t.Errorf("rest of stream %q lacks the second event", rest)
	}
}

// A body of known length that the origin sends in parts: what came goes
// out before the proxy waits for the rest, headers first.
func TestProxy_StreamsBodiesOfKnownLength(t *testing.T) {
	for _, proto := range protos {
		t.Run(proto, func(t *testing.T) {
			release := make(chan struct{})
			origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "10")
				_, _ = io.WriteString(w, "first\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
				_, _ = io.WriteString(w, "end\n")
			}))
			s := startStack(t, origin, stackOptions{})
			res, err := s.client(t, proto).Get("https://" + s.srv.Addr() + "/file")
			if err != nil {
				close(release)
				t.Fatal(err)
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			line, err := br.ReadString('\n') // arrives while the origin still holds the rest
			close(release)
			if err != nil || line != "first\n" {
				t.Fatalf("first part %q, %v", line, err)
			}
			if rest, err := io.ReadAll(br); err != nil || string(rest) != "end\n" {
				t.Errorf("rest %q, %v", rest, err)
			}
		})
	}
}

func TestProxy_WebSocketUpgrade(t *testing.T) {
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", http.StatusBadRequest)
			return
		}
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo " + line)
		_ = brw.Flush()
	}))
	var logs syncbuf.Buffer
	s := startStack(t, origin, stackOptions{logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	c := s.client(t, "h1")
	c.Timeout = 0 // a client timeout hides the upgraded connection behind its timer
	req, _ := http.NewRequest(http.MethodGet, "https://"+s.srv.Addr()+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", res.StatusCode)
	}
	rwc, ok := res.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("101 body is %T, not a connection", res.Body)
	}
	if _, err := io.WriteString(rwc, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(rwc).ReadString('\n')
	if err != nil || line != "echo ping\n" {
		t.Fatalf("through the upgraded connection got %q, %v", line, err)
	}
	// The 101 went out on the hijacked connection, past WriteHeader; the
	// access log still records it, once the tunnel has closed.
	_ = rwc.Close()
	var logged map[string]any
	for deadline := time.Now().Add(10 * time.Second); logged == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["path"] == "/ws" {
				logged = m
			}
		}
	}
	if logged == nil {
		t.Fatalf("no access log line for /ws: %s", logs.String())
	}
	if logged["status"] != float64(http.StatusSwitchingProtocols) || logged["outcome"] != proxy.OutcomeOK {
		t.Errorf("access log: status %v outcome %v, want 101 ok", logged["status"], logged["outcome"])
	}
}

func TestAccessLog_OneLinePerRequest(t *testing.T) {
	var buf syncbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	s := startStack(t, thinkingOrigin(t), stackOptions{logger: logger})
	c := s.client(t, "h2")
	navigate(t, c, s, "", "/")
	waitLearned(t, s, "/")
	navigate(t, c, s, "", "/")
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2: %s", len(lines), buf.String())
	}
	last := lines[1]
	for k, want := range map[string]any{"method": "GET", "path": "/", "proto": "HTTP/2.0", "status": 200.0, "hinted": true, "hint_links": 3.0} {
		if last[k] != want {
			t.Errorf("log %s = %v, want %v", k, last[k], want)
		}
	}
	if om, ok := last["origin_ms"].(float64); !ok || om < float64(think.Milliseconds()) {
		t.Errorf("origin_ms = %v, want at least the think time", last["origin_ms"])
	}
	if lines[0]["hinted"] != false {
		t.Errorf("first request logged hinted=%v", lines[0]["hinted"])
	}
	for _, k := range []string{"host", "origin", "total_ms", "bytes"} {
		if _, ok := last[k]; !ok {
			t.Errorf("log line lacks %s", k)
		}
	}
}

func TestProxy_GracefulShutdownFinishesInFlight(t *testing.T) {
	started := make(chan struct{})
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, strings.Repeat("x", 100000))
	}))
	s := startStack(t, origin, stackOptions{})
	c := s.client(t, "h2")
	type result struct {
		n      int
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.Get("https://" + s.srv.Addr() + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		done <- result{n: len(b), status: res.StatusCode, err: err}
	}()
	<-started
	if err := s.stop(t); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := <-done
	if r.err != nil || r.status != http.StatusOK || r.n != 100000 {
		t.Fatalf("in-flight request: status %d, %d bytes, err %v; want 200 with all 100000 bytes", r.status, r.n, r.err)
	}
}

func TestConfig_Validate(t *testing.T) {
	u := func(s string) *url.URL { v, _ := url.Parse(s); return v }
	tests := []struct {
		name string
		cfg  proxy.Config
		want string // substring of the error; "" means valid
	}{
		{"default only", proxy.Config{Default: u("http://127.0.0.1:8080")}, ""},
		{"origins only", proxy.Config{Origins: map[string]*url.URL{"a.example": u("h2c://10.0.0.1:80")}}, ""},
		{"nothing", proxy.Config{}, "no origin"},
		{"bad scheme", proxy.Config{Default: u("ftp://x")}, "scheme"},
		{"no host", proxy.Config{Default: u("http://")}, "no host"},
		{"credentials", proxy.Config{Default: u("http://u:p@x")}, "credentials"},
		{"duplicate host", proxy.Config{Origins: map[string]*url.URL{"A.example": u("http://x"), "a.example:443": u("http://y")}}, "same host"},
		{"negative timeout", proxy.Config{Default: u("http://x"), Timeout: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestHostName(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM:8443": "example.com", "example.com.": "example.com",
		"[::1]:443": "::1", "127.0.0.1": "127.0.0.1",
	} {
		if got := proxy.HostName(in); got != want {
			t.Errorf("HostName(%q) = %q, want %q", in, got, want)
		}
	}
}
