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
