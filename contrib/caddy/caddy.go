// Package caddyearlyhints is the Caddy module of earlyhints: the HTTP
// handler http.handlers.early_hints and its Caddyfile directive
// early_hints, which learn the resources each page needs from the
// responses of the handlers behind it (reverse_proxy, file_server,
// php_fastcgi, ...) and send them as one 103 Early Hints before the page.
//
// Build Caddy with it:
//
//	xcaddy build --with github.com/earlyhints/earlyhints/contrib/caddy
//
// It takes the same settings, by the same names, as the standalone proxy
// (`earlyhints proxy`), except those Caddy owns itself: listeners, TLS,
// origins, trusted proxies, logging and the metrics endpoint.
package caddyearlyhints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/earlyhints/earlyhints"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is the http.handlers.early_hints module. Its zero value learns
// into a memory store shared by every early_hints handler of the process
// and sends 103s to HTTP/2 and HTTP/3 clients.
type Handler struct {
	// Store is where hints are kept: "memory" (the default); "file:PATH"
	// (in memory, read from PATH at start, written there every
	// snapshot_interval, on a config reload and when Caddy stops); or
	// "redis://[user:password@]host:port/db" ("rediss://" for TLS), shared
	// by a fleet. Handlers naming the same store share it, across config
	// reloads too: a reload keeps the learned hints.
	Store string `json:"store,omitempty"`
	// RedisKeyPrefix is the prefix of every key a redis:// store writes.
	// Default "earlyhints:".
	RedisKeyPrefix string `json:"redis_key_prefix,omitempty"`
	// RedisConnectTimeout bounds connecting to Redis. Default 1s.
	RedisConnectTimeout caddy.Duration `json:"redis_connect_timeout,omitempty"`
	// RedisTimeout is the longest a request waits on Redis. Default 20ms.
	RedisTimeout caddy.Duration `json:"redis_timeout,omitempty"`
	// RedisWriteTimeout bounds learning, purges and reads off the request
	// path. Default 1s.
	RedisWriteTimeout caddy.Duration `json:"redis_write_timeout,omitempty"`
	// SnapshotInterval is how often a file: store writes its snapshot
	// while running. Default 10s; a negative value writes only on reload
	// and stop.
	SnapshotInterval caddy.Duration `json:"snapshot_interval,omitempty"`
	// Mode is "hints" (the default: learn and send 103s) or "off" (only
	// pass requests on).
	Mode string `json:"mode,omitempty"`
	// PrivateQuorum is how many distinct visitors (by network and
	// credentials) must share a link of a personal page before it is hinted
	// to anyone. 0 means 3; 1 is refused.
	PrivateQuorum int `json:"private_quorum,omitempty"`
	// AssumedBandwidth is the client bandwidth in kbit/s a 103 is budgeted
	// for. 0 means 5000.
	AssumedBandwidth int `json:"assumed_bandwidth,omitempty"`
	// AssumedRTT is the client round trip the 103's budget subtracts from
	// a page's think time. 0 means 100ms.
	AssumedRTT caddy.Duration `json:"assumed_rtt,omitempty"`
	// MaxPreloads caps preload links in one 103. 0 means 100
	// (earlyhints.DefaultMaxPreloads).
	MaxPreloads int `json:"max_preloads,omitempty"`
	// MaxPreconnects caps preconnect links in one 103. 0 means 12.
	MaxPreconnects int `json:"max_preconnects,omitempty"`
	// MaxHintBytes caps the bytes of Link values in one 103. 0 means
	// 16384; behind a proxy with small buffers for 1xx, set it below them.
	MaxHintBytes int `json:"max_hint_bytes,omitempty"`
	// HTTP1Hints sends 103s to HTTP/1.1 clients too.
	HTTP1Hints bool `json:"http1_hints,omitempty"`
	// QueryParams names the query parameters that make pages distinct
	// where the origin sends no No-Vary-Search. Default none: the query is
	// ignored.
	QueryParams []string `json:"query_params,omitempty"`
	// CrossSitePreload allows preload targets on other sites.
	CrossSitePreload bool `json:"cross_site_preload,omitempty"`
	// DenyUserAgents lists User-Agent substrings that never get a 103.
	DenyUserAgents []string `json:"deny_user_agents,omitempty"`

	mw      *earlyhints.Handler
	store   *pooledStore
	metrics *pooledObserver
	logger  *slog.Logger
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.early_hints",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Defaults of the settings Caddy's zero values do not cover.
const (
	defaultSnapshotInterval = 10 * time.Second
	modeHints               = "hints"
	modeOff                 = "off"
)

// Validate reports settings that cannot work, with what to write instead.
// Caddy calls it after Provision; the Caddyfile adapter calls it too, so a
// bad value gets the line it is on.
func (h *Handler) Validate() error {
	if _, err := parseStore(h.Store); err != nil {
		return err
	}
	switch h.Mode {
	case "", modeHints, modeOff:
	case "push", "push-digest":
		return fmt.Errorf("mode %q: HTTP/2 server push is not offered inside Caddy (browsers dropped it); use hints or off", h.Mode)
	default:
		return fmt.Errorf("mode %q: use hints or off", h.Mode)
	}
	for _, c := range []struct {
		name string
		v    int
	}{
		{"private-quorum", h.PrivateQuorum},
		{"assumed-bandwidth", h.AssumedBandwidth},
		{"max-preloads", h.MaxPreloads},
		{"max-preconnects", h.MaxPreconnects},
		{"max-hint-bytes", h.MaxHintBytes},
	} {
		if c.v < 0 {
			return fmt.Errorf("%s %d is negative: use a whole number, 0 for the default", c.name, c.v)
		}
	}
	for _, c := range []struct {
		name string
		d    caddy.Duration
	}{
		{"redis-connect-timeout", h.RedisConnectTimeout},
		{"redis-timeout", h.RedisTimeout},
		{"redis-write-timeout", h.RedisWriteTimeout},
		{"assumed-rtt", h.AssumedRTT},
	} {
		if c.d < 0 {
			return fmt.Errorf("%s %s is negative: write it like 100ms, or leave it out for the default", c.name, time.Duration(c.d))
		}
	}
	if err := h.config().Validate(); err != nil {
		return fmt.Errorf("early_hints: %w", err)
	}
	return nil
}

// config is the middleware's configuration for h's settings, without the
// parts Provision adds (store, identity key, observer, logger).
func (h *Handler) config() earlyhints.Config {
	return earlyhints.Config{
		MaxPreloads:           h.MaxPreloads,
		MaxPreconnects:        h.MaxPreconnects,
		MaxHeaderBytes:        h.MaxHintBytes,
		AllowHTTP1:            h.HTTP1Hints,
		AllowCrossSitePreload: h.CrossSitePreload,
		DenyUserAgents:        slices.Clone(h.DenyUserAgents),
		QueryParams:           slices.Clone(h.QueryParams),
		PrivateQuorum:         h.PrivateQuorum,
		AssumedBandwidth:      int64(h.AssumedBandwidth) * 1000,
		AssumedRTT:            time.Duration(h.AssumedRTT),
		Disabled:              h.Mode == modeOff,
	}
}

// Provision opens (or reuses) the store, registers the metrics on the
// config's registry and builds the middleware.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Slogger()
	if err := h.Validate(); err != nil {
		return err
	}
	store, err := acquireStore(h.storeSpec(), h.logger)
	if err != nil {
		return err
	}
	h.store = store
	obs, err := acquireObserver(ctx.GetMetricsRegistry())
	if err != nil {
		_ = h.release()
		return err
	}
	h.metrics = obs
	cfg := h.config()
	cfg.Store = store.store // not closed by the middleware: the pool owns it
	cfg.IdentityKey = store.identityKey
	cfg.Observer = accessLogObserver{next: obs.observer}
	cfg.Logger = h.logger
	mw, err := earlyhints.New(http.HandlerFunc(serveNext), cfg)
	if err != nil {
		_ = h.release()
		return fmt.Errorf("early_hints: %w", err)
	}
	h.mw = mw
	return nil
}

// Cleanup stops the middleware (waiting for learning in progress) and
// gives the store back: a store the next config uses stays open, with its
// snapshot written now; one nobody uses any more is closed, which writes
// its snapshot too.
func (h *Handler) Cleanup() error {
	var errs []error
	if h.mw != nil {
		errs = append(errs, h.mw.Close())
		h.mw = nil
	}
	errs = append(errs, h.release())
	return errors.Join(errs...)
}

func (h *Handler) release() error {
	var err error
	if h.store != nil {
		err = releaseStore(h.store, h.logger)
		h.store = nil
	}
	if h.metrics != nil {
		releaseObserver(h.metrics)
		h.metrics = nil
	}
	return err
}

// nextKey is the context key of the request's nextCall.
type nextKey struct{}

// nextCall carries, through the middleware, what Caddy gave this handler
// for one request: the rest of the route, the peer address the rest of
// the route must see, and the error the route returns.
type nextCall struct {
	next       caddyhttp.Handler
	remoteAddr string
	err        error
}

// ServeHTTP sends the learned hints and learns from next's response. The
// middleware sees the client address Caddy resolved (through its
// trusted_proxies), so private quorums count visitors rather than a load
// balancer; next sees the request as it came, so reverse_proxy computes
// X-Forwarded-For from the real peer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h.Mode == modeOff {
		// Nothing to learn or send: the route, and an origin's own 103,
		// pass as if the handler were not there.
		return next.ServeHTTP(w, r)
	}
	call := &nextCall{next: next, remoteAddr: r.RemoteAddr}
	r = r.WithContext(context.WithValue(r.Context(), nextKey{}, call))
	if addr, ok := clientAddr(r); ok {
		r.RemoteAddr = addr
	}
	h.mw.ServeHTTP(withEarlyWriter(w), r)
	return call.err
}

// clientAddr is the client address Caddy resolved for r, with the peer's
// port, when it differs from the peer's.
func clientAddr(r *http.Request) (string, bool) {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if ip == "" {
		return "", false
	}
	host, port, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ip, r.RemoteAddr != ip
	}
	if host == ip {
		return "", false
	}
	return net.JoinHostPort(ip, port), true
}

// serveNext is the middleware's next handler: the rest of the Caddy route,
// with the peer address given back.
func serveNext(w http.ResponseWriter, r *http.Request) {
	call, ok := r.Context().Value(nextKey{}).(*nextCall)
	if !ok {
		http.Error(w, "early_hints: request without its route", http.StatusInternalServerError)
		return
	}
	if r.RemoteAddr != call.remoteAddr {
		r = r.WithContext(r.Context()) // a copy: the middleware keeps reading its own
		r.RemoteAddr = call.remoteAddr
	}
	call.err = call.next.ServeHTTP(w, r)
}

// storeSpec is the key of h's store in the pool: everything that makes
// two stores different.
func (h *Handler) storeSpec() storeSpec {
	spec := storeSpec{Store: strings.TrimSpace(h.Store)}
	if spec.Store == "" {
		spec.Store = "memory"
	}
	if strings.HasPrefix(spec.Store, "file:") {
		spec.SnapshotInterval = time.Duration(h.SnapshotInterval)
		if spec.SnapshotInterval == 0 {
			spec.SnapshotInterval = defaultSnapshotInterval
		}
	}
	if isRedis(spec.Store) {
		spec.RedisKeyPrefix = h.RedisKeyPrefix
		spec.RedisConnectTimeout = time.Duration(h.RedisConnectTimeout)
		spec.RedisTimeout = time.Duration(h.RedisTimeout)
		spec.RedisWriteTimeout = time.Duration(h.RedisWriteTimeout)
	}
	return spec
}
