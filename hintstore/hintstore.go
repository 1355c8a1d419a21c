// Package hintstore keeps the hints learned for each route: the Store
// interface that every backend implements, and the in-memory default.
package hintstore

import (
	"context"
	"time"
)

// Link is one hint as stored: the absolute target (used to deduplicate and
// to forget a target that went away) and the Link field value sent in a 103.
type Link struct {
	Target string `json:"target"`
	Value  string `json:"value"`
}

// Observation is what one response taught about a route.
type Observation struct {
	// Links are the hints seen in the response, in priority order.
	Links []Link
	// Private marks a response personal to its requester (Set-Cookie,
	// Cache-Control private/no-store, a request with credentials). Its links
	// become hints only once Quorum distinct requesters have produced them.
	Private bool
	// Requester identifies who produced a private observation (a keyed hash,
	// never the raw credential).
	Requester string
	// Quorum is the number of distinct requesters needed; below 2 means 2.
	Quorum int
	// At is when the observation was made; zero means now.
	At time.Time
}

// Entry is what a store knows of one route.
type Entry struct {
	Key     string    `json:"key"`
	Links   []Link    `json:"links"`
	Updated time.Time `json:"updated"`
	Expires time.Time `json:"expires"`
	Hits    uint64    `json:"hits"`
}

// Stats summarises a store.
type Stats struct {
	Entries   int    `json:"entries"`
	Bytes     int64  `json:"bytes"`
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Evictions uint64 `json:"evictions"`
	Expired   uint64 `json:"expired"`
}

// Store keeps learned hints per route key. Implementations are safe for
// concurrent use. Slices returned by Get are owned by the store and must not
// be modified by the caller.
type Store interface {
	// Get returns the hints for key; ok is false when there are none (or they
	// expired).
	Get(ctx context.Context, key string) (e Entry, ok bool, err error)
	// Observe records what one response taught about key and returns the
	// resulting entry. A public observation replaces the route's public
	// links; a private one counts towards the quorum of each of its links.
	Observe(ctx context.Context, key string, obs Observation) (Entry, error)
	// Forget removes target from every route (a hinted URL that answered
	// 404 or 410).
	Forget(ctx context.Context, target string) error
	// List returns up to limit entries (all when limit <= 0).
	List(ctx context.Context, limit int) ([]Entry, error)
	// Purge removes one route; PurgeAll removes every route.
	Purge(ctx context.Context, key string) error
	PurgeAll(ctx context.Context) error
	Stats(ctx context.Context) (Stats, error)
	Close() error
}
