package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr error  // nil means valid
		wantMsg string // substring of the error, if any
	}{
		{name: "zero value", cfg: Config{}},
		{name: "loopback ipv4", cfg: Config{Addr: "127.0.0.1:0"}},
		{name: "loopback ipv6", cfg: Config{Addr: "[::1]:8443"}},
		{name: "localhost", cfg: Config{Addr: "localhost:8443"}},
		{name: "named port", cfg: Config{Addr: "127.0.0.1:https"}},
		{name: "public with files", cfg: Config{Addr: ":8443", CertFile: "c.pem", KeyFile: "k.pem"}},
		{name: "public self-signed on request", cfg: Config{Addr: "0.0.0.0:8443", SelfSigned: true}},
		{
			name: "all interfaces without cert", cfg: Config{Addr: ":8443"},
			wantErr: ErrSelfSignedNotLoopback, wantMsg: "--tls-cert",
		},
		{
			name: "unspecified without cert", cfg: Config{Addr: "0.0.0.0:8443"},
			wantErr: ErrSelfSignedNotLoopback, wantMsg: "--self-signed",
		},
		{
			name: "host name without cert", cfg: Config{Addr: "example.com:443"},
			wantErr: ErrSelfSignedNotLoopback,
		},
		{name: "cert without key", cfg: Config{CertFile: "c.pem"}, wantErr: ErrCertKeyPair},
		{name: "key without cert", cfg: Config{KeyFile: "k.pem"}, wantErr: ErrCertKeyPair},
		{
			name: "files and self-signed", cfg: Config{CertFile: "c.pem", KeyFile: "k.pem", SelfSigned: true},
			wantErr: ErrInvalidConfig, wantMsg: "either",
		},
		{name: "no port", cfg: Config{Addr: "127.0.0.1"}, wantErr: ErrInvalidConfig, wantMsg: "host:port"},
		{name: "bad port", cfg: Config{Addr: "127.0.0.1:99999"}, wantErr: ErrInvalidConfig, wantMsg: "port"},
		{name: "h2c no port", cfg: Config{H2CAddr: "127.0.0.1"}, wantErr: ErrInvalidConfig, wantMsg: "h2c"},
		{name: "h2c separate port", cfg: Config{H2CAddr: "127.0.0.1:8080"}},
		{name: "h2c both ephemeral", cfg: Config{Addr: "127.0.0.1:0", H2CAddr: "127.0.0.1:0"}},
		{
			name: "h2c same port", cfg: Config{Addr: "127.0.0.1:8443", H2CAddr: ":8443"},
			wantErr: ErrInvalidConfig, wantMsg: "same TCP port",
		},
		{name: "h2c same port other host", cfg: Config{Addr: "127.0.0.1:8443", H2CAddr: "127.0.0.2:8443"}},
		{
			name: "negative read header timeout", cfg: Config{ReadHeaderTimeout: -time.Second},
			wantErr: ErrInvalidConfig, wantMsg: "read header timeout",
		},
		{
			name: "negative idle timeout", cfg: Config{IdleTimeout: -1},
			wantErr: ErrInvalidConfig, wantMsg: "idle timeout",
		},
		{
			name: "negative shutdown timeout", cfg: Config{ShutdownTimeout: -1},
			wantErr: ErrInvalidConfig, wantMsg: "shutdown timeout",
		},
		{
			name: "negative header bytes", cfg: Config{MaxHeaderBytes: -1},
			wantErr: ErrInvalidConfig, wantMsg: "max header bytes",
		},
		{
			name: "nil hook", cfg: Config{OnShutdown: []func(context.Context) error{nil}},
			wantErr: ErrInvalidConfig, wantMsg: "hook",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Validate() = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Validate() = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestConfig_withDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Addr != "127.0.0.1:8443" || c.ReadHeaderTimeout != 10*time.Second || c.IdleTimeout != 120*time.Second ||
		c.MaxHeaderBytes != 64<<10 || c.ShutdownTimeout != 30*time.Second || c.Logger == nil || c.DisableHTTP3 {
		t.Errorf("defaults = %+v", c)
	}
	set := Config{Addr: "127.0.0.1:1", IdleTimeout: time.Second}.withDefaults()
	if set.Addr != "127.0.0.1:1" || set.IdleTimeout != time.Second {
		t.Errorf("explicit values overwritten: %+v", set)
	}
}
