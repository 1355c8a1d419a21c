package proxy

import (
	"crypto/tls"
	"net/http"
	"testing"
)

func TestForwarded(t *testing.T) {
	tests := []struct {
		name, remote, host string
		tls                bool
		want               string
	}{
		{"ipv4 over TLS", "192.0.2.7:51000", "www.example.com", true, `for=192.0.2.7;host="www.example.com";proto=https`},
		{"ipv6", "[2001:db8::1]:443", "example.com:8443", false, `for="[2001:db8::1]";host="example.com:8443";proto=http`},
		{"no port, no host", "192.0.2.7", "", false, `proto=http`},
		{"host quoted", "192.0.2.7:1", `a"b`, false, `for=192.0.2.7;host="a\"b";proto=http`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Host: tt.host}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := forwarded(r); got != tt.want {
				t.Errorf("forwarded = %s, want %s", got, tt.want)
			}
		})
	}
}
