package firefox

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// basePrefs keep a fresh profile quiet and predictable: no traffic of its
// own (updates, telemetry, safe browsing, captive-portal and connectivity
// checks, Normandy and remote settings, region and geolocation lookups,
// web push, first-run pages, speculative connections to what the mouse
// hovers), no session restore, and the unsigned reporting extension
// allowed. firefox-esr 153 still polls its remote-settings server: a
// Tunnel refuses it, so it never reaches a lab server.
var basePrefs = map[string]any{
	"app.normandy.enabled":                                     false,
	"app.normandy.api_url":                                     "",
	"app.shield.optoutstudies.enabled":                         false,
	"app.update.auto":                                          false,
	"app.update.enabled":                                       false,
	"app.update.checkInstallTime":                              false,
	"browser.aboutwelcome.enabled":                             false,
	"browser.discovery.enabled":                                false,
	"browser.newtabpage.enabled":                               false,
	"browser.ping-centre.telemetry":                            false,
	"browser.safebrowsing.blockedURIs.enabled":                 false,
	"browser.safebrowsing.downloads.enabled":                   false,
	"browser.safebrowsing.malware.enabled":                     false,
	"browser.safebrowsing.phishing.enabled":                    false,
	"browser.safebrowsing.provider.google4.updateURL":          "",
	"browser.safebrowsing.provider.mozilla.updateURL":          "",
	"browser.search.update":                                    false,
	"browser.sessionstore.resume_from_crash":                   false,
	"browser.shell.checkDefaultBrowser":                        false,
	"browser.startup.firstrunSkipsHomepage":                    true,
	"browser.startup.homepage_override.mstone":                 "ignore",
	"browser.startup.page":                                     0,
	"browser.tabs.warnOnClose":                                 false,
	"browser.topsites.contile.enabled":                         false,
	"browser.urlbar.speculativeConnect.enabled":                false,
	"datareporting.healthreport.uploadEnabled":                 false,
	"datareporting.policy.dataSubmissionEnabled":               false,
	"datareporting.policy.firstRunURL":                         "",
	"extensions.autoDisableScopes":                             0,
	"extensions.enabledScopes":                                 15,
	"extensions.getAddons.cache.enabled":                       false,
	"extensions.update.enabled":                                false,
	"extensions.blocklist.enabled":                             false,
	"extensions.systemAddon.update.enabled":                    false,
	"network.captive-portal-service.enabled":                   false,
	"network.connectivity-service.enabled":                     false,
	"network.dns.disablePrefetch":                              true,
	"network.http.speculative-parallel-limit":                  0,
	"network.prefetch-next":                                    false,
	"network.trr.mode":                                         5,
	"security.OCSP.enabled":                                    0,
	"security.remote_settings.crlite_filters.enabled":          false,
	"services.settings.server":                                 "data:,#remote-settings-dummy/v1",
	"browser.region.network.url":                               "",
	"browser.region.update.enabled":                            false,
	"geo.provider.network.url":                                 "",
	"media.gmp-manager.url":                                    "",
	"toolkit.telemetry.shutdownPingSender.enabled":             false,
	"toolkit.telemetry.newProfilePing.enabled":                 false,
	"toolkit.telemetry.firstShutdownPing.enabled":              false,
	"toolkit.telemetry.bhrPing.enabled":                        false,
	"toolkit.telemetry.updatePing.enabled":                     false,
	"telemetry.fog.test.localhost_port":                        -1,
	"dom.push.connection.enabled":                              false,
	"startup.homepage_welcome_url":                             "",
	"toolkit.telemetry.enabled":                                false,
	"toolkit.telemetry.unified":                                false,
	"toolkit.telemetry.server":                                 "",
	"toolkit.telemetry.archive.enabled":                        false,
	"toolkit.startup.max_resumed_crashes":                      -1,
	"xpinstall.signatures.required":                            false,
	"network.early-hints.enabled":                              true,
	"network.early-hints.preconnect.enabled":                   true,
	"network.http.http3.alt-svc-mapping-for-testing":           "",
	"network.http.http3.force-use-alt-svc-mapping-for-testing": false,
	"network.proxy.type":                                       0,
}

// Prefs returns the preferences a browser with cfg runs with.
func Prefs(cfg Config) map[string]any {
	p := maps.Clone(basePrefs)
	if cfg.DisableEarlyHints {
		p["network.early-hints.enabled"] = false
		p["network.early-hints.preconnect.enabled"] = false
	}
	p["network.http.http3.enable"] = len(cfg.HTTP3Origins) > 0
	if len(cfg.HTTP3Origins) > 0 {
		// "host;h3=:port" entries, as Firefox's own HTTP/3 tests map an
		// origin to a QUIC endpoint without an Alt-Svc header.
		var m []string
		for _, o := range slices.Sorted(maps.Keys(cfg.HTTP3Origins)) {
			host, _, _ := net.SplitHostPort(o)
			_, port, _ := net.SplitHostPort(cfg.HTTP3Origins[o])
			m = append(m, host+";h3=:"+port)
		}
		p["network.http.http3.alt-svc-mapping-for-testing"] = strings.Join(m, ",")
		p["network.http.http3.force-use-alt-svc-mapping-for-testing"] = true
		// Firefox turns HTTP/3 off for a server whose certificate chains
		// to a root the user added, as the lab's does.
		p["network.http.http3.disable_when_third_party_roots_found"] = false
	}
	if cfg.HTTP1 {
		p["network.http.http2.enabled"] = false
		p["network.http.http2.enabled.deps"] = false
	}
	if cfg.Proxy != "" {
		host, port, _ := net.SplitHostPort(cfg.Proxy)
		n, _ := strconv.Atoi(port)
		p["network.proxy.type"] = 1
		p["network.proxy.ssl"] = host
		p["network.proxy.ssl_port"] = n
		p["network.proxy.http"] = host
		p["network.proxy.http_port"] = n
		// Loopback addresses (the page's own origin) are reached directly.
		p["network.proxy.allow_hijacking_localhost"] = false
		p["network.proxy.no_proxies_on"] = "localhost, 127.0.0.1, ::1"
	}
	maps.Copy(p, cfg.Prefs)
	return p
}

// userJS renders Prefs(cfg) as a user.js file, sorted.
func userJS(cfg Config) string {
	p := Prefs(cfg)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		var v string
		switch x := p[k].(type) {
		case bool:
			v = strconv.FormatBool(x)
		case int:
			v = strconv.Itoa(x)
		default:
			v = strconv.Quote(fmt.Sprint(x))
		}
		fmt.Fprintf(&b, "user_pref(%s, %s);\n", strconv.Quote(k), v)
	}
	return b.String()
}

// trust creates the profile's NSS database and adds each certificate as a
// trust anchor for TLS servers (C): a CA, or a self-signed server
// certificate (a leaf without the CA bit).
func trust(ctx context.Context, dir string, pems [][]byte) error {
	if len(pems) == 0 {
		return nil
	}
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		return ErrNoCertutil
	}
	db := "sql:" + dir
	if out, err := exec.CommandContext(ctx, certutil, "-N", "-d", db, "--empty-password").CombinedOutput(); err != nil { //nolint:gosec // G204: certutil with our own arguments
		return fmt.Errorf("firefox: certutil -N: %w: %s", err, out)
	}
	n := 0
	for _, data := range pems {
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				return fmt.Errorf("firefox: a certificate to trust does not parse: %w", err)
			}
			// A trust anchor: a CA, or a self-signed server certificate,
			// which Firefox's verifier accepts as its own anchor.
			flags := "C,,"
			path := filepath.Join(dir, fmt.Sprintf("trust-%d.pem", n))
			if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
				return fmt.Errorf("firefox: write certificate: %w", err)
			}
			n++
			out, err := exec.CommandContext(ctx, certutil, "-A", "-d", db, "-n", fmt.Sprintf("lab-%d", n), "-t", flags, "-i", path).CombinedOutput() //nolint:gosec // G204: certutil with our own arguments
			if err != nil {
				return fmt.Errorf("firefox: certutil -A: %w: %s", err, out)
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: no PEM certificate among the certificates to trust; give them PEM encoded", ErrBadConfig)
	}
	return nil
}

// overrides writes cert_override.txt: each host:port accepts its
// certificate, by SHA-256 fingerprint, whatever names it has.
func overrides(dir string, certs map[string][]byte) error {
	if len(certs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("# PSM Certificate Override Settings file\n# This is a generated file!  Do not edit.\n")
	for _, hp := range slices.Sorted(maps.Keys(certs)) {
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return fmt.Errorf("%w: certificate override %q is not host:port", ErrBadConfig, hp)
		}
		block, _ := pem.Decode(certs[hp])
		if block == nil || block.Type != "CERTIFICATE" {
			return fmt.Errorf("%w: the certificate override of %s is not a PEM certificate", ErrBadConfig, hp)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("%w: the certificate override of %s does not parse: %v", ErrBadConfig, hp, err)
		}
		sum := sha256.Sum256(block.Bytes)
		hexes := make([]string, len(sum))
		for i, c := range sum {
			hexes[i] = fmt.Sprintf("%02X", c)
		}
		fmt.Fprintf(&b, "%s:\tOID.2.16.840.1.101.3.4.2.1\t%s\t\t%s\n", hp, strings.Join(hexes, ":"), dbKey(cert))
	}
	if err := os.WriteFile(filepath.Join(dir, "cert_override.txt"), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("firefox: write cert_override.txt: %w", err)
	}
	return nil
}

// dbKey is NSS's key of a certificate in an override entry: module and
// slot (zero), the lengths of the serial number and of the issuer, then
// both, base64-encoded.
func dbKey(cert *x509.Certificate) string {
	serial := serialDER(cert)
	buf := make([]byte, 16, 16+len(serial)+len(cert.RawIssuer))
	binary.BigEndian.PutUint32(buf[8:], uint32(len(serial)))          //nolint:gosec // G115: a serial number is at most 20 bytes
	binary.BigEndian.PutUint32(buf[12:], uint32(len(cert.RawIssuer))) //nolint:gosec // G115: an issuer name is far below 4 GiB
	buf = append(append(buf, serial...), cert.RawIssuer...)
	return base64.StdEncoding.EncodeToString(buf)
}

// serialDER returns the content octets of the certificate's serial number
// as DER writes them (a leading zero keeps a high bit from reading as a
// sign).
func serialDER(cert *x509.Certificate) []byte {
	b := cert.SerialNumber.Bytes()
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return b
}
