// Package stack assembles the earlyhints product from one Config: the
// reverse proxy, the Early Hints middleware (or push, or neither), the hint
// store, the metrics, the access log and the client-address rules, in the
// order a request goes through them. `earlyhints proxy` serves what New
// builds, and the lab measures the same value: a caller may add observers
// or wrap the handler, but every part is always there.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/redisstore"
	"github.com/earlyhints/earlyhints/internal/hintlog"
	"github.com/earlyhints/earlyhints/metrics"
	"github.com/earlyhints/earlyhints/proxy"
	"github.com/earlyhints/earlyhints/push"
	"github.com/earlyhints/earlyhints/server"
)

// Stack is the assembled product. It is an http.Handler: a request goes
// through the client-address rules, the access log, push (in the push
// modes), the middleware and the reverse proxy. Its fields are for reading;
// Close releases what it holds.
type Stack struct {
	// Middleware is the Early Hints middleware (off in ModeOff).
	Middleware *earlyhints.Handler
	// Store keeps the learned hints.
	Store hintstore.Store
	// Registry holds the product's metrics: the middleware's, push's,
	// the store's (redis://), and the Go runtime's and the process's.
	Registry *prometheus.Registry

	handler   http.Handler
	closeOnce sync.Once
	closeErr  error
}

var _ http.Handler = (*Stack)(nil)

// New assembles the product from cfg.
func New(cfg Config) (_ *Stack, err error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	access := cfg.AccessLog
	if access == nil {
		access = logger
	}
	switch cfg.Mode {
	case "", ModeHints, ModePush, ModePushDigest, ModeOff:
	default:
		return nil, fmt.Errorf("--mode %q: use %s, %s, %s or %s", cfg.Mode, ModeHints, ModePush, ModePushDigest, ModeOff)
	}
	trusted, err := proxy.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	pc, err := proxyConfig(cfg, logger)
	if err != nil {
		return nil, err
	}
	p, err := proxy.New(pc)
	if err != nil {
		return nil, err
	}
	store, err := openStore(cfg, logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = store.Close()
		}
	}()
	idKey, err := identityKey(store)
	if err != nil {
		return nil, err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if r, ok := store.(*redisstore.Store); ok {
		registry.MustRegister(redisCollectors(r)...)
	}
	counted, err := metrics.New(registry)
	if err != nil {
		return nil, err
	}
	var pusher *push.Pusher
	if cfg.Mode == ModePush || cfg.Mode == ModePushDigest {
		mode := push.Plain
		if cfg.Mode == ModePushDigest {
			mode = push.CacheAware
		}
		if pusher, err = push.New(push.Config{Mode: mode, NoFallback: cfg.PushOnly, Observer: counted, Logger: logger}); err != nil {
			return nil, err
		}
	}
	var observer earlyhints.Observer = counted
	if cfg.Observer != nil {
		observer = metrics.Fanout{counted, cfg.Observer}
	}
	connPath := cfg.ConnPath
	if connPath == nil {
		connPath = server.ConnPath
	}
	mw, err := earlyhints.New(p, earlyhints.Config{
		RouteHost:             routeHost(pc),
		Store:                 store,
		MaxPreloads:           cfg.MaxPreloads,
		MaxPreconnects:        cfg.MaxPreconnects,
		MaxHeaderBytes:        cfg.MaxHintBytes,
		AllowHTTP1:            cfg.HTTP1Hints,
		AllowCrossSitePreload: cfg.CrossSitePreload,
		QueryParams:           cfg.QueryParams,
		PrivateQuorum:         cfg.PrivateQuorum,
		AssumedBandwidth:      int64(cfg.AssumedBandwidth) * 1000,
		AssumedRTT:            cfg.AssumedRTT,
		ConnPath:              connPath,
		IdentityKey:           idKey,
		Identity:              fleetIdentity(store),
		DenyUserAgents:        cfg.DenyUserAgents,
		Disabled:              cfg.Mode == ModeOff,
		Observer:              hintlog.Observer(observer), // the access log's hinted and hint_links
		Logger:                logger,
	})
	if err != nil {
		return nil, err
	}
	var h http.Handler = mw
	if pusher != nil {
		h = pusher.Wrap(mw) // it takes the hints it pushes from the middleware
	}
	if cfg.Mode == ModeOff {
		h = hintlog.Passthrough(h) // no event tells of the origin's 103s then
	}
	return &Stack{
		Middleware: mw,
		Store:      store,
		Registry:   registry,
		handler:    proxy.ClientAddress(proxy.AccessLog(h, access), trusted),
	}, nil
}

// proxyConfig is the reverse proxy's configuration from cfg.
func proxyConfig(cfg Config, logger *slog.Logger) (proxy.Config, error) {
	pc := proxy.Config{
		Timeout: cfg.OriginTimeout, IdleTimeout: cfg.OriginIdleTimeout, MaxResponseHeaderBytes: cfg.OriginMaxHeaderBytes,
		ExposeErrors: cfg.ExposeOriginErrors, PreserveHost: cfg.PreserveHost, Logger: logger,
	}
	if cfg.Origin != "" {
		u, err := proxy.ParseOrigin(cfg.Origin)
		if err != nil {
			return pc, fmt.Errorf("--origin: %w", err)
		}
		pc.Default = u
	}
	if len(cfg.Origins) > 0 {
		pc.Origins = make(map[string]*url.URL, len(cfg.Origins))
		for host, o := range cfg.Origins {
			u, err := proxy.ParseOrigin(o)
			if err != nil {
				return pc, fmt.Errorf("origins: %s: %w", host, err)
			}
			pc.Origins[host] = u
		}
	}
	if pc.Default == nil && pc.Origins == nil {
		return pc, errors.New("no origin: pass --origin URL (such as --origin http://127.0.0.1:8080), or list origins by host in --config")
	}
	return pc, nil
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

// ServeHTTP serves r through the whole product.
func (s *Stack) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Listen binds the product's server (see server.New) serving s. Its
// graceful shutdown closes s once the requests in flight are done, before
// cfg's own OnShutdown hooks; after server.Server.Close, which runs no
// hooks, Close s yourself. On error s stays open.
func (s *Stack) Listen(cfg server.Config) (*server.Server, error) {
	cfg.OnShutdown = append([]func(context.Context) error{func(context.Context) error { return s.Close() }}, cfg.OnShutdown...)
	return server.New(s, cfg)
}

// Close waits for the learning in flight, then closes the store, which
// writes its snapshot (file:PATH). Later calls return the first's error.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.Middleware.Close(), s.Store.Close())
	})
	return s.closeErr
}
