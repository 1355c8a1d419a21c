package httpx

import (
	"net/http"
	"strings"
	"testing"
)

func TestHopByHopFields(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want []string
	}{
		{"none", http.Header{"Link": {"</a>"}}, nil},
		{"fixed list", http.Header{"Keep-Alive": {"5"}, "Link": {"</a>"}, "Upgrade": {"h2c"}}, []string{"Keep-Alive", "Upgrade"}},
		{"named by Connection", http.Header{"Connection": {"x-a, X-B"}, "X-A": {"1"}, "X-B": {"2"}, "Link": {"</a>"}}, []string{"Connection", "X-A", "X-B"}},
		{"named but absent", http.Header{"Connection": {"x-gone"}}, []string{"Connection"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HopByHopFields(tc.h)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("HopByHopFields = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		values []string
		want   CacheControl
	}{
		{nil, CacheControl{MaxAge: -1}},
		{[]string{"public, max-age=3600"}, CacheControl{MaxAge: 3600}},
		{[]string{"Private", "no-store"}, CacheControl{Private: true, NoStore: true, MaxAge: -1}},
		{[]string{`private="Set-Cookie", max-age="60"`}, CacheControl{Private: true, MaxAge: 60}},
		{[]string{"no-cache, max-age=-5"}, CacheControl{NoCache: true, MaxAge: -1}},
		{[]string{"s-maxage=10"}, CacheControl{MaxAge: -1}},
	}
	for _, tc := range tests {
		if got := ParseCacheControl(http.Header{"Cache-Control": tc.values}); got != tc.want {
			t.Errorf("ParseCacheControl(%q) = %+v, want %+v", tc.values, got, tc.want)
		}
	}
}

func TestLexers(t *testing.T) {
	for s, want := range map[string]bool{"style": true, "": false, "a b": false, "x-y.z~": true, "a,b": false} {
		if IsToken(s) != want {
			t.Errorf("IsToken(%q) = %v", s, !want)
		}
	}
	if !HasControl("a\tb") || HasFieldControl("a\tb") || !HasFieldControl("a\nb") || !HasControl("\x7f") {
		t.Error("control characters misread")
	}
}
