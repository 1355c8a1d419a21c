package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/admin"
	"github.com/earlyhints/earlyhints/hintstore"
	product "github.com/earlyhints/earlyhints/internal/stack"
	"github.com/earlyhints/earlyhints/server"
)

// stack is the running product: its server, the assembled product's
// middleware and store, and the admin listener when asked for.
type stack struct {
	srv     *server.Server
	mw      *earlyhints.Handler
	store   hintstore.Store
	admin   *http.Server
	adminLn net.Listener
}

// productConfig is the product s describes, logging requests to access.
func productConfig(s settings, logger, access *slog.Logger) product.Config {
	return product.Config{
		Origin: s.Origin, Origins: s.Origins, PreserveHost: s.PreserveHost,
		OriginTimeout: s.OriginTimeout, OriginIdleTimeout: s.OriginIdleTimeout, OriginMaxHeaderBytes: s.OriginMaxHeaderBytes,
		ExposeOriginErrors: s.ExposeOriginErrors, TrustedProxies: s.TrustedProxies,
		Store: s.Store, SnapshotInterval: s.SnapshotInterval,
		RedisKeyPrefix: s.RedisKeyPrefix, RedisConnectTimeout: s.RedisConnectTimeout,
		RedisTimeout: s.RedisTimeout, RedisWriteTimeout: s.RedisWriteTimeout,
		Mode:        s.Mode,
		MaxPreloads: s.MaxPreloads, MaxPreconnects: s.MaxPreconnects, MaxHintBytes: s.MaxHintBytes, HTTP1Hints: s.HTTP1Hints,
		QueryParams: s.QueryParams, CrossSitePreload: s.CrossSitePreload, DenyUserAgents: s.DenyUserAgents,
		PrivateQuorum: s.PrivateQuorum, AssumedBandwidth: s.AssumedBandwidth, AssumedRTT: s.AssumedRTT,
		Logger: logger, AccessLog: access,
	}
}

// buildStackWithAccessLog assembles the product from s and binds its
// listeners; requests are logged to access.
func buildStackWithAccessLog(s settings, logger, access *slog.Logger) (*stack, error) {
	p, err := product.New(productConfig(s, logger, access))
	if err != nil {
		return nil, err
	}
	st := &stack{mw: p.Middleware, store: p.Store}
	if s.Admin != "" {
		if err := st.listenAdmin(s, p.Registry, logger); err != nil {
			_ = p.Close()
			return nil, err
		}
	}
	// The server's shutdown closes the product (learning in flight
	// finishes, then the store writes its snapshot for file:PATH), then
	// the admin listener.
	srv, err := p.Listen(server.Config{
		Addr:         s.Listen,
		CertFile:     s.TLSCert,
		KeyFile:      s.TLSKey,
		SelfSigned:   s.SelfSigned,
		DisableHTTP3: !s.HTTP3,
		AltSvcPort:   s.altSvcPort,
		H2CAddr:      s.H2CListen,
		Logger:       logger,
		OnShutdown:   []func(context.Context) error{st.closeAdmin},
	})
	if err != nil {
		_ = st.closeAdmin(context.Background())
		_ = p.Close()
		return nil, err
	}
	st.srv = srv
	return st, nil
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
