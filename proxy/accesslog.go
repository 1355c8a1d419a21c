package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earlyhints/earlyhints/internal/responsewriter"
)

// Outcomes of a request, as the access log's outcome field names them.
const (
	// OutcomeOK: the response went out whole.
	OutcomeOK = "ok"
	// OutcomeClientCancelled: the client went away (closed the connection,
	// reset the stream) before the response was complete. Logged with
	// status 499 when no status had reached it, as nginx does.
	OutcomeClientCancelled = "client-cancelled"
	// OutcomeOriginTimeout: the origin sent no headers within Timeout (504),
	// or stopped sending the body for IdleTimeout (the response was cut).
	OutcomeOriginTimeout = "origin-timeout"
	// OutcomeOriginError: the origin could not be reached or answered
	// something that is not HTTP (502).
	OutcomeOriginError = "origin-error"
	// OutcomeOriginReset: the origin broke off the body (the response was
	// cut).
	OutcomeOriginReset = "origin-reset"
	// OutcomeHeaderLimit: the origin's headers or 1xx responses exceeded
	// the configured bounds (502).
	OutcomeHeaderLimit = "header-limit"
	// OutcomeRejected: the proxy answered itself and forwarded nothing (421
	// for an unknown host, 405 or 501 for a method it does not forward).
	OutcomeRejected = "rejected"
)

// StatusClientClosedRequest is the status logged for a request whose client
// went away before any status reached it (nginx's 499). It is never sent.
const StatusClientClosedRequest = 499

// Stats is what AccessLog reports about one request. The proxy fills in the
// origin part and the outcome; AccessLog the rest.
type Stats struct {
	mu         sync.Mutex
	id         string
	origin     string
	originTime time.Duration
	outcome    string
	reason     string
	hinted     bool // a 103 went to the client
	hintLinks  int  // the links of the first one
}

// requestIDs are a random per-process prefix and a counter: unique within
// a fleet for practical purposes, and cheap enough for every request.
var (
	requestIDPrefix = func() string {
		var b [4]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()
	requestIDCounter atomic.Uint64
)

func newRequestID() string {
	return requestIDPrefix + "-" + strconv.FormatUint(requestIDCounter.Add(1), 36)
}

// RequestID is the ID under which the access log records the request; error
// answers show it to the client.
func (s *Stats) RequestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == "" {
		s.id = newRequestID()
	}
	return s.id
}

// setOutcome records how the request ended; the first cause recorded wins,
// since later failures follow from it.
func (s *Stats) setOutcome(outcome, reason string) {
	s.mu.Lock()
	if s.outcome == "" {
		s.outcome, s.reason = outcome, reason
	}
	s.mu.Unlock()
}

type statsKey struct{}

// StatsFrom returns the Stats AccessLog attached to ctx, or a throwaway one.
func StatsFrom(ctx context.Context) *Stats {
	if s, ok := StatsIn(ctx); ok {
		return s
	}
	return &Stats{}
}

// StatsIn returns the Stats AccessLog attached to ctx, and whether there is
// one.
func StatsIn(ctx context.Context) (*Stats, bool) {
	s, ok := ctx.Value(statsKey{}).(*Stats)
	return s, ok
}

// NoteEarlyHints records that a 103 carrying links links went to the
// client. The access log reports the first one: browsers act on no other.
// The proxy passes an origin's 103 on without noting it, since the layer
// outside (the Early Hints middleware) decides whether it reaches the
// client; that layer reports what it sent here, through its events.
func (s *Stats) NoteEarlyHints(links int) {
	s.mu.Lock()
	if !s.hinted {
		s.hinted, s.hintLinks = true, links
	}
	s.mu.Unlock()
}

func (s *Stats) setOrigin(o string) {
	s.mu.Lock()
	s.origin = o
	s.mu.Unlock()
}

func (s *Stats) setOriginTime(d time.Duration) {
	s.mu.Lock()
	if s.originTime == 0 {
		s.originTime = d
	}
	s.mu.Unlock()
}

// AccessLog logs one line per request to logger (nil means slog.Default()),
// whatever its fate: request ID, client address, method, host, path,
// protocol, status, outcome (see the Outcome constants) and its reason,
// whether a 103 reached the client and with how many links (as noted with
// Stats.NoteEarlyHints by the layer that sent it), the bytes of body sent,
// the origin and its time to response headers, and the total time. Wrap it
// around everything else so that it sees exactly what the client got; put
// ClientAddress outside it so that it logs the client rather than a proxy
// in front.
func AccessLog(next http.Handler, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		stats := &Stats{id: newRequestID()}
		lw := responsewriter.NewCounter(w)
		// A response cut short reaches here as a panic (http.ErrAbortHandler
		// from ReverseProxy); it is logged, then passed on so the server
		// closes the connection or resets the stream.
		defer func() {
			p := recover()
			logRequest(logger, r, &lw, stats, start, p)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(responsewriter.WithHijacker(&lw), r.WithContext(context.WithValue(r.Context(), statsKey{}, stats)))
	})
}

// logRequest writes the line of r. lw counted what reached the client (a
// hijacked connection's status is 101: the switch is written on the bare
// connection).
func logRequest(logger *slog.Logger, r *http.Request, lw *responsewriter.Counter, stats *Stats, start time.Time, panicked any) {
	stats.mu.Lock()
	id, origin, originTime, outcome, reason := stats.id, stats.origin, stats.originTime, stats.outcome, stats.reason
	hinted, hintLinks := stats.hinted, stats.hintLinks
	stats.mu.Unlock()
	if outcome == "" {
		switch {
		case panicked == nil:
			outcome = OutcomeOK
		case r.Context().Err() != nil:
			outcome = OutcomeClientCancelled
		case panicked == http.ErrAbortHandler: //nolint:errorlint // the sentinel itself is what net/http panics with
			outcome, reason = OutcomeOriginReset, "the response was aborted"
		default:
			outcome, reason = OutcomeOriginError, "the handler panicked"
		}
	}
	status := lw.Status
	switch {
	case status == 0 && outcome == OutcomeClientCancelled:
		status = StatusClientClosedRequest
	case status == 0:
		status = http.StatusOK // a handler that wrote nothing
	}
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("client", client),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("proto", r.Proto),
		slog.Int("status", status),
		slog.String("outcome", outcome),
		slog.Bool("hinted", hinted),
		slog.Int("hint_links", hintLinks),
		slog.Int64("bytes", lw.Bytes),
		slog.String("origin", origin),
		slog.Float64("origin_ms", ms(originTime)),
		slog.Float64("total_ms", ms(time.Since(start))),
	}
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()/100) / 10 }
