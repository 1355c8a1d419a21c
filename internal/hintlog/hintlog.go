// Package hintlog feeds the Early Hints middleware's decisions into the
// proxy's access log: the 103 the middleware sent, or the origin's it passed
// on, with its number of links. The proxy knows nothing of the middleware
// (its access log only offers Stats.NoteEarlyHints), and the middleware
// nothing of the proxy; this package is the one place that knows both.
package hintlog

import (
	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/proxy"
)

// Observer returns an earlyhints.Observer that notes each 103 that went to a
// client in the access-log Stats of its request (see proxy.AccessLog), then
// passes every event to next (nil: none).
func Observer(next earlyhints.Observer) earlyhints.Observer {
	return observer{next: next}
}

type observer struct{ next earlyhints.Observer }

func (o observer) Observe(e earlyhints.Event) {
	if (e.Kind == earlyhints.EventSent || e.Kind == earlyhints.EventForwarded) && e.Request != nil {
		if s, ok := proxy.StatsIn(e.Request.Context()); ok {
			s.NoteEarlyHints(e.Links)
		}
	}
	if o.next != nil {
		o.next.Observe(e)
	}
}
