package redisstore

import (
	"strings"
	"testing"
)

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{"plain", Config{URL: "redis://127.0.0.1:6379/0"}, ""},
		{"tls with user", Config{URL: "rediss://user:secret@cache.example:6380/2"}, ""},
		{"no url", Config{}, "no URL"},
		{"other scheme", Config{URL: "http://127.0.0.1:6379"}, "not a Redis URL"},
		{"no host", Config{URL: "redis:///0"}, "not a Redis URL"},
		{"password hidden", Config{URL: "memcache://u:hunter2@h:1"}, "u:xxxxx@h:1"},
		{"negative", Config{URL: "redis://h:1", MaxRoutes: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want an error with %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestGlobEscape(t *testing.T) {
	if got := globEscape(`a*b?[c]\`); got != `a\*b\?\[c\]\\` {
		t.Fatalf("globEscape = %q", got)
	}
}

// FuzzDecodeView: whatever a key holds, decoding it returns an error or
// an entry whose links are unique by target.
func FuzzDecodeView(f *testing.F) {
	for _, seed := range []string{
		`{"u":1764650000000,"e":1764653600000,"p":[["https://a.test/a.css","</a.css>; rel=preload; as=style"]],"q":[["https://a.test/a.css","x"],["https://a.test/p.js","y"]]}`,
		`{"u":1,"e":2,"y":["User-Agent"]}`, `{}`, `{"p":{}}`, `[]`, ``, `{"p":[["a"]]}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		e, err := decodeView("k", raw)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, l := range e.Links {
			if seen[l.Target] {
				t.Fatalf("target %q repeated in %+v", l.Target, e.Links)
			}
			seen[l.Target] = true
		}
	})
}
