package experiment

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earlyhints/earlyhints"
	product "github.com/earlyhints/earlyhints/internal/stack"
	"github.com/earlyhints/earlyhints/lab/netem"
	"github.com/earlyhints/earlyhints/lab/site"
	"github.com/earlyhints/earlyhints/server"
)

// NetemMode says how the emulated network is put between browser and
// server.
type NetemMode string

// The modes.
const (
	// Relay: loopback TCP and UDP relays (no privileges; an approximation,
	// see lab/netem).
	Relay NetemMode = "relay"
	// Packet: network namespaces joined through TUN devices (root).
	Packet NetemMode = "packet"
)

// Env tells a browser how to reach the server under test.
type Env struct {
	Protocol Protocol
	// URL is the page to load, on the server's origin as the browser sees
	// it (https://127.0.0.1:port/path in relay mode).
	URL string
	// DialContext dials TCP through the emulated network; the address
	// argument can be ignored (every host of the page lives on the server).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ListenUDP, when set, opens the browser's QUIC socket (inside the
	// client namespace in packet mode); nil means any loopback socket.
	// UDPAddr is where the server's QUIC listener is reached through the
	// emulated network.
	ListenUDP func() (net.PacketConn, error)
	UDPAddr   string
	// TCPAddr is the address a browser that dials by itself (Chromium)
	// connects to for TCP: the relay's, or the server's in packet mode.
	TCPAddr string
	// Hosts are the page's third-party host names, all served by the
	// server under test.
	Hosts []string
	// Namespace is the client network namespace a browser process must
	// run in (packet mode), "" for none.
	Namespace string
	// RootCAs trusts the server's generated certificate; SPKI is the base64
	// SHA-256 of its key, for Chromium's SPKI list.
	RootCAs *x509.CertPool
	SPKI    string
	// CertPEM is the server's certificate, PEM encoded, for a browser
	// that trusts it in its own certificate store (Firefox).
	CertPEM []byte
	// RTT is the emulated network's round trip; ServerLog returns the
	// requests the site served since the measured load began. Together
	// they place on a waterfall the fetches a browser does not show the
	// page (Chromium's Early Hints preloads).
	RTT       time.Duration
	ServerLog func() []site.LogEntry
	// ServerName is the TLS server name to verify.
	ServerName string
}

// stack is the system under test for one cell: origin, proxy, middleware
// (with push when asked), server and emulated network.
type stack struct {
	site    *site.Site
	origin  *http.Server
	srv     *server.Server
	cancel  context.CancelFunc
	served  chan error
	relays  []*netem.Relay
	pkt     *netem.PacketNet
	env     Env
	learned chan struct{}
	once    sync.Once
	// product is the earlyhints product under test, assembled as
	// `earlyhints proxy` assembles it; leftOut counts the hints its
	// middleware left out of 103s over the document budget, budget is the
	// largest budget those 103s had, sent the 103s it wrote.
	product               *product.Stack
	leftOut, budget, sent atomic.Int64
	// accessOut is the access log's writer when the lab made it.
	accessOut io.Closer
	// warmEnv reaches the server without the emulated network (relay
	// mode), for the loads that teach the product before the measured ones.
	warmEnv Env
}

type stackConfig struct {
	cell    Cell
	network netem.Profile
	netem   NetemMode
	// product holds the product's settings the scenario gives (such as
	// CrossSitePreload). newStack sets the origin, the mode, the path
	// measurement, the observer and the logger; a nil AccessLog means the
	// proxy's own (text, buffered), its lines discarded.
	product product.Config
	logger  *slog.Logger
	// pages resolves the cell's page (a capture of the scenario's hars:
	// or a built-in profile); nil = the built-in profiles only.
	pages *Scenario
}

// newStack builds and starts the stack of cfg.cell. Close releases it.
func newStack(ctx context.Context, cfg stackConfig) (_ *stack, err error) {
	c := cfg.cell
	pages := cfg.pages
	if pages == nil {
		pages = &Scenario{}
	}
	prof, err := pages.PageProfile(c.Page)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadScenario, err)
	}
	think := c.Think()
	if think == 0 {
		think = -1 // site.Options: negative means none, 0 the profile's
	}
	st := &stack{learned: make(chan struct{}), served: make(chan error, 1)}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	st.site, err = site.New(prof, site.Options{Think: think, PreloadInHTML: c.Strategy == Preload, Logger: cfg.logger})
	if err != nil {
		return nil, fmt.Errorf("experiment: build site: %w", err)
	}

	// The origin speaks HTTP/1.1 on loopback, outside the emulated network,
	// as an origin behind a reverse proxy in the same data centre does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("experiment: origin listener: %w", err)
	}
	st.origin = &http.Server{Handler: st.site, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(cfg.logger.Handler(), slog.LevelDebug)}
	go st.origin.Serve(ln) //nolint:errcheck // ends with Close

	if cfg.product.AccessLog == nil {
		access, out, err := product.NewAccessLog("text", io.Discard, cfg.logger)
		if err != nil {
			return nil, fmt.Errorf("experiment: access log: %w", err)
		}
		cfg.product.AccessLog, st.accessOut = access, out
	}
	st.product, err = newProduct(cfg.product, c.Strategy, ln.Addr().String(), cfg.logger, st.observe, connPath(cfg.netem, cfg.network))
	if err != nil {
		return nil, err
	}

	srvCfg := server.Config{
		Addr: "127.0.0.1:0", DisableHTTP3: c.Protocol != H3, Logger: cfg.logger,
		ShutdownTimeout: 2 * time.Second,
	}
	switch cfg.netem {
	case Packet:
		st.pkt, err = netem.NewPacketNet(ctx, netem.PacketConfig{Profile: cfg.network, Logger: cfg.logger})
		if err != nil {
			return nil, fmt.Errorf("experiment: packet mode: %w", err)
		}
		srvCfg.Addr = net.JoinHostPort(st.pkt.ServerAddr().String(), "0")
		srvCfg.SelfSigned = true
		// Sockets made inside the server namespace stay there.
		err = st.pkt.RunInServer(func() error {
			var e error
			st.srv, e = st.product.Listen(srvCfg)
			return e
		})
	default:
		st.srv, err = st.product.Listen(srvCfg)
	}
	if err != nil {
		return nil, fmt.Errorf("experiment: start server: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.cancel = cancel
	go func() { st.served <- st.srv.Serve(sctx) }()

	host, _, _ := net.SplitHostPort(st.srv.Addr())
	st.env = Env{
		Protocol: c.Protocol, RootCAs: st.srv.CertPool(), ServerName: host, SPKI: server.SPKIHash(st.srv.Certificate()),
		RTT: cfg.network.RTT(), ServerLog: st.site.Log, CertPEM: st.srv.CertificatePEM(),
	}
	// Every host the page names reaches the server: its third parties
	// (served by Host on their own origins) and, for a capture whose
	// markup names its own origin in full, the page's host.
	st.env.Hosts = pages.PageHosts(c.Page)
	switch cfg.netem {
	case Packet:
		st.env.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return st.pkt.DialContext(ctx, network, st.srv.Addr())
		}
		st.env.ListenUDP = func() (net.PacketConn, error) { return st.pkt.ListenClientUDP("") }
		st.env.UDPAddr = st.srv.UDPAddr()
		st.env.TCPAddr = st.srv.Addr()
		st.env.Namespace = st.pkt.Namespace(netem.Client)
		st.env.URL = "https://" + st.srv.Addr() + st.site.Manifest().HTMLPath
	default:
		tcp, err := netem.NewRelay(ctx, netem.RelayConfig{Profile: cfg.network, Target: st.srv.Addr(), Network: "tcp", Logger: cfg.logger})
		if err != nil {
			return nil, fmt.Errorf("experiment: tcp relay: %w", err)
		}
		st.relays = append(st.relays, tcp)
		st.env.TCPAddr = tcp.Addr().String()
		st.env.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", tcp.Addr().String())
		}
		if c.Protocol == H3 {
			udp, err := netem.NewRelay(ctx, netem.RelayConfig{Profile: cfg.network, Target: st.srv.UDPAddr(), Network: "udp", Logger: cfg.logger})
			if err != nil {
				return nil, fmt.Errorf("experiment: udp relay: %w", err)
			}
			st.relays = append(st.relays, udp)
			st.env.UDPAddr = udp.Addr().String()
		}
		// The browser names the relay's address, so the page's origin
		// (Host, :authority, cookies) is the one it dials.
		st.env.URL = "https://" + tcp.Addr().String() + st.site.Manifest().HTMLPath
	}
	st.warmEnv = st.env
	st.warmEnv.Protocol = H2
	if cfg.netem != Packet {
		// The relays only forward to the server: the warming loads dial it
		// directly, naming the same origin (the relay's address) as the
		// measured browser does, so they teach the same route.
		st.warmEnv.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", st.srv.Addr())
		}
	}
	return st, nil
}

// connPath is what the product's server measures of a client's path, as it
// would on the emulated link. In packet mode the kernel and quic-go see the
// emulated link themselves. In relay mode QUIC's datagrams are relayed, so
// quic-go's round trip is the link's, but the TCP relay terminates the
// connection: the server's socket measures loopback, so the link's round
// trip stands in for it, and no delivery rate, as on a fresh connection
// whose samples are all limited by the handshake.
func connPath(mode NetemMode, network netem.Profile) func(*http.Request) (time.Duration, int64) {
	if mode == Packet {
		return server.ConnPath
	}
	rtt := network.RTT()
	return func(r *http.Request) (time.Duration, int64) {
		if r.ProtoMajor == 3 {
			return server.ConnPath(r)
		}
		return rtt, 0
	}
}

// newProduct assembles the earlyhints product in front of the origin
// with the assembly `earlyhints proxy` uses, every part included (access
// log, client-address rules, metrics), from pc and what the cell sets:
// hints are on only for the strategies that use them.
func newProduct(pc product.Config, s Strategy, origin string, logger *slog.Logger, observe func(earlyhints.Event), path func(*http.Request) (time.Duration, int64)) (*product.Stack, error) {
	pc.Origin = "http://" + origin
	// The origin routes third-party resources by Host.
	pc.PreserveHost = true
	switch s {
	case None, Preload:
		pc.Mode = product.ModeOff
	case Push:
		pc.Mode = product.ModePush
	case PushDigest:
		pc.Mode = product.ModePushDigest
	default:
		pc.Mode = product.ModeHints
	}
	// No fallback: a push cell measures push alone, not Early Hints.
	pc.PushOnly = true
	pc.ConnPath = path
	pc.Observer = earlyhints.ObserverFunc(observe)
	pc.Logger = logger
	p, err := product.New(pc)
	if err != nil {
		return nil, fmt.Errorf("experiment: assemble the product: %w", err)
	}
	return p, nil
}

// observe follows the middleware's decisions: learned hints, 103s sent
// and hints left out over the document budget.
func (st *stack) observe(e earlyhints.Event) {
	switch {
	case e.Kind == earlyhints.EventLearned && e.Links > 0:
		st.markLearned()
	case e.Kind == earlyhints.EventSent:
		st.sent.Add(1)
	case e.Kind == earlyhints.EventLeftOut && (e.Reason == earlyhints.ReasonOverBudget || e.Reason == earlyhints.ReasonOverAssumedBudget):
		st.leftOut.Add(int64(e.Links))
		for b := st.budget.Load(); int64(e.Bytes) > b && !st.budget.CompareAndSwap(b, int64(e.Bytes)); b = st.budget.Load() {
		}
	}
}

func (st *stack) markLearned() { st.once.Do(func() { close(st.learned) }) }

// warmLoads is how many navigations warm a learning cell's stack after
// the priming load: with it, at least the three think-time samples the
// document budget needs, and every hinted file served once since the
// hints were learned, so its size is known.
const warmLoads = 3

// warm makes the product what it is once deployed a while: after the
// priming load taught it the page, warmLoads more visitors, each a fresh
// model browser that acts on the 103 and is then thrown away (the measured
// browser's cache stays cold), navigate and fetch what the page and the
// 103 name. In relay mode they bypass the emulated network: what the
// product learns from them (the origin's think time, the files' sizes)
// does not depend on the client's link. It returns the route's field view.
func (st *stack) warm(ctx context.Context, timeout time.Duration) (earlyhints.RouteField, error) {
	for i := 0; i < warmLoads; i++ {
		b, err := newModelBrowser(st.warmEnv)
		if err != nil {
			return earlyhints.RouteField{}, err
		}
		lctx, cancel := context.WithTimeout(ctx, timeout)
		_, err = b.Load(lctx, st.env.URL)
		cancel()
		b.Close()
		if err != nil {
			return earlyhints.RouteField{}, fmt.Errorf("experiment: warming load %d: %w", i+1, err)
		}
	}
	if f := st.product.Middleware.Field(1); len(f) > 0 {
		return f[0], nil
	}
	return earlyhints.RouteField{}, nil
}

// waitLearned waits until the middleware has learned the page's hints.
func (st *stack) waitLearned(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-st.learned:
		return nil
	case <-t.C:
		return errors.New("experiment: the proxy learned no hints from the priming load; check that the page has render-blocking resources")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops everything the stack started, in reverse order.
func (st *stack) Close() {
	for _, r := range st.relays {
		r.Close()
	}
	if st.srv != nil {
		st.srv.Close()
	}
	if st.cancel != nil {
		st.cancel()
		select {
		case err := <-st.served:
			_ = err // serving ends with an error once cancelled; that is the expected end
		case <-time.After(3 * time.Second):
		}
	}
	if st.product != nil {
		// The server's Close runs no shutdown hooks: the learning in
		// flight is waited for and the store closed here.
		_ = st.product.Close()
	}
	if st.accessOut != nil {
		_ = st.accessOut.Close()
	}
	if st.origin != nil {
		st.origin.Close()
	}
	if st.pkt != nil {
		st.pkt.Close()
	}
}
