package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/admin"
	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/redisstore"
	"github.com/earlyhints/earlyhints/internal/hintlog"
	"github.com/earlyhints/earlyhints/metrics"
	"github.com/earlyhints/earlyhints/proxy"
	"github.com/earlyhints/earlyhints/push"
	"github.com/earlyhints/earlyhints/server"
)

// stack is the running product: server, access log, middleware, proxy,
// and the admin listener when asked for.
type stack struct {
	srv     *server.Server
	mw      *earlyhints.Handler
	store   hintstore.Store
	admin   *http.Server
	adminLn net.Listener
}

// openStore opens the store named by --store.
func openStore(s settings, logger *slog.Logger) (hintstore.Store, error) {
	spec := s.Store
	switch {
	case spec == "" || spec == "memory":
		return hintstore.NewMemory(hintstore.MemoryConfig{Logger: logger})
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, errors.New("--store file: needs a path, such as file:/var/lib/earlyhints/hints.json")
		}
		// A corrupt snapshot is moved aside and the proxy starts empty: a
		// restart must never be blocked by a file it wrote itself.
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path, SnapshotInterval: max(s.SnapshotInterval, 0), IgnoreCorruptSnapshot: true, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("open hint store %s: %w", path, err)
		}
		return m, nil
	case strings.HasPrefix(spec, "redis://") || strings.HasPrefix(spec, "rediss://"):
		r, err := redisstore.New(redisstore.Config{
			URL:            spec,
			KeyPrefix:      s.RedisKeyPrefix,
			ConnectTimeout: s.RedisConnectTimeout,
			ReadTimeout:    s.RedisTimeout,
			WriteTimeout:   s.RedisWriteTimeout,
			Logger:         logger,
		})
		if err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		return r, nil
	}
	return nil, fmt.Errorf("--store %q: use memory, file:PATH or redis://host:port/db", spec)
}

// identityKey is the key of the requester hashes: a shared store keeps
// one for the whole fleet, so one visitor counts once towards a quorum
// whichever proxy served them; nil means one per process.
func identityKey(store hintstore.Store) ([]byte, error) {
	r, ok := store.(*redisstore.Store)
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key, err := r.IdentityKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	return key, nil
}

// redisCollectors exports the state of a Redis store on /metrics.
func redisCollectors(r *redisstore.Store) []prometheus.Collector {
	up := func() float64 {
		if r.Health().Up {
			return 1
		}
		return 0
	}
	counter := func(name, help string, f func(redisstore.Health) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "earlyhints_store_" + name, Help: help}, func() float64 { return float64(f(r.Health())) })
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "earlyhints_store_up", Help: "1 while the shared store's server answers, 0 while requests go without its hints."}, up),
		counter("errors_total", "Calls to the shared store's server that failed.", func(h redisstore.Health) uint64 { return h.Errors }),
		counter("dropped_total", "Observations not recorded because the shared store's server did not answer.", func(h redisstore.Health) uint64 { return h.Dropped }),
		counter("outages_total", "Times the shared store's server stopped answering.", func(h redisstore.Health) uint64 { return h.Outages }),
		counter("local_hits_total", "Hint lookups answered with hints by this node.", func(h redisstore.Health) uint64 { return h.LocalHits }),
		counter("local_misses_total", "Hint lookups answered without hints by this node.", func(h redisstore.Health) uint64 { return h.LocalMisses }),
	}
}

// buildStack assembles the product from s and binds its listeners; requests
// are logged to logger.
func buildStack(s settings, logger *slog.Logger) (*stack, error) {
	return buildStackWithAccessLog(s, logger, logger)
}

// buildStackWithAccessLog is buildStack logging requests to access.
func buildStackWithAccessLog(s settings, logger, access *slog.Logger) (*stack, error) {
	pc := proxy.Config{
		Timeout: s.OriginTimeout, IdleTimeout: s.OriginIdleTimeout, MaxResponseHeaderBytes: s.OriginMaxHeaderBytes,
		ExposeErrors: s.ExposeOriginErrors, PreserveHost: s.PreserveHost, Logger: logger,
	}
	trusted, err := proxy.ParsePrefixes(s.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if s.Origin != "" {
		u, err := proxy.ParseOrigin(s.Origin)
		if err != nil {
			return nil, fmt.Errorf("--origin: %w", err)
		}
		pc.Default = u
	}
	if len(s.Origins) > 0 {
		pc.Origins = make(map[string]*url.URL, len(s.Origins))
		for host, o := range s.Origins {
			u, err := proxy.ParseOrigin(o)
			if err != nil {
				return nil, fmt.Errorf("origins: %s: %w", host, err)
			}
			pc.Origins[host] = u
		}
	}
	if pc.Default == nil && pc.Origins == nil {
		return nil, errors.New("no origin: pass --origin URL (such as --origin http://127.0.0.1:8080), or list origins by host in --config")
	}
	p, err := proxy.New(pc)
	if err != nil {
		return nil, err
	}
	store, err := openStore(s, logger)
	if err != nil {
		return nil, err
	}
	idKey, err := identityKey(store)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if r, ok := store.(*redisstore.Store); ok {
		registry.MustRegister(redisCollectors(r)...)
	}
	observer, err := metrics.New(registry)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	var pusher *push.Pusher
	if s.Mode == "push" || s.Mode == "push-digest" {
		mode := push.Plain
		if s.Mode == "push-digest" {
			mode = push.CacheAware
		}
		if pusher, err = push.New(push.Config{Mode: mode, Observer: observer, Logger: logger}); err != nil {
			_ = store.Close()
			return nil, err
		}
	}
	mwConfig := earlyhints.Config{
		RouteHost:             routeHost(pc),
		Store:                 store,
		MaxPreloads:           s.MaxPreloads,
		MaxPreconnects:        s.MaxPreconnects,
		AllowHTTP1:            s.HTTP1Hints,
		AllowCrossSitePreload: s.CrossSitePreload,
		QueryParams:           s.QueryParams,
		PrivateQuorum:         s.PrivateQuorum,
		AssumedBandwidth:      int64(s.AssumedBandwidth) * 1000,
		AssumedRTT:            s.AssumedRTT,
		ConnPath:              server.ConnPath,
		IdentityKey:           idKey,
		DenyUserAgents:        s.DenyUserAgents,
		Disabled:              s.Mode == "off",
		Observer:              hintlog.Observer(observer), // the access log's hinted and hint_links
		Logger:                logger,
	}
	mw, err := earlyhints.New(p, mwConfig)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	var handler http.Handler = mw
	if pusher != nil {
		handler = pusher.Wrap(mw) // it takes the hints it pushes from the middleware
	}
	if s.Mode == "off" {
		handler = hintlog.Passthrough(handler) // no event tells of the origin's 103s then
	}
	st := &stack{mw: mw, store: store}
	if s.Admin != "" {
		if err := st.listenAdmin(s, registry, logger); err != nil {
			_ = mw.Close()
			_ = store.Close()
			return nil, err
		}
	}
	srv, err := server.New(proxy.ClientAddress(proxy.AccessLog(handler, access), trusted), server.Config{
		Addr:         s.Listen,
		CertFile:     s.TLSCert,
		KeyFile:      s.TLSKey,
		SelfSigned:   s.SelfSigned,
		DisableHTTP3: !s.HTTP3,
		AltSvcPort:   s.altSvcPort,
		H2CAddr:      s.H2CListen,
		Logger:       logger,
		OnShutdown: []func(context.Context) error{
			// Learning in flight finishes, then the store writes its
			// snapshot (file:PATH) as it closes.
			func(context.Context) error { return mw.Close() },
			func(context.Context) error { return store.Close() },
			st.closeAdmin,
		},
	})
	if err != nil {
		_ = st.closeAdmin(context.Background())
		_ = mw.Close()
		_ = store.Close()
		return nil, err
	}
	st.srv = srv
	return st, nil
}

// routeHost is the host of every route key when one origin answers every
// Host and gets its own name: the client's Host then changes nothing the
// origin sees, so it must not split routes.
func routeHost(pc proxy.Config) string {
	if pc.Default == nil || len(pc.Origins) > 0 || pc.PreserveHost {
		return ""
	}
	return strings.ToLower(pc.Default.Host)
}

// listenAdmin binds the admin listener; it serves once the stack serves.
// Off loopback it needs a token: anyone who reaches it could otherwise read
// and purge the hints.
func (st *stack) listenAdmin(s settings, reg *prometheus.Registry, logger *slog.Logger) error {
	token, err := adminToken(s.AdminTokenFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Admin)
	if err != nil {
		return fmt.Errorf("--admin %s: %w", s.Admin, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && token == "" {
		_ = ln.Close()
		return fmt.Errorf("--admin %s is not on loopback: anyone who reaches it could read and purge the hints; give it a token with --admin-token-file FILE (or EARLYHINTS_ADMIN_TOKEN), or listen on 127.0.0.1", s.Admin)
	}
	h, err := admin.New(admin.Config{Store: st.store, Gatherer: reg, Version: version, Logger: logger, Hosts: s.AdminHosts, Token: token, Field: st.mw.Field})
	if err != nil {
		_ = ln.Close()
		return err
	}
	st.adminLn = ln
	st.admin = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// adminToken reads the admin token from file, else from the environment.
func adminToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv("EARLYHINTS_ADMIN_TOKEN")), nil
	}
	b, err := os.ReadFile(file) //nolint:gosec // the operator's own token file
	if err != nil {
		return "", fmt.Errorf("--admin-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 16 {
		return "", fmt.Errorf("--admin-token-file %s: the token is %d characters; use at least 16 (for example: head -c 24 /dev/urandom | base64 > %s)", file, len(token), file)
	}
	return token, nil
}

func (st *stack) closeAdmin(ctx context.Context) error {
	if st.admin == nil {
		if st.adminLn != nil {
			return st.adminLn.Close()
		}
		return nil
	}
	return st.admin.Shutdown(ctx)
}

// serve runs st until ctx is done, reloading certificates on SIGHUP.
func (st *stack) serve(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				_ = st.srv.Reload() // a failure is logged; the old certificate stays
			case <-ctx.Done():
				return
			}
		}
	}()
	if st.admin != nil {
		go func() {
			if err := st.admin.Serve(st.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				slog.Default().Error("admin listener stopped", "err", err)
			}
		}()
	}
	return st.srv.Serve(ctx)
}

// waitLearned waits up to limit until the middleware has hints for every
// path on base, and returns the paths that have none.
func (st *stack) waitLearned(base string, paths []string, limit time.Duration) []string {
	deadline := time.Now().Add(limit)
	var missing []string
	for {
		missing = missing[:0]
		for _, p := range paths {
			r, err := http.NewRequest(http.MethodGet, base+p, nil)
			if err != nil {
				return paths
			}
			r.TLS = &tls.ConnectionState{} // the key of an https page
			if _, ok, _ := st.store.Get(context.Background(), st.mw.RouteKey(r)); !ok {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(20 * time.Millisecond)
	}
}
