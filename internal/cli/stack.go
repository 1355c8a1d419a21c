package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/proxy"
	"github.com/earlyhints/earlyhints/server"
)

// stack is the running product: server, access log, middleware, proxy.
type stack struct {
	srv   *server.Server
	mw    *earlyhints.Handler
	store hintstore.Store
}

// openStore opens the store named by --store.
func openStore(spec string, logger *slog.Logger) (hintstore.Store, error) {
	switch {
	case spec == "" || spec == "memory":
		return hintstore.NewMemory(hintstore.MemoryConfig{Logger: logger})
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, errors.New("--store file: needs a path, such as file:/var/lib/earlyhints/hints.json")
		}
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("open hint store %s: %w", path, err)
		}
		return m, nil
	case strings.HasPrefix(spec, "redis://"):
		return nil, fmt.Errorf("--store %s: a Redis store is not available in this version; use memory or file:PATH", spec)
	}
	return nil, fmt.Errorf("--store %q: use memory or file:PATH", spec)
}

// buildStack assembles the product from s and binds its listeners.
func buildStack(s settings, logger *slog.Logger) (*stack, error) {
	pc := proxy.Config{Timeout: s.OriginTimeout, PreserveHost: s.PreserveHost, Logger: logger}
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
	store, err := openStore(s.Store, logger)
	if err != nil {
		return nil, err
	}
	mw, err := earlyhints.New(p, earlyhints.Config{
		Store:                 store,
		MaxPreloads:           s.MaxPreloads,
		MaxPreconnects:        s.MaxPreconnects,
		AllowHTTP1:            s.HTTP1Hints,
		AllowCrossSitePreload: s.CrossSitePreload,
		QueryParams:           s.QueryParams,
		DenyUserAgents:        s.DenyUserAgents,
		Disabled:              s.Mode == "off",
		Logger:                logger,
	})
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	srv, err := server.New(proxy.AccessLog(mw, logger), server.Config{
		Addr:         s.Listen,
		CertFile:     s.TLSCert,
		KeyFile:      s.TLSKey,
		SelfSigned:   s.SelfSigned,
		DisableHTTP3: !s.HTTP3,
		H2CAddr:      s.H2CListen,
		Logger:       logger,
		OnShutdown: []func(context.Context) error{
			// Learning in flight finishes, then the store writes its
			// snapshot (file:PATH) as it closes.
			func(context.Context) error { return mw.Close() },
			func(context.Context) error { return store.Close() },
		},
	})
	if err != nil {
		_ = mw.Close()
		_ = store.Close()
		return nil, err
	}
	return &stack{srv: srv, mw: mw, store: store}, nil
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
			u, _ := url.Parse(base + p)
			key := "https://" + strings.ToLower(u.Host) + u.Path
			if _, ok, _ := st.store.Get(context.Background(), key); !ok {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(20 * time.Millisecond)
	}
}
