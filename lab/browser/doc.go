// Package browser is the lab's browser model: it loads one page the way a
// browser does and records the waterfall.
//
// Load fetches the document (a top-level navigation), acts on the first
// 103 Early Hints (preload and preconnect, over h2 and h3 only, as Chrome
// does), accepts HTTP/2 server push when asked to (through the lab's own
// client in package h2push, since Go's transport refuses push), discovers
// the head's resources with the preload scanner of package scan and the
// body's with a walk over the tokens as they arrive, then stylesheets'
// @import, @font-face and url() references once each stylesheet is in
// (the discovery delay Early Hints and push remove). It obeys the
// connection rules of browsers (six connections per host on HTTP/1.1, one
// per origin on h2 and h3), keeps an HTTP cache for warm visits, and
// computes first render (document plus render-blocking resources), load
// time, bytes and wasted bytes.
//
// Priorities: every request carries the RFC 9218 Priority field Chromium
// sends for it (the document "u=0, i"; stylesheets and fonts 0;
// synchronous and module scripts and fetchpriority=high images 1; images
// 2, incremental; async and defer scripts 3), which the HTTP/2 client
// also sends as the stream weight Chrome derives from the urgency, so
// that the server under test orders its writes as it would for Chromium
// (Go's net/http HTTP/2 client, used when H2PushClient is off, cannot
// send a weight). A host's requests leave in the order the scheduler
// starts them, and the scheduler follows Chrome's: requests start in
// priority order (then discovery order); while the head is parsed or a
// render-blocking request is in flight at most two images of the page
// are in flight (Config.DelayableWhileBlocking), and async and defer
// scripts wait until the parser reaches the body, past the head's
// synchronous scripts ("tight mode"). A 103's preloads are the browser's
// own and are never held. Push is measured as it happens on the wire.
//
// What the model does not do: execute scripts (resources that scripts
// import or inject are never fetched), lay out the page (every @font-face
// and url() of a used stylesheet is fetched, and images are fetched even
// when lazy), spend CPU (parsing, style, a restarted browser's disk-cache
// reads: a cache hit is at once), follow redirects, or count header bytes.
package browser
