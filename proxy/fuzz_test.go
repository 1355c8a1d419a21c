package proxy_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/proxy"
)

// checkingWriter is a client that checks what the proxy writes to it.
type checkingWriter struct {
	t       *testing.T
	header  http.Header
	n103    int
	final   int
	finals  int
	written int
}

func (w *checkingWriter) Header() http.Header { return w.header }

func (w *checkingWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if w.final != 0 {
			w.t.Fatalf("a %d after the final %d", code, w.final)
		}
		if code != http.StatusEarlyHints {
			w.t.Fatalf("an origin's %d reached the client", code)
		}
		w.n103++
		for k := range w.header {
			if k != "Link" {
				w.t.Fatalf("a 103 carries %s: %v", k, w.header)
			}
		}
		return
	}
	w.finals++
	if w.final == 0 {
		w.final = code
	}
}

func (w *checkingWriter) Write(b []byte) (int, error) {
	if w.final == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.written += len(b)
	return len(b), nil
}

func (w *checkingWriter) Flush() {}

// namedSecret are responses whose X-Secret field is named in a Connection
// field that also says close.
var namedSecret = []string{
	"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nConnection: X-Secret, close\r\nX-Secret: s\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\nConnection: close\nConnection: X-Secret\nX-Secret: s\n\nok",
}

// FuzzOriginResponse feeds raw origin responses (any number of 1xx, then a
// final one, or garbage) through the proxy's transport and writer: it must
// never panic (but for the abort of a body cut short), and whatever it
// writes holds to the rules: 103s with Link alone and within the bound,
// one final status, a 502 past a header bound.
func FuzzOriginResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\nX-Other: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nConnection: Link\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: s\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: <x>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 7) + "HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 999 What\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 70<<10) + "\r\n\r\n",
		"garbage\r\n\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	for _, seed := range namedSecret {
		f.Add([]byte(seed))
	}
	u, _ := url.Parse("http://origin.test")
	f.Fuzz(func(t *testing.T, data []byte) {
		dial := func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				// Read the request's head, then answer with data.
				br := bufio.NewReader(server)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				_, _ = server.Write(data)
			}()
			return client, nil
		}
		p, err := proxy.New(proxy.WithOriginDialer(proxy.Config{Default: u, Timeout: time.Second, IdleTimeout: time.Second, Logger: discardLogger()}, dial))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "https://site.test/", nil)
		r.Header.Set("Sec-Fetch-Mode", "navigate")
		w := &checkingWriter{t: t, header: http.Header{}}
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			proxy.AccessLog(p, discardLogger()).ServeHTTP(w, r)
		}()
		select {
		case p := <-done:
			if p != nil && p != http.ErrAbortHandler { //nolint:errorlint // the sentinel itself
				t.Fatalf("panic: %v", p)
			}
		case <-time.After(20 * time.Second):
			// Every timeout of the proxy is 1s here: this is a hang.
			t.Fatalf("the proxy hung on this response")
		}
		if w.n103 > proxy.DefaultMaxInformational {
			t.Fatalf("%d 103s reached the client", w.n103)
		}
		if w.finals > 1 {
			t.Fatalf("%d final statuses", w.finals)
		}
		if v := w.header.Get("X-Secret"); v != "" && slices.Contains(namedSecret, string(data)) {
			t.Fatalf("X-Secret, named in Connection, reached the client: %q", v)
		}
		if len(data) > 2*proxy.DefaultMaxResponseHeaderBytes && !strings.Contains(string(data[:2*proxy.DefaultMaxResponseHeaderBytes]), "\r\n\r\n") && w.final != http.StatusBadGateway {
			t.Fatalf("headers past the bound answered %d, want 502", w.final)
		}
	})
}
