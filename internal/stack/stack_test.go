package stack_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/stack"
	"github.com/earlyhints/earlyhints/server"
)

// thinkingOrigin serves a page that takes think to answer and links one
// stylesheet, and the stylesheet.
func thinkingOrigin(t *testing.T, think time.Duration) string {
	t.Helper()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			select {
			case <-time.After(think):
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<!doctype html><head><link rel=stylesheet href=/s.css></head><body>hi</body>`)
			return
		}
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = io.WriteString(w, "body{}")
	}))
	t.Cleanup(origin.Close)
	return origin.URL
}

// records is a slog.Handler that hands each record it gets to a channel,
// so a test can wait for a log line without polling.
type records chan slog.Record

func (records) Enabled(context.Context, slog.Level) bool { return true }
func (c records) Handle(_ context.Context, r slog.Record) error {
	select {
	case c <- r.Clone():
	default: // more lines than the test waits for: the handler must not block
	}
	return nil
}
func (c records) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c records) WithGroup(string) slog.Handler      { return c }

// next returns the next record, or fails the test after a while.
func (c records) next(t *testing.T) map[string]slog.Value {
	t.Helper()
	select {
	case r := <-c:
		attrs := map[string]slog.Value{"msg": slog.StringValue(r.Message)}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value; return true })
		return attrs
	case <-time.After(10 * time.Second):
		t.Fatal("no access log line within 10s")
		return nil
	}
}

// learned is an earlyhints.Observer that tells when hints were learned.
type learned chan struct{}

func (l learned) Observe(e earlyhints.Event) {
	if e.Kind == earlyhints.EventLearned && e.Links > 0 {
		select {
		case l <- struct{}{}:
		default:
		}
	}
}

func (l learned) wait(t *testing.T) {
	t.Helper()
	select {
	case <-l:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing learned within 10s")
	}
}

// served assembles cfg and serves it on loopback until the returned stop
// is called (or the test ends); stop shuts the server down gracefully, so
// the stack closes as the proxy command's does.
func served(t *testing.T, cfg stack.Config) (*stack.Stack, *server.Server, func()) {
	t.Helper()
	st, err := stack.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := st.Listen(server.Config{Addr: "127.0.0.1:0", DisableHTTP3: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		_ = st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("the server did not stop within 15s")
		}
	}
	t.Cleanup(stop)
	return st, srv, stop
}

// navigate loads url as a browser navigation over HTTP/2 with host as its
// Host (when not ""), and returns the 103s it got.
func navigate(t *testing.T, srv *server.Server, url, host string, header http.Header) []http.Header {
	t.Helper()
	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: srv.CertPool(), MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	var hints []http.Header
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				hints = append(hints, http.Header(h).Clone())
			}
			return nil
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ProtoMajor != 2 {
		t.Fatalf("GET %s: %s over %s", url, res.Status, res.Proto)
	}
	return hints
}

// TestStack_ServeHTTP drives a visitor through the assembled product in
// each mode and store: the first navigation teaches it the page, the
// second gets the stylesheet in a 103 where the mode sends one, and each
// is an access log line saying so.
func TestStack_ServeHTTP(t *testing.T) {
	tests := []struct {
		name   string
		cfg    stack.Config
		learns bool
		hints  int // 103s on the second navigation
	}{
		{"zero config", stack.Config{}, true, 1},
		{"memory store", stack.Config{Store: "memory", Mode: stack.ModeHints}, true, 1},
		{"file store", stack.Config{Store: "file:SNAPSHOT"}, true, 1},
		{"push falls back to a 103 for a client that refuses push", stack.Config{Mode: stack.ModePush}, true, 1},
		{"push only", stack.Config{Mode: stack.ModePushDigest, PushOnly: true}, true, 0},
		{"off", stack.Config{Mode: stack.ModeOff}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			snapshot := ""
			if cfg.Store == "file:SNAPSHOT" {
				snapshot = t.TempDir() + "/hints.json"
				cfg.Store = "file:" + snapshot
			}
			access := make(records, 8)
			seen := make(learned, 1)
			cfg.Origin, cfg.Observer = thinkingOrigin(t, 20*time.Millisecond), seen
			cfg.Logger, cfg.AccessLog = slog.New(slog.DiscardHandler), slog.New(access)
			st, srv, stop := served(t, cfg)

			if got := navigate(t, srv, srv.URL()+"/", "", nil); len(got) != 0 {
				t.Fatalf("first navigation: %d 103s, want none", len(got))
			}
			if line := access.next(t); line["hinted"].Bool() || line["path"].String() != "/" || line["client"].String() != "127.0.0.1" {
				t.Errorf("first access log line: %v", line)
			}
			if tt.learns {
				seen.wait(t)
			}
			got := navigate(t, srv, srv.URL()+"/", "", nil)
			if len(got) != tt.hints {
				t.Fatalf("second navigation: %d 103s, want %d", len(got), tt.hints)
			}
			if tt.hints > 0 && !strings.Contains(strings.Join(got[0]["Link"], ","), "/s.css") {
				t.Errorf("the 103 does not name the stylesheet: %v", got[0])
			}
			if line := access.next(t); line["hinted"].Bool() != (tt.hints > 0) || line["status"].Int64() != http.StatusOK {
				t.Errorf("second access log line: %v; want hinted %v", line, tt.hints > 0)
			}
			if f := st.Middleware.Field(1); tt.learns && (len(f) != 1 || f[0].Navigations != 2) {
				t.Errorf("field view: %+v, want one route with 2 navigations", f)
			}

			stop() // the graceful shutdown closes the stack
			if snapshot == "" {
				return
			}
			b, err := os.ReadFile(snapshot)
			if err != nil || !strings.Contains(string(b), "/s.css") {
				t.Fatalf("snapshot after shutdown: %v %q", err, b)
			}
			// A restart reads it back: the first visitor gets the 103.
			cfg.AccessLog = slog.New(slog.DiscardHandler)
			_, srv2, _ := served(t, cfg)
			if got := navigate(t, srv2, srv2.URL()+"/", "", nil); len(got) != 1 {
				t.Errorf("first navigation after a restart: %d 103s, want the snapshot's", len(got))
			}
		})
	}
}

// TestStack_RouteHost: with one origin that gets its own name, what the
// product learns under one Host serves every Host; with PreserveHost the
// origin sees the client's Host, so each is a route of its own.
func TestStack_RouteHost(t *testing.T) {
	for _, preserve := range []bool{false, true} {
		t.Run(map[bool]string{false: "origin's name", true: "preserve host"}[preserve], func(t *testing.T) {
			seen := make(learned, 1)
			_, srv, _ := served(t, stack.Config{
				Origin: thinkingOrigin(t, 0), PreserveHost: preserve, Observer: seen,
				Logger: slog.New(slog.DiscardHandler),
			})
			navigate(t, srv, srv.URL()+"/", "a.example", nil)
			seen.wait(t)
			want := 1
			if preserve {
				want = 0
			}
			if got := navigate(t, srv, srv.URL()+"/", "b.example", nil); len(got) != want {
				t.Errorf("another Host after learning: %d 103s, want %d", len(got), want)
			}
		})
	}
}

// TestStack_ClientAddress: a trusted proxy's X-Forwarded-For names the
// client in the access log; anyone else's is ignored.
func TestStack_ClientAddress(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		want    string
	}{
		{"none trusted", nil, "127.0.0.1"},
		{"loopback trusted", []string{"127.0.0.0/8"}, "198.51.100.7"},
		{"another network trusted", []string{"10.0.0.0/8"}, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			access := make(records, 4)
			_, srv, _ := served(t, stack.Config{
				Origin: thinkingOrigin(t, 0), TrustedProxies: tt.trusted,
				Logger: slog.New(slog.DiscardHandler), AccessLog: slog.New(access),
			})
			navigate(t, srv, srv.URL()+"/", "", http.Header{"X-Forwarded-For": {"198.51.100.7"}})
			if got := access.next(t)["client"].String(); got != tt.want {
				t.Errorf("client %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNew_Errors(t *testing.T) {
	const origin = "http://127.0.0.1:1"
	tests := []struct {
		name string
		cfg  stack.Config
		want []string // substrings of the error
	}{
		{"no origin", stack.Config{}, []string{"no origin", "--origin"}},
		{"bad origin", stack.Config{Origin: "ftp://x"}, []string{"--origin"}},
		{"bad origins entry", stack.Config{Origins: map[string]string{"a.example": "gopher://x"}}, []string{"origins: a.example"}},
		{"bad mode", stack.Config{Origin: origin, Mode: "shove"}, []string{`--mode "shove"`, "hints, push, push-digest or off"}},
		{"bad store", stack.Config{Origin: origin, Store: "disk"}, []string{`--store "disk"`, "file:PATH"}},
		{"file store without path", stack.Config{Origin: origin, Store: "file:"}, []string{"needs a path"}},
		{"bad trusted proxies", stack.Config{Origin: origin, TrustedProxies: []string{"lb.example"}}, []string{"--trusted-proxies", "lb.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = slog.New(slog.DiscardHandler)
			st, err := stack.New(tt.cfg)
			if err == nil {
				_ = st.Close()
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestStack_Close: closing twice is harmless and the second call reports
// what the first did.
func TestStack_Close(t *testing.T) {
	st, err := stack.New(stack.Config{Origin: "http://127.0.0.1:1", Store: "file:" + t.TempDir() + "/hints.json", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestNewAccessLog: the access log writes its lines in the format asked
// for once its writer is closed, and refuses an unknown format.
func TestNewAccessLog(t *testing.T) {
	tests := []struct {
		format, want string
	}{
		{"", "msg=request"},
		{"text", "msg=request"},
		{"json", `"msg":"request"`},
	}
	for _, tt := range tests {
		t.Run("format "+tt.format, func(t *testing.T) {
			var b strings.Builder
			access, out, err := stack.NewAccessLog(tt.format, &b, nil)
			if err != nil {
				t.Fatal(err)
			}
			access.Info("request", "path", "/")
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.want) {
				t.Errorf("line %q lacks %q", b.String(), tt.want)
			}
		})
	}
	if _, _, err := stack.NewAccessLog("xml", io.Discard, nil); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("format xml: %v, want an error naming --log-format", err)
	}
}
