package h2push

import (
	"bytes"
	"errors"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// serverFrames writes frames as a server would, with one HPACK encoder so
// that later blocks refer to the dynamic table entries of earlier ones.
type serverFrames struct {
	buf  bytes.Buffer
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func newServerFrames() *serverFrames {
	s := &serverFrames{}
	s.fr = http2.NewFramer(&s.buf, nil)
	s.fr.AllowIllegalWrites = true
	s.enc = hpack.NewEncoder(&s.hbuf)
	return s
}

// must fails a fixture that could not be written. The frames go to a
// buffer, with the framer's checks off, so it means a broken fixture.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

func (s *serverFrames) block(kv ...string) []byte {
	s.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		must(s.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]}))
	}
	return append([]byte(nil), s.hbuf.Bytes()...)
}

// pushPromise writes a PUSH_PROMISE whose block is split over a
// CONTINUATION frame.
func (s *serverFrames) pushPromise(assoc, promised uint32, path string) {
	b := s.block(":method", "GET", ":scheme", "https", ":authority", "example.test", ":path", path, "x-test", "promised")
	half := len(b) / 2
	must(s.fr.WritePushPromise(http2.PushPromiseParam{StreamID: assoc, PromiseID: promised, BlockFragment: b[:half]}))
	must(s.fr.WriteContinuation(assoc, true, b[half:]))
}

func (s *serverFrames) headers(id uint32, end bool, kv ...string) {
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: s.block(kv...), EndHeaders: true, EndStream: end}))
}

// runFrames feeds data to a client connection with stream 1 open and
// returns what the client wrote back and the pushes it saw.
func runFrames(t testing.TB, data []byte) (out []byte, pushes []*Push, s1 *stream) {
	var w bytes.Buffer
	var mu sync.Mutex
	c := newConn(&w, bytes.NewReader(data), Config{EnablePush: true, OnPush: func(p *Push) {
		mu.Lock()
		pushes = append(pushes, p)
		mu.Unlock()
	}})
	req, _ := http.NewRequest(http.MethodGet, "https://example.test/", nil)
	s1 = &stream{c: c, id: 1, req: req, gotResp: make(chan struct{})}
	c.streams[1] = s1
	c.nextID = 3
	c.active = 1
	c.readLoop()
	return w.Bytes(), pushes, s1
}

func TestConn_handleFrames(t *testing.T) {
	sf := newServerFrames()
	must(sf.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 10}))
	sf.pushPromise(1, 2, "/a.css")
	sf.pushPromise(1, 4, "/b.js") // reuses dynamic table entries of the first
	sf.headers(1, false, ":status", "200", "content-type", "text/html")
	must(sf.fr.WriteData(1, true, []byte("<html>")))
	sf.headers(2, false, ":status", "200")
	must(sf.fr.WriteData(2, true, []byte("css")))
	must(sf.fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}))
	must(sf.fr.WriteGoAway(1, http2.ErrCodeNo, nil))

	out, pushes, s1 := runFrames(t, sf.buf.Bytes())
	if len(pushes) != 2 || pushes[0].Request.URL.Path != "/a.css" || pushes[1].Request.URL.Path != "/b.js" ||
		pushes[1].Request.Header.Get("x-test") != "promised" {
		t.Fatalf("pushes = %v", pushes)
	}
	if s1.resp == nil || s1.resp.StatusCode != 200 || s1.buf.String() != "<html>" {
		t.Fatalf("stream 1: %+v body %q", s1.resp, s1.buf.String())
	}
	if got := pushes[0].s.buf.String(); got != "css" {
		t.Errorf("pushed body %q", got)
	}

	fr := http2.NewFramer(nil, bytes.NewReader(out))
	fr.AllowIllegalReads = true
	var sawPingAck, sawSettingsAck bool
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			sawPingAck = f.IsAck() && f.Data == [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
		case *http2.SettingsFrame:
			sawSettingsAck = sawSettingsAck || f.IsAck()
		}
	}
	if !sawPingAck || !sawSettingsAck {
		t.Errorf("ping ack %v, settings ack %v", sawPingAck, sawSettingsAck)
	}
}

func TestConn_protocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		write func(sf *serverFrames)
	}{
		{"continuation without block", func(sf *serverFrames) { must(sf.fr.WriteContinuation(1, true, nil)) }},
		{"promise of odd stream", func(sf *serverFrames) { sf.pushPromise(1, 3, "/x") }},
		{"headers on unopened stream", func(sf *serverFrames) { sf.headers(7, true, ":status", "200") }},
		{"interleaved block", func(sf *serverFrames) {
			must(sf.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: sf.block(":status", "200")}))
			must(sf.fr.WritePing(false, [8]byte{}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sf := newServerFrames()
			tt.write(sf)
			out, _, s1 := runFrames(t, sf.buf.Bytes())
			if !errors.Is(s1.respErr, ErrClosed) {
				t.Errorf("stream 1 error = %v, want the connection closed", s1.respErr)
			}
			if !bytes.Contains(out, []byte{0, 0, 8, byte(http2.FrameGoAway)}) {
				t.Errorf("no GOAWAY written")
			}
		})
	}
}

func FuzzConn_Frames(f *testing.F) {
	sf := newServerFrames()
	must(sf.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 100}))
	sf.pushPromise(1, 2, "/a.css")
	sf.headers(1, false, ":status", "103", "link", "</a.css>; rel=preload")
	sf.headers(1, false, ":status", "200")
	must(sf.fr.WriteData(1, false, []byte("abc")))
	must(sf.fr.WriteRSTStream(2, http2.ErrCodeCancel))
	sf.headers(1, true, "trailer", "x")
	f.Add(sf.buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		runFrames(t, data)
	})
}

func TestWeightOf(t *testing.T) {
	tests := []struct {
		field string
		want  uint8 // weight − 1; 0 with no priority
		zero  bool
	}{
		{"u=0", 255, false},
		{"u=1", 219, false},
		{"u=2", 182, false},
		{"u=3, i", 146, false},
		{"i, u=4", 109, false},
		{"", 0, true},
		{"u=9", 0, true},
		{"u=x", 0, true},
	}
	for _, tt := range tests {
		p := weightOf(tt.field)
		if p.IsZero() != tt.zero || (!tt.zero && p.Weight != tt.want) {
			t.Errorf("weightOf(%q) = %+v, want weight %d (zero %v)", tt.field, p, int(tt.want)+1, tt.zero)
		}
	}
}
