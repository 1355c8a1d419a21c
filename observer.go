package earlyhints

import (
	"net/http"
	"time"
)

// EventKind says what happened to a request or a response.
type EventKind int

// The events a Handler reports.
const (
	// EventSent: a 103 with Links hints went to the client.
	EventSent EventKind = iota + 1
	// EventSkipped: no 103 was sent; Reason says why.
	EventSkipped
	// EventLearned: a response was observed; Links hints are now stored.
	EventLearned
	// EventInvalid: input was rejected (a bad Link, broken HTML, ...); Err says what.
	EventInvalid
	// EventForwarded: the wrapped handler's own 103 was passed to the client.
	EventForwarded
	// EventSuppressed: a later 103 from the wrapped handler was not written.
	EventSuppressed
	// EventDropped: a hinted target answered 404/410 and was forgotten.
	EventDropped
	// EventLeftOut: Links hints were left out of a 103; Reason says why
	// (ReasonOverBudget).
	EventLeftOut
	// EventAnswered: the origin sent a navigation's final headers after
	// Elapsed (its think time, the hints' head start).
	EventAnswered
	// EventNotLearned: a link the page names is never hinted, by rule, not
	// because the input was wrong; Reason says why (ReasonCrossSite,
	// ReasonPersonal) and Err names the link.
	EventNotLearned
)

var eventNames = [...]string{
	EventSent: "sent", EventSkipped: "skipped", EventLearned: "learned", EventInvalid: "invalid",
	EventForwarded: "forwarded", EventSuppressed: "suppressed", EventDropped: "dropped",
	EventLeftOut: "left_out", EventAnswered: "answered", EventNotLearned: "not_learned",
}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// Skip reasons reported with EventSkipped.
const (
	ReasonMethod     = "method" // not GET or HEAD
	ReasonNotNav     = "not_navigation"
	ReasonProtocol   = "protocol"    // HTTP/1.x while HTTP/1.1 hinting is off
	ReasonUserAgent  = "user_agent"  // on the deny list
	ReasonNoHints    = "no_hints"    // nothing learned for the route yet
	ReasonStoreError = "store_error" // the store failed; the request went on
	ReasonDisabled   = "disabled"
)

// Reasons reported with EventNotLearned.
const (
	// ReasonCrossSite: a preload of another site's file, which browsers
	// drop from a 103 (Config.AllowCrossSitePreload); its origin is
	// preconnected instead.
	ReasonCrossSite = "cross_site"
	// ReasonPersonal: the link carries a value of its request (query,
	// cookie, credentials, a per-user path) and no other request gets it.
	ReasonPersonal = "personal"
)

// Event is one decision of a Handler.
type Event struct {
	Kind   EventKind
	Route  string
	Proto  string
	Links  int
	Bytes  int
	Reason string
	Err    error
	// Elapsed is the time the decision took (for EventSent: from the request's
	// arrival to the 103 being flushed).
	Elapsed time.Duration
	// Request is the navigation the decision is about, for the decisions
	// about its 103 (EventSent, EventSkipped by the gate or the store,
	// EventLeftOut, EventForwarded, EventSuppressed) and EventAnswered; nil
	// for the others. An observer may read it, to account the decision to
	// the request (an access log reads its context), but must not keep it
	// after Observe returns.
	Request *http.Request
}

// Observer receives every decision of a Handler. It is called on the request
// path and must not block.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

type nopObserver struct{}

func (nopObserver) Observe(Event) {}
