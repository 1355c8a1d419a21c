package server

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSPKIHash(t *testing.T) {
	// The fixture's expected value was computed with the recipe Chromium
	// documents for --ignore-certificate-errors-spki-list:
	// openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
	// openssl dgst -sha256 -binary | base64
	certPEM, err := os.ReadFile("testdata/fixture.crt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/fixture.spki")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := SPKIHash(cert); got != strings.TrimSpace(string(want)) {
		t.Errorf("SPKIHash = %s, want %s", got, want)
	}
}

func TestGenerateSelfSigned(t *testing.T) {
	tests := []struct {
		name      string
		hosts     []string
		wantDNS   []string
		wantIPs   []string
		forbidIPs []string
	}{
		{
			name:    "loopback only",
			wantDNS: []string{"localhost"},
			wantIPs: []string{"127.0.0.1", "::1"},
		},
		{
			name:    "extra name and address",
			hosts:   []string{"Proxy.Example", "192.0.2.7", "[2001:db8::1]", "localhost", "127.0.0.1"},
			wantDNS: []string{"localhost", "proxy.example"},
			wantIPs: []string{"127.0.0.1", "::1", "192.0.2.7", "2001:db8::1"},
		},
		{
			name:      "unspecified skipped",
			hosts:     []string{"", "0.0.0.0", "::"},
			wantDNS:   []string{"localhost"},
			wantIPs:   []string{"127.0.0.1", "::1"},
			forbidIPs: []string{"0.0.0.0", "::"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, err := GenerateSelfSigned(tt.hosts...)
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatalf("generated pair does not load: %v", err)
			}
			leaf := pair.Leaf
			if !slices.Equal(leaf.DNSNames, tt.wantDNS) {
				t.Errorf("DNSNames = %v, want %v", leaf.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IPAddresses = %v, want %v", ips, tt.wantIPs)
			}
			if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
				t.Errorf("key type %T, want ECDSA", leaf.PublicKey)
			}
			if leaf.IsCA || len(leaf.PermittedDNSDomains) > 0 || len(leaf.ExcludedDNSDomains) > 0 {
				t.Error("generated certificate must be a plain leaf without CA bit or name constraints")
			}
			if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 397*24*time.Hour {
				t.Errorf("validity %v exceeds what browsers accept", life)
			}
			if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
				t.Errorf("not valid now: %v..%v", leaf.NotBefore, leaf.NotAfter)
			}
			// A Go client that trusts the leaf itself verifies it for each name.
			pool := x509.NewCertPool()
			pool.AddCert(leaf)
			for _, name := range append(slices.Clone(tt.wantDNS), tt.wantIPs...) {
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
					t.Errorf("verify for %s: %v", name, err)
				}
			}
			for _, ip := range tt.forbidIPs {
				if slices.ContainsFunc(leaf.IPAddresses, func(have net.IP) bool { return have.Equal(net.ParseIP(ip)) }) {
					t.Errorf("certificate names unspecified address %s", ip)
				}
			}
		})
	}
}

func TestGenerateSelfSigned_FreshKeys(t *testing.T) {
	a, _, err := GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	if string(a) == string(b) {
		t.Error("two generated certificates are identical")
	}
}
