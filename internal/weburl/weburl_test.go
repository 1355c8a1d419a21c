package weburl

import "testing"

func TestSameSite(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"www.shop.example", "static.shop.example", true},
		{"shop.example", "shop.example.", true},
		{"a.shop.co.uk", "b.shop.co.uk", true},
		{"shop.co.uk", "other.co.uk", false},
		{"a.github.io", "b.github.io", false},
		{"shop.example", "shop.example.net", false},
		{"localhost", "localhost", true},
		{"localhost", "a.localhost", false},
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"[::1]", "[::1]", true},
		{"10.0.0.1", "1.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.a+"_"+tc.b, func(t *testing.T) {
			if got := SameSite(tc.a, tc.b); got != tc.want {
				t.Errorf("SameSite(%q, %q) = %v", tc.a, tc.b, got)
			}
		})
	}
}
