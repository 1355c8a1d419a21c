// Package earlyhints sends 103 Early Hints for web pages.
//
// Handler is a net/http middleware that learns, from the responses of the
// handler it wraps, which resources each page needs (the Link headers and a
// scan of the document head), and sends them as one 103 Early Hints response
// the moment the next navigation to that page arrives, while the wrapped
// handler is still generating the page.
package earlyhints
