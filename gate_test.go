package earlyhints

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler_gate(t *testing.T) {
	nav := http.Header{"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}}
	tests := []struct {
		name      string
		method    string
		proto     int
		hdr       http.Header
		cfg       Config
		reason    string
		learnable bool
	}{
		{"h2 navigation", "GET", 2, nav, Config{}, "", true},
		{"h3 navigation", "GET", 3, nav, Config{}, "", true},
		{"HEAD navigation hints but does not learn", "HEAD", 2, nav, Config{}, "", false},
		{"POST", "POST", 2, nav, Config{}, ReasonMethod, false},
		{"h1 off by default", "GET", 1, nav, Config{}, ReasonProtocol, true},
		{"h1 when allowed", "GET", 1, nav, Config{AllowHTTP1: true}, "", true},
		{"dest document only", "GET", 2, http.Header{"Sec-Fetch-Dest": {"document"}}, Config{}, "", true},
		{"fetch() of a page", "GET", 2, http.Header{"Sec-Fetch-Mode": {"cors"}, "Sec-Fetch-Dest": {"empty"}, "Accept": {"text/html"}}, Config{}, ReasonNotNav, false},
		{"iframe", "GET", 2, http.Header{"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"iframe"}}, Config{}, "", true},
		{"no metadata, Accept html", "GET", 2, http.Header{"Accept": {"text/html,application/xhtml+xml"}}, Config{}, "", true},
		{"no metadata, Accept any", "GET", 2, http.Header{"Accept": {"*/*"}}, Config{}, ReasonNotNav, false},
		{"stylesheet", "GET", 2, http.Header{"Sec-Fetch-Dest": {"style"}, "Sec-Fetch-Mode": {"no-cors"}}, Config{}, ReasonNotNav, false},
		{"denied agent", "GET", 2, http.Header{"Accept": {"text/html"}, "User-Agent": {"OldBot/1.0"}}, Config{DenyUserAgents: []string{"OldBot"}}, ReasonUserAgent, true},
		{"disabled", "GET", 2, nav, Config{Disabled: true}, ReasonDisabled, false},
		{"learning off", "GET", 2, nav, Config{DisableLearning: true}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(http.NotFoundHandler(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			r := httptest.NewRequest(tc.method, "https://example.com/", nil)
			r.ProtoMajor = tc.proto
			r.Header = tc.hdr
			reason, learnable := h.gate(r)
			if reason != tc.reason || learnable != tc.learnable {
				t.Errorf("gate = (%q, %v), want (%q, %v)", reason, learnable, tc.reason, tc.learnable)
			}
		})
	}
}

func TestHandler_RouteKey(t *testing.T) {
	tests := []struct {
		name   string
		url    string
		tls    bool
		params []string
		want   string
	}{
		{"query ignored", "http://Example.COM/a/b?x=1&utm=2", true, nil, "https://example.com/a/b"},
		{"plain http", "http://example.com/", false, nil, "http://example.com/"},
		{"chosen params sorted", "http://example.com/p?lang=de&utm=x&id=7", true, []string{"lang", "id"}, "https://example.com/p?id=7&lang=de"},
		{"chosen param absent", "http://example.com/p?utm=x", true, []string{"lang"}, "https://example.com/p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := New(http.NotFoundHandler(), Config{QueryParams: tc.params})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			r := httptest.NewRequest("GET", tc.url, nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			if got := h.RouteKey(r); got != tc.want {
				t.Errorf("RouteKey = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"negative preloads", Config{MaxPreloads: -1}, false},
		{"tiny header cap", Config{MaxHeaderBytes: 10}, false},
		{"quorum of one", Config{PrivateQuorum: 1}, false},
		{"quorum of three", Config{PrivateQuorum: 3}, true},
		{"scan too large", Config{ScanBytes: 1 << 30}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
