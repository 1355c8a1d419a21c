package proxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/syncbuf"
	"github.com/earlyhints/earlyhints/proxy"
)

// rawOrigin is an origin written on raw TCP, so it can send what net/http
// never would: megabytes of headers, endless 1xx, a body that stalls or
// breaks off.
type rawOrigin struct {
	addr     string
	requests atomic.Int64
	release  chan struct{} // closed at cleanup; stalled answers wait on it
}

// startRawOrigin serves each request read from a connection with respond,
// which writes the raw answer; returning false closes the connection.
func startRawOrigin(t *testing.T, respond func(o *rawOrigin, c net.Conn, r *http.Request) bool) *rawOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{addr: ln.Addr().String(), release: make(chan struct{})}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		close(o.release)
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close() // the proxy's idle keep-alive connections
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					o.requests.Add(1)
					if !respond(o, c, r) {
						return
					}
				}
			})
		}
	})
	return o
}

func (o *rawOrigin) url() string { return "http://" + o.addr }

// capture returns a JSON logger and what it wrote.
func capture() (*syncbuf.Buffer, *slog.Logger) {
	var b syncbuf.Buffer
	return &b, slog.New(slog.NewJSONHandler(&b, nil))
}

var protos = []string{"h1", "h2", "h3"}

// fetch makes a navigation and returns the response's head, the 1xx seen
// and the body read error, without failing on a broken body.
func fetch(t *testing.T, c *http.Client, s *stack, method, path string) (head, []interim, error) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []interim
	)
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		got = append(got, interim{code: code, header: http.Header(h).Clone()})
		mu.Unlock()
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, "https://"+s.srv.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	_, err = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	return head{StatusCode: res.StatusCode, Header: res.Header}, got, err
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestHostileOrigin_HeaderBounds(t *testing.T) {
	big := strings.Repeat("x", 8<<10)
	cases := []struct {
		name    string
		headers func(w io.Writer)
	}{
		{"1100 fields of 8 KB", func(w io.Writer) {
			for i := range 1100 {
				fmt.Fprintf(w, "X-Big-%d: %s\r\n", i, big)
			}
		}},
		{"one 100 KB Link", func(w io.Writer) {
			fmt.Fprintf(w, "Link: </%s.css>; rel=preload; as=style\r\n", strings.Repeat("a", 100<<10))
		}},
		{"10000 Link lines", func(w io.Writer) {
			for i := range 10000 {
				fmt.Fprintf(w, "Link: </s%d.css>; rel=preload; as=style\r\n", i)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			origin := startRawOrigin(t, func(_ *rawOrigin, c net.Conn, _ *http.Request) bool {
				w := bufio.NewWriter(c)
				_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
				tc.headers(w)
				_, _ = io.WriteString(w, "Content-Length: 2\r\n\r\nok")
				_ = w.Flush()
				return false
			})
			logs, logger := capture()
			s := startStack(t, origin.url(), stackOptions{logger: logger})
			before := heapInUse()
			for _, proto := range protos {
				c := s.client(t, proto)
				var wg sync.WaitGroup
				for range 10 {
					wg.Go(func() {
						res, _, err := fetch(t, c, s, http.MethodGet, "/")
						if res.StatusCode != http.StatusBadGateway || err != nil {
							t.Errorf("%s: status %d, body error %v; want a clean 502", proto, res.StatusCode, err)
						}
					})
				}
				wg.Wait()
			}
			// Bounded, not timed: what 30 answers of megabytes of
			// headers leave behind once collected.
			if after := heapInUse(); after > before+16<<20 {
				t.Errorf("heap in use grew from %d to %d bytes", before, after)
			}
			_ = s.stop(t)
			for _, l := range logLines(t, logs, "request") {
				if l["outcome"] != proxy.OutcomeHeaderLimit || l["status"] != 502.0 {
					t.Fatalf("access log %v, want outcome header-limit, status 502", l)
				}
			}
		})
	}
}

// logLines returns the JSON log lines with message msg.
func logLines(t *testing.T, logs *syncbuf.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		m := map[string]any{}
		if err := jsonUnmarshal(l, &m); err == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no log line %q in:\n%s", msg, logs.String())
	}
	return out
}

func TestHostileOrigin_EndlessInformational(t *testing.T) {
	origin := startRawOrigin(t, func(o *rawOrigin, c net.Conn, _ *http.Request) bool {
		w := bufio.NewWriter(c)
		for range 100000 {
			if _, err := io.WriteString(w, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n\r\n"); err != nil {
				return false
			}
		}
		_, _ = io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = w.Flush()
		return false
	})
	logs, logger := capture()
	s := startStack(t, origin.url(), stackOptions{logger: logger, hints: earlyhints.Config{Disabled: true}})
	for _, proto := range protos {
		res, got, err := fetch(t, s.client(t, proto), s, http.MethodGet, "/")
		if res.StatusCode != http.StatusBadGateway || err != nil {
			t.Errorf("%s: status %d, body error %v; want a clean 502", proto, res.StatusCode, err)
		}
		if len(got) > proxy.DefaultMaxInformational {
			t.Errorf("%s: %d interim responses reached the client, want at most %d", proto, len(got), proxy.DefaultMaxInformational)
		}
	}
	_ = s.stop(t)
	for _, l := range logLines(t, logs, "request") {
		if l["outcome"] != proxy.OutcomeHeaderLimit {
			t.Errorf("access log %v, want outcome header-limit", l)
		}
	}
}

// TestHostileOrigin_ConnectionFieldsNeverReachTheClient: a field the
// origin names in Connection stays on the origin's hop, also when the
// same field (or another Connection line) says close, which net/http
// answers by dropping the whole Connection field before the proxy sees
// the response.
func TestHostileOrigin_ConnectionFieldsNeverReachTheClient(t *testing.T) {
	finals := map[string]string{
		"named":            "Connection: X-Secret\r\n",
		"named, close":     "Connection: X-Secret, close\r\n",
		"close, named":     "Connection: close,X-Secret\r\n",
		"two lines":        "Connection: close\r\nConnection: X-Secret\r\n",
		"keep-alive named": "Connection: keep-alive, X-Secret\r\n",
	}
	for name, conn := range finals {
		t.Run(name, func(t *testing.T) {
			origin := startRawOrigin(t, func(_ *rawOrigin, c net.Conn, _ *http.Request) bool {
				_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nConnection: X-Secret, X-Other\r\nX-Secret: s3cret\r\nX-Other: o\r\n"+
					"Link: </a.css>; rel=preload; as=style\r\n\r\n"+
					"HTTP/1.1 200 OK\r\n"+conn+"X-Secret: s3cret\r\nX-Kept: k\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok")
				return !strings.Contains(conn, "close")
			})
			for _, disabled := range []bool{true, false} {
				s := startStack(t, origin.url(), stackOptions{hints: earlyhints.Config{Disabled: disabled}})
				for _, proto := range protos {
					for i := range 2 { // a new origin connection, and one reused or new after close
						res, got, err := fetch(t, s.client(t, proto), s, http.MethodGet, fmt.Sprintf("/%d", i))
						if err != nil || res.StatusCode != http.StatusOK {
							t.Fatalf("%s: status %d, %v", proto, res.StatusCode, err)
						}
						// The middleware passes an origin's 103 to HTTP/2 and HTTP/3
						// clients; with hinting off the proxy alone passes it to all.
						if want := 1; (proto != "h1" || disabled) && len(got) != want {
							t.Errorf("%s (hinting off: %v): %d interim responses, want the origin's 103", proto, disabled, len(got))
						}
						if res.Header.Get("X-Kept") != "k" {
							t.Errorf("%s: a field the origin did not name was dropped", proto)
						}
						hs := []http.Header{res.Header}
						for _, i := range got {
							hs = append(hs, i.header)
						}
						for _, h := range hs {
							for _, k := range []string{"X-Secret", "X-Other", "Connection"} {
								if v := h.Get(k); v != "" {
									t.Errorf("%s (hinting off: %v): %s: %q reached the client", proto, disabled, k, v)
								}
							}
						}
					}
				}
			}
		})
	}
}

func TestHostileOrigin_StalledBody(t *testing.T) {
	origin := startRawOrigin(t, func(o *rawOrigin, c net.Conn, _ *http.Request) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("x", 100))
		<-o.release
		return false
	})
	logs, logger := capture()
	s := startStack(t, origin.url(), stackOptions{logger: logger, proxy: proxy.Config{IdleTimeout: 300e6, Logger: logger}})
	for _, proto := range protos {
		// The headers arrive while the origin is still stalled (it is
		// released only at cleanup), then the body ends in an error.
		res, _, err := fetch(t, s.client(t, proto), s, http.MethodGet, "/stall-"+proto)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want the origin's 200", proto, res.StatusCode)
		}
		if err == nil {
			t.Errorf("%s: a body cut short read as complete", proto)
		}
	}
	_ = s.stop(t)
	lines := logLines(t, logs, "request")
	if len(lines) != len(protos) {
		t.Fatalf("%d access log lines, want %d:\n%s", len(lines), len(protos), logs.String())
	}
	for _, l := range lines {
		if l["outcome"] != proxy.OutcomeOriginTimeout || l["status"] != 200.0 || !strings.HasPrefix(l["path"].(string), "/stall-") {
			t.Errorf("access log %v, want outcome origin-timeout, status 200 and the path", l)
		}
	}
	if w := logLines(t, logs, "origin response cut short"); len(w) != len(protos) || w[0]["path"] == "" || w[0]["request_id"] == "" {
		t.Errorf("warnings %v, want one per request with its path and request ID", w)
	}
}

func TestHostileOrigin_BodyResetMidway(t *testing.T) {
	origin := startRawOrigin(t, func(_ *rawOrigin, c net.Conn, _ *http.Request) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("x", 1000))
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
		return false
	})
	logs, logger := capture()
	s := startStack(t, origin.url(), stackOptions{logger: logger})
	for _, proto := range protos {
		res, _, err := fetch(t, s.client(t, proto), s, http.MethodGet, "/reset")
		if res.StatusCode != http.StatusOK || err == nil {
			t.Errorf("%s: status %d, body error %v; want 200 then a broken body", proto, res.StatusCode, err)
		}
	}
	_ = s.stop(t)
	for _, l := range logLines(t, logs, "request") {
		if l["outcome"] != proxy.OutcomeOriginReset || l["path"] != "/reset" {
			t.Errorf("access log %v, want outcome origin-reset with the path", l)
		}
	}
}

func TestHostileClient_MethodsNotForwarded(t *testing.T) {
	origin := startRawOrigin(t, func(_ *rawOrigin, c net.Conn, _ *http.Request) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	logs, logger := capture()
	s := startStack(t, origin.url(), stackOptions{logger: logger})
	for _, proto := range []string{"h1", "h2", "h3"} {
		for method, want := range map[string]int{http.MethodTrace: 405, "FOO": 501, "BREW": 501} {
			res, _, _ := fetch(t, s.client(t, proto), s, method, "/")
			if res.StatusCode != want {
				t.Errorf("%s %s: status %d, want %d", proto, method, res.StatusCode, want)
			}
		}
	}
	// CONNECT as a forward proxy client writes it, on HTTP/1.1.
	conn := dialTLS(t, s, "http/1.1")
	fmt.Fprintf(conn, "CONNECT internal.example:22 HTTP/1.1\r\nHost: internal.example:22\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		_ = res.Body.Close()
	}
	if err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT: %v, %v; want 405", res, err)
	}
	_ = conn.Close()
	if n := origin.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the origin, want none", n)
	}
	_ = s.stop(t)
	for _, l := range logLines(t, logs, "request") {
		if l["outcome"] != proxy.OutcomeRejected {
			t.Errorf("access log %v, want outcome rejected", l)
		}
	}
}

func TestHostileClient_CancelledIsLogged499(t *testing.T) {
	arrived := make(chan struct{}, 3)
	origin := startRawOrigin(t, func(o *rawOrigin, c net.Conn, _ *http.Request) bool {
		arrived <- struct{}{}
		<-o.release
		return false
	})
	logs, logger := capture()
	s := startStack(t, origin.url(), stackOptions{logger: logger})
	for _, proto := range protos {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+s.srv.Addr()+"/slow", nil)
		go func() { <-arrived; cancel() }()
		res, err := s.client(t, proto).Do(req)
		if err == nil {
			_ = res.Body.Close()
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want the cancellation", proto, err)
		}
	}
	_ = s.stop(t)
	lines := logLines(t, logs, "request")
	if len(lines) != len(protos) {
		t.Fatalf("%d access log lines, want %d", len(lines), len(protos))
	}
	for _, l := range lines {
		if l["outcome"] != proxy.OutcomeClientCancelled || l["status"] != 499.0 {
			t.Errorf("access log %v, want outcome client-cancelled, status 499", l)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// dialTLS opens a TLS connection to the stack offering one ALPN protocol.
func dialTLS(t *testing.T, s *stack, alpn string) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", s.srv.Addr(), &tls.Config{RootCAs: s.srv.CertPool(), NextProtos: []string{alpn}, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
