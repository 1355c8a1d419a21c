package h2push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// stream is one HTTP/2 stream: client-initiated (odd id) or pushed (even
// id). Every field is guarded by Conn.mu.
type stream struct {
	c     *Conn
	id    uint32
	req   *http.Request
	trace *httptrace.ClientTrace
	push  *Push // set for pushed streams

	resp    *http.Response
	respErr error
	gotResp chan struct{} // closed once resp or respErr is set

	n1xx      int
	buf       bytes.Buffer // received, unread body bytes (≤ the stream window)
	bodyErr   error        // io.EOF after END_STREAM, or why the stream ended
	unacked   uint32       // bytes read but not yet returned by WINDOW_UPDATE
	dataBytes int64        // DATA payload bytes received, also after a cancel
	cancelled bool         // we sent RST_STREAM; arriving bytes are only counted
	stopWatch func() bool  // stops the context watcher
}

// finish ends the stream with err unless it already ended; c.mu held.
func (s *stream) finish(err error) {
	if s.bodyErr == nil {
		s.bodyErr = err
	}
	if s.resp == nil && s.respErr == nil {
		s.respErr = err
		close(s.gotResp)
	}
	if s.stopWatch != nil {
		s.stopWatch()
	}
	s.c.cond.Broadcast()
}

// RoundTrip sends a bodyless request on a new stream and waits for its
// response headers. 1xx responses go to the request context's
// httptrace.ClientTrace.Got1xxResponse.
func (c *Conn) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		return nil, ErrBody
	}
	ctx := req.Context()
	s := &stream{c: c, req: req, trace: httptrace.ContextClientTrace(ctx), gotResp: make(chan struct{})}

	c.mu.Lock()
	for c.err == nil && !c.goAway && int64(c.active) >= int64(c.peerMaxStreams) && ctx.Err() == nil {
		stop := context.AfterFunc(ctx, func() {
			c.mu.Lock()
			c.cond.Broadcast()
			c.mu.Unlock()
		})
		c.cond.Wait()
		stop()
	}
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return nil, err
	case c.goAway:
		c.mu.Unlock()
		return nil, ErrGoAway
	case ctx.Err() != nil:
		c.mu.Unlock()
		return nil, ctx.Err()
	}
	c.active++
	c.mu.Unlock()

	c.wmu.Lock()
	c.mu.Lock()
	s.id = c.nextID
	c.nextID += 2
	c.streams[s.id] = s
	c.mu.Unlock()
	err := c.writeLocked(func() error { return c.writeRequestHeaders(s.id, req) })
	c.wmu.Unlock()
	if err == nil && s.trace != nil && s.trace.WroteHeaders != nil {
		s.trace.WroteHeaders()
	}
	if err != nil {
		c.mu.Lock()
		s.finish(err)
		c.forget(s)
		c.mu.Unlock()
		return nil, err
	}
	c.mu.Lock()
	s.stopWatch = context.AfterFunc(ctx, func() { s.cancel(ctx.Err()) })
	c.mu.Unlock()

	select {
	case <-s.gotResp:
	case <-ctx.Done():
		s.cancel(ctx.Err())
		<-s.gotResp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.respErr != nil {
		return nil, s.respErr
	}
	return s.resp, nil
}

// writeRequestHeaders encodes req and writes HEADERS and CONTINUATION
// frames; c.wmu must be held.
func (c *Conn) writeRequestHeaders(id uint32, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	scheme := req.URL.Scheme
	if scheme == "" {
		scheme = "https"
	}
	c.hbuf = c.hbuf[:0]
	enc := func(k, v string) { _ = c.henc.WriteField(hpack.HeaderField{Name: k, Value: v}) }
	enc(":method", method)
	enc(":scheme", scheme)
	enc(":authority", host)
	enc(":path", req.URL.RequestURI())
	for k, vs := range req.Header {
		lk := strings.ToLower(k)
		switch lk {
		case "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te":
			continue
		}
		for _, v := range vs {
			enc(lk, v)
		}
	}
	block := c.hbuf
	c.mu.Lock()
	maxFrame := int(c.peerMaxFrame)
	c.mu.Unlock()
	first := true
	for first || len(block) > 0 {
		chunk := block
		if len(chunk) > maxFrame {
			chunk = chunk[:maxFrame]
		}
		block = block[len(chunk):]
		end := len(block) == 0
		var err error
		if first {
			err = c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: chunk, EndStream: true, EndHeaders: end, Priority: weightOf(req.Header.Get("Priority"))})
			first = false
		} else {
			err = c.fr.WriteContinuation(id, end, chunk)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// cancel resets the stream with CANCEL unless it has ended.
func (s *stream) cancel(why error) {
	c := s.c
	c.mu.Lock()
	if s.cancelled || s.bodyErr != nil {
		c.mu.Unlock()
		return
	}
	s.cancelled = true
	if why == nil {
		why = context.Canceled
	}
	// Unread bytes will never be read: give their credit back.
	connIncr := c.creditConn(uint32(s.buf.Len())) //nolint:gosec // the buffer never exceeds InitialWindowSize, a uint32
	s.buf.Reset()
	s.finish(fmt.Errorf("%w: %w", ErrStreamDone, why))
	if s.push != nil {
		c.stats.PushesCancelled++
	}
	// A cancelled push stays in the table so that bytes already in flight
	// are still counted against it; it leaves at END_STREAM or RST_STREAM.
	if s.push == nil {
		c.forget(s)
	}
	c.mu.Unlock()
	_ = c.write(func() error {
		if err := c.fr.WriteRSTStream(s.id, http2.ErrCodeCancel); err != nil {
			return err
		}
		if connIncr > 0 {
			return c.fr.WriteWindowUpdate(0, connIncr)
		}
		return nil
	})
}

// body is a response body fed by the read loop.
type body struct{ s *stream }

func (b body) Read(p []byte) (int, error) {
	s := b.s
	c := s.c
	c.mu.Lock()
	for s.buf.Len() == 0 && s.bodyErr == nil {
		c.cond.Wait()
	}
	if s.buf.Len() == 0 {
		err := s.bodyErr
		c.mu.Unlock()
		return 0, err
	}
	n, _ := s.buf.Read(p)
	var streamIncr uint32
	s.unacked += uint32(n) //nolint:gosec // n is at most the buffer, which never exceeds InitialWindowSize
	if s.bodyErr == nil && s.unacked >= c.cfg.InitialWindowSize/4 {
		streamIncr = s.unacked
		s.unacked = 0
	}
	connIncr := c.creditConn(uint32(n)) //nolint:gosec // as above
	c.mu.Unlock()
	c.sendWindowUpdates(s.id, streamIncr, connIncr)
	return n, nil
}

func (b body) Close() error {
	b.s.cancel(errors.New("body closed"))
	return nil
}

// Push is a stream the server promised. Its fields are set before OnPush is
// called and never change.
type Push struct {
	// Request is the promised request (method, URL, headers of the
	// PUSH_PROMISE header block).
	Request *http.Request
	// StreamID is the promised stream, Associated the request stream that
	// carried the PUSH_PROMISE.
	StreamID, Associated uint32
	// PromisedAt is when the PUSH_PROMISE was decoded.
	PromisedAt time.Time

	s *stream
}

// Response waits for the pushed response headers; its Body streams the
// pushed body.
func (p *Push) Response(ctx context.Context) (*http.Response, error) {
	select {
	case <-p.s.gotResp:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.s.c.mu.Lock()
	defer p.s.c.mu.Unlock()
	if p.s.respErr != nil {
		return nil, p.s.respErr
	}
	return p.s.resp, nil
}

// Cancel refuses the push with RST_STREAM(CANCEL) unless it has completed.
func (p *Push) Cancel() { p.s.cancel(errors.New("push cancelled")) }

// DataBytes returns the DATA bytes received on the pushed stream so far,
// including bytes that arrived after Cancel.
func (p *Push) DataBytes() int64 {
	p.s.c.mu.Lock()
	defer p.s.c.mu.Unlock()
	return p.s.dataBytes
}

// newPush validates a decoded PUSH_PROMISE header block and builds the
// Push; an error means the promise is malformed.
func newPush(c *Conn, assoc *stream, promised uint32, fields []hpack.HeaderField) (*Push, error) {
	var method, scheme, authority, path string
	h := make(http.Header)
	for _, f := range fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":scheme":
			scheme = f.Value
		case ":authority":
			authority = f.Value
		case ":path":
			path = f.Value
		default:
			if strings.HasPrefix(f.Name, ":") {
				return nil, fmt.Errorf("unknown pseudo-header %q", f.Name)
			}
			h.Add(f.Name, f.Value)
		}
	}
	if method != http.MethodGet && method != http.MethodHead {
		return nil, fmt.Errorf("promised method %q is not safe and cacheable", method)
	}
	if scheme == "" || authority == "" || path == "" || !strings.HasPrefix(path, "/") {
		return nil, errors.New("promise lacks :scheme, :authority or :path")
	}
	u, err := url.Parse(scheme + "://" + authority + path)
	if err != nil {
		return nil, fmt.Errorf("promised URL: %w", err)
	}
	ctx := context.Background()
	if assoc.req != nil {
		ctx = context.WithoutCancel(assoc.req.Context())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("promised request: %w", err)
	}
	req.Header = h
	req.Host = authority
	s := &stream{c: c, id: promised, req: req, gotResp: make(chan struct{})}
	p := &Push{Request: req, StreamID: promised, Associated: assoc.id, PromisedAt: time.Now(), s: s}
	s.push = p
	return p, nil
}

// weightOf turns an RFC 9218 Priority field into the RFC 7540 priority
// Chrome puts on the HEADERS frame of the same request: a weight of 256
// for urgency 0, then 220, 183, 147 and 110 (Chrome's net priorities
// HIGHEST to IDLE). No field, or one without an urgency, means no
// priority (the server's default).
func weightOf(field string) http2.PriorityParam {
	for item := range strings.SplitSeq(field, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || k != "u" || len(v) != 1 || v[0] < '0' || v[0] > '7' {
			continue
		}
		u := int(v[0] - '0')
		w := max(1, 256-u*73/2)                          // 256, 220, 183, 147, 110, …
		return http2.PriorityParam{Weight: uint8(w - 1)} //nolint:gosec // 1 ≤ w ≤ 256
	}
	return http2.PriorityParam{}
}
