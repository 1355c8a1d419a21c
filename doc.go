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
// Data flows one way: request → gate → navigation → store → 103 → next →
// observe → learn → store. Handler.ServeHTTP (handler.go) gates the request
// and builds the navigation once (navigation.go: route key, field stats,
// and the client network and request URL computed on first use and
// kept); sendLearned (send.go) sends the learned 103; the observing writer
// (response.go) passes the response through and hands it to the learner
// (learn.go), which takes the navigation and the response head and learns
// off the request path, with the privacy rules (privacy.go), Vary
// (vary.go) and hint validation (hint.go). A request
// that is no navigation goes to serveSubresource (subresource.go). Calls
// between the files go one way; ARCHITECTURE.md at the repository root
// follows a request through them file by file.
package earlyhints
