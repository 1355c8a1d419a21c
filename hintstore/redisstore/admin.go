package redisstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/rueidis"

	"github.com/earlyhints/earlyhints/hintstore"
)

// The admin path: purging everything, listing routes and the fleet's
// figures. It reads every route, off the request path.

// PurgeAll implements hintstore.Store, for every node: it deletes every
// key under the prefix but the shared identity key and the counters.
func (s *Store) PurgeAll(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 10*s.cfg.WriteTimeout)
	defer cancel()
	keep := []string{s.prefix + "identity", s.prefix + "stats"}
	var cursor uint64
	for {
		e, err := s.client.Do(wctx, s.client.B().Scan().Cursor(cursor).Match(globEscape(s.prefix)+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			s.failed(ctx, err)
			return fmt.Errorf("redisstore: purge all: %w", err)
		}
		keys := slices.DeleteFunc(e.Elements, func(k string) bool { return slices.Contains(keep, k) })
		if len(keys) > 0 {
			if err := s.client.Do(wctx, s.client.B().Unlink().Key(keys...).Build()).Error(); err != nil {
				return fmt.Errorf("redisstore: purge all: %w", err)
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			break
		}
	}
	s.retiredHits.Add(s.routes.reset())
	s.targets.reset()
	return nil
}

// globEscape quotes the glob characters of a key prefix for SCAN MATCH.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// routesBatch is how many routes List and Stats read per round trip.
const routesBatch = 500

// walk calls fn with every route that has state in Redis, its view (""
// when none) and the bytes its keys hold.
func (s *Store) walk(ctx context.Context, fn func(route, raw string, bytes int64)) error {
	wctx, cancel := context.WithTimeout(ctx, 10*s.cfg.WriteTimeout)
	defer cancel()
	routes, err := s.client.Do(wctx, s.client.B().Zrange().Key(s.prefix+"routes").Min("0").Max("-1").Build()).AsStrSlice()
	if err != nil {
		s.failed(ctx, err)
		return fmt.Errorf("redisstore: list routes: %w", err)
	}
	for batch := range slices.Chunk(routes, routesBatch) {
		keys := make([]string, 0, 2*len(batch))
		for _, r := range batch {
			keys = append(keys, s.routeKey(r), s.stateKey(r))
		}
		vals, err := s.client.Do(wctx, s.client.B().Mget().Key(keys...).Build()).ToArray()
		if err != nil {
			return fmt.Errorf("redisstore: list routes: %w", err)
		}
		for i, r := range batch {
			raw, _ := vals[2*i].ToString()
			st, _ := vals[2*i+1].ToString()
			fn(r, raw, int64(len(raw)+len(st)+2*len(r)))
		}
	}
	return nil
}

// List implements hintstore.Store: routes with hints, most recently
// updated first.
func (s *Store) List(ctx context.Context, limit int) ([]hintstore.Entry, error) {
	now := s.clock.Now()
	var out []hintstore.Entry
	err := s.walk(ctx, func(route, raw string, _ int64) {
		if raw == "" {
			return
		}
		if e, err := decodeView(route, raw); err == nil && now.Before(e.Expires) {
			out = append(out, e)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b hintstore.Entry) int {
		return cmp.Or(b.Updated.Compare(a.Updated), cmp.Compare(a.Key, b.Key))
	})
	if limit > 0 && len(out) > limit {
		out = slices.Clip(out[:limit])
	}
	return out, nil
}

// Stats implements hintstore.Store. It reads every route, which is fine
// for an admin page but not for a request path.
func (s *Store) Stats(ctx context.Context) (hintstore.Stats, error) {
	now := s.clock.Now()
	hits, misses, _ := s.routes.totals()
	st := hintstore.Stats{Hits: s.retiredHits.Load() + hits, Misses: misses, Expired: s.expired.Load()}
	err := s.walk(ctx, func(route, raw string, bytes int64) {
		st.Bytes += bytes
		if raw == "" {
			return
		}
		if e, err := decodeView(route, raw); err == nil && now.Before(e.Expires) {
			st.Entries++
		}
	})
	if err != nil {
		return st, err
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	ev, err := s.client.Do(wctx, s.client.B().Hget().Key(s.prefix+"stats").Field("evictions").Build()).AsUint64()
	if err != nil && !rueidis.IsRedisNil(err) {
		return st, fmt.Errorf("redisstore: stats: %w", err)
	}
	st.Evictions = ev
	return st, nil
}
