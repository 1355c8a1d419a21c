package hintstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The snapshot file is JSON:
//
//	{"version":1,"written":"…","entries":[{"key":"…","public":[{"target":"…","value":"…"}],
//	 "private":[…],"updated":"…","expires":"…"}]}
//
// Entries are written oldest first. Private links below their quorum are
// never written: requester identities stay in memory, and they are keyed
// hashes that need not match after a restart, which could let one person
// count twice.
const snapshotVersion = 1

// Bounds on what a snapshot may hold, so a damaged or hostile file cannot
// make the process allocate without limit or emit a broken header.
const (
	minSnapshotLimit   = 64 << 20
	maxSnapshotKey     = 8 << 10
	maxSnapshotLink    = 8 << 10
	maxSnapshotLinks   = 64 // per list (public, private) of one route
	corruptSnapshotExt = ".corrupt"
)

type snapshotFile struct {
	Version int             `json:"version"`
	Written time.Time       `json:"written"`
	Entries []snapshotEntry `json:"entries"`
}

type snapshotEntry struct {
	Key     string    `json:"key"`
	Public  []Link    `json:"public,omitempty"`
	Private []Link    `json:"private,omitempty"`
	Vary    []string  `json:"vary,omitempty"`
	Updated time.Time `json:"updated"`
	Expires time.Time `json:"expires"`
}

// snapshotLimit is the largest snapshot accepted: twice the byte bound,
// which a snapshot of a full store never reaches, and at least 64 MiB.
func (m *Memory) snapshotLimit() int64 {
	return max(minSnapshotLimit, 2*m.cfg.MaxBytes)
}

// Snapshot writes the routes with hints to SnapshotPath atomically: a
// temporary file in the same directory, synced, then renamed over the old
// one, so a crash leaves either the old snapshot or the new one.
func (m *Memory) Snapshot() error {
	if m.cfg.SnapshotPath == "" {
		return ErrNoSnapshotPath
	}
	m.snapshotMu.Lock()
	defer m.snapshotMu.Unlock()
	now := m.clock.Nanos()
	f := snapshotFile{Version: snapshotVersion, Written: m.clock.Now(), Entries: []snapshotEntry{}}
	for _, s := range m.shards {
		s.mu.RLock()
		for _, e := range s.entries {
			if e.live(now) {
				// The slices are never modified in place, so sharing them
				// past the lock is safe.
				f.Entries = append(f.Entries, snapshotEntry{Key: e.key, Public: e.public, Private: e.private, Vary: e.vary, Updated: e.updatedTime(), Expires: e.expiresTime()})
			}
		}
		s.mu.RUnlock()
	}
	slices.SortFunc(f.Entries, func(a, b snapshotEntry) int { return a.Updated.Compare(b.Updated) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Link values are full of < and >
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("hintstore: encode snapshot: %w", err)
	}
	if int64(buf.Len()) > m.snapshotLimit() {
		return fmt.Errorf("hintstore: snapshot of %d bytes exceeds the %d bytes a load accepts; lower MaxBytes", buf.Len(), m.snapshotLimit())
	}
	return writeAtomic(m.cfg.SnapshotPath, buf.Bytes())
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("hintstore: write snapshot in %s (is the directory writable?): %w", dir, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("hintstore: write snapshot %s: %w", path, err)
	}
	// Sync the directory so the rename itself survives a power loss.
	if d, err := os.Open(dir); err == nil { //nolint:gosec // the directory of the operator's SnapshotPath
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func (m *Memory) snapshotLoop() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.SnapshotInterval)
	defer t.Stop()
	written := m.changes.Load()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			changes := m.changes.Load()
			if changes == written {
				continue
			}
			if err := m.Snapshot(); err != nil {
				m.cfg.Logger.Warn("hintstore: periodic snapshot failed", "path", m.cfg.SnapshotPath, "err", err)
				continue
			}
			written = changes
		}
	}
}

// load reads the snapshot at path into the empty store.
func (m *Memory) load(path string) error {
	f, err := os.Open(path) //nolint:gosec // path is the operator's SnapshotPath
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hintstore: open snapshot: %w", err)
	}
	err = m.loadFrom(f)
	_ = f.Close()
	if err == nil {
		return nil
	}
	if !m.cfg.IgnoreCorruptSnapshot {
		return fmt.Errorf("%w %s: %w (delete the file, or set IgnoreCorruptSnapshot to move it aside and start with an empty store)", ErrCorruptSnapshot, path, err)
	}
	// The time in the name keeps an earlier bad file from being
	// overwritten, so each one can still be examined.
	aside := path + corruptSnapshotExt + "-" + m.clock.Now().UTC().Format("20060102T150405.000000000Z")
	if rerr := os.Rename(path, aside); rerr != nil {
		return fmt.Errorf("%w %s: %w; moving it aside failed too: %w", ErrCorruptSnapshot, path, err, rerr)
	}
	m.cfg.Logger.Warn("hintstore: corrupt snapshot moved aside, starting with an empty store", "path", path, "moved_to", aside, "err", err)
	return nil
}

// loadFrom reads a snapshot, bounded in size, into the store. A file that
// is not a snapshot is an error; within one, expired routes and invalid
// links are dropped (and counted in a warning), the rest is kept.
func (m *Memory) loadFrom(r io.Reader) error {
	limit := m.snapshotLimit()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("larger than %d bytes", limit)
	}
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	if f.Version != snapshotVersion {
		return fmt.Errorf("version %d, this build reads version %d", f.Version, snapshotVersion)
	}
	now := m.clock.Now()
	dropped := 0
	for _, se := range f.Entries {
		e, ok := m.entryFromSnapshot(se, now)
		if !ok {
			dropped++
			continue
		}
		m.insertLoaded(e)
	}
	if dropped > 0 {
		m.cfg.Logger.Warn("hintstore: snapshot routes dropped (expired or invalid)", "path", m.cfg.SnapshotPath, "dropped", dropped)
	}
	return nil
}

func (m *Memory) entryFromSnapshot(se snapshotEntry, now time.Time) (*entry, bool) {
	if se.Key == "" || len(se.Key) > maxSnapshotKey || !se.Expires.After(now) {
		return nil, false
	}
	// A snapshot cannot extend a route's life beyond one TTL from now.
	expires := se.Expires
	if limit := now.Add(m.cfg.TTL); expires.After(limit) {
		expires = limit
	}
	e := &entry{key: se.Key, public: validLinks(se.Public), private: validLinks(se.Private), vary: validVary(se.Vary), updatedNano: se.Updated.UnixNano(), expiresNano: expires.UnixNano()}
	e.relink()
	return e, e.hinted()
}

// validVary keeps the header names a Vary mark may hold.
func validVary(names []string) []string {
	var out []string
	for _, n := range names {
		if len(out) < maxSnapshotLinks && n != "" && len(n) <= 64 && !strings.ContainsAny(n, "\r\n\x00:, ") {
			out = append(out, n)
		}
	}
	return out
}

// validLinks keeps the links a header may carry: a non-empty target, no
// control characters that could split a header, bounded lengths.
func validLinks(links []Link) []Link {
	var out []Link
	for _, l := range links {
		if len(out) == maxSnapshotLinks {
			break
		}
		if l.Target == "" || l.Value == "" || len(l.Target)+len(l.Value) > maxSnapshotLink ||
			strings.ContainsAny(l.Target, "\r\n\x00") || strings.ContainsAny(l.Value, "\r\n\x00") ||
			slices.Contains(out, l) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// insertLoaded adds a route read from a snapshot; a later duplicate of a
// key replaces the earlier one, and the bounds apply as to any write.
func (m *Memory) insertLoaded(e *entry) {
	s := m.shardFor(e.key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.entries[e.key]; ok {
		m.removeLocked(s, old)
	}
	s.entries[e.key] = e
	m.targets.reindex(e, false)
	s.order.pushFront(e)
	s.bytes += e.size
	for (len(s.entries) > s.maxEntries || s.bytes > s.maxBytes) && len(s.entries) > 1 {
		m.evictOneLocked(s, e, 0)
	}
}
