package hintstore

import "errors"

var (
	// ErrCorruptSnapshot is returned by NewMemory when its snapshot file
	// exists but cannot be loaded. The error names the file; deleting it
	// (or setting MemoryConfig.IgnoreCorruptSnapshot) starts an empty store.
	ErrCorruptSnapshot = errors.New("hintstore: corrupt snapshot")
	// ErrNoSnapshotPath is returned by Snapshot on a store configured
	// without MemoryConfig.SnapshotPath.
	ErrNoSnapshotPath = errors.New("hintstore: no snapshot path configured (set MemoryConfig.SnapshotPath)")
)

// ErrUnavailable is wrapped by a shared store's errors while its server
// cannot be reached: the request goes on without hints, and the store has
// logged the outage once, so callers need not log each error.
var ErrUnavailable = errors.New("hintstore: store unavailable")
