// Package redisstore keeps learned hints in Redis or Valkey, so that a
// fleet of proxies learns together: a page learned on one node is hinted by
// every node, the privacy quorum counts requesters across the fleet, and a
// purge or a forgotten target reaches every node.
//
// The request path never waits on Redis beyond a small bound. Get and
// Hinted read a local copy of what the node read before, kept exact by
// server-assisted client-side caching in broadcast mode (RESP3 CLIENT
// TRACKING BCAST on the prefixes of the keys read on the request path):
// when any node writes such a key, Redis tells every node, and the next
// read fetches it again. Broadcast mode costs Redis no memory per key
// read, so a flood of paths that are read once and never written cannot
// fill it. A route the node has not read yet costs one round trip (the
// route and the links browsers were seen to fetch after it, together),
// bounded by Config.ReadTimeout; all the reads of one request together
// wait at most that long when the caller marks its context with
// hintstore.WithReadStart. When Redis stops answering, the store logs it
// once, answers from its copy while the connection stays up (a lost
// connection empties it) or with a miss, drops what it would learn
// (counted in Health), and probes until Redis answers, then logs that once
// too. A Redis that answers but refuses writes (full under noeviction, a
// read-only replica) is reported the same way, while the hints it holds
// are still served.
//
// The learning rules of the hintstore package run as Lua scripts inside
// Redis (one atomic step per observation); their keys are described in
// scripts.go. Bounds: every key has a TTL (Config.TTL plus a grace), a
// route holds at most 64 links of each kind and hintstore.MaxPendingLinks
// waiting links, and at most Config.MaxRoutes routes are kept fleet-wide
// (the soonest to expire goes first; once full, a new route enters on its
// second observation). Give Redis a maxmemory with maxmemory-policy
// volatile-ttl or allkeys-lru too, so it never refuses writes.
//
// A single Redis or Valkey primary (6.0 or later, with replicas or
// Sentinel if wanted) is supported; Redis Cluster is not, since one
// observation touches the keys of several targets.
package redisstore

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/earlyhints/earlyhints/hintstore"
)

// Defaults applied to zero fields of Config.
const (
	DefaultKeyPrefix      = "earlyhints:"
	DefaultMaxRoutes      = 100000
	DefaultLocalEntries   = 20000
	DefaultConnectTimeout = time.Second
	DefaultReadTimeout    = 20 * time.Millisecond
	DefaultWriteTimeout   = time.Second
)

// grace is how long a key outlives, in Redis, the time the logic stops
// using it, so that clocks a little apart across nodes agree.
const grace = time.Minute

// maxLinks bounds the public and the quorum private links of one route.
const maxLinks = 64

// Config configures a Store. URL is required; every other zero field has
// a default.
type Config struct {
	// URL names the server: redis://[user:password@]host:port/db, or
	// rediss://… for TLS.
	URL string
	// KeyPrefix starts every key the store writes. Empty means
	// "earlyhints:". Nodes of one fleet use the same prefix; different
	// fleets on one server use different ones.
	KeyPrefix string
	// TTL is how long a route's hints live after the observation that last
	// set or confirmed them. 0 means 1 hour.
	TTL time.Duration
	// MaxRoutes bounds the routes kept, fleet-wide. 0 means 100000.
	MaxRoutes int
	// LocalEntries bounds the routes and targets this node keeps decoded
	// in memory. 0 means 20000.
	LocalEntries int
	// ConnectTimeout bounds connecting to the server. 0 means 1s.
	ConnectTimeout time.Duration
	// ReadTimeout bounds a read on the request path (a route or target
	// not in the local copy). 0 means 20ms.
	ReadTimeout time.Duration
	// WriteTimeout bounds learning, purges and admin reads, which run off
	// the request path. 0 means 1s.
	WriteTimeout time.Duration
	// TLS, when set, is used for rediss:// instead of the system roots.
	TLS *tls.Config
	// Clock returns the current time, for tests. Nil means the real clock,
	// which Get reads at a resolution of 100 ms.
	Clock func() time.Time
	// Logger receives the outage and recovery messages. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("redisstore: no URL: give one such as redis://127.0.0.1:6379/0")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("redisstore: %q is not a Redis URL: use redis://[user:password@]host:port/db or rediss://… for TLS", redact(c.URL))
	}
	if c.TTL < 0 || c.MaxRoutes < 0 || c.LocalEntries < 0 || c.ConnectTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 {
		return errors.New("redisstore: limits and timeouts must not be negative")
	}
	return nil
}

// redact hides the password of a Redis URL, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Store is the Redis-backed hintstore.Store. Hits, misses and expiries in
// its Stats are this node's; entries, bytes and evictions are the fleet's.
type Store struct {
	cfg    Config
	addr   string // for messages
	client rueidis.Client
	prefix string
	clock  *hintstore.Clock

	routes  *local // route → hints
	targets *local // target → hinted

	retiredHits atomic.Uint64
	expired     atomic.Uint64

	health health

	id identity

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var _ hintstore.Store = (*Store)(nil)

// New connects to the server and returns a Store. It fails when the
// server cannot be reached within ConnectTimeout.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.KeyPrefix = cmp.Or(cfg.KeyPrefix, DefaultKeyPrefix)
	cfg.TTL = cmp.Or(cfg.TTL, hintstore.DefaultTTL)
	cfg.MaxRoutes = cmp.Or(cfg.MaxRoutes, DefaultMaxRoutes)
	cfg.LocalEntries = cmp.Or(cfg.LocalEntries, DefaultLocalEntries)
	cfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.ReadTimeout = cmp.Or(cfg.ReadTimeout, DefaultReadTimeout)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, DefaultWriteTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opt, err := rueidis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", redact(cfg.URL), err)
	}
	if cfg.TLS != nil && opt.TLSConfig != nil {
		opt.TLSConfig = cfg.TLS.Clone()
	}
	s := &Store{
		cfg:     cfg,
		addr:    strings.Join(opt.InitAddress, ","),
		prefix:  cfg.KeyPrefix,
		routes:  newLocal(cfg.LocalEntries),
		targets: newLocal(cfg.LocalEntries),
		stop:    make(chan struct{}),
	}
	opt.Dialer.Timeout = cfg.ConnectTimeout
	// A server that accepts but never answers is noticed after this, and
	// its connection replaced.
	opt.ConnWriteTimeout = max(cfg.WriteTimeout, 200*time.Millisecond)
	// Retries would stretch the bound on the request path; a failed read
	// is a miss, a failed observation is dropped.
	opt.DisableRetry = true
	opt.ClientName = "earlyhints"
	opt.OnInvalidations = s.invalidate
	// Broadcast tracking of the keys read on the request path (and of the
	// identity key, so a node hears when it changes): Redis keeps one
	// entry per prefix, not one per key read. Default (opt-in) tracking
	// remembers every key a node read, written or not, in a table Redis
	// cannot evict: a flood of one-off paths filled it past maxmemory.
	//
	// NOLOOP and one connection: Redis does not tell the node of its own
	// writes, which it drops from its copy itself, at once (a message
	// coming after the write would throw away a fresh read). With more
	// connections, one would hear of another's writes late.
	opt.ClientTrackingOptions = []string{
		"BCAST", "NOLOOP",
		"PREFIX", cfg.KeyPrefix + "r:", "PREFIX", cfg.KeyPrefix + "t:", "PREFIX", cfg.KeyPrefix + "identity",
	}
	opt.PipelineMultiplex = -1
	// The connections track (so invalidations arrive) but rueidis keeps
	// nothing: the local copy keeps the decoded answer instead of rueidis's
	// cache, whose copy would be decoded again on every request.
	opt.NewCacheStoreFn = func(rueidis.CacheStoreOption) rueidis.CacheStore { return trackedReads{} }
	s.client, err = rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect to %s: %w (is the server running, and is the URL right?)", redact(cfg.URL), err)
	}
	s.clock = hintstore.NewClock(cfg.Clock)
	s.health.since = time.Now()
	s.id.kick = make(chan struct{}, 1)
	return s, nil
}

// trackedReads is a rueidis cache store that holds nothing: it is there so
// that rueidis turns tracking on and passes invalidations to the Store,
// which reads with plain commands and keeps the decoded answers.
type trackedReads struct{}

func (trackedReads) Flight(string, string, time.Duration, time.Time) (rueidis.RedisMessage, rueidis.CacheEntry) {
	return rueidis.RedisMessage{}, nil
}
func (trackedReads) Update(string, string, rueidis.RedisMessage) int64 { return 0 }
func (trackedReads) Cancel(string, string, error)                      {}
func (trackedReads) Delete([]rueidis.RedisMessage)                     {}
func (trackedReads) Close(error)                                       {}

// invalidate is called by rueidis when Redis reports keys changed by any
// node (nil: everything, as when a connection is lost).
func (s *Store) invalidate(keys []rueidis.RedisMessage) {
	if keys == nil {
		s.retiredHits.Add(s.routes.reset())
		s.targets.reset()
		// A lost connection or a flush: Redis may have lost the identity.
		s.checkIdentitySoon()
		return
	}
	for _, k := range keys {
		key, err := k.ToString()
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(key, s.prefix+"r:"):
			s.retiredHits.Add(s.routes.drop(key[len(s.prefix)+2:]))
		case strings.HasPrefix(key, s.prefix+"t:"):
			s.targets.drop(key[len(s.prefix)+2:])
		case key == s.prefix+"identity":
			s.checkIdentitySoon()
		}
	}
}

func (s *Store) routeKey(route string) string   { return s.prefix + "r:" + route }
func (s *Store) stateKey(route string) string   { return s.prefix + "s:" + route }
func (s *Store) targetKey(target string) string { return s.prefix + "t:" + target }

// Get implements hintstore.Store. It reads the local copy; a route not in
// it is read from Redis within ReadTimeout, or missed at once while Redis
// is down.
func (s *Store) Get(ctx context.Context, key string) (hintstore.Entry, bool, error) {
	c, ok := s.routes.get(key)
	if !ok {
		var err error
		if c, err = s.fetchRoute(ctx, key); err != nil {
			s.routes.shard(key).misses.Add(1)
			return hintstore.Entry{}, false, err
		}
	}
	if !c.present {
		s.routes.shard(key).misses.Add(1)
		return hintstore.Entry{}, false, nil
	}
	if s.clock.Nanos() >= c.expires {
		if c.gone.CompareAndSwap(false, true) {
			s.expired.Add(1)
		}
		s.routes.shard(key).misses.Add(1)
		return hintstore.Entry{}, false, nil
	}
	out := c.entry
	out.Hits = c.hits.Add(1)
	return out, true, nil
}

// errBudgetSpent is returned by a read of a request whose reads have
// used up ReadTimeout (see hintstore.WithReadStart).
var errBudgetSpent = fmt.Errorf("redisstore: the request's wait on Redis is spent: %w", context.DeadlineExceeded)

// readContext bounds one read on the request path: ReadTimeout, or what
// is left of it for the request ctx serves. short reports that the bound
// is the request's, so that a timeout is not counted as the server's.
func (s *Store) readContext(ctx context.Context) (rctx context.Context, cancel context.CancelFunc, short bool, err error) {
	now := time.Now()
	deadline := now.Add(s.cfg.ReadTimeout)
	if start, ok := hintstore.ReadStart(ctx); ok {
		if d := start.Add(s.cfg.ReadTimeout); d.Before(deadline) {
			deadline, short = d, true
		}
	}
	if !now.Before(deadline) {
		return nil, nil, true, errBudgetSpent
	}
	rctx, cancel = context.WithDeadline(ctx, deadline)
	return rctx, cancel, short, nil
}

// readFailed records a read that got no answer; a read the request's own
// budget cut short says nothing of the server.
func (s *Store) readFailed(ctx context.Context, err error, short bool) {
	if short && errors.Is(err, context.DeadlineExceeded) {
		s.health.errors.Add(1)
		return
	}
	s.failed(ctx, err)
}

// fetchRoute reads a route not in the local copy, and in the same round
// trip the links browsers were seen to fetch after it (its ObservedKey),
// which the request reads next.
func (s *Store) fetchRoute(ctx context.Context, key string) (*cached, error) {
	if err := s.health.check(); err != nil {
		return nil, err
	}
	keys := []string{key}
	if ok := strings.HasSuffix(key, observedSuffix); !ok {
		if _, cached := s.routes.get(hintstore.ObservedKey(key)); !cached {
			keys = append(keys, hintstore.ObservedKey(key))
		}
	}
	gens := make([]uint64, len(keys))
	rkeys := make([]string, len(keys))
	for i, k := range keys {
		gens[i], rkeys[i] = s.routes.generation(k), s.routeKey(k)
	}
	rctx, cancel, short, err := s.readContext(ctx)
	if err != nil {
		return nil, err
	}
	vals, err := s.client.Do(rctx, s.client.B().Mget().Key(rkeys...).Build()).ToArray()
	cancel()
	if err != nil {
		s.readFailed(ctx, err, short)
		return nil, fmt.Errorf("redisstore: read %s: %w", key, err)
	}
	s.health.ok()
	var first *cached
	for i, k := range keys {
		c := &cached{}
		if i < len(vals) {
			if raw, err := vals[i].ToString(); err == nil {
				// A value this version cannot read is no hints; the
				// next observation of the route writes it anew.
				if e, err := decodeView(k, raw); err == nil {
					c.entry, c.present, c.expires = e, true, e.Expires.UnixNano()
				}
			}
		}
		s.retiredHits.Add(s.routes.install(k, c, gens[i]))
		if i == 0 {
			first = c
		}
	}
	return first, nil
}

// observedSuffix ends the keys made by hintstore.ObservedKey.
var observedSuffix = hintstore.ObservedKey("")

// Hinted implements hintstore.Store, from the local copy like Get.
func (s *Store) Hinted(ctx context.Context, target string) (bool, error) {
	if c, ok := s.targets.get(target); ok {
		return c.present, nil
	}
	if err := s.health.check(); err != nil {
		return false, err
	}
	gen := s.targets.generation(target)
	rctx, cancel, short, err := s.readContext(ctx)
	if err != nil {
		return false, err
	}
	n, err := s.client.Do(rctx, s.client.B().Scard().Key(s.targetKey(target)).Build()).AsInt64()
	cancel()
	if _, wrongType := rueidis.IsRedisErr(err); wrongType && !refusal(err) {
		// A key of another type, not written by a node: no routes.
		n, err = 0, nil
	}
	if err != nil {
		s.readFailed(ctx, err, short)
		return false, fmt.Errorf("redisstore: read %s: %w", target, err)
	}
	s.health.ok()
	s.targets.install(target, &cached{present: n > 0}, gen)
	return n > 0, nil
}

// view is the JSON of r:ROUTE, written by the scripts.
type view struct {
	Updated int64       `json:"u"`
	Expires int64       `json:"e"`
	Public  [][2]string `json:"p"`
	Private [][2]string `json:"q"`
	Vary    []string    `json:"y"`
}

func decodeView(key, raw string) (hintstore.Entry, error) {
	var v view
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return hintstore.Entry{}, fmt.Errorf("redisstore: route %s holds no hints this version can read (%w); purge it", key, err)
	}
	e := hintstore.Entry{Key: key, Updated: time.UnixMilli(v.Updated), Expires: time.UnixMilli(v.Expires), Vary: v.Vary}
	for _, set := range [2][][2]string{v.Public, v.Private} {
		for _, l := range set {
			if l[0] == "" || l[1] == "" {
				continue // not written by a node
			}
			if !slices.ContainsFunc(e.Links, func(o hintstore.Link) bool { return o.Target == l[0] }) {
				e.Links = append(e.Links, hintstore.Link{Target: l[0], Value: l[1]})
			}
		}
	}
	return e, nil
}

// Observe implements hintstore.Store: one atomic script in Redis.
func (s *Store) Observe(ctx context.Context, key string, obs hintstore.Observation) (hintstore.Entry, error) {
	at := obs.At
	if at.IsZero() {
		at = s.clock.Now()
	}
	at = at.Truncate(time.Millisecond)
	if err := s.health.check(); err != nil {
		s.health.dropped.Add(1)
		return hintstore.Entry{Key: key, Updated: at}, err
	}
	mode, idHex := "pub", ""
	var payload []byte
	switch {
	case len(obs.Vary) > 0:
		mode = "vary"
		payload, _ = json.Marshal(obs.Vary)
	default:
		if obs.Private {
			mode = "priv"
			var ok bool
			if idHex, ok = s.hashedWith(obs.Requester.Key); !ok {
				s.health.dropped.Add(1)
				return hintstore.Entry{Key: key, Updated: at}, fmt.Errorf("%w: redisstore: observe %s: the requester was hashed with an identity key that is not the fleet's; dropped", hintstore.ErrUnavailable, key)
			}
		}
		pairs := make([][2]string, 0, len(obs.Links))
		for _, l := range obs.Links {
			pairs = append(pairs, [2]string{l.Target, l.Value})
		}
		payload, _ = json.Marshal(pairs)
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	ms := func(d time.Duration) string { return fmt.Sprint(d.Milliseconds()) }
	res, err := observeScript.Exec(wctx, s.client,
		[]string{s.routeKey(key), s.stateKey(key), s.prefix + "routes", s.prefix + "stats", s.prefix + "door", s.prefix + "identity"},
		[]string{
			s.prefix, key, fmt.Sprint(at.UnixMilli()), fmt.Sprint(s.clock.Now().UnixMilli()), ms(s.cfg.TTL), ms(grace),
			mode, fmt.Sprint(max(obs.Quorum, 2)), obs.Requester.Network, obs.Requester.Account,
			fmt.Sprint(s.cfg.MaxRoutes), fmt.Sprint(hintstore.MaxPendingLinks), fmt.Sprint(maxLinks), string(payload), idHex,
		}).AsStrSlice()
	if err != nil {
		s.failed(ctx, err)
		s.health.dropped.Add(1)
		if refusal(err) {
			err = fmt.Errorf("%w: %w", hintstore.ErrUnavailable, err)
		}
		return hintstore.Entry{Key: key, Updated: at}, fmt.Errorf("redisstore: observe %s: %w", key, err)
	}
	s.health.ok()
	s.health.wrote(s)
	if len(res) == 2 && res[0] == "!identity" {
		// Redis holds another identity key than the one the requester was
		// hashed with: counting it would count one person twice.
		s.adoptIdentity(res[1])
		s.health.dropped.Add(1)
		return hintstore.Entry{Key: key, Updated: at}, fmt.Errorf("%w: redisstore: observe %s: the fleet's identity key changed; a private observation hashed with the old one is dropped", hintstore.ErrUnavailable, key)
	}
	// This node's copy of what the script changed goes now: Redis tells
	// this node too, but after the reply, and a read in between must not
	// see the old value.
	if res[1] == "1" {
		if c, ok := s.routes.get(key); !ok || c.gone.CompareAndSwap(false, true) {
			s.expired.Add(1) // unless Get counted this expiry already
		}
	}
	s.retiredHits.Add(s.routes.drop(key))
	// NOLOOP: Redis does not tell this node of its own writes, so
	// everything the script changed goes from the copy here.
	for _, k := range res[2:] {
		if t, ok := strings.CutPrefix(k, "t:"); ok {
			s.targets.drop(t)
		} else if r, ok := strings.CutPrefix(k, "r:"); ok {
			s.retiredHits.Add(s.routes.drop(r))
		}
	}
	if res[0] == "" {
		return hintstore.Entry{Key: key, Updated: at}, nil
	}
	return decodeView(key, res[0])
}

// Forget implements hintstore.Store, for every node.
func (s *Store) Forget(ctx context.Context, target string) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	routes, err := forgetScript.Exec(wctx, s.client, []string{s.targetKey(target), s.prefix + "routes"}, []string{s.prefix, target}).AsStrSlice()
	if err != nil {
		s.failed(ctx, err)
		return fmt.Errorf("redisstore: forget %s: %w", target, err)
	}
	s.health.wrote(s)
	s.targets.drop(target)
	for _, r := range routes {
		s.retiredHits.Add(s.routes.drop(r))
	}
	return nil
}

// Purge implements hintstore.Store, for every node.
func (s *Store) Purge(ctx context.Context, key string) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	targets, err := purgeScript.Exec(wctx, s.client, []string{s.routeKey(key), s.stateKey(key), s.prefix + "routes"}, []string{s.prefix, key}).AsStrSlice()
	if err != nil {
		s.failed(ctx, err)
		return fmt.Errorf("redisstore: purge %s: %w", key, err)
	}
	s.health.wrote(s)
	s.retiredHits.Add(s.routes.drop(key))
	for _, t := range targets {
		s.targets.drop(t)
	}
	return nil
}

// Close stops the store's goroutines and closes the connections.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.client.Close()
		s.clock.Stop()
	})
	return nil
}
