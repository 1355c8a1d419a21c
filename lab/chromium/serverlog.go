package chromium

import (
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints/internal/responsewriter"
)

// ServerRequest is one request as the server saw it.
type ServerRequest struct {
	Method string
	// Path is the request's path and query, as the browser wrote it.
	Path   string
	Proto  string
	Header http.Header
	// Arrived is when the handler was called; Responded when the final
	// (non-1xx) response header was written, zero if it never was.
	Arrived   time.Time
	Responded time.Time
	Status    int
}

// ServerLog is an http.Handler that records every request it passes to
// next, with server-side timestamps.
//
// Chromium reports an Early Hints preload in Resource Timing when the page
// uses it, not when it was fetched; the server's log says when the fetch
// really happened. Join puts the two side by side.
type ServerLog struct {
	next    http.Handler
	mu      sync.Mutex
	entries []*ServerRequest
}

var _ http.Handler = (*ServerLog)(nil)

// NewServerLog returns a ServerLog in front of next.
func NewServerLog(next http.Handler) *ServerLog { return &ServerLog{next: next} }

// ServeHTTP implements http.Handler.
func (l *ServerLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := &ServerRequest{Method: r.Method, Path: r.URL.RequestURI(), Proto: r.Proto, Header: r.Header.Clone(), Arrived: time.Now()}
	l.mu.Lock()
	l.entries = append(l.entries, e)
	l.mu.Unlock()
	lw := &logWriter{Wrapper: responsewriter.Wrap(w), log: l, entry: e}
	l.next.ServeHTTP(responsewriter.WithHijacker(lw), r)
	lw.WriteHeader(http.StatusOK) // a handler that wrote nothing answered 200
}

// Len is the number of requests logged so far: a mark for Since.
func (l *ServerLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Since returns copies of the requests logged after mark (a Len value).
func (l *ServerLog) Since(mark int) []ServerRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ServerRequest, 0, max(len(l.entries)-mark, 0))
	for _, e := range l.entries[min(mark, len(l.entries)):] {
		out = append(out, *e)
	}
	return out
}

// Entries returns copies of every request logged.
func (l *ServerLog) Entries() []ServerRequest { return l.Since(0) }

type logWriter struct {
	responsewriter.Wrapper
	log   *ServerLog
	entry *ServerRequest
	done  bool
}

func (w *logWriter) WriteHeader(code int) {
	if w.done {
		return
	}
	if responsewriter.Informational(code) {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.log.mu.Lock()
	w.entry.Responded, w.entry.Status = time.Now(), code
	w.log.mu.Unlock()
	w.done = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

func (w *logWriter) Flush() {
	w.WriteHeader(http.StatusOK)
	w.Wrapper.Flush()
}

// Fetch is one URL of a visit seen from both ends: the browser's Resource
// Timing entry and Network request, and the server's log.
type Fetch struct {
	URL string
	// Resource and Request are nil when the browser recorded none.
	Resource *ResourceTiming
	Request  *Request
	// Server holds the server's log entries for the URL's path, in order.
	Server []ServerRequest
	// ServerArrived is when the first of them reached the server, in
	// milliseconds on the page's timeline (comparable with
	// Resource.StartTime); -1 when the server saw none.
	ServerArrived float64
}

// Join matches the visit's resources and requests with server log entries
// by path and query (the host the browser used can differ from the one the
// server saw, behind a proxy or relay). Pass the entries logged during the
// visit (ServerLog.Since a mark taken before Navigate).
func (v *Visit) Join(log []ServerRequest) []Fetch {
	var out []Fetch
	index := map[string]int{}
	add := func(raw string) *Fetch {
		if i, ok := index[raw]; ok {
			return &out[i]
		}
		index[raw] = len(out)
		out = append(out, Fetch{URL: raw, ServerArrived: -1})
		f := &out[len(out)-1]
		u, err := url.Parse(raw)
		if err != nil {
			return f
		}
		for _, e := range log {
			if e.Path == u.RequestURI() {
				if len(f.Server) == 0 {
					f.ServerArrived = v.At(e.Arrived)
				}
				f.Server = append(f.Server, e)
			}
		}
		return f
	}
	for i := range v.Requests {
		add(v.Requests[i].URL).Request = &v.Requests[i]
	}
	for i := range v.Resources {
		add(v.Resources[i].Name).Resource = &v.Resources[i]
	}
	return out
}
