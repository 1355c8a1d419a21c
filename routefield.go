package earlyhints

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
)

// thinkSamples is how many recent think times a route keeps.
const thinkSamples = 64

// routeField is what the field view keeps of one route (see fieldView):
// the navigation carries it from the field view's lookup to the final
// header, whose think time it records.
type routeField struct {
	observedKey       string // hintstore.ObservedKey of the route, made once
	navigations, sent atomic.Uint64
	thinkP50          atomic.Int64 // ns, the median think time; 0 until known
	lastOffer         atomic.Int64 // Unix ns of the last sampled 103

	mu    sync.Mutex
	think [thinkSamples]thinkTime
	n     int                   // samples taken, ring index n % thinkSamples
	hints map[string]*hintField // nil until a hint is offered
}

// thinkTime is a think time in microseconds, 4 bytes instead of a
// time.Duration's 8: a followed route keeps 64 of them.
type thinkTime uint32

// toThink returns d as a thinkTime: at least 1 µs, at most about 71 minutes.
func toThink(d time.Duration) thinkTime {
	return thinkTime(min(max(d/time.Microsecond, 1), math.MaxUint32))
}

// duration returns t as a time.Duration.
func (t thinkTime) duration() time.Duration { return time.Duration(t) * time.Microsecond }

// hintField is how browsers used one hinted file of a route.
type hintField struct {
	value          string
	offered, taken uint64
	bytes          int64
}

func newRouteField(route string) *routeField {
	return &routeField{observedKey: hintstore.ObservedKey(route)}
}

// recordThink records how long the origin took to answer a navigation of
// the route with its final headers, and updates the route's budget. rf may
// be nil.
func (rf *routeField) recordThink(d time.Duration) {
	if rf == nil || d <= 0 {
		return
	}
	rf.mu.Lock()
	rf.think[rf.n%thinkSamples] = toThink(d)
	rf.n++
	n := min(rf.n, thinkSamples)
	var p50 time.Duration
	// The median moves slowly: past the first views it is taken again
	// every eighth one, on the stack, so a navigation costs a store and
	// rarely a sort of 64 values.
	if n >= 3 && (rf.n <= 8 || rf.n%8 == 0) {
		var s [thinkSamples]thinkTime
		copy(s[:], rf.think[:n])
		slices.Sort(s[:n])
		p50 = s[n/2].duration()
	}
	rf.mu.Unlock()
	if p50 > 0 {
		rf.thinkP50.Store(int64(p50))
	}
}
