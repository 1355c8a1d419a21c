package hintstore

import "bytes"

// Hooks for the external tests.

// LoadSnapshotBytes loads a snapshot from memory, so the fuzzer does not
// touch the file system.
func LoadSnapshotBytes(m *Memory, data []byte) error { return m.loadFrom(bytes.NewReader(data)) }

// PendingLinks returns how many private links of key wait for a quorum.
func PendingLinks(m *Memory, key string) int {
	s := m.shardFor(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.entries[key]; ok {
		return len(e.pending)
	}
	return 0
}

// Shards returns the number of shards of m.
func Shards(m *Memory) int { return len(m.shards) }

var ShardCount = shardCount
