package inspect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/quic-go/quic-go"
)

// classify maps a request error to a finding code and the advice for it.
func classify(err error) (code, advice string) {
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		alert      tls.AlertError
		recordErr  tls.RecordHeaderError
		dnsErr     *net.DNSError
		opErr      *net.OpError
		idleErr    *quic.IdleTimeoutError
		hsErr      *quic.HandshakeTimeoutError
		transport  *quic.TransportError
		maxTime    *maxTimeError
	)
	switch {
	case errors.As(err, &maxTime):
		return CodeTimeout, "the whole check reached --max-time before this request ended: raise --max-time, check fewer protocols, or find why the server is this slow"
	case hopByHopRejected(err) != "":
		return CodeHopByHopIn103, "the client rejected the response for the connection-specific field " + hopByHopRejected(err) + " (in the 103 or the final response): HTTP/2 and HTTP/3 forbid such fields and browsers fail the page; drop it"
	case headersTooLarge(err):
		return CodeHeadersTooLarge, "the header fields of a response pass the check's 1 MiB bound: browsers refuse far less (Chromium 256 KiB); send small headers, and put long Link lists in the 103 within 4 KiB"
	case errors.Is(err, errTooMany1xx):
		return CodeTooMany1xx, "send one 103 Early Hints (browsers act on the first only) and nothing else before the final response"
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return CodeTLSError, "the certificate is not trusted for this name: fix it, or pass --ca-cert FILE (or --insecure) for a test server; browsers discard early-hinted files on a certificate error"
	// A handshake that never completes is a server that does not answer,
	// over TCP+TLS as over QUIC, whichever deadline noticed it first.
	case errors.As(err, &hsErr), errors.As(err, &idleErr),
		isTLSHandshake(err) && isTimeout(err):
		return CodeTimeout, "no answer within the handshake timeout: check the server listens there (UDP for HTTP/3), speaks TLS on that port, and no firewall drops the packets"
	case isTimeout(err):
		return CodeTimeout, "the server did not answer within the timeout (--timeout): it hangs, or thinks for longer than any visitor waits"
	case errors.As(err, &alert), errors.As(err, &recordErr), isTLSHandshake(err):
		return CodeTLSError, "the TLS handshake failed: check that the port speaks TLS and offers the protocol (ALPN h2, h3)"
	case errors.As(err, &dnsErr):
		return CodeUnreachable, "the host name does not resolve: check the URL"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return CodeUnreachable, "nothing answers at this address: check the URL and that the server runs"
	case errors.As(err, &transport) && transport.ErrorCode.IsCryptoError():
		return CodeTLSError, "the QUIC handshake failed: check the certificate and that the endpoint offers h3"
	}
	return CodeProtocolError, "the response broke the protocol: fix the server's response (curl -v or nghttp -v shows the bytes)"
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
}

func isTLSHandshake(err error) bool {
	s := err.Error()
	return strings.Contains(s, "tls: ") || strings.Contains(s, "TLS handshake") || strings.Contains(s, "CRYPTO_ERROR")
}

// describe is an error as a Result shows it.
func describe(err error) string {
	return err.Error()
}

// hopByHopRejected returns the connection-specific field for which a
// client rejected a response, or "".
func hopByHopRejected(err error) string {
	s := err.Error()
	i := strings.Index(s, "invalid header field name: ")
	if i < 0 {
		return ""
	}
	name := strings.Trim(strings.TrimPrefix(s[i:], "invalid header field name: "), "\"")
	name, _, _ = strings.Cut(name, "\"")
	switch strings.ToLower(name) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te":
		return name
	}
	return ""
}

// errHeadersTooLarge marks a response whose header block passed
// MaxHeaderBytes where the client's own error does not say so.
var errHeadersTooLarge = fmt.Errorf("response headers exceeded %d bytes", MaxHeaderBytes)

// headersTooLarge recognises the clients' header size limits, whichever
// way the header block passed them: net/http's HTTP/1.1 and quic-go's
// messages; over HTTP/2 the HPACK decoder's COMPRESSION_ERROR (one field
// over the bound), the client's "larger than advertised limit" (a block
// that ends in the frame that passed it), the 1xx bound, and a PROTOCOL_ERROR
// that do marks as errHeadersTooLarge (a block whose CONTINUATION frames
// go on past it: Go's framer then drops the connection).
func headersTooLarge(err error) bool {
	if errors.Is(err, errHeadersTooLarge) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "response headers exceeded") || strings.Contains(s, "HEADERS frame too large") ||
		strings.Contains(s, "COMPRESSION_ERROR") || strings.Contains(s, "header list too large") ||
		strings.Contains(s, "header list larger than advertised limit")
}

// h2ProtocolError recognises HTTP/2's PROTOCOL_ERROR, which Go's framer
// also uses for a header block that goes on past the bound.
func h2ProtocolError(err error) bool {
	return strings.Contains(err.Error(), "PROTOCOL_ERROR")
}

// noALPN recognises a TLS handshake that agreed on no application protocol
// (a server without HTTP/2).
func noALPN(err error) bool {
	s := err.Error()
	return strings.Contains(s, "no application protocol") || strings.Contains(s, "unexpected ALPN protocol")
}
