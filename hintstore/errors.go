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
