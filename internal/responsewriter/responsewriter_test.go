package responsewriter_test

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/earlyhints/earlyhints/internal/responsewriter"
)

// bottom is a server's writer that records what reaches it.
type bottom struct {
	header     http.Header
	codes      []int
	bytes      int
	flushes    int
	pushed     []string
	hijacks    int
	deadline   time.Time
	fullDuplex bool
}

func newBottom() *bottom { return &bottom{header: make(http.Header)} }

func (b *bottom) Header() http.Header         { return b.header }
func (b *bottom) Write(p []byte) (int, error) { b.bytes += len(p); return len(p), nil }
func (b *bottom) WriteHeader(code int)        { b.codes = append(b.codes, code) }
func (b *bottom) Flush()                      { b.flushes++ }

func (b *bottom) SetWriteDeadline(t time.Time) error { b.deadline = t; return nil }
func (b *bottom) EnableFullDuplex() error            { b.fullDuplex = true; return nil }

// h2Bottom can push, as an HTTP/2 server's writer can.
type h2Bottom struct{ *bottom }

func (b h2Bottom) Push(target string, _ *http.PushOptions) error {
	b.pushed = append(b.pushed, target)
	return nil
}

// h1Bottom can hijack, as an HTTP/1.x server's writer can.
type h1Bottom struct{ *bottom }

func (b h1Bottom) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	b.hijacks++
	return nil, nil, nil
}

// layer is a wrapper as the packages write them: Wrapper plus its own
// Flush that sends the final header first.
type layer struct {
	responsewriter.Counter
	ownFlushes int
}

func (l *layer) Flush() {
	l.ownFlushes++
	if l.Status == 0 {
		l.WriteHeader(http.StatusOK)
	}
	l.Counter.Flush()
}

func TestWrapper_OptionalInterfaces(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		under                    func(*bottom) http.ResponseWriter
		wantPush, wantHijack     bool
		wantPushErr, wantHjError error
	}{
		{"HTTP/1.1", func(b *bottom) http.ResponseWriter { return h1Bottom{b} }, false, true, http.ErrNotSupported, nil},
		{"HTTP/2", func(b *bottom) http.ResponseWriter { return h2Bottom{b} }, true, false, nil, http.ErrNotSupported},
		{"neither", func(b *bottom) http.ResponseWriter { return b }, false, false, http.ErrNotSupported, http.ErrNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBottom()
			inner := &layer{Counter: responsewriter.NewCounter(tc.under(b))}
			outer := &layer{Counter: responsewriter.NewCounter(responsewriter.WithHijacker(inner))}
			w := responsewriter.WithHijacker(outer)

			if _, ok := w.(http.Flusher); !ok {
				t.Error("no http.Flusher")
			}
			if _, ok := w.(http.Hijacker); ok != tc.wantHijack {
				t.Errorf("http.Hijacker present = %v, want %v", ok, tc.wantHijack)
			}
			p, ok := w.(http.Pusher)
			if !ok {
				t.Fatal("no http.Pusher")
			}
			if err := p.Push("/a.css", nil); !errors.Is(err, tc.wantPushErr) {
				t.Errorf("Push: %v, want %v", err, tc.wantPushErr)
			}
			if got := len(b.pushed) == 1; got != tc.wantPush {
				t.Errorf("pushed %q, want a push: %v", b.pushed, tc.wantPush)
			}

			rc := http.NewResponseController(w)
			if err := rc.Flush(); err != nil {
				t.Errorf("ResponseController.Flush: %v", err)
			}
			if b.flushes != 1 || inner.ownFlushes != 1 || outer.ownFlushes != 1 {
				t.Errorf("flushes: bottom %d, inner %d, outer %d; want 1 each", b.flushes, inner.ownFlushes, outer.ownFlushes)
			}
			if !slices.Equal(b.codes, []int{http.StatusOK}) || inner.Status != http.StatusOK || outer.Status != http.StatusOK {
				t.Errorf("status: bottom %v, inner %d, outer %d; want one 200", b.codes, inner.Status, outer.Status)
			}
			deadline := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := rc.SetWriteDeadline(deadline); err != nil || !b.deadline.Equal(deadline) {
				t.Errorf("SetWriteDeadline: %v, bottom has %v", err, b.deadline)
			}
			if err := rc.EnableFullDuplex(); err != nil || !b.fullDuplex {
				t.Errorf("EnableFullDuplex: %v, bottom full duplex %v", err, b.fullDuplex)
			}
			if _, _, err := rc.Hijack(); !errors.Is(err, tc.wantHjError) {
				t.Errorf("ResponseController.Hijack: %v, want %v", err, tc.wantHjError)
			}
			if got := b.hijacks == 1; got != tc.wantHijack {
				t.Errorf("bottom hijacked %d times, want hijacked: %v", b.hijacks, tc.wantHijack)
			}
		})
	}
}

func TestCounter_WriteHeader(t *testing.T) {
	for _, tc := range []struct {
		name       string
		write      func(w *responsewriter.Counter)
		wantCodes  []int
		wantStatus int
		wantBytes  int64
	}{
		{"1xx pass through", func(w *responsewriter.Counter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("gone"))
		}, []int{103, 103, 404}, 404, 4},
		{"100 Continue is informational", func(w *responsewriter.Counter) {
			w.WriteHeader(http.StatusContinue)
			w.WriteHeader(http.StatusCreated)
		}, []int{100, 201}, 201, 0},
		{"101 is final", func(w *responsewriter.Counter) {
			w.WriteHeader(http.StatusSwitchingProtocols)
		}, []int{101}, 101, 0},
		{"body without a status", func(w *responsewriter.Counter) {
			_, _ = w.Write([]byte("hello"))
			_, _ = w.Write([]byte(" world"))
		}, nil, 200, 11},
		{"the first final status stays", func(w *responsewriter.Counter) {
			w.WriteHeader(http.StatusOK)
			w.WriteHeader(http.StatusInternalServerError)
		}, []int{200, 500}, 200, 0},
		{"hijacked", func(w *responsewriter.Counter) { w.Hijacking() }, nil, 101, 0},
		{"nothing written", func(*responsewriter.Counter) {}, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBottom()
			c := responsewriter.NewCounter(b)
			tc.write(&c)
			if !slices.Equal(b.codes, tc.wantCodes) {
				t.Errorf("bottom saw %v, want %v", b.codes, tc.wantCodes)
			}
			if c.Status != tc.wantStatus || c.Bytes != tc.wantBytes {
				t.Errorf("Status %d Bytes %d, want %d and %d", c.Status, c.Bytes, tc.wantStatus, tc.wantBytes)
			}
		})
	}
}

func TestWithHijacker_TellsTheWatcher(t *testing.T) {
	b := newBottom()
	c := responsewriter.NewCounter(h1Bottom{b})
	w := responsewriter.WithHijacker(&c)
	if _, _, err := w.(http.Hijacker).Hijack(); err != nil {
		t.Fatal(err)
	}
	if c.Status != http.StatusSwitchingProtocols || b.hijacks != 1 {
		t.Errorf("Status %d after a hijack (bottom hijacked %d times), want 101", c.Status, b.hijacks)
	}
}

func TestInformational(t *testing.T) {
	for code, want := range map[int]bool{100: true, 101: false, 102: true, 103: true, 199: true, 200: false, 204: false, 304: false, 99: false} {
		if got := responsewriter.Informational(code); got != want {
			t.Errorf("Informational(%d) = %v, want %v", code, got, want)
		}
	}
}
