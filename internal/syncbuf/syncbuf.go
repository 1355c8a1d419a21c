// Package syncbuf is a bytes.Buffer that one goroutine may write while
// another reads: the output a test gives a logger or a running command.
// It imports only the standard library.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is safe for concurrent Write and String. The zero value is an
// empty buffer ready to use.
type Buffer struct {
	// Block, when set, makes each Write wait until it is closed (or
	// receives), so a test can hold a writer in the middle of a write.
	Block chan struct{}

	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	if s.Block != nil {
		<-s.Block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Writes returns the number of Write calls.
func (s *Buffer) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}
