package browser

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/earlyhints/earlyhints/lab/browser/h2push"
)

// fetcher sends requests over one protocol and owns the page's
// connections: one per origin on h2/h3, up to MaxConnsPerHost on h1.
type fetcher interface {
	RoundTrip(*http.Request) (*http.Response, error)
	// preconnect opens a connection to addr (host:port) in the background
	// unless one exists or is being opened.
	preconnect(addr string)
	connections() int
	close()
}

// connPool hands pre-opened connections (from preconnect) to the
// transport's dial hook and counts every handshake.
type connPool[C any] struct {
	ctx   context.Context
	dial  func(ctx context.Context, addr string) (C, error)
	close func(C)

	mu      sync.Mutex
	spares  map[string][]C
	dialing map[string]chan struct{}
	known   map[string]bool
	wg      sync.WaitGroup
	count   atomic.Int64
}

func newConnPool[C any](ctx context.Context, dial func(context.Context, string) (C, error), closeFn func(C)) *connPool[C] {
	return &connPool[C]{ctx: ctx, dial: dial, close: closeFn, spares: map[string][]C{}, dialing: map[string]chan struct{}{}, known: map[string]bool{}}
}

// get returns a spare connection to addr or dials one; a preconnect in
// progress is waited for rather than duplicated.
func (p *connPool[C]) get(ctx context.Context, addr string) (C, error) {
	p.mu.Lock()
	if ch := p.dialing[addr]; ch != nil {
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			var zero C
			return zero, ctx.Err()
		}
		p.mu.Lock()
	}
	if s := p.spares[addr]; len(s) > 0 {
		c := s[0]
		p.spares[addr] = s[1:]
		p.mu.Unlock()
		return c, nil
	}
	p.known[addr] = true
	p.mu.Unlock()
	c, err := p.dial(ctx, addr)
	if err == nil {
		p.count.Add(1)
	}
	return c, err
}

func (p *connPool[C]) preconnect(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known[addr] || p.dialing[addr] != nil {
		return
	}
	p.known[addr] = true
	ch := make(chan struct{})
	p.dialing[addr] = ch
	p.wg.Go(func() {
		c, err := p.dial(p.ctx, addr)
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.dialing, addr)
		close(ch)
		if err == nil {
			p.count.Add(1)
			p.spares[addr] = append(p.spares[addr], c)
		}
	})
}

// shutdown waits for preconnects and closes unused spares.
func (p *connPool[C]) shutdown() {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.spares {
		for _, c := range s {
			p.close(c)
		}
	}
	p.spares = map[string][]C{}
}

func tcpDialer(cfg Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if cfg.DialContext != nil {
		return cfg.DialContext
	}
	return (&net.Dialer{}).DialContext
}

// tlsDial opens TCP and TLS with the given ALPN protocol.
func tlsDial(cfg Config, alpn string) func(context.Context, string) (net.Conn, error) {
	dial := tcpDialer(cfg)
	return func(ctx context.Context, addr string) (net.Conn, error) {
		raw, err := dial(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		tcfg := cfg.TLS.Clone()
		tcfg.NextProtos = []string{alpn}
		if tcfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			tcfg.ServerName = host
		}
		tc := tls.Client(raw, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
}

// stdFetcher is net/http's Transport for h1 or h2.
type stdFetcher struct {
	tr   *http.Transport
	pool *connPool[net.Conn]
}

func newStdFetcher(ctx context.Context, cfg Config) *stdFetcher {
	alpn := "http/1.1"
	if cfg.Proto == H2 {
		alpn = "h2"
	}
	pool := newConnPool(ctx, tlsDial(cfg, alpn), func(c net.Conn) { c.Close() })
	var protos http.Protocols
	tr := &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return pool.get(ctx, addr)
		},
		DisableCompression:    true, // the model asks for gzip itself and counts encoded bytes
		MaxIdleConnsPerHost:   cfg.MaxConnsPerHost,
		ResponseHeaderTimeout: cfg.Timeout,
		Protocols:             &protos,
	}
	if cfg.Proto == H2 {
		protos.SetHTTP2(true)
		// One connection per origin, as browsers do on HTTP/2.
		tr.MaxConnsPerHost = 1
		tr.HTTP2 = &http.HTTP2Config{
			MaxConcurrentStreams:          cfg.MaxStreamsPerConn,
			MaxReceiveBufferPerStream:     6 << 20,
			MaxReceiveBufferPerConnection: 15 << 20,
		}
	} else {
		protos.SetHTTP1(true)
		tr.MaxConnsPerHost = cfg.MaxConnsPerHost
	}
	return &stdFetcher{tr: tr, pool: pool}
}

func (f *stdFetcher) RoundTrip(r *http.Request) (*http.Response, error) { return f.tr.RoundTrip(r) }
func (f *stdFetcher) preconnect(addr string)                            { f.pool.preconnect(addr) }
func (f *stdFetcher) connections() int                                  { return int(f.pool.count.Load()) }

func (f *stdFetcher) close() {
	f.pool.shutdown()
	f.tr.CloseIdleConnections()
}

// pushFetcher is the h2push client: one connection per origin, pushes
// reported to onPush.
type pushFetcher struct {
	cfg    Config
	ctx    context.Context
	onPush func(*h2push.Push)
	pool   *connPool[net.Conn]

	mu    sync.Mutex
	conns map[string]*lazyConn
	wg    sync.WaitGroup
}

type lazyConn struct {
	ready chan struct{}
	c     *h2push.Conn
	err   error
}

func newPushFetcher(ctx context.Context, cfg Config, onPush func(*h2push.Push)) *pushFetcher {
	return &pushFetcher{
		cfg: cfg, ctx: ctx, onPush: onPush,
		pool:  newConnPool(ctx, tlsDial(cfg, "h2"), func(c net.Conn) { c.Close() }),
		conns: map[string]*lazyConn{},
	}
}

func (f *pushFetcher) conn(ctx context.Context, addr string) (*h2push.Conn, error) {
	f.mu.Lock()
	lc := f.conns[addr]
	if lc == nil {
		lc = &lazyConn{ready: make(chan struct{})}
		f.conns[addr] = lc
		f.wg.Go(func() {
			defer close(lc.ready)
			nc, err := f.pool.get(f.ctx, addr)
			if err != nil {
				lc.err = err
				return
			}
			if tc, ok := nc.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol != "h2" {
				nc.Close()
				lc.err = fmt.Errorf("%w (%s)", h2push.ErrNoH2, addr)
				return
			}
			lc.c, lc.err = h2push.NewConn(nc, h2push.Config{
				EnablePush: f.cfg.AcceptPush,
				OnPush:     f.onPush,
				Logger:     f.cfg.Logger,
			})
		})
	}
	f.mu.Unlock()
	select {
	case <-lc.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return lc.c, lc.err
}

func (f *pushFetcher) RoundTrip(r *http.Request) (*http.Response, error) {
	c, err := f.conn(r.Context(), hostPort(r.URL))
	if err != nil {
		return nil, err
	}
	return c.RoundTrip(r)
}

func (f *pushFetcher) preconnect(addr string) {
	go func() { _, _ = f.conn(f.ctx, addr) }()
}

func (f *pushFetcher) connections() int { return int(f.pool.count.Load()) }

func (f *pushFetcher) close() {
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, lc := range f.conns {
		if lc.c != nil {
			lc.c.Close()
		}
	}
	f.pool.shutdown()
}

// h3Fetcher is quic-go's http3.Transport with the model's dial hook.
type h3Fetcher struct {
	tr     *http3.Transport
	pool   *connPool[*quic.Conn]
	quicTr *quic.Transport
	owned  net.PacketConn
	tlsCfg *tls.Config
	qcfg   *quic.Config
}

func newH3Fetcher(ctx context.Context, cfg Config) (*h3Fetcher, error) {
	f := &h3Fetcher{qcfg: &quic.Config{}}
	f.tlsCfg = cfg.TLS.Clone()
	f.tlsCfg.NextProtos = []string{http3.NextProtoH3}
	dial := cfg.DialQUIC
	if dial == nil {
		pc := cfg.PacketConn
		if pc == nil {
			udp, err := net.ListenUDP("udp", &net.UDPAddr{})
			if err != nil {
				return nil, fmt.Errorf("browser: open a UDP socket for h3: %w", err)
			}
			pc, f.owned = udp, udp
		}
		f.quicTr = &quic.Transport{Conn: pc}
		resolve := cfg.ResolveUDP
		if resolve == nil {
			resolve = func(addr string) (*net.UDPAddr, error) { return net.ResolveUDPAddr("udp", addr) }
		}
		dial = func(ctx context.Context, addr string, tlsCfg *tls.Config, qcfg *quic.Config) (*quic.Conn, error) {
			ua, err := resolve(addr)
			if err != nil {
				return nil, fmt.Errorf("resolve %s: %w", addr, err)
			}
			return f.quicTr.DialEarly(ctx, ua, tlsCfg, qcfg)
		}
	}
	f.pool = newConnPool(ctx, func(ctx context.Context, addr string) (*quic.Conn, error) {
		tcfg := f.tlsCfg.Clone()
		if tcfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			tcfg.ServerName = host
		}
		return dial(ctx, addr, tcfg, f.qcfg)
	}, func(c *quic.Conn) { _ = c.CloseWithError(0, "") }) // the pool is done with it; nothing to report
	f.tr = &http3.Transport{
		TLSClientConfig:    f.tlsCfg,
		QUICConfig:         f.qcfg,
		DisableCompression: true,
		Logger:             cfg.Logger,
		Dial: func(ctx context.Context, addr string, _ *tls.Config, _ *quic.Config) (*quic.Conn, error) {
			return f.pool.get(ctx, addr)
		},
	}
	return f, nil
}

func (f *h3Fetcher) RoundTrip(r *http.Request) (*http.Response, error) { return f.tr.RoundTrip(r) }
func (f *h3Fetcher) preconnect(addr string)                            { f.pool.preconnect(addr) }
func (f *h3Fetcher) connections() int                                  { return int(f.pool.count.Load()) }

func (f *h3Fetcher) close() {
	f.pool.shutdown()
	f.tr.Close()
	if f.quicTr != nil {
		f.quicTr.Close()
	}
	if f.owned != nil {
		f.owned.Close()
	}
}

func newFetcher(ctx context.Context, cfg Config, onPush func(*h2push.Push)) (fetcher, error) {
	switch {
	case cfg.Proto == H3:
		f, err := newH3Fetcher(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return withJar(f, cfg.Jar), nil
	case cfg.Proto == H2 && (cfg.AcceptPush || cfg.H2PushClient):
		return withJar(newPushFetcher(ctx, cfg, onPush), cfg.Jar), nil
	default:
		return withJar(newStdFetcher(ctx, cfg), cfg.Jar), nil
	}
}

var errTimeout = errors.New("browser: page load timed out; raise Config.Timeout or check the origin")

// hostPort returns u's host with its default port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return net.JoinHostPort(u.Hostname(), "443")
}
