package proxy_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/hintlog"
	"github.com/earlyhints/earlyhints/proxy"
	"github.com/earlyhints/earlyhints/server"
)

// stack is the product as the command assembles it: server, access log,
// middleware, proxy, in front of an origin.
type stack struct {
	srv    *server.Server
	mw     *earlyhints.Handler
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

type stackOptions struct {
	proxy  proxy.Config
	hints  earlyhints.Config
	logger *slog.Logger
	// outer, when set, wraps the access-logged middleware, as a handler of
	// the operator's own would.
	outer func(http.Handler) http.Handler
	// trusted are the proxies in front whose forwarding fields count.
	trusted []netip.Prefix
	// h2c adds a cleartext HTTP/2 listener, as for a load balancer.
	h2c bool
}

func startStack(t *testing.T, origin string, opt stackOptions) *stack {
	t.Helper()
	pc := opt.proxy
	if pc.Default == nil && pc.Origins == nil && origin != "" {
		u, err := url.Parse(origin)
		if err != nil {
			t.Fatal(err)
		}
		pc.Default = u
	}
	discard := slog.New(slog.DiscardHandler)
	if pc.Logger == nil {
		pc.Logger = discard
	}
	p, err := proxy.New(pc)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	hc := opt.hints
	if hc.Logger == nil {
		hc.Logger = discard
	}
	hc.Observer = hintlog.Observer(hc.Observer) // as the command wires it
	mw, err := earlyhints.New(p, hc)
	if err != nil {
		t.Fatalf("earlyhints.New: %v", err)
	}
	logger := opt.logger
	if logger == nil {
		logger = discard
	}
	h := proxy.AccessLog(mw, logger)
	if opt.outer != nil {
		h = opt.outer(h)
	}
	h = proxy.ClientAddress(h, opt.trusted)
	h2cAddr := ""
	if opt.h2c {
		h2cAddr = "127.0.0.1:0"
	}
	srv, err := server.New(h, server.Config{
		Addr: "127.0.0.1:0", H2CAddr: h2cAddr, Logger: discard, ShutdownTimeout: 5 * time.Second,
		OnShutdown: []func(context.Context) error{func(context.Context) error { return mw.Close() }},
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &stack{srv: srv, mw: mw, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ctx) }()
	t.Cleanup(func() { _ = s.stop(t) })
	return s
}

func (s *stack) stop(t *testing.T) error {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case s.err = <-s.done:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return within 10s")
			_ = s.srv.Close()
		}
	})
	return s.err
}

// client returns a client that speaks only proto ("h1", "h2" or "h3").
func (s *stack) client(t *testing.T, proto string) *http.Client {
	t.Helper()
	tlsConf := &tls.Config{RootCAs: s.srv.CertPool()}
	var rt http.RoundTripper
	switch proto {
	case "h3":
		tr := &http3.Transport{TLSClientConfig: tlsConf}
		t.Cleanup(func() { _ = tr.Close() })
		rt = tr
	default:
		var p http.Protocols
		if proto == "h2" {
			p.SetHTTP2(true)
		} else {
			p.SetHTTP1(true)
		}
		tr := &http.Transport{TLSClientConfig: tlsConf, Protocols: &p}
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	}
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}
}

// interim is one 1xx a client received.
type interim struct {
	code   int
	header http.Header
	at     time.Duration
}

// visit is one navigation as a client saw it.
type visit struct {
	res     *http.Response
	body    string
	interim []interim
	final   time.Duration // when the final response headers arrived
}

// head is the status and fields of a response whose body a helper has
// already read and closed.
type head struct {
	StatusCode int
	Header     http.Header
}

// navigate makes a browser-like navigation to path on host (the server's
// address when empty) and records when each response arrived.
func navigate(t *testing.T, c *http.Client, s *stack, host, path string) visit {
	t.Helper()
	var (
		mu sync.Mutex
		v  visit
	)
	start := time.Now()
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		v.interim = append(v.interim, interim{code: code, header: http.Header(h).Clone(), at: time.Since(start)})
		return nil
	}}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+s.srv.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	final := time.Since(start)
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		t.Fatalf("read body of %s: %v", path, err)
	}
	mu.Lock()
	defer mu.Unlock()
	v.res, v.body, v.final = res, string(body), final
	return v
}

// waitLearned waits until the middleware has hints for the route of path.
func waitLearned(t *testing.T, s *stack, path string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "https://"+s.srv.Addr()+path, nil)
	key := s.mw.RouteKey(r)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok, _ := s.mw.Store().Get(context.Background(), key); ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no hints learned for %s within 5s", key)
}

// startOrigin runs h as a plain HTTP/1.1 origin on loopback.
func startOrigin(t *testing.T, h http.Handler) string {
	t.Helper()
	o := httptest.NewServer(h)
	t.Cleanup(o.Close)
	return o.URL
}
