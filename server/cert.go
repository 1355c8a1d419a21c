package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// SelfSignedValidity is how long a generated certificate is valid. It is
// short because a generated certificate is made again on every start, and well
// under the 397 days browsers accept for any leaf.
const SelfSignedValidity = 30 * 24 * time.Hour

// GenerateSelfSigned makes a self-signed ECDSA P-256 server certificate for
// localhost, 127.0.0.1, ::1 and the given extra hosts (names or IP
// addresses; empty and unspecified addresses are skipped). It returns the
// certificate and its PKCS #8 private key, PEM encoded, ready for
// tls.X509KeyPair or for writing to --tls-cert/--tls-key files.
//
// The certificate is a plain leaf: no CA bit and no name constraints, so a
// browser can pin it by its public key (SPKIHash) without trusting a CA.
func GenerateSelfSigned(hosts ...string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("server: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("server: generate serial number: %w", err)
	}
	dnsNames, ips := certNames(hosts)
	// Backdated a little so a client whose clock is slightly behind still
	// accepts it.
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"earlyhints"}, CommonName: "earlyhints self-signed"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("server: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("server: encode private key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// certNames splits hosts into the DNS and IP subject alternative names of a
// generated certificate, always including the loopback names.
func certNames(hosts []string) ([]string, []net.IP) {
	dnsNames := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	for _, h := range hosts {
		h = strings.Trim(h, "[]")
		if h == "" {
			continue
		}
		if ip, err := netip.ParseAddr(h); err == nil {
			ip = ip.Unmap().WithZone("")
			if ip.IsUnspecified() || slices.ContainsFunc(ips, func(have net.IP) bool { return have.Equal(ip.AsSlice()) }) {
				continue
			}
			ips = append(ips, ip.AsSlice())
			continue
		}
		if !slices.Contains(dnsNames, strings.ToLower(h)) {
			dnsNames = append(dnsNames, strings.ToLower(h))
		}
	}
	return dnsNames, ips
}

// SPKIHash is the base64 SHA-256 of the certificate's SubjectPublicKeyInfo,
// the value Chromium's --ignore-certificate-errors-spki-list expects. Pinning
// the key makes Chromium trust the certificate fully, which it must for Early
// Hints: with a certificate error it fetches the hinted resources and then
// throws them away.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// loadedCert is one certificate as served, with the parsed leaf kept for
// callers that want to show or trust it.
type loadedCert struct {
	cert       *tls.Certificate
	leaf       *x509.Certificate
	selfSigned bool
}

// certSource hands the current certificate to TLS handshakes (TCP and QUIC
// alike) and swaps it atomically on reload, so reloading never interrupts
// connections and a failed reload changes nothing.
type certSource struct {
	certFile, keyFile string
	current           atomic.Pointer[loadedCert]
}

func newCertSource(certFile, keyFile string, hosts ...string) (*certSource, error) {
	s := &certSource{certFile: certFile, keyFile: keyFile}
	if certFile == "" {
		certPEM, keyPEM, err := GenerateSelfSigned(hosts...)
		if err != nil {
			return nil, err
		}
		lc, err := parsePair(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		lc.selfSigned = true
		s.current.Store(lc)
		return s, nil
	}
	lc, err := s.load()
	if err != nil {
		return nil, err
	}
	s.current.Store(lc)
	return s, nil
}

// MaxCertFileBytes bounds a certificate or key file: a chain of a few
// certificates takes a few kilobytes, and a path that names something
// endless (/dev/zero, a device) must fail at once rather than fill memory.
const MaxCertFileBytes = 1 << 20

// readBounded reads the file at path, of at most MaxCertFileBytes.
func readBounded(path, what string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the operator's own --tls-cert/--tls-key path
	if err != nil {
		return nil, fmt.Errorf("server: read %s: %w", what, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxCertFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("server: read %s %s: %w", what, path, err)
	}
	if len(b) > MaxCertFileBytes {
		return nil, fmt.Errorf("server: %s %s is larger than %d KiB, which no certificate or key is; point the setting at the PEM file", what, path, MaxCertFileBytes>>10)
	}
	return b, nil
}

func (s *certSource) load() (*loadedCert, error) {
	certPEM, err := readBounded(s.certFile, "certificate")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readBounded(s.keyFile, "key")
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server: load certificate %s with key %s: %w; check that both files are PEM and belong together", s.certFile, s.keyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("server: parse certificate %s: %w", s.certFile, err)
		}
		cert.Leaf = leaf
	}
	return &loadedCert{cert: &cert, leaf: leaf}, nil
}

func parsePair(certPEM, keyPEM []byte) (*loadedCert, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server: parse generated certificate: %w", err)
	}
	if cert.Leaf == nil {
		return nil, errors.New("server: generated certificate has no leaf")
	}
	return &loadedCert{cert: &cert, leaf: cert.Leaf}, nil
}

// reload reads the files again; on any error the current certificate stays.
// A generated certificate has no files and is kept as it is.
func (s *certSource) reload() (*loadedCert, error) {
	if s.certFile == "" {
		return s.current.Load(), nil
	}
	lc, err := s.load()
	if err != nil {
		return nil, err
	}
	s.current.Store(lc)
	return lc, nil
}

func (s *certSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.current.Load().cert, nil
}
