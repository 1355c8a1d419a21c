// Package proxy is the reverse proxy that earlyhints puts in front of an
// origin: it forwards requests only to configured origins (by Host), streams
// bodies, passes WebSocket upgrades, cleans hop-by-hop fields from the
// origin's 1xx responses as well as its final ones, and answers a down or
// hanging origin with a 502 or 504 whose body says what to check.
//
// The proxy goes inside the Early Hints middleware, so the middleware sees
// the origin's responses (and its own 103s) and learns from them:
//
//	p, _ := proxy.New(proxy.Config{Default: origin})
//	mw, _ := earlyhints.New(p, earlyhints.Config{})
//	handler := proxy.AccessLog(mw, logger) // one log line per request
//
// AccessLog goes outermost so that it sees every 103 that reaches the client.
package proxy
