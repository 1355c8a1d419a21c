package caddyearlyhints

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/metrics"
)

// metricsPrefix puts the middleware's metrics among Caddy's HTTP ones:
// caddy_http_earlyhints_responses_sent_total and so on, the names of the
// standalone proxy's /metrics after the prefix.
const metricsPrefix = "caddy_http_"

// observers holds one metrics.Observer per Caddy metrics registry (Caddy
// makes one registry per config), shared by the early_hints handlers of
// that config.
var observers = caddy.NewUsagePool()

type pooledObserver struct {
	key      string
	observer *metrics.Observer
}

// Destruct does nothing: the registry goes away with its config.
func (*pooledObserver) Destruct() error { return nil }

// acquireObserver returns the observer registered on reg, registering one
// at the first handler of a config. A nil reg (a config built outside
// caddy.Run) gets an observer on a registry of its own.
func acquireObserver(reg *prometheus.Registry) (*pooledObserver, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	key := fmt.Sprintf("%p", reg)
	v, _, err := observers.LoadOrNew(key, func() (caddy.Destructor, error) {
		o, err := metrics.New(prometheus.WrapRegistererWithPrefix(metricsPrefix, reg))
		if err != nil {
			return nil, fmt.Errorf("early_hints: %w", err)
		}
		return &pooledObserver{key: key, observer: o}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*pooledObserver), nil
}

func releaseObserver(p *pooledObserver) { _, _ = observers.Delete(p.key) }

// accessLogObserver adds to Caddy's access log entry of a navigation the
// fields the standalone proxy logs: hinted (a 103 went to the client,
// learned or the origin's) and hint_links (its number of links).
type accessLogObserver struct{ next earlyhints.Observer }

func (o accessLogObserver) Observe(e earlyhints.Event) {
	if (e.Kind == earlyhints.EventSent || e.Kind == earlyhints.EventForwarded) && e.Request != nil {
		if f, ok := e.Request.Context().Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
			f.Set(zap.Bool("hinted", true))
			f.Set(zap.Int("hint_links", e.Links))
		}
	}
	o.next.Observe(e)
}
