// Package proxy is the reverse proxy that earlyhints puts in front of an
// origin: it forwards requests only to configured origins (by Host) and only
// with methods a reverse proxy should forward, streams bodies, passes
// WebSocket upgrades, bounds what an origin may send (header bytes, 1xx
// responses, a body that stalls), passes an origin's 103 on with its Link
// fields alone, cleans hop-by-hop fields from every response, and answers a
// down or hanging origin with a 502 or 504 that carries a request ID rather
// than the origin's address.
//
// The proxy goes inside the Early Hints middleware, so the middleware sees
// the origin's responses (and its own 103s) and learns from them:
//
//	p, _ := proxy.New(proxy.Config{Default: origin})
//	mw, _ := earlyhints.New(p, earlyhints.Config{Observer: earlyhints.ObserverFunc(func(e earlyhints.Event) {
//		if e.Kind == earlyhints.EventSent || e.Kind == earlyhints.EventForwarded {
//			proxy.StatsFrom(e.Request.Context()).NoteEarlyHints(e.Links) // the log's hinted, hint_links
//		}
//	})})
//	handler := proxy.AccessLog(mw, logger)          // one log line per request
//	handler = proxy.ClientAddress(handler, trusted) // behind a load balancer
//
// AccessLog goes outside the middleware so that it sees the whole response
// the client got; ClientAddress outermost, so that the log and the
// middleware see the client rather than the balancer in r.RemoteAddr. The
// proxy does not depend on the middleware: the middleware's events say what
// 103 it sent (the command wires them in internal/hintlog).
package proxy
