package server

import (
	"fmt"
	"math"
	"net/http"
	"slices"

	"golang.org/x/net/http2"
)

// Document first, on HTTP/2: a browser asks for the page before the files
// its 103 names, and says how urgent each request is. Go's bundled HTTP/2
// server ignores that and writes its streams round-robin, so the hinted
// files take half the link while the document is written. Until Go 1.27
// (whose server reads RFC 9218's priority field), the server here is
// golang.org/x/net/http2's with a scheduler of its own: x/net v0.62 keeps
// its RFC 9218 scheduler for Go 1.27 and its RFC 7540 one has known bugs
// (an unweighted client's newest stream starves the older ones).
//
// The scheduler reads the RFC 7540 priority a browser puts on each request
// (Chromium: a chain of exclusive dependencies whose weights encode its
// priorities, 256 for the document, stylesheets and fonts, 220, 183, 147
// and 110 for the rest) by its weight alone, as an urgency, most urgent
// first and, within one urgency, in the order the requests came, as
// Chromium's chain means: the document before the stylesheet hinted by
// its 103. A stream whose writes are blocked (nothing to write yet, flow
// control) lets the next one write. Streams with no priority are written
// round-robin after the others, as before.

// urgencies is how many urgencies RFC 7540 weights map to (Chromium's
// eight priorities); a stream without priority comes after them.
const urgencies = 8

// urgencyOf maps an RFC 7540 weight (PriorityParam.Weight is weight − 1)
// to an urgency, 0 the most urgent, as Chromium derives weights from its
// priorities 0–7.
func urgencyOf(p http2.PriorityParam) int {
	w := float64(p.Weight) + 1
	return min(urgencies-1, max(0, int(math.Round((256-w)/(255.9/7)))))
}

func configureHTTP2(s *http.Server) error {
	h2 := &http2.Server{NewWriteScheduler: newDocumentFirstScheduler} //nolint:staticcheck // SA1019: net/http's own HTTP/2 takes no write scheduler and has no priorities before Go 1.27
	//nolint:staticcheck // ConfigureServer is deprecated in favour of net/http's own HTTP/2, which has no priorities before Go 1.27.
	if err := http2.ConfigureServer(s, h2); err != nil {
		return fmt.Errorf("server: HTTP/2 write priorities: %w", err)
	}
	return nil
}

// documentFirstScheduler keeps one inner scheduler per urgency, each
// holding its streams in the order they were opened, plus one for the
// streams without priority and one for control frames. The inner
// schedulers are x/net's: they keep control and reset frames ahead of
// their streams' data and split DATA frames by flow control.
//
//nolint:staticcheck // SA1019: x/net's write schedulers, deprecated, are the only way to order HTTP/2 writes before Go 1.27
type documentFirstScheduler struct {
	control  http2.WriteScheduler
	byUrg    [urgencies]http2.WriteScheduler
	order    [urgencies][]uint32 // open streams of each urgency, oldest first
	unranked http2.WriteScheduler
	streams  map[uint32]*streamRank
}

type streamRank struct {
	urgency int // 0..urgencies-1, or -1: no priority
	placed  bool
	pusher  uint32
}

func newDocumentFirstScheduler() http2.WriteScheduler { //nolint:staticcheck // see configureHTTP2
	ws := &documentFirstScheduler{
		control:  http2.NewRandomWriteScheduler(), //nolint:staticcheck // see configureHTTP2
		unranked: http2.NewRandomWriteScheduler(), //nolint:staticcheck // see configureHTTP2
		streams:  make(map[uint32]*streamRank),
	}
	for i := range ws.byUrg {
		// A chain within each: every stream depends on the one opened
		// before it, so it writes only while the older ones cannot.
		ws.byUrg[i] = http2.NewPriorityWriteScheduler(&http2.PriorityWriteSchedulerConfig{}) //nolint:staticcheck // see configureHTTP2
	}
	return ws
}

// OpenStream notes the stream; it is placed in an inner scheduler when
// its first frame comes, since its priority (AdjustStream) follows the
// opening.
func (ws *documentFirstScheduler) OpenStream(id uint32, opt http2.OpenStreamOptions) { //nolint:staticcheck // see configureHTTP2
	ws.streams[id] = &streamRank{urgency: -1, pusher: opt.PusherID}
}

// AdjustStream takes a stream's first priority; a later change (a PRIORITY
// frame after the stream has frames queued) is ignored, since its queued
// frames cannot move to another inner scheduler.
func (ws *documentFirstScheduler) AdjustStream(id uint32, p http2.PriorityParam) {
	if r := ws.streams[id]; r != nil && !r.placed {
		r.urgency = urgencyOf(p)
	}
}

func (ws *documentFirstScheduler) place(id uint32, r *streamRank) {
	r.placed = true
	if r.urgency < 0 {
		ws.unranked.OpenStream(id, http2.OpenStreamOptions{PusherID: r.pusher}) //nolint:staticcheck // see configureHTTP2
		return
	}
	inner := ws.byUrg[r.urgency]
	inner.OpenStream(id, http2.OpenStreamOptions{PusherID: r.pusher}) //nolint:staticcheck // see configureHTTP2
	if o := ws.order[r.urgency]; len(o) > 0 {
		inner.AdjustStream(id, http2.PriorityParam{StreamDep: o[len(o)-1], Weight: 255})
	}
	ws.order[r.urgency] = append(ws.order[r.urgency], id)
}

func (ws *documentFirstScheduler) CloseStream(id uint32) {
	r := ws.streams[id]
	if r == nil {
		return
	}
	delete(ws.streams, id)
	if !r.placed {
		return
	}
	if r.urgency < 0 {
		ws.unranked.CloseStream(id)
		return
	}
	ws.byUrg[r.urgency].CloseStream(id)
	o := ws.order[r.urgency]
	if i := slices.Index(o, id); i >= 0 {
		ws.order[r.urgency] = slices.Delete(o, i, i+1)
	}
}

func (ws *documentFirstScheduler) Push(wr http2.FrameWriteRequest) { //nolint:staticcheck // see configureHTTP2
	r := ws.streams[wr.StreamID()]
	if r == nil {
		// Connection frames, and frames of streams already closed (a
		// reset): the inner scheduler queues them as control frames.
		ws.control.Push(wr)
		return
	}
	if !r.placed {
		ws.place(wr.StreamID(), r)
	}
	if r.urgency < 0 {
		ws.unranked.Push(wr)
		return
	}
	ws.byUrg[r.urgency].Push(wr)
}

func (ws *documentFirstScheduler) Pop() (http2.FrameWriteRequest, bool) { //nolint:staticcheck // see configureHTTP2
	if wr, ok := ws.control.Pop(); ok {
		return wr, true
	}
	for _, inner := range ws.byUrg {
		if wr, ok := inner.Pop(); ok {
			return wr, true
		}
	}
	return ws.unranked.Pop()
}
