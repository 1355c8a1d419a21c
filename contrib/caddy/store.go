package caddyearlyhints

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/hintstore/redisstore"
)

// stores holds the open stores, keyed by storeSpec, so that the handlers
// of a new config reuse the store of the old one (its learned hints) and
// several sites naming one store share it. The last handler to let go
// closes it.
var stores = caddy.NewUsagePool()

// storeSpec is everything that tells two stores apart.
type storeSpec struct {
	Store               string
	SnapshotInterval    time.Duration
	RedisKeyPrefix      string
	RedisConnectTimeout time.Duration
	RedisTimeout        time.Duration
	RedisWriteTimeout   time.Duration
}

// poolKey is the spec as the pool's key. A file: store is keyed by its
// path only: two specs for one file would overwrite each other's
// snapshots.
func (s storeSpec) poolKey() string {
	if p, ok := strings.CutPrefix(s.Store, "file:"); ok {
		return "file:" + p
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s", s.Store, s.RedisKeyPrefix, s.RedisConnectTimeout, s.RedisTimeout, s.RedisWriteTimeout)
}

// pooledStore is one open store and the key its requesters are hashed
// with, kept together so a reload does not change either: a visitor
// counted towards a private quorum before the reload counts as the same
// one after it.
type pooledStore struct {
	key         string
	spec        storeSpec
	store       hintstore.Store
	identityKey []byte
}

// Destruct closes the store; a file: store writes its snapshot.
func (p *pooledStore) Destruct() error {
	if err := p.store.Close(); err != nil {
		return fmt.Errorf("early_hints: close store %s: %w", p.spec.Store, err)
	}
	return nil
}

// storeKind is what a store setting names.
type storeKind int

const (
	storeMemory storeKind = iota
	storeFile
	storeRedis
)

// parseStore reads a store setting: memory, file:PATH or redis://...
func parseStore(spec string) (storeKind, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "" || spec == "memory":
		return storeMemory, nil
	case strings.HasPrefix(spec, "file:"):
		if strings.TrimPrefix(spec, "file:") == "" {
			return 0, errors.New("store file: needs a path, such as file:/var/lib/caddy/early-hints.json")
		}
		return storeFile, nil
	case isRedis(spec):
		return storeRedis, nil
	}
	return 0, fmt.Errorf("store %q: use memory, file:PATH or redis://host:port/db", spec)
}

func isRedis(spec string) bool {
	return strings.HasPrefix(spec, "redis://") || strings.HasPrefix(spec, "rediss://")
}

// acquireStore returns the pooled store for spec, opening it if no
// handler holds it yet.
func acquireStore(spec storeSpec, logger *slog.Logger) (*pooledStore, error) {
	key := spec.poolKey()
	v, loaded, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		p, err := openStore(spec, logger)
		if err != nil {
			return nil, err
		}
		p.key = key
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	p := v.(*pooledStore)
	if loaded && p.spec != spec {
		logger.Warn("early_hints: the store is already open with other settings; they apply when every handler using it is gone",
			"store", spec.Store, "snapshot_interval", p.spec.SnapshotInterval)
	}
	return p, nil
}

// releaseStore gives p back to the pool. When another handler still holds
// it (a config reload: the new config took it before the old one let go),
// a file: store writes its snapshot now, so a reload is a save point as a
// restart is; otherwise the pool closes it, which writes the snapshot.
func releaseStore(p *pooledStore, logger *slog.Logger) error {
	deleted, err := stores.Delete(p.key)
	if err != nil || deleted {
		return err
	}
	if m, ok := p.store.(*hintstore.Memory); ok && strings.HasPrefix(p.spec.Store, "file:") {
		if err := m.Snapshot(); err != nil {
			logger.Warn("early_hints: write the store's snapshot on config reload", "store", p.spec.Store, "error", err)
			return fmt.Errorf("early_hints: snapshot %s: %w", p.spec.Store, err)
		}
	}
	return nil
}

// openStore opens the store spec names, the way `earlyhints proxy
// --store` does.
func openStore(spec storeSpec, logger *slog.Logger) (*pooledStore, error) {
	kind, err := parseStore(spec.Store)
	if err != nil {
		return nil, err
	}
	p := &pooledStore{spec: spec}
	switch kind {
	case storeMemory:
		p.store, err = hintstore.NewMemory(hintstore.MemoryConfig{Logger: logger})
	case storeFile:
		path := strings.TrimPrefix(spec.Store, "file:")
		// A corrupt snapshot is moved aside and the store starts empty:
		// Caddy must never fail to start over a file this module wrote.
		p.store, err = hintstore.NewMemory(hintstore.MemoryConfig{
			SnapshotPath: path, SnapshotInterval: max(spec.SnapshotInterval, 0),
			IgnoreCorruptSnapshot: true, Logger: logger,
		})
		if err != nil {
			err = fmt.Errorf("open hint store %s: %w (check the directory exists and Caddy may write there)", path, err)
		}
	case storeRedis:
		var r *redisstore.Store
		r, err = redisstore.New(redisstore.Config{
			URL: spec.Store, KeyPrefix: spec.RedisKeyPrefix, ConnectTimeout: spec.RedisConnectTimeout,
			ReadTimeout: spec.RedisTimeout, WriteTimeout: spec.RedisWriteTimeout, Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("early_hints: store: %w", err)
		}
		p.store = r
		// The fleet shares one identity key, so a visitor counts once
		// towards a quorum whichever server saw them.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if p.identityKey, err = r.IdentityKey(ctx); err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("early_hints: store: %w", err)
		}
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("early_hints: %w", err)
	}
	p.identityKey = make([]byte, 32)
	if _, err := rand.Read(p.identityKey); err != nil {
		_ = p.store.Close()
		return nil, fmt.Errorf("early_hints: identity key: %w", err)
	}
	return p, nil
}
