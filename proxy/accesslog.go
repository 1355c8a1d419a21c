package proxy

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Stats is what AccessLog reports about one request. The proxy fills in the
// origin part; AccessLog the rest.
type Stats struct {
	mu         sync.Mutex
	origin     string
	originTime time.Duration
}

type statsKey struct{}

// StatsFrom returns the Stats AccessLog attached to ctx, or a throwaway one.
func StatsFrom(ctx context.Context) *Stats {
	if s, ok := ctx.Value(statsKey{}).(*Stats); ok {
		return s
	}
	return &Stats{}
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

// AccessLog logs one line per request to logger (nil means slog.Default()):
// method, host, path, protocol, status, whether a 103 reached the client and
// with how many links, the origin and its time to response headers, and the
// total time. Wrap it around everything else so that it sees exactly what the
// client got.
func AccessLog(next http.Handler, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		stats := &Stats{}
		lw := &logWriter{ResponseWriter: w}
		var rw http.ResponseWriter = lw
		if hj, ok := w.(http.Hijacker); ok {
			rw = hijackLogWriter{logWriter: lw, hj: hj}
		}
		next.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), statsKey{}, stats)))
		status := lw.status
		if status == 0 {
			status = http.StatusOK // a handler that wrote nothing
		}
		stats.mu.Lock()
		origin, originTime := stats.origin, stats.originTime
		stats.mu.Unlock()
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("host", r.Host),
			slog.String("path", r.URL.Path),
			slog.String("proto", r.Proto),
			slog.Int("status", status),
			slog.Bool("hinted", lw.hints > 0),
			slog.Int("hint_links", lw.links),
			slog.Int64("bytes", lw.bytes),
			slog.String("origin", origin),
			slog.Float64("origin_ms", ms(originTime)),
			slog.Float64("total_ms", ms(time.Since(start))),
		)
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()/100) / 10 }

// logWriter watches what reaches the client: each 103 and its links, the
// final status and the body size.
type logWriter struct {
	http.ResponseWriter
	status int
	hints  int // 103 responses written
	links  int // links in the first 103
	bytes  int64
}

func (l *logWriter) WriteHeader(code int) {
	switch {
	case code == http.StatusEarlyHints && l.status == 0:
		if l.hints == 0 {
			for _, v := range l.Header()["Link"] {
				l.links += countLinks(v)
			}
		}
		l.hints++
	case code >= 200 || code == http.StatusSwitchingProtocols:
		if l.status == 0 {
			l.status = code
		}
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *logWriter) Write(b []byte) (int, error) {
	if l.status == 0 {
		l.status = http.StatusOK
	}
	n, err := l.ResponseWriter.Write(b)
	l.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher.
func (l *logWriter) Flush() { _ = http.NewResponseController(l.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the writer below.
func (l *logWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// Push keeps http.Pusher available to the handlers inside.
func (l *logWriter) Push(target string, opts *http.PushOptions) error {
	if p, ok := l.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

// hijackLogWriter is a logWriter over a connection that can be hijacked
// (HTTP/1.1), so code that type-asserts http.Hijacker keeps working.
type hijackLogWriter struct {
	*logWriter
	hj http.Hijacker
}

func (h hijackLogWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h.status == 0 {
		h.status = http.StatusSwitchingProtocols
	}
	return h.hj.Hijack()
}

// countLinks counts the links in one Link field value: commas outside
// <...> and quoted strings.
func countLinks(v string) int {
	n, inURI, inQuote, content := 0, false, false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote:
			switch c {
			case '\\':
				i++
			case '"':
				inQuote = false
			}
		case inURI:
			if c == '>' {
				inURI = false
			}
		case c == '<':
			inURI, content = true, true
		case c == '"':
			inQuote = true
		case c == ',':
			if content {
				n++
			}
			content = false
		case c != ' ' && c != '\t':
			content = true
		}
	}
	if content {
		n++
	}
	return n
}
