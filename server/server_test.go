package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

func protoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %d", r.Proto, r.ProtoMajor)
	})
}

func TestServer_Serve_Protocols(t *testing.T) {
	s := start(t, protoHandler(), Config{H2CAddr: "127.0.0.1:0"})
	_, tcpPort, _ := net.SplitHostPort(s.Addr())
	_, udpPort, _ := net.SplitHostPort(s.UDPAddr())
	if tcpPort != udpPort {
		t.Fatalf("HTTP/3 on UDP port %s, want the TCP port %s", udpPort, tcpPort)
	}
	wantAltSvc := `h3=":` + tcpPort + `"; ma=86400`
	if s.AltSvc() != wantAltSvc {
		t.Errorf("AltSvc() = %q, want %q", s.AltSvc(), wantAltSvc)
	}
	tests := []struct {
		proto      string
		wantBody   string
		wantAltSvc string
	}{
		{proto: "h1", wantBody: "HTTP/1.1 1", wantAltSvc: wantAltSvc},
		{proto: "h2", wantBody: "HTTP/2.0 2", wantAltSvc: wantAltSvc},
		{proto: "h3", wantBody: "HTTP/3.0 3"},
		// Cleartext HTTP/2 sits behind a load balancer; advertising the
		// UDP port there would point browsers at the wrong host.
		{proto: "h2c", wantBody: "HTTP/2.0 2"},
	}
	for _, tt := range tests {
		t.Run(tt.proto, func(t *testing.T) {
			resp, body := get(t, newClient(t, s.Server, tt.proto), s.baseURL(tt.proto)+"/") //nolint:bodyclose // get reads and closes the body
			if resp.StatusCode != http.StatusOK || body != tt.wantBody {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, tt.wantBody)
			}
			if got := strings.Join(resp.Header.Values("Alt-Svc"), ", "); got != tt.wantAltSvc {
				t.Errorf("Alt-Svc = %q, want %q", got, tt.wantAltSvc)
			}
		})
	}
}

// TestServer_Serve_EarlyHints proves that every transport delivers a 103 to
// the client while the handler is still working: the handler does not write
// its 200 until the client has reported the 103.
func TestServer_Serve_EarlyHints(t *testing.T) {
	const link = "</style.css>; rel=preload; as=style"
	var (
		mu      sync.Mutex
		waiters = map[string]chan struct{}{}
	)
	gotHint := func(id string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if waiters[id] == nil {
			waiters[id] = make(chan struct{})
		}
		return waiters[id]
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", link)
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		select {
		case <-gotHint(r.URL.Query().Get("id")):
		case <-time.After(5 * time.Second):
			http.Error(w, "the client did not report the 103 while the handler waited", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "page")
	})
	s := start(t, h, Config{H2CAddr: "127.0.0.1:0"})

	for _, proto := range []string{"h1", "h2", "h3", "h2c"} {
		t.Run(proto, func(t *testing.T) {
			var events []string
			trace := &httptrace.ClientTrace{
				Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
					events = append(events, fmt.Sprintf("%d %s", code, header.Get("Link")))
					if code == http.StatusEarlyHints {
						close(gotHint(proto))
					}
					return nil
				},
			}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL(proto)+"/?id="+proto, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := newClient(t, s.Server, proto).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			events = append(events, fmt.Sprintf("%d %s", resp.StatusCode, body))

			want := []string{"103 " + link, "200 page"}
			if strings.Join(events, " | ") != strings.Join(want, " | ") {
				t.Errorf("events = %q, want %q", events, want)
			}
			if resp.Header.Get("Link") != "" {
				t.Errorf("final response carries the 103's Link: %q", resp.Header.Get("Link"))
			}
		})
	}
}

// TestServer_Serve_ResponseWriterFeatures checks that advertising Alt-Svc
// does not hide the optional interfaces of the ResponseWriter.
func TestServer_Serve_ResponseWriterFeatures(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, flusher := w.(http.Flusher)
		_, hijacker := w.(http.Hijacker)
		flushErr := http.NewResponseController(w).Flush()
		fmt.Fprintf(w, "flusher=%t hijacker=%t flush=%v", flusher, hijacker, flushErr)
	})
	s := start(t, h, Config{})
	tests := []struct{ proto, want string }{
		{"h1", "flusher=true hijacker=true flush=<nil>"},
		{"h2", "flusher=true hijacker=false flush=<nil>"},
		{"h3", "flusher=true hijacker=false flush=<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.proto, func(t *testing.T) {
			if _, body := get(t, newClient(t, s.Server, tt.proto), s.baseURL(tt.proto)); body != tt.want { //nolint:bodyclose // get reads and closes the body
				t.Errorf("body = %q, want %q", body, tt.want)
			}
		})
	}
}

func TestServer_Reload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := writeCertFiles(t, dir)
	s := start(t, protoHandler(), Config{CertFile: certFile, KeyFile: keyFile})
	if s.SelfSigned() {
		t.Error("SelfSigned() = true with certificate files")
	}
	for _, quic := range []bool{false, true} {
		if !servedLeaf(t, s.Server, quic).Equal(first) {
			t.Fatalf("quic=%t: served certificate is not the one in the files", quic)
		}
	}

	_, _, second := writeCertFiles(t, dir)
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	for _, quic := range []bool{false, true} {
		if !servedLeaf(t, s.Server, quic).Equal(second) {
			t.Errorf("quic=%t: after Reload the old certificate is still served", quic)
		}
	}
	if !s.Certificate().Equal(second) {
		t.Error("Certificate() does not report the reloaded certificate")
	}

	bad := []struct {
		name string
		key  []byte
	}{
		{"garbage key", []byte("not a key")},
		{"key of another certificate", mustKey(t)},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if err := os.WriteFile(keyFile, b.key, 0o600); err != nil {
				t.Fatal(err)
			}
			err := s.Reload()
			if err == nil || !strings.Contains(err.Error(), certFile) {
				t.Fatalf("Reload() = %v, want an error naming %s", err, certFile)
			}
			if !servedLeaf(t, s.Server, false).Equal(second) || !s.Certificate().Equal(second) {
				t.Error("a failed reload replaced the certificate")
			}
			resp, _ := get(t, newClient(t, s.Server, "h2"), s.baseURL("h2")) //nolint:bodyclose // get reads and closes the body
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d after failed reload", resp.StatusCode)
			}
		})
	}
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	_, key, err := GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestServer_Reload_SelfSigned(t *testing.T) {
	s := start(t, protoHandler(), Config{})
	before := s.Certificate()
	if !s.SelfSigned() {
		t.Fatal("SelfSigned() = false without certificate files")
	}
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload of a generated certificate: %v", err)
	}
	if !s.Certificate().Equal(before) || !servedLeaf(t, s.Server, false).Equal(before) {
		t.Error("Reload replaced the generated certificate")
	}
	if !strings.Contains(string(s.CertificatePEM()), "BEGIN CERTIFICATE") {
		t.Errorf("CertificatePEM() = %q", s.CertificatePEM())
	}
}

// TestServer_Serve_GracefulShutdown: requests in flight on HTTP/2 and HTTP/3
// finish after cancellation, the hooks run after them, and the ports are
// closed.
func TestServer_Serve_GracefulShutdown(t *testing.T) {
	entered := make(chan struct{}, 2)
	var inFlight atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		entered <- struct{}{}
		time.Sleep(500 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	var hookCalls []string
	hook := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("hook context has no deadline")
			}
			hookCalls = append(hookCalls, fmt.Sprintf("%s in_flight=%d", name, inFlight.Load()))
			return nil
		}
	}
	s := start(t, h, Config{OnShutdown: []func(context.Context) error{hook("snapshot"), hook("second")}})

	type result struct {
		proto, body string
		status      int
		err         error
	}
	results := make(chan result, 2)
	for _, proto := range []string{"h2", "h3"} {
		c := newClient(t, s.Server, proto)
		go func() {
			resp, err := c.Get(s.baseURL(proto) + "/slow")
			if err != nil {
				results <- result{proto: proto, err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			results <- result{proto, string(body), resp.StatusCode, err}
		}()
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("requests did not reach the handler")
		}
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Serve after graceful shutdown = %v, want nil", err)
	}
	for range 2 {
		select {
		case r := <-results:
			if r.err != nil || r.status != http.StatusOK || r.body != "done" {
				t.Errorf("%s: in-flight request got %d %q, %v; want 200 done", r.proto, r.status, r.body, r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("in-flight requests did not complete")
		}
	}
	want := "snapshot in_flight=0, second in_flight=0"
	if got := strings.Join(hookCalls, ", "); got != want {
		t.Errorf("hooks = %q, want %q", got, want)
	}

	if conn, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second); err == nil {
		conn.Close()
		t.Error("TCP port still accepts connections after shutdown")
	}
	tr := &http3.Transport{
		TLSClientConfig: newClient(t, s.Server, "h2").Transport.(*http.Transport).TLSClientConfig,
		QUICConfig:      &quic.Config{HandshakeIdleTimeout: 500 * time.Millisecond},
	}
	defer tr.Close()
	if resp, err := (&http.Client{Transport: tr}).Get(s.baseURL("h3")); err == nil {
		resp.Body.Close()
		t.Error("HTTP/3 still answers after shutdown")
	}
}

func TestServer_Serve_ShutdownTimeout(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	defer close(release)
	hookRan := make(chan struct{}, 1)
	hookErr := errors.New("snapshot failed")
	s := start(t, h, Config{
		ShutdownTimeout: 200 * time.Millisecond,
		OnShutdown: []func(context.Context) error{func(context.Context) error {
			hookRan <- struct{}{}
			return hookErr
		}},
	})
	c := newClient(t, s.Server, "h2")
	go func() {
		if resp, err := c.Get(s.baseURL("h2")); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	err := s.stop(t)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, hookErr) {
		t.Errorf("Serve = %v, want the drain timeout and the hook error", err)
	}
	select {
	case <-hookRan:
	default:
		t.Error("hook did not run after the drain timed out")
	}
}

func TestServer_Serve_HeaderTooLarge(t *testing.T) {
	s := start(t, protoHandler(), Config{MaxHeaderBytes: 1024})
	tests := []struct {
		proto string
		size  int
		// wantStatus 0 means the client must refuse to send: HTTP/2
		// advertises the cap in SETTINGS and Go's client honours it.
		wantStatus int
	}{
		{"h1", 100, http.StatusOK},
		// net/http allows 4 KiB of slack above MaxHeaderBytes.
		{"h1", 16 << 10, http.StatusRequestHeaderFieldsTooLarge},
		{"h2", 100, http.StatusOK},
		{"h2", 16 << 10, 0},
		{"h3", 100, http.StatusOK},
		{"h3", 16 << 10, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.proto, tt.size), func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.baseURL(tt.proto), nil)
			req.Header.Set("X-Big", strings.Repeat("a", tt.size))
			resp, err := newClient(t, s.Server, tt.proto).Do(req)
			if tt.wantStatus == 0 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("oversized request was sent and answered %d", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
}

func TestServer_DisableHTTP3(t *testing.T) {
	s := start(t, protoHandler(), Config{DisableHTTP3: true})
	if s.UDPAddr() != "" || s.AltSvc() != "" {
		t.Errorf("UDPAddr() = %q, AltSvc() = %q; want both empty", s.UDPAddr(), s.AltSvc())
	}
	resp, _ := get(t, newClient(t, s.Server, "h2"), s.baseURL("h2")) //nolint:bodyclose // get reads and closes the body
	if v := resp.Header.Get("Alt-Svc"); v != "" {
		t.Errorf("Alt-Svc = %q with HTTP/3 disabled", v)
	}
}

func TestNew_SelfSignRefusedOnPublicAddress(t *testing.T) {
	_, err := New(protoHandler(), Config{Addr: "0.0.0.0:0", Logger: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, ErrSelfSignedNotLoopback) {
		t.Fatalf("New = %v, want ErrSelfSignedNotLoopback", err)
	}
	for _, hint := range []string{"--tls-cert", "--tls-key", "--self-signed"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error %q does not tell the user about %s", err, hint)
		}
	}
}

func TestNew_Errors(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name    string
		handler http.Handler
		cfg     Config
		want    string
	}{
		{"nil handler", nil, Config{Addr: "127.0.0.1:0"}, "nil handler"},
		{"missing files", protoHandler(), Config{Addr: "127.0.0.1:0", CertFile: "testdata/none.crt", KeyFile: "testdata/none.key"}, "none.crt"},
		{"busy port", protoHandler(), Config{Addr: busy.Addr().String()}, "--listen"},
		{"busy h2c port", protoHandler(), Config{Addr: "127.0.0.1:0", H2CAddr: busy.Addr().String()}, "--h2c-listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = quiet
			s, err := New(tt.handler, tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestServer_Close(t *testing.T) {
	s, err := New(protoHandler(), Config{Addr: "127.0.0.1:0", H2CAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	addr, udp, h2c := s.Addr(), s.UDPAddr(), s.H2CAddr()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Serve(context.Background()); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Close = %v, want http.ErrServerClosed", err)
	}
	// The ports are free again.
	for _, a := range []string{addr, h2c} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("tcp %s still bound after Close: %v", a, err)
			continue
		}
		ln.Close()
	}
	pc, err := net.ListenPacket("udp", udp)
	if err != nil {
		t.Errorf("udp %s still bound after Close: %v", udp, err)
	} else {
		pc.Close()
	}
}

func TestServer_URL(t *testing.T) {
	s := start(t, protoHandler(), Config{})
	if want := "https://" + s.Addr(); s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}
}

// TestServer_Reload_BoundedFiles: a certificate or key path that names
// something endless (/dev/zero) or huge fails the reload at once with an
// error that says so, the served certificate stays, and a later reload of
// a valid pair takes effect.
func TestServer_Reload_BoundedFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := writeCertFiles(t, dir)
	valid := filepath.Join(dir, "valid")
	if err := os.Mkdir(valid, 0o700); err != nil {
		t.Fatal(err)
	}
	// The configured paths are links, as a secret mount makes them.
	link := func(path, target string) {
		t.Helper()
		_ = os.Remove(path)
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	certLink, keyLink := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	link(certLink, certFile)
	link(keyLink, keyFile)
	s := start(t, protoHandler(), Config{CertFile: certLink, KeyFile: keyLink})
	huge := filepath.Join(dir, "huge.pem")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("A"), MaxCertFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, cert, key string }{
		{"certificate is /dev/zero", "/dev/zero", keyFile},
		{"key is /dev/zero", certFile, "/dev/zero"},
		{"huge certificate", huge, keyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link(certLink, tc.cert)
			link(keyLink, tc.key)
			err := s.Reload()
			if err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
				t.Fatalf("Reload() = %v, want an error about the size", err)
			}
			if !servedLeaf(t, s.Server, false).Equal(first) {
				t.Error("a failed reload replaced the certificate")
			}
		})
	}
	newCert, newKey, second := writeCertFiles(t, valid)
	link(certLink, newCert)
	link(keyLink, newKey)
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload of a valid pair after failed ones: %v", err)
	}
	for _, quic := range []bool{false, true} {
		if !servedLeaf(t, s.Server, quic).Equal(second) {
			t.Errorf("quic=%t: the valid pair reloaded last is not served", quic)
		}
	}
	if _, err := New(protoHandler(), Config{Addr: "127.0.0.1:0", CertFile: "/dev/zero", KeyFile: keyFile}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("New with /dev/zero as the certificate: %v, want an error about the size", err)
	}
}
