package h2push

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// pushServer is a Go HTTP/2 server whose "/" pushes the paths in pushes
// before answering; every other path answers its own name.
type pushServer struct {
	srv *httptest.Server

	mu        sync.Mutex
	pushErrs  []error
	bigBody   []byte
	earlyLink string
}

func newPushServer(t *testing.T, pushes ...string) *pushServer {
	t.Helper()
	ps := &pushServer{bigBody: bytes.Repeat([]byte("x"), 20<<20)}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "body of "+r.URL.Path)
			return
		}
		if ps.earlyLink != "" {
			w.Header().Set("Link", ps.earlyLink)
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			time.Sleep(50 * time.Millisecond)
		}
		for _, p := range pushes {
			var err error
			if pusher, ok := w.(http.Pusher); ok {
				err = pusher.Push(p, nil)
			} else {
				err = errors.New("no pusher")
			}
			ps.mu.Lock()
			ps.pushErrs = append(ps.pushErrs, err)
			ps.mu.Unlock()
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html>page</html>")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(ps.bigBody) })
	ps.srv = httptest.NewUnstartedServer(mux)
	ps.srv.EnableHTTP2 = true
	ps.srv.StartTLS()
	t.Cleanup(ps.srv.Close)
	return ps
}

func (ps *pushServer) tls() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ps.srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

func (ps *pushServer) dial(t *testing.T, cfg Config) *Conn {
	t.Helper()
	cfg.TLS = ps.tls()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, ps.srv.Listener.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// reply is what the tests read of a response; get has read and closed its
// body by the time they see it.
type reply struct {
	StatusCode int
	Header     http.Header
}

func get(t *testing.T, c *Conn, ps *pushServer, path string, trace *httptrace.ClientTrace) (*reply, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if trace != nil {
		ctx = httptrace.WithClientTrace(ctx, trace)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ps.srv.URL+path, nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip %s: %v", path, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	resp.Body.Close()
	return &reply{StatusCode: resp.StatusCode, Header: resp.Header}, string(b)
}

func TestConn_Push(t *testing.T) {
	ps := newPushServer(t, "/a.css", "/b.js")
	var mu sync.Mutex
	var pushes []*Push
	c := ps.dial(t, Config{EnablePush: true, OnPush: func(p *Push) {
		mu.Lock()
		pushes = append(pushes, p)
		mu.Unlock()
	}})
	resp, body := get(t, c, ps, "/", nil)
	if resp.StatusCode != 200 || body != "<html>page</html>" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	got := append([]*Push(nil), pushes...)
	mu.Unlock()
	// Go's server writes each PUSH_PROMISE before the handler continues, so
	// both promises precede the page's own HEADERS.
	if len(got) != 2 {
		t.Fatalf("got %d promises before the 200, want 2 (server errors %v)", len(got), ps.pushErrs)
	}
	for i, want := range []string{"/a.css", "/b.js"} {
		p := got[i]
		if p.Request.Method != http.MethodGet || p.Request.URL.Path != want || p.Request.URL.Scheme != "https" ||
			p.Request.Host != ps.srv.Listener.Addr().String() || p.Associated != 1 || p.StreamID%2 != 0 {
			t.Errorf("promise %d = %s %s host %s assoc %d id %d", i, p.Request.Method, p.Request.URL, p.Request.Host, p.Associated, p.StreamID)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := p.Response(ctx)
		cancel()
		if err != nil {
			t.Fatalf("push %s response: %v", want, err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if string(b) != "body of "+want {
			t.Errorf("push %s body %q", want, b)
		}
		if p.DataBytes() != int64(len(b)) {
			t.Errorf("DataBytes = %d, want %d", p.DataBytes(), len(b))
		}
	}
	if st := c.Stats(); st.PushesPromised != 2 || st.PushesCancelled != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestConn_PushCancel(t *testing.T) {
	ps := newPushServer(t, "/a.css")
	c := ps.dial(t, Config{EnablePush: true, OnPush: func(p *Push) { p.Cancel() }})
	for i := range 3 {
		resp, body := get(t, c, ps, "/", nil)
		if resp.StatusCode != 200 || body != "<html>page</html>" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	// The connection keeps working after the resets.
	if _, body := get(t, c, ps, "/other", nil); body != "body of /other" {
		t.Fatalf("after cancels: %q", body)
	}
	if st := c.Stats(); st.PushesPromised != 3 || st.PushesCancelled != 3 {
		t.Errorf("stats %+v, want 3 promised and cancelled", st)
	}
}

func TestConn_PushDisabled(t *testing.T) {
	ps := newPushServer(t, "/a.css")
	c := ps.dial(t, Config{})
	if _, body := get(t, c, ps, "/", nil); body != "<html>page</html>" {
		t.Fatalf("body %q", body)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.pushErrs) != 1 || !errors.Is(ps.pushErrs[0], http.ErrNotSupported) {
		t.Errorf("server Push errors = %v, want ErrNotSupported", ps.pushErrs)
	}
	if st := c.Stats(); st.PushesPromised != 0 {
		t.Errorf("got %d promises with push disabled", st.PushesPromised)
	}
}

func TestConn_EarlyHints(t *testing.T) {
	ps := newPushServer(t)
	ps.earlyLink = "</a.css>; rel=preload; as=style"
	c := ps.dial(t, Config{})
	var mu sync.Mutex
	var codes []int
	var links []string
	var at time.Time
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		codes = append(codes, code)
		links = append(links, h.Get("Link"))
		at = time.Now()
		return nil
	}}
	start := time.Now()
	resp, _ := get(t, c, ps, "/", trace)
	done := time.Now()
	mu.Lock()
	defer mu.Unlock()
	if len(codes) != 1 || codes[0] != 103 || links[0] != ps.earlyLink {
		t.Fatalf("1xx = %v %v", codes, links)
	}
	if resp.Header.Get("Link") != "" {
		t.Errorf("103's Link leaked into the 200: %q", resp.Header.Get("Link"))
	}
	if at.Before(start) || at.After(done) {
		t.Errorf("103 at %v outside the request", at)
	}
}

func TestConn_ConcurrentAndFlowControl(t *testing.T) {
	ps := newPushServer(t)
	c := ps.dial(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 30 {
		wg.Go(func() {
			path := "/r" + strings.Repeat("x", i)
			req, _ := http.NewRequest(http.MethodGet, ps.srv.URL+path, nil)
			resp, err := c.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "body of "+path {
				errs <- errors.New("bad body " + string(b))
			}
		})
	}
	wg.Go(func() {
		// 20 MiB exceeds both the stream and the connection windows, so the
		// transfer completes only if WINDOW_UPDATEs flow.
		req, _ := http.NewRequest(http.MethodGet, ps.srv.URL+"/big", nil)
		resp, err := c.RoundTrip(req)
		if err != nil {
			errs <- err
			return
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(len(ps.bigBody)) {
			errs <- errors.New("big body short")
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ids := c.activeStreams(); len(ids) != 0 {
		t.Errorf("streams left open: %v", ids)
	}
}

func TestConn_BodyCloseEarly(t *testing.T) {
	ps := newPushServer(t)
	c := ps.dial(t, Config{InitialWindowSize: 1 << 16})
	req, _ := http.NewRequest(http.MethodGet, ps.srv.URL+"/big", nil)
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, body := get(t, c, ps, "/after", nil); body != "body of /after" {
		t.Fatalf("after early close: %q", body)
	}
}

func TestConn_GoAwayAfterServerClose(t *testing.T) {
	ps := newPushServer(t)
	c := ps.dial(t, Config{})
	get(t, c, ps, "/x", nil)
	ps.srv.CloseClientConnections()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection did not notice the server closing")
	}
	req, _ := http.NewRequest(http.MethodGet, ps.srv.URL+"/y", nil)
	resp, err := c.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrGoAway) {
		t.Fatalf("RoundTrip on a closed connection: %v", err)
	}
}

// TestConn_WroteHeaders: the request's trace hears when its HEADERS are
// written, before the response, so that a caller can keep its requests in
// order on the wire.
func TestConn_WroteHeaders(t *testing.T) {
	ps := newPushServer(t)
	c := ps.dial(t, Config{})
	var mu sync.Mutex
	wrote := 0
	trace := &httptrace.ClientTrace{WroteHeaders: func() {
		mu.Lock()
		wrote++
		mu.Unlock()
	}}
	if r, _ := get(t, c, ps, "/", trace); r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if wrote != 1 {
		t.Errorf("WroteHeaders called %d times, want 1", wrote)
	}
}
