package browser

import (
	"time"
)

// Initiators of an Entry.
const (
	InitNavigation = "navigation"  // the document itself
	InitParser     = "parser"      // found in the HTML (preload scanner or parser)
	InitEarlyHints = "early-hints" // preloaded from the first 103
	InitPush       = "push"        // pushed by the server
	InitCSS        = "css"         // found in a stylesheet: @import, @font-face, url()
	InitCache      = "cache"       // served fresh from the HTTP cache, no request
)

// Kinds of an Entry (the "as" destination).
const (
	KindDocument = "document"
	KindStyle    = "style"
	KindScript   = "script"
	KindFont     = "font"
	KindImage    = "image"
	KindFetch    = "fetch"
	KindOther    = "other"
)

// Entry is one row of the waterfall. Times are offsets from the start of
// the navigation.
type Entry struct {
	URL       string
	Kind      string
	Initiator string
	// Priority is the model's scheduling class: -1 document, 0 render-
	// blocking (stylesheets, synchronous scripts), 1 fonts and
	// fetchpriority=high images, 2 images, 3 module scripts, 4 async and
	// defer scripts, 5 the rest.
	Priority int
	Status   int
	// Start is when the request was sent (for a push: when its
	// PUSH_PROMISE arrived; for a cache hit: when it was found).
	Start     time.Duration
	FirstByte time.Duration
	End       time.Duration
	// Bytes is the body bytes received on the wire (before content
	// decoding; headers are not counted).
	Bytes int64
	// FromCache marks a response served from the HTTP cache, fresh or
	// after a 304.
	FromCache bool
	// Revalidated marks a 304 answer to a conditional request.
	Revalidated bool
	// RenderBlocking marks a resource the first render waits for.
	RenderBlocking bool
	// Used is false for a pushed or hinted resource the page never asked
	// for.
	Used bool
	// Wasted marks bytes the page did not need: unused pushes and hints,
	// and pushes of resources already cached.
	Wasted      bool
	WastedBytes int64
	// Cancelled marks a push refused with RST_STREAM(CANCEL).
	Cancelled bool
	Error     string
}

// Result is the waterfall of one page load and its metrics.
type Result struct {
	URL   string
	Proto string
	// Entries are the document and every resource, by start time.
	Entries []Entry
	// HTMLFirstByte is when the document's final response headers
	// arrived; HTMLEnd when its last byte did.
	HTMLFirstByte time.Duration
	HTMLEnd       time.Duration
	// EarlyHints is true when a 103 arrived; EarlyHintsAt is when the
	// first one did.
	EarlyHints   bool
	EarlyHintsAt time.Duration
	// RenderTime is when the document and every render-blocking resource
	// had arrived: the model's first render.
	RenderTime time.Duration
	// LoadTime is when the document and every resource it uses had
	// arrived: the model's load event.
	LoadTime time.Duration
	// Bytes is the body bytes received, document included; WastedBytes
	// the part of them the page did not need.
	Bytes       int64
	WastedBytes int64
	// Connections is the number of connections opened (TCP+TLS or QUIC).
	Connections int
	// Pushes counts PUSH_PROMISEs received, PushesCancelled the ones
	// refused because the resource was cached.
	Pushes, PushesCancelled int
}

// Entry returns the entry for url, if any (the used one when a resource
// appears twice).
func (r *Result) Entry(url string) (Entry, bool) {
	var found Entry
	ok := false
	for _, e := range r.Entries {
		if e.URL == url && (!ok || e.Used) {
			found, ok = e, true
		}
	}
	return found, ok
}

func (r *Result) computeMetrics() {
	r.RenderTime, r.LoadTime = r.HTMLEnd, r.HTMLEnd
	r.Bytes, r.WastedBytes = 0, 0
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Initiator != InitNavigation && !e.Used && (e.Initiator == InitPush || e.Initiator == InitEarlyHints || e.Cancelled) {
			e.Wasted = true
			e.WastedBytes = e.Bytes
		}
		r.Bytes += e.Bytes
		r.WastedBytes += e.WastedBytes
		if !e.Used {
			continue
		}
		r.LoadTime = max(r.LoadTime, e.End)
		if e.RenderBlocking {
			r.RenderTime = max(r.RenderTime, e.End)
		}
	}
}
