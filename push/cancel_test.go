package push_test

import (
	"bytes"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/earlyhints/earlyhints/push"
)

// rawClient is the least HTTP/2 client that accepts push: Go's own
// transport never enables it.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	dec  *hpack.Decoder
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

func dialPush(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: conn, fr: http2.NewFramer(conn, conn), dec: hpack.NewDecoder(4096, nil)}
	c.enc = hpack.NewEncoder(&c.hbuf)
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 1}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *rawClient) get(streamID uint32, authority, path string) {
	c.hbuf.Reset()
	for _, f := range [][2]string{
		{":method", "GET"},
		{":scheme", "https"},
		{":authority", authority},
		{":path", path},
		{"sec-fetch-mode", "navigate"},
		{"accept", "text/html"},
	} {
		if err := c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: streamID, BlockFragment: c.hbuf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		c.t.Fatal(err)
	}
}

// readUntilEnd reads frames until stream ends, cancelling every promise,
// and returns the promised stream IDs and the stream's status.
func (c *rawClient) readUntilEnd(stream uint32) (promised []uint32, status string) {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.t.Fatalf("read frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := c.fr.WriteSettingsAck(); err != nil {
					c.t.Fatal(err)
				}
			}
		case *http2.PushPromiseFrame:
			// Decoding keeps the shared HPACK state in step.
			if _, err := c.dec.DecodeFull(f.HeaderBlockFragment()); err != nil {
				c.t.Fatalf("decode PUSH_PROMISE: %v", err)
			}
			promised = append(promised, f.PromiseID)
			if err := c.fr.WriteRSTStream(f.PromiseID, http2.ErrCodeCancel); err != nil {
				c.t.Fatal(err)
			}
		case *http2.HeadersFrame:
			fields, _ := c.dec.DecodeFull(f.HeaderBlockFragment())
			for _, hf := range fields {
				if hf.Name == ":status" && f.StreamID == stream && hf.Value != "103" {
					status = hf.Value
				}
			}
			if f.StreamID == stream && f.StreamEnded() {
				return promised, status
			}
		case *http2.DataFrame:
			if n := len(f.Data()); n > 0 {
				if err := c.fr.WriteWindowUpdate(0, uint32(n)); err != nil {
					c.t.Fatal(err)
				}
			}
			if f.StreamID == stream && f.StreamEnded() {
				return promised, status
			}
		case *http2.GoAwayFrame:
			c.t.Fatalf("server sent GOAWAY: %v", f.ErrCode)
		case *http2.PingFrame:
			if !f.IsAck() {
				if err := c.fr.WritePing(true, f.Data); err != nil {
					c.t.Fatal(err)
				}
			}
		}
	}
}

// TestPush_ClientCancelsPromise: RST_STREAM(CANCEL) on a promised stream
// ends that stream only; the page arrives and the connection stays usable.
func TestPush_ClientCancelsPromise(t *testing.T) {
	srv, _, obs := setup(t, push.Plain)
	host := strings.TrimPrefix(srv.URL, "https://")
	c := dialPush(t, host)

	c.get(1, host, "/")
	promised, status := c.readUntilEnd(1)
	if len(promised) != 2 || status != "200" {
		t.Fatalf("promised %v, page status %q; want 2 promises and the page", promised, status)
	}
	c.get(3, host, "/") // the same connection still serves pages
	if _, status := c.readUntilEnd(3); status != "200" {
		t.Fatalf("second page on the connection: status %q", status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for obs.get(push.EventCancelled)+obs.get(push.EventPushed) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if obs.get(push.EventCancelled)+obs.get(push.EventPushed) < 2 {
		t.Fatalf("pushed streams not accounted: pushed=%d cancelled=%d", obs.get(push.EventPushed), obs.get(push.EventCancelled))
	}
}
