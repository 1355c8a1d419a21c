package inspect

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestUncacheable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   string // a substring of the reason; "" for cacheable
	}{
		{"long max-age", http.Header{"Cache-Control": {"public, max-age=3600"}}, ""},
		{"no headers", http.Header{}, ""},
		{"no-store", http.Header{"Cache-Control": {"max-age=3600, no-store"}}, "no-store"},
		{"no-cache", http.Header{"Cache-Control": {`no-cache="Set-Cookie"`}}, "no-cache"},
		{"short", http.Header{"Cache-Control": {"max-age=5"}}, "max-age=5"},
		{"bad max-age", http.Header{"Cache-Control": {"max-age=soon"}}, "not a number"},
		{"quoted comma", http.Header{"Cache-Control": {`private="a, no-store", max-age=600`}}, ""},
		{"vary star", http.Header{"Cache-Control": {"max-age=3600"}, "Vary": {"Accept, *"}}, "Vary: *"},
		{"pragma", http.Header{"Pragma": {"no-cache"}}, "Pragma"},
		{"expired", http.Header{"Expires": {"Thu, 01 Jan 1970 00:00:00 GMT"}}, "Expires"},
		{"bad expires", http.Header{"Expires": {"0"}}, "not a date"},
		{"future expires", http.Header{"Expires": {now.Add(time.Hour).Format(http.TimeFormat)}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := uncacheable(tt.header, now, time.Minute)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("uncacheable = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAdvertisesH3(t *testing.T) {
	for v, want := range map[string]bool{
		`h3=":443"; ma=86400`:           true,
		`h2=":443", h3=":8443"`:         true,
		`h3-29=":443"`:                  false,
		`clear`:                         false,
		``:                              false,
		`h2="alt.example:443"; ma="h3"`: false,
	} {
		if got := advertisesH3([]string{v}); got != want {
			t.Errorf("advertisesH3(%q) = %v, want %v", v, got, want)
		}
	}
}

func FuzzFields(f *testing.F) {
	for _, s := range []string{`public, max-age=3600`, `no-cache="a, b", max-age="5"`, `h3=":443"; ma=86400, h2=":443"`, `"\`, `,,=,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Cache-Control": {v}, "Expires": {v}, "Pragma": {v}, "Vary": {v}}
		_ = uncacheable(h, time.Unix(0, 0), time.Minute)
		_ = advertisesH3([]string{v})
		_ = hopByHopRejected(errors.New(v))
		for k := range directives([]string{v}) {
			if k != strings.ToLower(k) {
				t.Fatalf("directive %q not lower-cased", k)
			}
		}
	})
}
