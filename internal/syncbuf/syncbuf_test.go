package syncbuf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestBuffer_ConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "\n"); got != 800 || b.Writes() != 800 {
		t.Errorf("%d lines in %d writes, want 800 in 800", got, b.Writes())
	}
}

func TestBuffer_Block(t *testing.T) {
	b := Buffer{Block: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = b.Write([]byte("x"))
	}()
	if b.Writes() != 0 || b.String() != "" {
		t.Fatalf("a blocked write landed: %d writes, %q", b.Writes(), b.String())
	}
	close(b.Block)
	<-done
	if b.String() != "x" {
		t.Errorf("after unblocking: %q, want x", b.String())
	}
}
