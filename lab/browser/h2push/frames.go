package h2push

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// maxInformational bounds the 1xx responses accepted on one stream.
const maxInformational = 8

// headerBlock accumulates one header block: a HEADERS or PUSH_PROMISE frame
// and its CONTINUATION frames. Blocks are decoded strictly in arrival order
// because the HPACK dynamic table is shared by the whole connection.
type headerBlock struct {
	streamID  uint32
	promised  uint32 // non-zero for PUSH_PROMISE
	endStream bool
	frag      []byte
	open      bool
}

// handle processes one frame on the read loop. A returned connError closes
// the connection with GOAWAY.
func (c *Conn) handle(f http2.Frame) error {
	c.mu.Lock()
	c.stats.Frames++
	c.mu.Unlock()
	if c.block.open {
		cf, ok := f.(*http2.ContinuationFrame)
		if !ok || cf.StreamID != c.block.streamID {
			return protoErr("expected CONTINUATION for stream %d, got %v", c.block.streamID, f.Header())
		}
		return c.addFragment(cf.HeaderBlockFragment(), cf.HeadersEnded())
	}
	switch f := f.(type) {
	case *http2.HeadersFrame:
		c.block = headerBlock{streamID: f.StreamID, endStream: f.StreamEnded(), open: true}
		return c.addFragment(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.PushPromiseFrame:
		if !c.cfg.EnablePush {
			return protoErr("PUSH_PROMISE received with push disabled")
		}
		c.block = headerBlock{streamID: f.StreamID, promised: f.PromiseID, open: true}
		return c.addFragment(f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.ContinuationFrame:
		return protoErr("CONTINUATION without a header block on stream %d", f.StreamID)
	case *http2.DataFrame:
		return c.handleData(f)
	case *http2.RSTStreamFrame:
		c.mu.Lock()
		if s := c.streams[f.StreamID]; s != nil {
			s.finish(fmt.Errorf("%w: %v by server", ErrStreamDone, f.ErrCode))
			c.forget(s)
		}
		c.mu.Unlock()
		return nil
	case *http2.SettingsFrame:
		return c.handleSettings(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		return c.write(func() error { return c.fr.WritePing(true, f.Data) })
	case *http2.GoAwayFrame:
		c.handleGoAway(f)
		return nil
	case *http2.WindowUpdateFrame, *http2.PriorityFrame:
		return nil // requests carry no body; nothing to send
	}
	return nil // unknown frame types are ignored (RFC 9113 §5.5)
}

// addFragment appends to the open header block and decodes it at
// END_HEADERS.
func (c *Conn) addFragment(frag []byte, end bool) error {
	if len(c.block.frag)+len(frag) > int(c.cfg.MaxHeaderListSize)+4096 {
		return connError{http2.ErrCodeEnhanceYourCalm, "header block too large"}
	}
	c.block.frag = append(c.block.frag, frag...)
	if !end {
		return nil
	}
	b := c.block
	c.block = headerBlock{frag: b.frag[:0]}
	fields, tooBig, err := c.decode(b.frag)
	if err != nil {
		return connError{http2.ErrCodeCompression, err.Error()}
	}
	if b.promised != 0 {
		return c.handlePromise(b, fields, tooBig)
	}
	return c.handleHeaders(b, fields, tooBig)
}

// decode runs the shared HPACK decoder over a whole block. A block over
// MaxHeaderListSize is still decoded (the dynamic table must stay in step)
// but its fields are dropped and tooBig is set.
func (c *Conn) decode(block []byte) (fields []hpack.HeaderField, tooBig bool, err error) {
	size := uint32(0)
	c.hdec.SetEmitFunc(func(f hpack.HeaderField) {
		size += f.Size()
		if size > c.cfg.MaxHeaderListSize {
			tooBig = true
			fields = nil
			return
		}
		if !tooBig {
			fields = append(fields, f)
		}
	})
	defer c.hdec.SetEmitFunc(nil)
	if _, err := c.hdec.Write(block); err != nil {
		return nil, false, fmt.Errorf("hpack: %w", err)
	}
	if err := c.hdec.Close(); err != nil {
		return nil, false, fmt.Errorf("hpack: %w", err)
	}
	return fields, tooBig, nil
}

func (c *Conn) handlePromise(b headerBlock, fields []hpack.HeaderField, tooBig bool) error {
	c.mu.Lock()
	assoc := c.streams[b.streamID]
	switch {
	case b.promised%2 != 0 || b.promised <= c.lastPromised:
		c.mu.Unlock()
		return protoErr("promised stream %d is not a new even stream", b.promised)
	case assoc == nil || assoc.push != nil:
		// The associated stream may have been cancelled by us: refuse the
		// promise quietly (RFC 9113 §6.6 allows it while closing).
		c.lastPromised = b.promised
		c.mu.Unlock()
		c.resetStream(b.promised, http2.ErrCodeCancel)
		return nil
	}
	c.lastPromised = b.promised
	c.mu.Unlock()
	if tooBig {
		c.resetStream(b.promised, http2.ErrCodeRefusedStream)
		return nil
	}
	p, err := newPush(c, assoc, b.promised, fields)
	if err != nil {
		c.log.Debug("h2push: malformed PUSH_PROMISE", "stream", b.promised, "err", err)
		c.resetStream(b.promised, http2.ErrCodeProtocol)
		return nil
	}
	c.mu.Lock()
	c.streams[p.StreamID] = p.s
	c.stats.PushesPromised++
	c.mu.Unlock()
	if c.cfg.OnPush == nil {
		p.Cancel()
		return nil
	}
	c.cfg.OnPush(p)
	return nil
}

func (c *Conn) handleHeaders(b headerBlock, fields []hpack.HeaderField, tooBig bool) error {
	if b.streamID%2 == 1 {
		c.mu.Lock()
		unopened := b.streamID >= c.nextID
		c.mu.Unlock()
		if unopened {
			return protoErr("HEADERS on stream %d the client never opened", b.streamID)
		}
	}
	c.mu.Lock()
	s := c.streams[b.streamID]
	if s == nil || s.cancelled {
		if s != nil && b.endStream {
			c.forget(s)
		}
		c.mu.Unlock()
		return nil // a stream we already gave up: decoded only for HPACK state
	}
	c.mu.Unlock()
	if tooBig {
		c.resetStream(b.streamID, http2.ErrCodeProtocol)
		return nil
	}

	status := ""
	h := make(http.Header, len(fields))
	for _, f := range fields {
		if f.Name == ":status" {
			status = f.Value
			continue
		}
		if strings.HasPrefix(f.Name, ":") {
			c.resetStream(b.streamID, http2.ErrCodeProtocol)
			return nil
		}
		h.Add(f.Name, f.Value)
	}

	c.mu.Lock()
	if s.resp != nil {
		// Trailers: accepted only with END_STREAM, then ignored.
		if b.endStream {
			s.bodyErr = io.EOF
			c.forget(s)
			c.cond.Broadcast()
		}
		c.mu.Unlock()
		if !b.endStream {
			c.resetStream(b.streamID, http2.ErrCodeProtocol)
		}
		return nil
	}
	c.mu.Unlock()

	code, err := strconv.Atoi(status)
	if err != nil || code < 100 || code > 999 || code == http.StatusSwitchingProtocols {
		c.resetStream(b.streamID, http2.ErrCodeProtocol)
		return nil
	}
	if code < 200 {
		return c.handleInformational(s, b, code, h)
	}

	resp := &http.Response{
		Status:        status + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        h,
		ContentLength: -1,
		Request:       s.req,
		Body:          body{s},
	}
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			resp.ContentLength = n
		}
	}
	c.mu.Lock()
	s.resp = resp
	close(s.gotResp)
	if b.endStream {
		s.bodyErr = io.EOF
		c.forget(s)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

func (c *Conn) handleInformational(s *stream, b headerBlock, code int, h http.Header) error {
	if b.endStream {
		c.resetStream(b.streamID, http2.ErrCodeProtocol)
		return nil
	}
	c.mu.Lock()
	s.n1xx++
	n := s.n1xx
	c.mu.Unlock()
	if n > maxInformational {
		c.resetStream(b.streamID, http2.ErrCodeEnhanceYourCalm)
		return nil
	}
	if s.trace != nil && s.trace.Got1xxResponse != nil {
		if err := s.trace.Got1xxResponse(code, textproto.MIMEHeader(h)); err != nil {
			s.cancel(err)
		}
	}
	return nil
}

func (c *Conn) handleData(f *http2.DataFrame) error {
	n := f.Header().Length // flow control counts padding too
	data := f.Data()
	c.mu.Lock()
	c.stats.DataBytes += int64(n)
	s := c.streams[f.StreamID]
	if s == nil || s.cancelled || s.resp == nil {
		if s != nil {
			s.dataBytes += int64(n)
			if s.resp == nil && !s.cancelled {
				c.mu.Unlock()
				c.resetStream(f.StreamID, http2.ErrCodeProtocol)
				c.sendWindowUpdates(0, 0, c.creditLocked(n))
				return nil
			}
			if f.StreamEnded() {
				c.forget(s)
			}
		} else if f.StreamID%2 == 1 && f.StreamID >= c.nextID {
			c.mu.Unlock()
			return protoErr("DATA on stream %d the client never opened", f.StreamID)
		}
		incr := c.creditConn(n)
		c.mu.Unlock()
		c.sendWindowUpdates(0, 0, incr)
		return nil
	}
	if s.bodyErr != nil {
		c.mu.Unlock()
		return connError{http2.ErrCodeStreamClosed, fmt.Sprintf("DATA after END_STREAM on stream %d", f.StreamID)}
	}
	if s.buf.Len()+len(data) > int(c.cfg.InitialWindowSize) {
		c.mu.Unlock()
		return connError{http2.ErrCodeFlowControl, fmt.Sprintf("stream %d overran its window", f.StreamID)}
	}
	s.dataBytes += int64(n)
	s.buf.Write(data)
	// Padding is never read by the application: return its credit now.
	pad := n - uint32(len(data)) //nolint:gosec // data is within the frame's n bytes
	var connIncr uint32
	if pad > 0 {
		connIncr = c.creditConn(pad)
	}
	if f.StreamEnded() {
		s.bodyErr = io.EOF
		if s.stopWatch != nil {
			s.stopWatch()
		}
		c.forget(s)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	c.sendWindowUpdates(0, 0, connIncr)
	return nil
}

// creditLocked takes c.mu and calls creditConn.
func (c *Conn) creditLocked(n uint32) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creditConn(n)
}

func (c *Conn) handleSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	var tableSize *uint32
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			c.peerMaxStreams = s.Val
			c.cond.Broadcast()
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = s.Val
		case http2.SettingHeaderTableSize:
			v := s.Val
			tableSize = &v
		}
		return nil
	})
	if err != nil {
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			return connError{http2.ErrCode(ce), "invalid setting"}
		}
		return protoErr("invalid setting: %v", err)
	}
	return c.write(func() error {
		if tableSize != nil {
			c.henc.SetMaxDynamicTableSizeLimit(min(*tableSize, 4096))
		}
		return c.fr.WriteSettingsAck()
	})
}

func (c *Conn) handleGoAway(f *http2.GoAwayFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goAway = true
	c.goAwayLast = f.LastStreamID
	for id, s := range c.streams {
		if id%2 == 1 && id > f.LastStreamID {
			s.finish(ErrGoAway)
			c.forget(s)
		}
	}
	c.cond.Broadcast()
}
