// Package earlyhints sends 103 Early Hints for web pages.
//
// Handler is a net/http middleware that learns, from the responses of the
// handler it wraps, which resources each page needs (the Link headers and a
// scan of the document head), and sends them as one 103 Early Hints response
// the moment the next navigation to that page arrives, while the wrapped
// handler is still generating the page.
//
// # How a request flows
//
// Data flows one way: request → gate → store → 103 → next → observe →
// learn → store. Each step has one home:
//
//   - gate (handler.go, Handler.gate): GET/HEAD navigations over HTTP/2 and
//     HTTP/3 (HTTP/1.1 opt-in, HTTP/1.0 never); IsNavigation lives in
//     internal/httpx with the other lexing rules.
//   - route key (handler.go, Handler.RouteKey): scheme, normalised host (or
//     Config.RouteHost), path and the configured query parameters;
//     RequestURL (beside it, from the same scheme and host) is the
//     request's absolute URL.
//   - store (hintstore): links stored ready to write, a Vary mark per
//     route with its variants under hintstore.VariantKey (vary.go), what
//     browsers fetched under hintstore.ObservedKey (observed.go), the privacy
//     quorum and the hinted-target index.
//   - 103 (handler.go, sendLearned, capValues, writeEarlyHints): a
//     HintTaker among the writers outside (taker.go; package push) first
//     takes what it delivers otherwise, then the caps, the document budget
//     from the route's think time (fieldview.go), and only Link fields in
//     the 103.
//   - observe (response.go, observingWriter): the origin's own 103, the final
//     status (a redirect, 404/410 or non-HTML 200 forgets the route), a
//     bounded copy of the head; subresources (handler.go, statusWriter): the
//     404/410 rule, the field view, observed learning.
//   - learn (learn.go, learner): off the request path, rate-bounded; scan
//     (package scan), validation (hint.go; every URL is canonicalised by
//     internal/weburl, which scan, push and inspect share, and resolved
//     once: scanned targets are taken as the scanner wrote them), the
//     privacy rules (privacy.go: request-bound links, requesters by
//     network and account), then one Observation to the store.
package earlyhints
