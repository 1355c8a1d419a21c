package push

// EventKind says what push did with one asset.
type EventKind int

// The events a Pusher reports.
const (
	// EventPushed: a promised stream was served whole; Bytes counts its body.
	EventPushed EventKind = iota + 1
	// EventSkipped: an asset was not pushed; Reason says why ("digest": the
	// client's cache digest has this version).
	EventSkipped
	// EventCancelled: the client reset a promised stream (it had the asset,
	// or did not want it); Bytes counts the body sent before.
	EventCancelled
)

var eventNames = [...]string{EventPushed: "pushed", EventSkipped: "push_skipped", EventCancelled: "push_cancelled"}

func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// ReasonDigest is the Reason of an EventSkipped for an asset the client's
// cache digest already has.
const ReasonDigest = "digest"

// Event is one decision of a Pusher about one asset.
type Event struct {
	Kind EventKind
	// Target is the asset's absolute URL.
	Target string
	// Proto is the protocol of the request the asset was pushed on.
	Proto  string
	Bytes  int
	Reason string
}

// Observer receives every push event. It is called on the request path
// and must not block. Its method is not Observe so that one type (a metrics
// exporter) can be an earlyhints.Observer too.
type Observer interface {
	ObservePush(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// ObservePush calls f(e).
func (f ObserverFunc) ObservePush(e Event) { f(e) }
