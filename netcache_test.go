package earlyhints

import (
	"fmt"
	"testing"
)

func TestNetCache_Network(t *testing.T) {
	c := newNetCache()
	// More addresses than slots, each asked twice, so that slots are
	// shared and replaced: every answer must still be the address's own.
	var addrs []string
	for i := range 3 * netCacheSlots {
		addrs = append(addrs, fmt.Sprintf("10.%d.%d.7:%d", i/256, i%256, 40000+i), fmt.Sprintf("[2001:db8:%x::1]:443", i))
	}
	addrs = append(addrs, "not an address", "")
	for round := range 2 {
		for _, a := range addrs {
			if got, want := c.network(a), clientNetwork(a); got != want {
				t.Fatalf("round %d: network(%q) = %q, want %q", round, a, got, want)
			}
		}
	}
}

func TestNetCache_NetworkAllocs(t *testing.T) {
	c := newNetCache()
	c.network("198.51.100.7:40000")
	if n := testing.AllocsPerRun(100, func() { c.network("198.51.100.7:40000") }); n != 0 {
		t.Errorf("a remembered address allocates %v times, want 0", n)
	}
}

func TestIsPageType(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want bool
	}{
		{"text/html", true},
		{"TEXT/HTML", true},
		{"text/html; charset=utf-8", true},
		{"text/html; charset=UTF-8", true},
		{"text/html;charset=utf-8", true},
		{"text/html; charset=iso-8859-1", true},
		{" text/html ; charset=\"utf-8\"", true},
		{"application/xhtml+xml", true},
		{"text/html; charset", false},
		{"text/plain", false},
		{"application/json", false},
		{"", false},
	} {
		if got := isPageType(tc.ct); got != tc.want {
			t.Errorf("isPageType(%q) = %v, want %v", tc.ct, got, tc.want)
		}
	}
}
