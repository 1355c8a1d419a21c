// Package metrics exports what the Early Hints middleware decides as
// Prometheus metrics: it implements earlyhints.Observer (and push.Observer,
// for legacy HTTP/2 push) and registers its collectors on the registry it
// is given.
package metrics

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/push"
)

// Observer counts earlyhints events. Its zero value is not usable: call New.
type Observer struct {
	sent      prometheus.Counter
	links     prometheus.Counter
	linkBytes prometheus.Counter
	skipped   *prometheus.CounterVec
	// skippedBy holds the skipped counter of each known reason once it has
	// been seen, so the request path does not look labels up every time
	// (a series appears at its first event, as with WithLabelValues).
	skippedBy  [len(knownReasons)]atomic.Pointer[prometheus.Counter]
	learned    prometheus.Counter
	invalid    prometheus.Counter
	storeErrs  prometheus.Counter
	notLearned *prometheus.CounterVec
	forwarded  prometheus.Counter
	suppressed prometheus.Counter
	dropped    prometheus.Counter
	pushed     prometheus.Counter
	pushBytes  prometheus.Counter
	pushSkip   prometheus.Counter
	pushCancel prometheus.Counter
	latency    prometheus.Histogram
	leftOut    *prometheus.CounterVec
	think      prometheus.Histogram
}

var (
	_ earlyhints.Observer = (*Observer)(nil)
	_ push.Observer       = (*Observer)(nil)
)

// New registers the collectors on reg (nil means prometheus.DefaultRegisterer)
// under the namespace "earlyhints".
func New(reg prometheus.Registerer) (*Observer, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "earlyhints", Name: name, Help: help})
	}
	o := &Observer{
		sent:      counter("responses_sent_total", "103 Early Hints responses sent."),
		links:     counter("links_sent_total", "Link values sent in 103 responses."),
		linkBytes: counter("link_bytes_sent_total", "Bytes of Link values sent in 103 responses."),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earlyhints", Name: "skipped_total", Help: "Requests that got no 103, by reason.",
		}, []string{"reason"}),
		learned:   counter("observations_total", "Responses learned from."),
		invalid:   counter("invalid_input_total", "Malformed input the learner rejected: Link values it cannot parse, HTML it cannot decode, targets no browser would fetch."),
		storeErrs: counter("store_errors_total", "Observations the hint store failed to keep (see earlyhints_store_up)."),
		notLearned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earlyhints", Name: "links_not_learned_total",
			Help: "Links pages name that are never hinted, by rule: cross_site (another site's file; its origin is preconnected instead), personal (a value of its request).",
		}, []string{"reason"}),
		forwarded:  counter("forwarded_total", "103 responses of the origin passed to the client."),
		suppressed: counter("suppressed_total", "Later 103 responses not written (browsers act on the first only)."),
		dropped:    counter("dropped_targets_total", "Hinted targets forgotten after a 404, 410 or no-store."),
		pushed:     counter("push_streams_total", "Streams pushed (legacy HTTP/2 push)."),
		pushBytes:  counter("push_bytes_total", "Body bytes pushed (legacy HTTP/2 push)."),
		pushSkip:   counter("push_skipped_total", "Pushes skipped because the client's cache digest has the asset."),
		pushCancel: counter("push_cancelled_total", "Pushed streams the client cancelled (RST_STREAM)."),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "earlyhints", Name: "hint_latency_seconds",
			Help:    "Time from the request's arrival to the 103 being written.",
			Buckets: []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 2e-3, 1e-2, 5e-2},
		}),
		leftOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "earlyhints", Name: "links_left_out_total", Help: "Hints left out of a 103, by reason (document_budget: they would not arrive before the document).",
		}, []string{"reason"}),
		think: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "earlyhints", Name: "origin_think_seconds",
			Help:    "Time from a navigation's arrival to the origin's final headers: the head start Early Hints have.",
			Buckets: []float64{0.005, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5},
		}),
	}
	for _, c := range []prometheus.Collector{
		o.sent, o.links, o.linkBytes, o.skipped, o.learned, o.invalid, o.storeErrs, o.notLearned, o.forwarded,
		o.suppressed, o.dropped, o.pushed, o.pushBytes, o.pushSkip, o.pushCancel, o.latency,
		o.leftOut, o.think,
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("metrics: already registered (create one Observer per registry): %w", err)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return o, nil
}

// knownReasons are the skip reasons the middleware reports.
var knownReasons = [...]string{
	earlyhints.ReasonMethod, earlyhints.ReasonNotNav, earlyhints.ReasonProtocol, earlyhints.ReasonUserAgent,
	earlyhints.ReasonNoHints, earlyhints.ReasonStoreError, earlyhints.ReasonDisabled,
}

func reasonIndex(reason string) int {
	for i, r := range knownReasons {
		if r == reason {
			return i
		}
	}
	return -1
}

// skip counts one skipped request for reason.
func (o *Observer) skip(reason string) {
	i := reasonIndex(reason)
	if i < 0 {
		o.skipped.WithLabelValues(reason).Inc()
		return
	}
	c := o.skippedBy[i].Load()
	if c == nil {
		counter := o.skipped.WithLabelValues(reason)
		c = &counter
		o.skippedBy[i].Store(c)
	}
	(*c).Inc()
}

// Observe implements earlyhints.Observer.
func (o *Observer) Observe(e earlyhints.Event) {
	switch e.Kind {
	case earlyhints.EventSent:
		o.sent.Inc()
		o.links.Add(float64(e.Links))
		o.linkBytes.Add(float64(e.Bytes))
		o.latency.Observe(e.Elapsed.Seconds())
	case earlyhints.EventSkipped:
		o.skip(e.Reason)
	case earlyhints.EventLearned:
		o.learned.Inc()
	case earlyhints.EventInvalid:
		if e.Reason == earlyhints.ReasonStoreError {
			o.storeErrs.Inc()
		} else {
			o.invalid.Inc()
		}
	case earlyhints.EventNotLearned:
		o.notLearned.WithLabelValues(e.Reason).Add(float64(max(e.Links, 1)))
	case earlyhints.EventForwarded:
		o.forwarded.Inc()
	case earlyhints.EventSuppressed:
		o.suppressed.Inc()
	case earlyhints.EventDropped:
		o.dropped.Inc()
	case earlyhints.EventLeftOut:
		o.leftOut.WithLabelValues(e.Reason).Add(float64(e.Links))
	case earlyhints.EventAnswered:
		o.think.Observe(e.Elapsed.Seconds())
	}
}

// ObservePush implements push.Observer.
func (o *Observer) ObservePush(e push.Event) {
	switch e.Kind {
	case push.EventPushed:
		o.pushed.Inc()
		o.pushBytes.Add(float64(e.Bytes))
	case push.EventSkipped:
		o.pushSkip.Inc()
	case push.EventCancelled:
		o.pushCancel.Inc()
	}
}

// Fanout sends each event to every observer in turn.
type Fanout []earlyhints.Observer

// Observe implements earlyhints.Observer.
func (f Fanout) Observe(e earlyhints.Event) {
	for _, o := range f {
		if o != nil {
			o.Observe(e)
		}
	}
}
