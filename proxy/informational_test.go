package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/proxy"
)

// hintingOrigin sends a 103 before every answer, whatever was asked.
func hintingOrigin(t *testing.T) string {
	return startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</early.css>; rel=preload; as=style")
		w.Header().Set("X-Origin-103", "1")
		w.WriteHeader(http.StatusEarlyHints)
		clear(w.Header())
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>x</title>")
	}))
}

// TestProxy_OriginEarlyHintsOnlyForNavigations: an origin's 103 reaches a
// client only on a GET navigation, never on HTTP/1.0, and carries only
// Link: no field the origin or an outer handler put beside it.
func TestProxy_OriginEarlyHintsOnlyForNavigations(t *testing.T) {
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Set-Cookie", "session=secret; Secure; HttpOnly")
			next.ServeHTTP(w, r)
		})
	}
	for _, disabled := range []bool{true, false} {
		s := startStack(t, hintingOrigin(t), stackOptions{outer: outer, hints: earlyhints.Config{Disabled: disabled}})
		c := s.client(t, "h2")
		nav := http.Header{"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}, "Accept": {"text/html"}}
		sub := http.Header{"Sec-Fetch-Mode": {"no-cors"}, "Sec-Fetch-Dest": {"script"}, "Accept": {"*/*"}}
		for _, tc := range []struct {
			method string
			header http.Header
			want   int
		}{
			{http.MethodGet, nav, 1},
			{http.MethodPost, nav, 0},
			{http.MethodGet, sub, 0},
			{http.MethodHead, nav, 0},
		} {
			got := interims(t, c, s, tc.method, tc.header)
			if len(got) != tc.want {
				t.Errorf("hinting off %v, %s %v: %d interim responses, want %d", disabled, tc.method, tc.header.Get("Sec-Fetch-Dest"), len(got), tc.want)
			}
			for _, h := range got {
				if len(h) != 1 || h.Get("Link") == "" {
					t.Errorf("hinting off %v: the 103 carries %v, want Link alone", disabled, h)
				}
			}
		}
		// HTTP/1.0 cannot parse a 1xx: it must never see one.
		conn := dialTLS(t, s, "http/1.1")
		fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\nAccept: text/html\r\nSec-Fetch-Mode: navigate\r\n\r\n", s.srv.Addr())
		raw, _ := io.ReadAll(bufio.NewReader(conn))
		if !bytes.HasPrefix(raw, []byte("HTTP/1.0 200")) && !bytes.HasPrefix(raw, []byte("HTTP/1.1 200")) || bytes.Contains(raw, []byte(" 103 ")) {
			t.Errorf("hinting off %v: HTTP/1.0 client got:\n%s", disabled, raw)
		}
	}
}

func interims(t *testing.T, c *http.Client, s *stack, method string, hdr http.Header) []http.Header {
	t.Helper()
	var got []http.Header
	var mu sync.Mutex
	req, err := http.NewRequestWithContext(withGot1xx(func(h http.Header) {
		mu.Lock()
		got = append(got, h)
		mu.Unlock()
	}), method, "https://"+s.srv.Addr()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr.Clone()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	mu.Lock()
	defer mu.Unlock()
	return got
}

// stallingWriter is a client that does not take a 103 until released.
type stallingWriter struct {
	header  http.Header
	got103  chan struct{}
	release chan struct{}
	once    sync.Once
	status  int
	body    bytes.Buffer
}

func (w *stallingWriter) Header() http.Header { return w.header }
func (w *stallingWriter) WriteHeader(code int) {
	if code == http.StatusEarlyHints {
		w.once.Do(func() { close(w.got103) })
		<-w.release
		return
	}
	w.status = code
}
func (w *stallingWriter) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *stallingWriter) Flush()                      {}

// TestProxy_SlowClientDoesNotStallTheOriginConnection: an origin's 1xx
// arrives on the read loop of an HTTP/2 connection that other requests
// share. A client that does not take its 103 must not hold up the others.
func TestProxy_SlowClientDoesNotStallTheOriginConnection(t *testing.T) {
	bDone := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.(http.Flusher).Flush()
		<-bDone // /a finishes only after /b, on the same connection
		_, _ = io.WriteString(w, "a")
	})
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "b") })
	o := httptest.NewUnstartedServer(mux)
	o.Config.Protocols = new(http.Protocols)
	o.Config.Protocols.SetUnencryptedHTTP2(true)
	o.Start()
	t.Cleanup(o.Close)
	u, _ := url.Parse(strings.Replace(o.URL, "http://", "h2c://", 1))
	p, err := proxy.New(proxy.Config{Default: u, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	slow := &stallingWriter{header: http.Header{}, got103: make(chan struct{}), release: make(chan struct{})}
	reqA := httptest.NewRequest(http.MethodGet, "/a", nil)
	reqA.Header.Set("Sec-Fetch-Mode", "navigate")
	aDone := make(chan struct{})
	go func() { defer close(aDone); p.ServeHTTP(slow, reqA) }()
	<-slow.got103 // the 103 is stuck at the slow client

	recB := httptest.NewRecorder()
	bServed := make(chan struct{})
	go func() { defer close(bServed); p.ServeHTTP(recB, httptest.NewRequest(http.MethodGet, "/b", nil)) }()
	select {
	case <-bServed:
	case <-time.After(20 * time.Second): // a bound against a hang, not a speed check
		t.Fatal("a request on the shared origin connection hung behind a client that did not take its 103")
	}
	close(bDone)
	if recB.Code != http.StatusOK || recB.Body.String() != "b" {
		t.Errorf("/b: %d %q", recB.Code, recB.Body.String())
	}
	close(slow.release)
	<-aDone
	if slow.status != http.StatusOK || slow.body.String() != "a" {
		t.Errorf("/a after its slow 103: %d %q", slow.status, slow.body.String())
	}
}

func withGot1xx(f func(http.Header)) context.Context {
	return httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got1xxResponse: func(_ int, h textproto.MIMEHeader) error {
		f(http.Header(h).Clone())
		return nil
	}})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
