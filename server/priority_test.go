package server

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"syscall"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"
)

func TestUrgencyOf(t *testing.T) {
	// Chromium's weights for its priorities 0-7; weight 16, the RFC 7540
	// default, is the least urgent.
	for i, w := range []int{256, 220, 183, 147, 110, 74, 37, 1} {
		if got := urgencyOf(http2.PriorityParam{Weight: uint8(w - 1)}); got != i {
			t.Errorf("urgencyOf(weight %d) = %d, want %d", w, got, i)
		}
	}
	if got := urgencyOf(http2.PriorityParam{Weight: 15}); got != urgencies-1 {
		t.Errorf("urgencyOf(weight 16) = %d, want %d", got, urgencies-1)
	}
}

// TestServer_HTTP2DocumentFirst: on one connection, a document and a big
// hinted file both have bytes to send; the document's go out first, as the
// browser's priorities ask, whichever stream came first. It counts frames
// on the wire: the client stops reading while both handlers write, so the
// server's scheduler, not the timing, decides the order.
func TestServer_HTTP2DocumentFirst(t *testing.T) {
	const (
		docBytes   = 256 << 10
		imageBytes = 2 << 20
	)
	// Chromium's weights: the document and a stylesheet HIGHEST (256), an
	// image LOW (183).
	highest := http2.PriorityParam{Weight: 255, Exclusive: true}
	low := http2.PriorityParam{Weight: 182, Exclusive: true}
	tests := []struct {
		name          string
		fileFirst     bool // the file's stream is opened before the document's
		file, doc     http2.PriorityParam
		filePriority  string // RFC 9218 field, sent as Chromium does
		docPriority   string
		wantFileBytes int // at most, between the document's first and last byte
	}{
		{"image opened before the document", true, low, highest, "u=4, i", "u=0, i", 16 << 10},
		{"image hinted by the document's 103", false, low, highest, "u=4, i", "u=0, i", 16 << 10},
		{"stylesheet of the document's urgency", false, highest, highest, "u=0", "u=0, i", 16 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docStarted := make(chan struct{})
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/file":
					_, _ = w.Write(bytes.Repeat([]byte("f"), imageBytes))
				case "/doc":
					close(docStarted)
					<-release // the origin thinks
					w.Header().Set("Content-Type", "text/html")
					_, _ = w.Write(bytes.Repeat([]byte("d"), docBytes))
				}
			})
			s := start(t, h, Config{DisableHTTP3: true})
			c := newFrameClient(t, s.Server)

			// Stream IDs rise with the order of opening.
			c.docID, c.fileID = 1, 3
			if tt.fileFirst {
				c.docID, c.fileID = 3, 1
			}
			for id := uint32(1); id <= 3; id += 2 {
				if id == c.docID {
					c.request(id, "/doc", tt.docPriority, tt.doc)
				} else {
					c.request(id, "/file", tt.filePriority, tt.file)
				}
			}
			<-docStarted
			// Both streams open; the file is writing. Wait for its first
			// DATA, then stop reading so the server's writes back up, and
			// let the document write.
			c.readUntil(func(f http2.Frame) bool { d, ok := f.(*http2.DataFrame); return ok && d.StreamID == c.fileID })
			close(release)
			var docSeen, fileDuring, fileFramesDuring int
			c.readUntil(func(f http2.Frame) bool {
				d, ok := f.(*http2.DataFrame)
				if !ok {
					return false
				}
				switch d.StreamID {
				case c.docID:
					docSeen += len(d.Data())
				case c.fileID:
					if docSeen > 0 {
						fileDuring += len(d.Data())
						fileFramesDuring++
					}
				}
				return docSeen >= docBytes
			})
			if fileDuring > tt.wantFileBytes {
				t.Errorf("%d bytes of the file in %d DATA frames came between the document's first and last byte; want at most %d", fileDuring, fileFramesDuring, tt.wantFileBytes)
			}
		})
	}
}

// frameClient is a bare HTTP/2 client that reads the server's frames one
// by one.
type frameClient struct {
	t             *testing.T
	conn          net.Conn
	fr            *http2.Framer
	enc           *hpack.Encoder
	buf           bytes.Buffer
	docID, fileID uint32
}

func newFrameClient(t *testing.T, s *Server) *frameClient {
	t.Helper()
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		// A small receive buffer: what the client does not read backs up
		// into the server soon.
		return rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 16<<10) })
	}}
	conn, err := tls.DialWithDialer(d, "tcp", s.Addr(), &tls.Config{RootCAs: s.CertPool(), NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	c := &frameClient{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.buf)
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	// Windows wide enough that flow control never decides.
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteWindowUpdate(0, 1<<30); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *frameClient) request(id uint32, path, priority string, p http2.PriorityParam) {
	c.t.Helper()
	c.buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", path}, {"priority", priority}} {
		_ = c.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.buf.Bytes(), EndStream: true, EndHeaders: true, Priority: p}); err != nil {
		c.t.Fatal(err)
	}
}

// readUntil reads frames, answering the connection's, until done says so.
func (c *frameClient) readUntil(done func(http2.Frame) bool) {
	c.t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.t.Fatalf("read frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = c.fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame, *http2.RSTStreamFrame:
			c.t.Fatalf("server sent %v", f)
		}
		if done(f) {
			return
		}
	}
}
