package earlyhints

import (
	"hash/maphash"
	"sync/atomic"
)

// netCacheSlots is the number of client addresses networkOf remembers.
// An HTTP/2 or HTTP/3 connection sends all its requests from one address,
// so a few hundred slots cover the connections that are busy at once.
const netCacheSlots = 512

// netCacheEntry is one remembered address and its network.
type netCacheEntry struct{ addr, network string }

// netCache remembers the network (clientNetwork) of recent client
// addresses, so that a connection's requests after its first build no
// string for it. It is a fixed table indexed by a hash of the address:
// a slot holds the last address that hashed to it, and a miss computes
// the network and replaces the slot. Safe for concurrent use; its zero
// value is ready.
type netCache struct {
	seed  maphash.Seed
	slots [netCacheSlots]atomic.Pointer[netCacheEntry]
}

// networks is the cache requestFacts.network reads through: the mapping
// from an address to its network is the same for every Handler.
var networks = newNetCache()

func newNetCache() *netCache { return &netCache{seed: maphash.MakeSeed()} }

// network returns clientNetwork(remoteAddr).
func (c *netCache) network(remoteAddr string) string {
	slot := &c.slots[maphash.String(c.seed, remoteAddr)%netCacheSlots]
	if e := slot.Load(); e != nil && e.addr == remoteAddr {
		return e.network
	}
	network := clientNetwork(remoteAddr)
	slot.Store(&netCacheEntry{addr: remoteAddr, network: network})
	return network
}
