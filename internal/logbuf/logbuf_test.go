package logbuf

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/earlyhints/earlyhints/internal/syncbuf"
)

// TestWriter_OrderAndClose runs on a fake clock, so no tick comes between
// the writes: they reach the output in order, in one write at Close.
func TestWriter_OrderAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncbuf.Buffer{}
		w := New(out, Config{})
		var want strings.Builder
		for i := range 1000 {
			line := fmt.Sprintf("line %d\n", i)
			want.WriteString(line)
			if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want.String() {
			t.Errorf("output differs from the lines written, in order (%d bytes, want %d)", len(out.String()), want.Len())
		}
		if out.Writes() != 1 {
			t.Errorf("%d writes to the output for 1000 small lines, want one", out.Writes())
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		_, _ = w.Write([]byte("after\n"))
		if !strings.HasSuffix(out.String(), "after\n") {
			t.Error("a write after Close was lost")
		}
	})
}

// TestWriter_Interval: on a fake clock, a line waits at most Interval.
func TestWriter_Interval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncbuf.Buffer{}
		w := New(out, Config{Interval: 50 * time.Millisecond})
		defer w.Close()
		_, _ = w.Write([]byte("a\n"))
		time.Sleep(49 * time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("written after 49ms: %q, want nothing yet", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "a\n" {
			t.Fatalf("after the interval: %q", got)
		}
	})
}

// TestWriter_NeverBlocks: with the output stuck, writes return at once and
// lines past the buffer are dropped whole and counted.
func TestWriter_NeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncbuf.Buffer{Block: make(chan struct{})}
		var mu sync.Mutex
		dropped := 0
		w := New(out, Config{Size: 100, OnDrop: func(n int) { mu.Lock(); dropped += n; mu.Unlock() }})
		line := []byte("0123456789012345678\n") // 20 bytes
		// Two lines (under half the buffer) go out at the first tick, and
		// the writing goroutine blocks on the output with them.
		_, _ = w.Write(line)
		_, _ = w.Write(line)
		time.Sleep(DefaultInterval)
		synctest.Wait()
		// Five more fill the buffer; the other ten are dropped.
		for range 15 {
			if n, err := w.Write(line); n != len(line) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		close(out.Block)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if len(got) != 140 || strings.Count(got, "\n") != 7 {
			t.Errorf("wrote %d bytes (%d lines), want the 7 whole lines that fit", len(got), strings.Count(got, "\n"))
		}
		mu.Lock()
		defer mu.Unlock()
		if dropped != 10 {
			t.Errorf("OnDrop counted %d lines, want 10", dropped)
		}
	})
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriter_OutputError(t *testing.T) {
	w := New(failing{}, Config{})
	_, _ = w.Write([]byte("x\n"))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close = %v, want the output's error", err)
	}
}
