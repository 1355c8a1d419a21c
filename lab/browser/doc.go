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
// Priorities: Go's HTTP/2 and HTTP/3 clients cannot send stream
// priorities, so the model applies them on the client side the way
// Chrome's resource scheduler does: requests leave in priority order
// (stylesheets and synchronous scripts, then fonts, then other scripts,
// then images), and images are held back while the head is parsed or a
// render-blocking request is in flight (Config.DelayableWhileBlocking).
// What a server does with its own bandwidth (push competing with the
// document) is measured as it happens on the wire.
//
// What the model does not do: execute scripts (resources that scripts
// import or inject are never fetched), lay out the page (every @font-face
// and url() of a used stylesheet is fetched, and images are fetched even
// when lazy), follow redirects, or count header bytes.
package browser
