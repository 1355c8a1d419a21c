// Package hintstore keeps the hints learned for each route: the Store
// interface that every backend implements, and the in-memory default.
//
// Every backend applies the same learning rules, checked by the
// hintstore/storetest conformance suite:
//
//   - A public observation replaces the route's links with its own (the
//     newest page wins, so a deploy that renames hashed assets is picked up
//     at the next view), drops the private links that had reached quorum,
//     and restarts the route's time to live. No links means no hints.
//   - A private observation counts its requester towards each of its links
//     (a link is its Target and Value). A link becomes a hint only once
//     Quorum distinct requesters (at least 2) produced it within the time to
//     live of the first of them, so no one's personal URL is ever hinted to
//     someone else. At most MaxPendingLinks such links wait per route; when
//     full, the oldest waiting link is dropped. A private observation
//     restarts the route's time to live only when it confirms or completes
//     a quorum link.
//   - Links are returned public first, then quorum private links in the
//     order they reached quorum, deduplicated by Target (first wins).
//   - Two requesters are distinct only when both their networks and their
//     accounts differ (see Requester), so one person cannot make a quorum
//     alone by rotating cookies or by logging in and out.
//   - An observation with Vary marks the route as varying on those request
//     headers: the route itself holds no links any more (each variant is
//     learned under a key of its own, see VariantKey) and Get returns the
//     names. An observation without Vary clears the mark.
//   - Forget removes a target from every route, waiting links included;
//     Hinted tells whether a target is among the links of some route.
//   - A new route is admitted at once while the store has room; once it is
//     full, only on its second observation within the doorkeeper's window
//     (as TinyLFU admits), so a flood of one-off routes cannot evict the
//     routes seen often.
package hintstore

import (
	"context"
	"time"
)

// Link is one hint as stored, ready to write: the absolute target (used to
// deduplicate and to forget a target that went away) and the Link field
// value sent in a 103, validated and formatted once when learned.
type Link struct {
	Target string `json:"target"`
	Value  string `json:"value"`
	// Preconnect marks a rel=preconnect link, which a 103 caps apart from
	// preloads.
	Preconnect bool `json:"preconnect,omitempty"`
}

// Observation is what one response taught about a route.
type Observation struct {
	// Links are the hints seen in the response, in priority order.
	Links []Link
	// Private marks a response personal to its requester (Set-Cookie,
	// Cache-Control private/no-store, a request with credentials). Its links
	// become hints only once Quorum distinct requesters have produced them.
	Private bool
	// Requester identifies who produced a private observation (keyed
	// hashes, never the raw address or credential).
	Requester Requester
	// Vary lists the request headers the response varied on (Vary, less
	// Accept-Encoding), canonical and sorted. Set, it marks the route as
	// varying and Links are ignored: the caller observes the variant's
	// links under VariantKey.
	Vary []string
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
	// Vary, when set, names the request headers the route's responses vary
	// on: its hints live under VariantKey, not under Key.
	Vary []string `json:"vary,omitempty"`
}

// Requester identifies who produced a private observation as far as a
// server can tell a person: Network is a keyed hash of the client's
// address prefix, Account a keyed hash of the credentials it sent ("" when
// none).
type Requester struct {
	Network string `json:"network"`
	Account string `json:"account,omitempty"`
	// Key names the identity key the hashes were made with (KeyID), for a
	// shared store that checks it is the fleet's: hashes made with another
	// key would count one person twice. Empty means the key the store
	// handed out first. Distinct ignores it.
	Key string `json:"-"`
}

// Distinct reports whether r and o count as two people for a quorum: their
// networks differ, and so do their accounts when both have one.
func (r Requester) Distinct(o Requester) bool {
	if r.Network == o.Network {
		return false
	}
	return r.Account == "" || o.Account == "" || r.Account != o.Account
}

// VariantKey is the key under which the hints of one variant of a varying
// route are kept: the route's key and the variant's class.
func VariantKey(key, class string) string { return key + "#vary:" + class }

// ObservedKey is the key under which the links browsers were seen to fetch
// after viewing the page of key are kept, as private observations: they
// reach the 103 once a quorum of distinct requesters fetched them, and the
// page's public observations (its head, its Link fields) never replace
// them.
func ObservedKey(key string) string { return key + "#observed" }

// Stats summarises a store.
type Stats struct {
	// Entries counts the routes that have hints (what Get would return).
	Entries int `json:"entries"`
	// Bytes is the approximate size of everything held, waiting private
	// links included.
	Bytes int64 `json:"bytes"`
	// Hits and Misses count Get calls that did and did not return hints.
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	// Evictions counts routes dropped to honour the size bounds.
	Evictions uint64 `json:"evictions"`
	// Expired counts routes whose hints outlived their time to live.
	Expired uint64 `json:"expired"`
}

// MaxPendingLinks bounds the private links per route that wait for their
// quorum.
const MaxPendingLinks = 64

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
	// Hinted reports whether target is among the links of some route. It
	// is asked for every subresource request, so it must be cheap.
	Hinted(ctx context.Context, target string) (bool, error)
	// List returns up to limit entries (all when limit <= 0).
	List(ctx context.Context, limit int) ([]Entry, error)
	// Purge removes one route; PurgeAll removes every route.
	Purge(ctx context.Context, key string) error
	PurgeAll(ctx context.Context) error
	Stats(ctx context.Context) (Stats, error)
	Close() error
}
