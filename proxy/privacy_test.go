package proxy_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/earlyhints/earlyhints"
)

// The tests in this file play distinct visitors from distinct networks:
// all of 127/8 is loopback on Linux, and the privacy rule counts one /24 as
// one visitor, so each visitor's sockets leave from 127.N.0.1.

var bothProtos = []string{"h2", "h3"}

// learnedCounter counts the middleware's EventLearned and EventDropped
// events, so a test can wait for an observation to land.
type learnedCounter struct {
	learned, dropped atomic.Int64
}

func (c *learnedCounter) Observe(e earlyhints.Event) {
	switch e.Kind {
	case earlyhints.EventLearned:
		c.learned.Add(1)
	case earlyhints.EventDropped:
		c.dropped.Add(1)
	}
}

// waitFor waits until n reaches want.
func waitFor(t *testing.T, what string, n *atomic.Int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d within 10s", what, n.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// clientAt is client with its sockets bound to ip.
func (s *stack) clientAt(t *testing.T, proto, ip string) *http.Client {
	t.Helper()
	tlsConf := &tls.Config{RootCAs: s.srv.CertPool()}
	local := net.ParseIP(ip)
	var rt http.RoundTripper
	switch proto {
	case "h3":
		tr := &http3.Transport{TLSClientConfig: tlsConf, Dial: func(ctx context.Context, addr string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			raddr, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				return nil, err
			}
			pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: local})
			if err != nil {
				return nil, err
			}
			c, err := quic.DialEarly(ctx, pc, raddr, tc, qc)
			if err != nil {
				_ = pc.Close()
			}
			return c, err
		}}
		t.Cleanup(func() { _ = tr.Close() })
		rt = tr
	default:
		var p http.Protocols
		p.SetHTTP2(true)
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
		tr := &http.Transport{TLSClientConfig: tlsConf, Protocols: &p, DialContext: d.DialContext}
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	}
	return &http.Client{Transport: rt, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// visitWith navigates to path with extra request fields and returns the
// Link values of each 103 it got.
func visitWith(t *testing.T, c *http.Client, s *stack, path string, hdr http.Header) (hints [][]string, _ head) {
	t.Helper()
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == http.StatusEarlyHints {
			mu.Lock()
			hints = append(hints, h.Values("Link"))
			mu.Unlock()
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, "https://"+s.srv.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	return hints, head{StatusCode: res.StatusCode, Header: res.Header}
}

func joined(hints [][]string) string {
	var all []string
	for _, h := range hints {
		all = append(all, h...)
	}
	return strings.Join(all, ", ")
}

// TestPrivacy_QueryTokenNeverCrossesVisitors: a public page whose head
// repeats a query token: the next visitor's 103 names the shared files
// and nothing built from the first visitor's token.
func TestPrivacy_QueryTokenNeverCrossesVisitors(t *testing.T) {
	for _, proto := range bothProtos {
		t.Run(proto, func(t *testing.T) {
			origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tok := r.URL.Query().Get("token")
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprintf(w, `<!doctype html><head><link rel=stylesheet href=/app.css>
<script src="/app.js?session=%s"></script>
<link rel=preload href="/api/me?token=%s" as=fetch crossorigin>
<link rel=preload href="/img/%s/hero.png" as=image></head><body>hi</body>`, tok, tok, tok)
			}))
			ev := &learnedCounter{}
			s := startStack(t, origin, stackOptions{hints: earlyhints.Config{Observer: ev, LearnInterval: -1}})
			visitWith(t, s.clientAt(t, proto, "127.1.0.1"), s, "/welcome?token=ALICE7", nil)
			waitFor(t, "learned", &ev.learned, 1)
			hints, _ := visitWith(t, s.clientAt(t, proto, "127.2.0.1"), s, "/welcome?token=BOB", nil)
			got := joined(hints)
			if len(hints) != 1 || !strings.Contains(got, "/app.css") {
				t.Fatalf("bob's 103s %q: want one naming the shared /app.css", hints)
			}
			if strings.Contains(strings.ToLower(got), "alice7") {
				t.Fatalf("bob's 103 carries alice's token: %s", got)
			}
		})
	}
}

// personalOrigin serves /me: a private page with a shared stylesheet and
// one named after the sid cookie.
func personalOrigin(t *testing.T) string {
	return startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "guest"
		if c, err := r.Cookie("sid"); err == nil {
			name = c.Value
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "private, max-age=0")
		fmt.Fprintf(w, `<!doctype html><head><link rel=stylesheet href=/shared.css><link rel=stylesheet href="/u/%s.css"></head><body>hi</body>`, name)
	}))
}

// TestPrivacy_OnePersonRotatingCookiesCountsOnce: one address sending
// three cookie values (and once none) is one requester; five visitors on
// five networks make the stylesheet they all got hintable, and no one's
// personal stylesheet ever is.
func TestPrivacy_OnePersonRotatingCookiesCountsOnce(t *testing.T) {
	for _, proto := range bothProtos {
		t.Run(proto, func(t *testing.T) {
			ev := &learnedCounter{}
			s := startStack(t, personalOrigin(t), stackOptions{hints: earlyhints.Config{Observer: ev, LearnInterval: -1}})
			alice := s.clientAt(t, proto, "127.1.0.1")
			n := int64(0)
			for _, cookie := range []string{"sid=alice; _ga=1", "sid=alice; _ga=2", "sid=alice; _ga=3", ""} {
				var hdr http.Header
				if cookie != "" {
					hdr = http.Header{"Cookie": {cookie}}
				}
				visitWith(t, alice, s, "/me", hdr)
				n++
				waitFor(t, "learned", &ev.learned, n)
			}
			hints, _ := visitWith(t, s.clientAt(t, proto, "127.2.0.1"), s, "/me", http.Header{"Cookie": {"sid=bob"}})
			if len(hints) != 0 {
				t.Fatalf("bob got a 103 learned from alice alone: %q", hints)
			}
			n++
			waitFor(t, "learned", &ev.learned, n)
			for i, who := range []string{"carol", "dave", "erin", "frank"} {
				hints, _ := visitWith(t, s.clientAt(t, proto, fmt.Sprintf("127.%d.0.1", i+3)), s, "/me", http.Header{"Cookie": {"sid=" + who}})
				n++
				waitFor(t, "learned", &ev.learned, n)
				for _, other := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
					if strings.Contains(joined(hints), "/u/"+other+".css") {
						t.Fatalf("%s's 103 names %s's stylesheet: %q", who, other, hints)
					}
				}
			}
			hints, _ = visitWith(t, s.clientAt(t, proto, "127.9.0.1"), s, "/me", http.Header{"Cookie": {"sid=grace"}})
			if got := joined(hints); len(hints) != 1 || !strings.Contains(got, "/shared.css") || strings.Contains(got, "/u/") {
				t.Fatalf("after five visitors: 103s %q, want one naming only /shared.css", hints)
			}
		})
	}
}

// TestPrivacy_VaryUserAgent: an origin that varies on User-Agent never
// gives the mobile stylesheet to a desktop browser, or the reverse.
func TestPrivacy_VaryUserAgent(t *testing.T) {
	const (
		mobileUA  = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
		desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
	)
	for _, proto := range bothProtos {
		t.Run(proto, func(t *testing.T) {
			origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				css := "/desktop.css"
				if strings.Contains(r.UserAgent(), "Mobile") {
					css = "/mobile.css"
				}
				w.Header().Set("Content-Type", "text/html")
				w.Header().Set("Vary", "User-Agent, Accept-Encoding")
				fmt.Fprintf(w, `<!doctype html><head><link rel=stylesheet href=%s></head><body>hi</body>`, css)
			}))
			ev := &learnedCounter{}
			s := startStack(t, origin, stackOptions{hints: earlyhints.Config{Observer: ev, LearnInterval: -1}})
			c := s.clientAt(t, proto, "127.1.0.1")
			as := func(ua string) http.Header { return http.Header{"User-Agent": {ua}} }
			visitWith(t, c, s, "/", as(mobileUA))
			waitFor(t, "learned", &ev.learned, 1)
			hints, _ := visitWith(t, c, s, "/", as(desktopUA))
			if strings.Contains(joined(hints), "mobile.css") {
				t.Fatalf("desktop got the mobile variant's hints: %q", hints)
			}
			waitFor(t, "learned", &ev.learned, 2)
			for _, tc := range []struct{ ua, want, not string }{
				{mobileUA, "/mobile.css", "desktop.css"},
				{desktopUA, "/desktop.css", "mobile.css"},
			} {
				hints, _ := visitWith(t, c, s, "/", as(tc.ua))
				if got := joined(hints); len(hints) != 1 || !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
					t.Fatalf("UA %q: 103s %q, want one naming %s only", tc.ua, hints, tc.want)
				}
			}
		})
	}
}

// TestPrivacy_HintsFollowThePage: a page that starts redirecting, or goes
// away, loses its hints at once; one that fails with a 5xx keeps them.
func TestPrivacy_HintsFollowThePage(t *testing.T) {
	for _, proto := range bothProtos {
		for _, tc := range []struct {
			name  string
			serve func(w http.ResponseWriter, r *http.Request)
			keeps bool
		}{
			{"302", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) }, false},
			{"301", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusMovedPermanently) }, false},
			{"404", http.NotFound, false},
			{"410", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }, false},
			{"json", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{}`))
			}, false},
			{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, true},
		} {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				var moved atomic.Bool
				origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if moved.Load() {
						tc.serve(w, r)
						return
					}
					w.Header().Set("Content-Type", "text/html")
					_, _ = w.Write([]byte(`<!doctype html><head><link rel=stylesheet href=/old.css></head><body>hi</body>`))
				}))
				ev := &learnedCounter{}
				s := startStack(t, origin, stackOptions{hints: earlyhints.Config{Observer: ev}})
				c := s.clientAt(t, proto, "127.1.0.1")
				visitWith(t, c, s, "/old", nil)
				waitFor(t, "learned", &ev.learned, 1)
				if hints, _ := visitWith(t, c, s, "/old", nil); len(hints) != 1 {
					t.Fatalf("no 103 once learned: %q", hints)
				}
				moved.Store(true)
				visitWith(t, c, s, "/old", nil) // this one still had the old hints: nobody knew
				if !tc.keeps {
					waitFor(t, "dropped", &ev.dropped, 1)
				}
				for range 2 {
					hints, _ := visitWith(t, c, s, "/old", nil)
					if tc.keeps && len(hints) != 1 {
						t.Fatalf("a %s wiped the page's hints", tc.name)
					}
					if !tc.keeps && len(hints) != 0 {
						t.Fatalf("after a %s the page still gets %q", tc.name, hints)
					}
				}
			})
		}
	}
}

// TestPrivacy_OuterFieldsStayOutOf103: a field an outer handler set for
// the final response (Set-Cookie, here) never reaches the 103, and the
// hints never reach the final response.
func TestPrivacy_OuterFieldsStayOutOf103(t *testing.T) {
	for _, proto := range bothProtos {
		t.Run(proto, func(t *testing.T) {
			origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte(`<!doctype html><head><link rel=stylesheet href=/a.css></head><body>hi</body>`))
			}))
			ev := &learnedCounter{}
			s := startStack(t, origin, stackOptions{hints: earlyhints.Config{Observer: ev}, outer: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Set-Cookie", "session=secret-value; Secure; HttpOnly")
					w.Header().Set("X-Outer", "1")
					next.ServeHTTP(w, r)
				})
			}})
			// The outer Set-Cookie makes every response personal: the
			// stylesheet is hinted once three visitors have seen it.
			for i := range earlyhints.DefaultPrivateQuorum {
				visitWith(t, s.clientAt(t, proto, fmt.Sprintf("127.%d.0.1", i+1)), s, "/", nil)
				waitFor(t, "learned", &ev.learned, int64(i+1))
			}
			c := s.clientAt(t, proto, "127.8.0.1")
			var early []http.Header
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				early = append(early, http.Header(h).Clone())
				return nil
			}}
			req := httptest.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, "https://"+s.srv.Addr()+"/", nil)
			req.RequestURI = ""
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
			if len(early) != 1 {
				t.Fatalf("%d 1xx, want one 103", len(early))
			}
			for k := range early[0] {
				if k != "Link" {
					t.Errorf("the 103 carries %s: %q", k, early[0][k])
				}
			}
			if res.Header.Get("Set-Cookie") == "" || res.Header.Get("X-Outer") != "1" {
				t.Errorf("the final response lost the outer handler's fields: %v", res.Header)
			}
			if l := res.Header.Values("Link"); len(l) != 0 {
				t.Errorf("the hints leaked into the final response: %q", l)
			}
		})
	}
}

// TestPrivacy_NoEarlyHintsForHTTP10: an HTTP/1.0 client never gets a
// 1xx, even with HTTP/1.1 hints on.
func TestPrivacy_NoEarlyHintsForHTTP10(t *testing.T) {
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><head><link rel=stylesheet href=/a.css></head><body>hi</body>`))
	}))
	ev := &learnedCounter{}
	s := startStack(t, origin, stackOptions{hints: earlyhints.Config{Observer: ev, AllowHTTP1: true}})
	h1 := s.client(t, "h1")
	visitWith(t, h1, s, "/", nil)
	waitFor(t, "learned", &ev.learned, 1)
	if hints, _ := visitWith(t, h1, s, "/", nil); len(hints) != 1 {
		t.Fatalf("HTTP/1.1 with hints on: %q, want one 103", hints)
	}
	conn, err := tls.Dial("tcp", s.srv.Addr(), &tls.Config{RootCAs: s.srv.CertPool(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\nAccept: text/html\r\nSec-Fetch-Mode: navigate\r\n\r\n", s.srv.Addr())
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.HasPrefix(b.String(), "HTTP/1.") || strings.Contains(b.String(), " 103 ") {
		t.Fatalf("HTTP/1.0 client got:\n%s", b.String())
	}
}
