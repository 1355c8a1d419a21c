// Package h2push is a small HTTP/2 client that accepts server push.
//
// Go's own HTTP/2 client never enables push (golang/go#18594), so the lab
// needs its own to measure what push does to a page load. It is built on
// golang.org/x/net/http2's Framer and hpack only (never on that package's
// server or transport): it negotiates h2 over TLS, advertises
// SETTINGS_ENABLE_PUSH=1 and large receive windows, sends bodyless requests
// (GET, HEAD) on concurrent streams, decodes every header block — response
// HEADERS, CONTINUATION and PUSH_PROMISE — with the connection's single HPACK
// decoder in arrival order, reports 1xx responses (103 Early Hints) to
// httptrace.ClientTrace.Got1xxResponse, refuses unwanted pushes with
// RST_STREAM(CANCEL), answers PING, honours GOAWAY and keeps every buffer
// bounded by the flow-control windows it grants.
package h2push

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Errors returned by a Conn.
var (
	ErrClosed     = errors.New("h2push: connection closed")
	ErrGoAway     = errors.New("h2push: server sent GOAWAY; open a new connection and retry")
	ErrBody       = errors.New("h2push: requests with a body are not supported; send GET or HEAD")
	ErrNoH2       = errors.New("h2push: server did not negotiate h2 over ALPN; enable HTTP/2 on the server")
	ErrStreamDone = errors.New("h2push: stream reset")
)

// Config configures a Conn. The zero value works (push disabled).
type Config struct {
	// TLS is the client TLS configuration; NextProtos is forced to ["h2"].
	// Nil means a default tls.Config (system roots).
	TLS *tls.Config
	// DialContext dials the TCP connection; nil means a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// EnablePush advertises SETTINGS_ENABLE_PUSH=1. Default false: a push
	// from the server is then a connection error, as RFC 9113 requires.
	EnablePush bool
	// OnPush is called, on the connection's read loop, for every accepted
	// PUSH_PROMISE. It must not block; it may call Push.Cancel. With
	// EnablePush and a nil OnPush every push is cancelled.
	OnPush func(*Push)
	// InitialWindowSize is the receive window of each stream; 0 means
	// 6 MiB (Chrome's value).
	InitialWindowSize uint32
	// ConnWindowSize is the connection receive window; 0 means 15 MiB
	// (Chrome's value).
	ConnWindowSize uint32
	// MaxHeaderListSize bounds a decoded header block (RFC 9113 size: name
	// + value + 32 per field); 0 means 64 KiB.
	MaxHeaderListSize uint32
	// MaxConcurrentPushes is advertised as SETTINGS_MAX_CONCURRENT_STREAMS
	// (it limits server-initiated streams); 0 means 100.
	MaxConcurrentPushes uint32
	// WriteTimeout bounds each write to the socket; 0 means 10 s.
	WriteTimeout time.Duration
	// IdleTimeout closes the connection when no frame arrives for this
	// long; 0 means 2 minutes.
	IdleTimeout time.Duration
	// Logger receives protocol anomalies; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	const maxWindow = 1<<31 - 1
	if c.InitialWindowSize > maxWindow || c.ConnWindowSize > maxWindow {
		return fmt.Errorf("h2push: window sizes must be at most %d bytes", maxWindow)
	}
	if c.WriteTimeout < 0 || c.IdleTimeout < 0 {
		return errors.New("h2push: timeouts must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.InitialWindowSize == 0 {
		c.InitialWindowSize = 6 << 20
	}
	if c.ConnWindowSize == 0 {
		c.ConnWindowSize = 15 << 20
	}
	if c.MaxHeaderListSize == 0 {
		c.MaxHeaderListSize = 64 << 10
	}
	if c.MaxConcurrentPushes == 0 {
		c.MaxConcurrentPushes = 100
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Stats counts what a connection received.
type Stats struct {
	Frames          int64 // frames read
	DataBytes       int64 // DATA payload bytes (with padding) on all streams
	PushesPromised  int64 // PUSH_PROMISE frames accepted
	PushesCancelled int64 // pushes refused with RST_STREAM(CANCEL)
}

// Conn is one HTTP/2 client connection. It is safe for concurrent use.
type Conn struct {
	cfg Config
	log *slog.Logger
	nc  net.Conn

	// wmu serialises writes; it is taken before mu when both are needed.
	wmu  sync.Mutex
	bw   *bufio.Writer
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf []byte

	hdec  *hpack.Decoder // read loop only
	block headerBlock    // read loop only

	mu             sync.Mutex
	cond           *sync.Cond
	streams        map[uint32]*stream
	nextID         uint32
	lastPromised   uint32
	active         int    // open client-initiated streams
	peerMaxStreams uint32 // server's SETTINGS_MAX_CONCURRENT_STREAMS
	peerMaxFrame   uint32
	goAway         bool
	goAwayLast     uint32
	err            error // set once the connection is unusable
	connUnacked    uint32
	stats          Stats

	done chan struct{}
}

// Dial opens a TLS connection to addr (host:port), negotiates h2 and
// returns the ready connection.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dial := cfg.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("h2push: dial %s: %w", addr, err)
	}
	tc, err := Handshake(ctx, raw, addr, cfg.TLS)
	if err != nil {
		return nil, err
	}
	return NewConn(tc, cfg)
}

// Handshake runs a TLS handshake offering only h2 over raw and checks the
// server chose it. The lab uses it to pre-open connections (preconnect).
func Handshake(ctx context.Context, raw net.Conn, addr string, base *tls.Config) (*tls.Conn, error) {
	tcfg := &tls.Config{}
	if base != nil {
		tcfg = base.Clone()
	}
	tcfg.NextProtos = []string{"h2"}
	if tcfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		tcfg.ServerName = host
	}
	tc := tls.Client(raw, tcfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("h2push: tls handshake with %s: %w", addr, err)
	}
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		tc.Close()
		return nil, fmt.Errorf("%w (%s)", ErrNoH2, addr)
	}
	return tc, nil
}

// NewConn starts HTTP/2 over an established connection (after TLS with ALPN
// h2, or cleartext with prior knowledge): it writes the preface, SETTINGS
// and the connection window, and starts the read loop.
func NewConn(nc net.Conn, cfg Config) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		nc.Close()
		return nil, err
	}
	c := newConn(nc, nc, cfg)
	c.nc = nc
	if err := c.start(); err != nil {
		nc.Close()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

func newConn(w io.Writer, r io.Reader, cfg Config) *Conn {
	cfg = cfg.withDefaults()
	c := &Conn{
		cfg:            cfg,
		log:            cfg.Logger,
		streams:        make(map[uint32]*stream),
		nextID:         1,
		peerMaxStreams: 100, // until the server's SETTINGS say otherwise
		peerMaxFrame:   16384,
		done:           make(chan struct{}),
	}
	c.cond = sync.NewCond(&c.mu)
	c.bw = bufio.NewWriterSize(w, 16<<10)
	c.fr = http2.NewFramer(c.bw, r)
	// The framer tracks CONTINUATION order only after HEADERS, not after
	// PUSH_PROMISE; headerBlock does it for both.
	c.fr.AllowIllegalReads = true
	c.fr.SetMaxReadFrameSize(16384)
	c.henc = hpack.NewEncoder(&hbufWriter{c})
	c.hdec = hpack.NewDecoder(4096, nil)
	c.hdec.SetMaxStringLength(int(cfg.MaxHeaderListSize))
	return c
}

type hbufWriter struct{ c *Conn }

func (w *hbufWriter) Write(p []byte) (int, error) {
	w.c.hbuf = append(w.c.hbuf, p...)
	return len(p), nil
}

func (c *Conn) start() error {
	push := uint32(0)
	if c.cfg.EnablePush {
		push = 1
	}
	return c.write(func() error {
		if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
			return err
		}
		err := c.fr.WriteSettings(
			http2.Setting{ID: http2.SettingEnablePush, Val: push},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: c.cfg.InitialWindowSize},
			http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: c.cfg.MaxHeaderListSize},
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.cfg.MaxConcurrentPushes},
		)
		if err != nil {
			return err
		}
		if c.cfg.ConnWindowSize > 65535 {
			return c.fr.WriteWindowUpdate(0, c.cfg.ConnWindowSize-65535)
		}
		return nil
	})
}

// write runs fn with the write lock held, under a write deadline, and
// flushes.
func (c *Conn) write(fn func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(fn)
}

func (c *Conn) writeLocked(fn func() error) error {
	if c.nc != nil {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	}
	if err := fn(); err != nil {
		return fmt.Errorf("h2push: write: %w", err)
	}
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("h2push: write: %w", err)
	}
	return nil
}

// Stats returns counters of what the connection received so far.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close sends GOAWAY, closes the socket and waits for the read loop to end;
// streams still open fail with ErrClosed.
func (c *Conn) Close() error {
	_ = c.write(func() error { return c.fr.WriteGoAway(0, http2.ErrCodeNo, nil) })
	err := c.nc.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		return errors.New("h2push: read loop did not stop after close")
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// readLoop reads frames until the connection fails, then fails every stream.
func (c *Conn) readLoop() {
	err := c.serve()
	c.fail(err)
}

func (c *Conn) serve() error {
	for {
		if c.nc != nil {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.cfg.IdleTimeout))
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.resetStream(se.StreamID, se.Code)
				continue
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				c.goAwayAndClose(http2.ErrCode(ce), err)
			}
			return err
		}
		if err := c.handle(f); err != nil {
			var ce connError
			if errors.As(err, &ce) {
				c.goAwayAndClose(ce.code, err)
			}
			return err
		}
	}
}

type connError struct {
	code   http2.ErrCode
	reason string
}

func (e connError) Error() string {
	return fmt.Sprintf("h2push: connection error %v: %s", e.code, e.reason)
}

func protoErr(format string, args ...any) error {
	return connError{http2.ErrCodeProtocol, fmt.Sprintf(format, args...)}
}

func (c *Conn) goAwayAndClose(code http2.ErrCode, why error) {
	c.log.Debug("h2push: closing connection", "code", code, "err", why)
	c.mu.Lock()
	last := c.lastPromised
	c.mu.Unlock()
	_ = c.write(func() error { return c.fr.WriteGoAway(last, code, nil) })
	if c.nc != nil {
		c.nc.Close()
	}
}

// fail marks the connection dead and wakes every waiter.
func (c *Conn) fail(err error) {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	} else {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	for id, s := range c.streams {
		s.finish(c.err)
		delete(c.streams, id)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	if c.nc != nil {
		c.nc.Close()
	}
}

// resetStream refuses a stream with RST_STREAM and forgets it.
func (c *Conn) resetStream(id uint32, code http2.ErrCode) {
	c.mu.Lock()
	if s := c.streams[id]; s != nil {
		s.finish(fmt.Errorf("%w: %v by client", ErrStreamDone, code))
		c.forget(s)
	}
	c.mu.Unlock()
	_ = c.write(func() error { return c.fr.WriteRSTStream(id, code) })
}

// forget removes s from the stream table and frees its concurrency slot;
// c.mu must be held.
func (c *Conn) forget(s *stream) {
	if _, ok := c.streams[s.id]; !ok {
		return
	}
	delete(c.streams, s.id)
	if s.id%2 == 1 {
		c.active--
	}
	c.cond.Broadcast()
}

// sendWindowUpdates returns consumed receive credit to the server; a zero
// increment is skipped.
func (c *Conn) sendWindowUpdates(streamID, streamIncr, connIncr uint32) {
	if streamIncr == 0 && connIncr == 0 {
		return
	}
	_ = c.write(func() error {
		if streamIncr > 0 {
			if err := c.fr.WriteWindowUpdate(streamID, streamIncr); err != nil {
				return err
			}
		}
		if connIncr > 0 {
			return c.fr.WriteWindowUpdate(0, connIncr)
		}
		return nil
	})
}

// creditConn records n connection-window bytes as consumed and returns the
// increment to send, if it is time; c.mu must be held.
func (c *Conn) creditConn(n uint32) uint32 {
	c.connUnacked += n
	if c.connUnacked >= c.cfg.ConnWindowSize/4 {
		n := c.connUnacked
		c.connUnacked = 0
		return n
	}
	return 0
}

// activeStreams returns the ids of the open streams, sorted, for tests.
func (c *Conn) activeStreams() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]uint32, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

var _ http.RoundTripper = (*Conn)(nil)
