// Package hintlog feeds the Early Hints middleware's decisions into the
// proxy's access log: the 103 the middleware sent, or the origin's it passed
// on, with its number of links (Passthrough notes the origin's 103s when the
// middleware is off). The proxy knows nothing of the middleware
// (its access log only offers Stats.NoteEarlyHints), and the middleware
// nothing of the proxy; this package is the one place that knows both.
package hintlog

import (
	"net/http"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/responsewriter"
	"github.com/earlyhints/earlyhints/linkheader"
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

// Passthrough returns next with each 103 it writes noted in the access-log
// Stats of its request, for a stack whose middleware is off (--mode off):
// the origin's 103s then pass through the proxy and reach the client
// without an event to say so.
func Passthrough(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := proxy.StatsIn(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(responsewriter.WithHijacker(&noting{Wrapper: responsewriter.Wrap(w), stats: s}), r)
	})
}

// noting notes the 103s written through it.
type noting struct {
	responsewriter.Wrapper
	stats *proxy.Stats
}

func (n *noting) WriteHeader(code int) {
	if code == http.StatusEarlyHints {
		n.stats.NoteEarlyHints(linkheader.Count(n.Header()["Link"]...))
	}
	n.ResponseWriter.WriteHeader(code)
}
