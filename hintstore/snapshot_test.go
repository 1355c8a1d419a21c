package hintstore_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
)

var (
	cssLink = hintstore.Link{Target: "https://a.test/a.css", Value: "</a.css>; rel=preload; as=style"}
	jsLink  = hintstore.Link{Target: "https://a.test/p.js", Value: "</p.js>; rel=preload; as=script"}
	pngLink = hintstore.Link{Target: "https://a.test/me.png", Value: "</me.png>; rel=preload; as=image"}
)

func TestMemory_SnapshotSurvivesRestart(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hints.json")
	m := newMemory(t, hintstore.MemoryConfig{SnapshotPath: path})
	if _, err := m.Observe(ctx, "https://a.test/", hintstore.Observation{Links: []hintstore.Link{cssLink}}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"requester-one", "requester-two"} {
		if _, err := m.Observe(ctx, "https://a.test/", hintstore.Observation{Links: []hintstore.Link{jsLink}, Private: true, Requester: hintstore.Requester{Network: who}}); err != nil {
			t.Fatal(err)
		}
	}
	// A private link below quorum is never written to disk.
	if _, err := m.Observe(ctx, "https://a.test/me", hintstore.Observation{Links: []hintstore.Link{pngLink}, Private: true, Requester: hintstore.Requester{Network: "requester-three"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"requester-", "me.png"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("snapshot holds %q: %s", secret, raw)
		}
	}
	if !bytes.Contains(raw, []byte(`"</a.css>; rel=preload; as=style"`)) || !bytes.Contains(raw, []byte(`"version":1`)) {
		t.Errorf("snapshot is not readable JSON with a version: %s", raw)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}

	m2 := newMemory(t, hintstore.MemoryConfig{SnapshotPath: path})
	e, ok, err := m2.Get(ctx, "https://a.test/")
	if err != nil || !ok || len(e.Links) != 2 || e.Links[0] != cssLink || e.Links[1] != jsLink {
		t.Fatalf("after restart: %+v ok=%v err=%v", e, ok, err)
	}
	if _, ok, _ := m2.Get(ctx, "https://a.test/me"); ok {
		t.Fatal("sub-quorum private state was persisted")
	}
	// The quorum link is still private: a public page replaces it.
	if _, err := m2.Observe(ctx, "https://a.test/", hintstore.Observation{Links: []hintstore.Link{cssLink}}); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := m2.Get(ctx, "https://a.test/"); len(e.Links) != 1 {
		t.Fatalf("after a public page: %+v", e.Links)
	}
}

func TestMemory_SnapshotLoadDropsBadRoutes(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	file := `{"version":1,"entries":[
		{"key":"expired","public":[{"target":"https://a.test/x","value":"</x>"}],"expires":"` + now.Add(-time.Second).Format(time.RFC3339) + `"},
		{"key":"","public":[{"target":"https://a.test/x","value":"</x>"}],"expires":"2999-01-01T00:00:00Z"},
		{"key":"crlf","public":[{"target":"https://a.test/x","value":"</x>\r\nSet-Cookie: a=b"}],"expires":"2999-01-01T00:00:00Z"},
		{"key":"mixed","public":[{"target":"","value":"</y>"},{"target":"https://a.test/x","value":"</x>"}],"expires":"2999-01-01T00:00:00Z"},
		{"key":"dup","public":[{"target":"https://a.test/1","value":"</1>"}],"expires":"2999-01-01T00:00:00Z"},
		{"key":"dup","public":[{"target":"https://a.test/2","value":"</2>"}],"expires":"2999-01-01T00:00:00Z"}
	]}`
	m := newMemory(t, hintstore.MemoryConfig{Clock: clock.Now})
	if err := hintstore.LoadSnapshotBytes(m, []byte(file)); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for key, want := range map[string]string{"expired": "", "crlf": "", "mixed": "https://a.test/x", "dup": "https://a.test/2"} {
		e, ok, _ := m.Get(ctx, key)
		got := ""
		if ok {
			got = e.Links[0].Target
			if len(e.Links) != 1 {
				t.Errorf("%s: %d links", key, len(e.Links))
			}
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", key, got, want)
		}
		// A snapshot never extends a route's life past one TTL from now.
		if ok && e.Expires.After(now.Add(hintstore.DefaultTTL)) {
			t.Errorf("%s expires %v, past one TTL", key, e.Expires)
		}
	}
}

func TestMemory_CorruptSnapshot(t *testing.T) {
	tests := []struct{ name, content string }{
		{"not json", "{{{"},
		{"empty", ""},
		{"wrong version", `{"version":99,"entries":[]}`},
		{"no version", `{"entries":[]}`},
		{"wrong shape", `{"version":1,"entries":{"a":1}}`},
		{"truncated", `{"version":1,"written":"2026-01-01T00:00:00Z","entries":[{"key":"https://a.example/","public":[{"tar`},
		{"binary", "\x00\x01\xff\xfe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hints.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path})
			if !errors.Is(err, hintstore.ErrCorruptSnapshot) {
				t.Fatalf("NewMemory error %v, want ErrCorruptSnapshot", err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "delete the file") {
				t.Errorf("error does not name the file or say what to do: %v", err)
			}

			var log bytes.Buffer
			m, err := hintstore.NewMemory(hintstore.MemoryConfig{
				SnapshotPath: path, IgnoreCorruptSnapshot: true,
				Logger: slog.New(slog.NewTextHandler(&log, nil)),
			})
			if err != nil {
				t.Fatalf("IgnoreCorruptSnapshot: %v", err)
			}
			if st, _ := m.Stats(t.Context()); st.Entries != 0 {
				t.Fatalf("started with %d entries", st.Entries)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("%d files moved aside, want one named %s.corrupt-TIMESTAMP", len(aside), path)
			}
			if kept, err := os.ReadFile(aside[0]); err != nil || string(kept) != tc.content {
				t.Fatalf("corrupt file not kept aside as it was: %v", err)
			}
			if n := strings.Count(log.String(), "\n"); n != 1 || !strings.Contains(log.String(), "corrupt snapshot") || !strings.Contains(log.String(), aside[0]) {
				t.Errorf("want one warning naming where the file went, got %q", log.String())
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path}); err != nil {
				t.Fatalf("the snapshot written after starting empty does not load: %v", err)
			}
		})
	}
}

func TestMemory_SnapshotErrors(t *testing.T) {
	m := newMemory(t, hintstore.MemoryConfig{})
	if err := m.Snapshot(); !errors.Is(err, hintstore.ErrNoSnapshotPath) {
		t.Fatalf("Snapshot without a path: %v", err)
	}
	m = newMemory(t, hintstore.MemoryConfig{SnapshotPath: filepath.Join(t.TempDir(), "missing-dir", "hints.json")})
	if err := m.Snapshot(); err == nil || !strings.Contains(err.Error(), "missing-dir") {
		t.Fatalf("Snapshot into a missing directory: %v", err)
	}
}

func TestMemory_SnapshotInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "hints.json")
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{SnapshotPath: path, SnapshotInterval: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(90 * time.Second)
		synctest.Wait()
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("an idle store wrote a snapshot: %v", err)
		}
		if _, err := m.Observe(t.Context(), "k", hintstore.Observation{Links: []hintstore.Link{cssLink}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if raw, err := os.ReadFile(path); err != nil || !bytes.Contains(raw, []byte(`"k"`)) {
			t.Fatalf("no periodic snapshot: %v %s", err, raw)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzLoadSnapshot(f *testing.F) {
	f.Add([]byte(`{"version":1,"entries":[{"key":"k","public":[{"target":"https://a/x","value":"</x>"}],"expires":"2999-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"written":"2026-01-01T00:00:00Z","entries":[{"key":"k","public":[{"target":"https://a/x","value":"</x>"}],"private":[{"target":"https://a/x","value":"</y>"},{"target":"https://a/z","value":"</z>"}],"updated":"2026-01-01T00:00:00Z","expires":"2026-01-01T01:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"entries":null}`))
	f.Add([]byte(`{"version":1,"entries":[{"key":"k","public":[{"target":"a\r\nb","value":"\u0000"}],"expires":"2999-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"entries":[{"key":"k","expires":"not a time"}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := hintstore.NewMemory(hintstore.MemoryConfig{MaxEntries: 100, MaxBytes: 64 << 10, Clock: newFakeClock().Now})
		if err != nil {
			t.Fatal(err)
		}
		if err := hintstore.LoadSnapshotBytes(m, data); err != nil {
			return
		}
		ctx := t.Context()
		st, _ := m.Stats(ctx)
		if st.Entries > 100 || st.Bytes > 64<<10 {
			t.Fatalf("loaded %+v past the bounds", st)
		}
		list, _ := m.List(ctx, 0)
		for _, e := range list {
			e2, ok, _ := m.Get(ctx, e.Key)
			if !ok || len(e2.Links) == 0 {
				t.Fatalf("listed route %q has no hints", e.Key)
			}
			for _, l := range e2.Links {
				if strings.ContainsAny(l.Value, "\r\n\x00") || strings.ContainsAny(l.Target, "\r\n\x00") {
					t.Fatalf("loaded a link that splits a header: %q %q", l.Target, l.Value)
				}
			}
		}
	})
}
