package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // G505: Redis's Lua names identity keys with redis.sha1hex; an identifier, not a secret
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// identityCheckEvery is how often a node checks the fleet's identity key
// in Redis (and renews its time to live) besides the checks that a lost
// connection, a flush or a change of the key trigger.
const identityCheckEvery = 30 * time.Second

// identity is this node's view of the fleet's identity key.
type identity struct {
	// given is the key IdentityKey first returned (hex): the one the
	// request path hashes with unless it names another (Requester.Key).
	given atomic.Pointer[string]
	// current is the fleet's key as last read from Redis (hex), and
	// decoded the same with its KeyID.
	current atomic.Pointer[string]
	decoded atomic.Pointer[decodedKey]
	kick    chan struct{}
	mu      sync.Mutex // serialises IdentityKey's first call
	once    sync.Once  // starts the check loop
}

// IdentityKey returns the key every node of the fleet hashes requester
// identities with (earlyhints.Config.IdentityKey), so one visitor counts
// once towards a quorum whichever node served them. The first node to ask
// generates it and keeps it in Redis under the prefix; PurgeAll keeps it.
//
// It never fails because of Redis: when Redis cannot give the key (down,
// full, read-only), the node gets a key of its own, and its private
// observations are recorded only once Redis holds that key (the store
// writes it back as soon as it can, unless another node's is there
// first). Every node checks the key in Redis every 30 seconds, and at
// once when Redis loses or changes it; when Redis holds another key than
// this node's (it restarted empty and another node wrote one), the node
// adopts it (CurrentIdentityKey), and private observations hashed with
// the old key are dropped, never counted. After the first call it
// returns CurrentIdentityKey.
func (s *Store) IdentityKey(ctx context.Context) ([]byte, error) {
	s.id.mu.Lock()
	defer s.id.mu.Unlock()
	if cur := s.id.current.Load(); cur != nil {
		return hex.DecodeString(*cur)
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("redisstore: identity key: %w", err)
	}
	mine := hex.EncodeToString(fresh)
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	got, err := s.checkIdentity(wctx, mine)
	cancel()
	if err != nil {
		got = mine
		s.cfg.Logger.Warn("hint store: could not read the fleet's identity key from Redis; private links this node sees are not learned until Redis holds its key",
			"addr", s.addr, "err", err, "fix", "check that Redis answers and accepts writes (maxmemory, not a replica); the store retries on its own")
	}
	s.id.given.Store(&got)
	s.setCurrent(s.id.current.Load(), got)
	s.id.once.Do(func() {
		s.wg.Add(1)
		go s.identityLoop()
	})
	return hex.DecodeString(got)
}

// CurrentIdentityKey returns the fleet's identity key as this node last
// read it from Redis, or nil before IdentityKey was called.
func (s *Store) CurrentIdentityKey() []byte {
	k, _ := s.CurrentIdentity()
	return k
}

// CurrentIdentity returns the fleet's identity key as this node last read
// it from Redis and its hintstore.KeyID, or nil and "" before IdentityKey
// was called. A request path that hashes with it and names it in
// Requester.Key follows the fleet when the key changes; it is one atomic
// load.
func (s *Store) CurrentIdentity() (key []byte, id string) {
	cur := s.id.decoded.Load()
	if cur == nil {
		return nil, ""
	}
	return cur.key, cur.id
}

// checkIdentity runs the identity check with mine as this node's key and
// returns the fleet's key (hex).
func (s *Store) checkIdentity(ctx context.Context, mine string) (string, error) {
	got, err := identityScript.Exec(ctx, s.client, []string{s.prefix + "identity"},
		[]string{mine, fmt.Sprint((s.cfg.TTL + grace).Milliseconds())}).ToString()
	if err != nil {
		s.failed(ctx, err)
		return "", err
	}
	if !validHexKey(got) {
		return "", fmt.Errorf("redisstore: %sidentity holds no identity key (delete it and a new one is made)", s.prefix)
	}
	s.health.ok()
	return got, nil
}

func validHexKey(v string) bool {
	k, err := hex.DecodeString(v)
	return err == nil && len(k) >= 16
}

// checkIdentitySoon asks the check loop for a check now.
func (s *Store) checkIdentitySoon() {
	if s.id.kick == nil {
		return
	}
	select {
	case s.id.kick <- struct{}{}:
	default:
	}
}

// identityLoop checks the fleet's identity key on a schedule and when
// asked, retrying a failed check sooner.
func (s *Store) identityLoop() {
	defer s.wg.Done()
	wait := identityCheckEvery
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.id.kick:
		}
		cur := s.id.current.Load()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
		got, err := s.checkIdentity(ctx, *cur)
		cancel()
		switch {
		case err != nil:
			if wait >= identityCheckEvery {
				wait = 100 * time.Millisecond
			} else {
				wait = min(2*wait, identityCheckEvery)
			}
		default:
			wait = identityCheckEvery
			s.adoptIdentity(got)
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// adoptIdentity makes v (hex) the fleet's key as this node knows it.
func (s *Store) adoptIdentity(v string) {
	if !validHexKey(v) {
		return
	}
	old := s.id.current.Load()
	if old != nil && *old == v {
		return
	}
	if !s.setCurrent(old, v) {
		return
	}
	if old != nil {
		s.cfg.Logger.Warn("hint store: the fleet's identity key in Redis changed (Redis restarted empty, or the key was evicted or deleted); this node follows it, and drops private observations hashed with the old one",
			"addr", s.addr, "fix", "give Redis a maxmemory-policy of volatile-ttl so the key is not evicted, and persistence if restarts must keep it")
	}
}

type decodedKey struct {
	key []byte
	id  string
}

// setCurrent makes v (hex, valid) the fleet's key as this node knows it,
// unless it changed from old meanwhile.
func (s *Store) setCurrent(old *string, v string) bool {
	if !s.id.current.CompareAndSwap(old, &v) {
		return false
	}
	k, _ := hex.DecodeString(v)
	s.id.decoded.Store(&decodedKey{key: k, id: hexKeyID(v)})
	return true
}

// hashedWith returns the key (hex) the requester was hashed with, for the
// script to check against the fleet's; "" when this node checks none (it
// never handed out a key). ok is false for a key this node does not know.
func (s *Store) hashedWith(keyID string) (string, bool) {
	given := s.id.given.Load()
	if given == nil {
		return "", true
	}
	if keyID == "" || keyID == hexKeyID(*given) {
		return *given, true
	}
	if cur := s.id.current.Load(); cur != nil && keyID == hexKeyID(*cur) {
		return *cur, true
	}
	return "", false
}

// hexKeyID is hintstore.KeyID of a key in hex.
func hexKeyID(v string) string {
	sum := sha1.Sum([]byte(v)) //nolint:gosec // G401: names the key as hintstore.KeyID does, protects nothing
	return hex.EncodeToString(sum[:8])
}
