package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/internal/demo"
	product "github.com/earlyhints/earlyhints/internal/stack"
	"github.com/earlyhints/earlyhints/lab/netem"
	"github.com/earlyhints/earlyhints/server"
)

const demoExamples = `  earlyhints demo
  earlyhints demo --think 1s                 # a slower origin: a bigger head start for the hints
  earlyhints demo --network 4g               # the browser on an emulated 4G link
  earlyhints demo --network none             # bare loopback (Chromium then misses some 103s)
  earlyhints demo --listen 127.0.0.1:9443 --log-format json
`

// demoEdge is the demo's default network between browser and proxy: a
// 20 ms round trip, as from a browser to a nearby edge. On bare loopback
// the 103 comes back within microseconds, before Chromium's HTTP/2 stream
// waits for the response headers, and Chromium drops it (about one first
// visit in three); any real path has a round trip and never does.
var demoEdge = netem.Profile{Name: "edge", Up: netem.LinkConfig{Delay: 10 * time.Millisecond}, Down: netem.LinkConfig{Delay: 10 * time.Millisecond}}

// demoNetwork returns the profile --network names; ok is false for none.
func demoNetwork(name string) (p netem.Profile, ok bool, err error) {
	switch strings.ToLower(name) {
	case "none":
		return netem.Profile{}, false, nil
	case "", "edge":
		return demoEdge, true, nil
	}
	p, err = netem.ProfileByName(name)
	if err != nil {
		return p, false, fmt.Errorf("--network %q: use edge (20 ms round trip), none (bare loopback) or a lab preset (%s)", name, strings.Join(netem.ProfileNames(), ", "))
	}
	return p, true, nil
}

// demoRelays puts the emulated network on addr (the address the visitor
// opens), forwarding to the proxy at target: TCP, and UDP for HTTP/3.
func demoRelays(ctx context.Context, p netem.Profile, addr, target string, h3 bool, logger *slog.Logger) (*netem.Relay, func(), error) {
	tcp, err := netem.NewRelay(ctx, netem.RelayConfig{Profile: p, Target: target, Network: "tcp", Listen: addr, Logger: logger})
	if err != nil {
		return nil, nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	closeAll := func() { _ = tcp.Close() }
	if h3 {
		udp, err := netem.NewRelay(ctx, netem.RelayConfig{Profile: p, Target: target, Network: "udp", Listen: tcp.Addr().String(), Logger: logger})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("--listen %s (udp): %w", tcp.Addr(), err)
		}
		closeAll = func() { _ = udp.Close(); _ = tcp.Close() }
	}
	return tcp, closeAll, nil
}

// freeLoopbackPort picks a port free for TCP and UDP on host.
func freeLoopbackPort(host string) (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			_ = pc.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free for both TCP and UDP")
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [--listen 127.0.0.1:8443] [--think 300ms] [--network edge|none|4g|...]", demoExamples, stdout, stderr)
	listen := fs.String("listen", server.DefaultAddr, "`address` of the proxy in front of the demo site (loopback: the certificate is generated)")
	think := fs.Duration("think", demo.DefaultThink, "how long the demo origin works on each page before answering")
	http3 := fs.Bool("http3", true, "serve HTTP/3 too, on the same port over UDP")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	networkName := fs.String("network", "edge", "emulated network between the browser and the proxy: edge (20 ms round trip), none (bare loopback), or a lab preset (cable, 4g, 3g, lossy)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	profile, emulate, err := demoNetwork(*networkName)
	if err != nil {
		return err
	}
	if *think < 0 {
		return fmt.Errorf("--think %v: use a positive duration, or 0s for none", *think)
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", *listen, err)
	}
	if ip := net.ParseIP(host); emulate && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--listen %s: the emulated network runs on loopback only; use a 127.x address, or --network none", *listen)
	}
	// Both addresses are fixed before the sites start: each page links to
	// its twin, and a relay's port is advertised in Alt-Svc.
	mainAddr := *listen
	if port == "0" {
		p, err := freeLoopbackPort(host)
		if err != nil {
			return fmt.Errorf("--listen %s: %w", *listen, err)
		}
		mainAddr = net.JoinHostPort(host, strconv.Itoa(p))
	}
	twinPort, err := freeLoopbackPort(host)
	if err != nil {
		return fmt.Errorf("a port for the site without hints: %w", err)
	}
	twinAddr := net.JoinHostPort(host, strconv.Itoa(twinPort))
	logger, err := newLogger(*logFormat, stderr)
	if err != nil {
		return err
	}
	thinkFor := *think
	if thinkFor == 0 {
		thinkFor = -1 // demo.Config: negative means none
	}
	tuneRuntime(logger)
	access, accessOut, err := product.NewAccessLog(*logFormat, stderr, logger)
	if err != nil {
		return err
	}
	defer accessOut.Close()
	certFile, keyFile, dropCert, err := demoCertificate(logger)
	if err != nil {
		return err
	}
	defer dropCert()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := demoSide{
		think: thinkFor, network: profile, emulate: emulate, http3: *http3, logFormat: *logFormat,
		certFile: certFile, keyFile: keyFile, logger: logger, access: access,
	}
	mainSide, err := d.start(ctx, mainAddr, "https://"+twinAddr, true)
	if err != nil {
		return err
	}
	defer mainSide.close()
	twin, err := d.start(ctx, twinAddr, "https://"+mainAddr, false)
	if err != nil {
		return err
	}
	defer twin.close()
	st, base, twinBase := mainSide.st, mainSide.base, twin.base
	// Primed on the proxy itself (the visitors of the personal page come
	// from networks of their own, which a relay would hide) under the
	// address the visitor opens: hints are learned per host and port.
	primeErr := prime(ctx, st, base)
	printDemo(stdout, st, base, *think, *http3, primeErr, certFile)
	fmt.Fprintf(stdout, "  Compare: the same site without hints is on %s/ (each page links to its twin and shows\n  both pages' timings side by side).\n", twinBase)
	if emulate {
		fmt.Fprintf(stdout, "  Network: %s (%v round trip) between the browser and the proxy; --network none for bare loopback.\n", profile.Name, profile.RTT())
	}
	fmt.Fprint(stdout, "\n  Press Ctrl-C to stop.\n\n")
	select {
	case err := <-mainSide.served:
		return err
	case err := <-twin.served:
		return err
	}
}

// demoSide starts one side of the demo: an origin and the proxy in front
// of it (with hints, or with them off for the comparison), behind the
// emulated network's relays when there is one.
type demoSide struct {
	think             time.Duration
	network           netem.Profile
	emulate, http3    bool
	logFormat         string
	certFile, keyFile string
	logger, access    *slog.Logger
}

type runningSide struct {
	st     *stack
	base   string
	served chan error
	close  func()
}

func (d demoSide) start(ctx context.Context, addr, compare string, hinted bool) (_ *runningSide, err error) {
	var cleanups []func()
	r := &runningSide{served: make(chan error, 1)}
	r.close = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the demo origin: %w", err)
	}
	origin := &http.Server{
		Handler:           demo.New(demo.Config{Think: d.think, Compare: compare, Hinted: hinted, Logger: d.logger}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = origin.Serve(ln) })
	cleanups = append(cleanups, func() { _ = origin.Close(); wg.Wait() })

	s := defaultSettings()
	s.Origin = "http://" + ln.Addr().String()
	s.Listen = addr
	if d.emulate {
		// The proxy on a port of its own behind the relays on addr.
		host, port, _ := net.SplitHostPort(addr)
		s.Listen = net.JoinHostPort(host, "0")
		s.altSvcPort, _ = strconv.Atoi(port)
	}
	if !hinted {
		s.Mode = "off"
	}
	s.HTTP3, s.LogFormat, s.TLSCert, s.TLSKey = d.http3, d.logFormat, d.certFile, d.keyFile
	r.st, err = buildStackWithAccessLog(s, d.logger, d.access)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.served <- r.st.serve(sctx); close(done) }()
	cleanups = append(cleanups, func() { cancel(); <-done })
	r.base = r.st.srv.URL()
	if d.emulate {
		relay, closeRelays, err := demoRelays(ctx, d.network, addr, r.st.srv.Addr(), d.http3, d.logger)
		if err != nil {
			return nil, err
		}
		cleanups = append(cleanups, closeRelays)
		r.base = "https://" + relay.Addr().String()
	}
	return r, nil
}

// prime makes one navigation to each page so that a first visit already
// gets hints: once to every public page, and to the personal one as many
// visitors as the privacy quorum needs, each from a network of its own
// (127.1.0.1, 127.2.0.1, …: all of 127/8 is loopback), since the proxy
// counts people by network, not by cookie.
//
// base is the page's origin as the visitor sees it; the requests go to the
// proxy directly, naming base's host.
func prime(ctx context.Context, st *stack, base string) error {
	direct := st.srv.URL()
	host := strings.TrimPrefix(base, "https://")
	var protos http.Protocols
	protos.SetHTTP2(true)
	client := func(visitor byte) (*http.Client, func()) {
		tr := &http.Transport{Protocols: &protos}
		tr.TLSClientConfig = &tls.Config{RootCAs: st.srv.CertPool()}
		if ap, err := netip.ParseAddrPort(st.srv.Addr()); err == nil && ap.Addr().Is4() && ap.Addr().IsLoopback() {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, visitor, 0, 1)}}
			tr.DialContext = d.DialContext
		}
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}, tr.CloseIdleConnections
	}
	for _, p := range demo.Pages {
		visitors := 1
		if p == "/account" {
			visitors = earlyhints.DefaultPrivateQuorum
		}
		for v := byte(1); int(v) <= visitors; v++ {
			c, done := client(v)
			defer done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, direct+p, nil)
			if err != nil {
				return err
			}
			req.Host = host
			req.Header.Set("Accept", "text/html")
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			req.Header.Set("Sec-Fetch-Dest", "document")
			if visitors > 1 {
				// Returning visitors, each with a cookie of their own.
				req.AddCookie(&http.Cookie{Name: "visitor", Value: fmt.Sprintf("5eed%012x", v)}) //nolint:gosec // a request cookie: Secure and friends are response attributes
			}
			res, err := c.Do(req)
			if err != nil {
				return fmt.Errorf("prime %s: %w", p, err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
	}
	if missing := st.waitLearned(base, demo.Pages, 5*time.Second); len(missing) > 0 {
		return fmt.Errorf("nothing learned yet for %s", strings.Join(missing, ", "))
	}
	return nil
}

func spkiHash(st *stack) string { return server.SPKIHash(st.srv.Certificate()) }

func printDemo(w io.Writer, st *stack, base string, think time.Duration, h3 bool, primeErr error, certFile string) {
	hostPort := strings.TrimPrefix(base, "https://")
	var b strings.Builder
	fmt.Fprintf(&b, "\nearlyhints demo: a small site that thinks for %v per page, behind the Early Hints proxy.\n\n", think)
	fmt.Fprintf(&b, "  Open   %s/  (HTTP/2", base)
	if h3 {
		b.WriteString(" and HTTP/3")
	}
	if certFile != "" {
		fmt.Fprintf(&b, ", self-signed certificate kept in %s)\n", certFile)
	} else {
		b.WriteString(", self-signed certificate made for this run)\n")
	}
	if primeErr == nil {
		fmt.Fprintf(&b, "  Primed: each page (%s) was requested at start, so your first visit already gets hints.\n\n", strings.Join(demo.Pages, ", "))
	} else {
		fmt.Fprintf(&b, "  Priming failed (%v): the first visit to a page teaches the proxy, the second gets hints.\n\n", primeErr)
	}
	fmt.Fprintf(&b, "  See the 103 arrive before the 200 (the Accept header makes it a page navigation):\n")
	fmt.Fprintf(&b, "    curl -sv --http2 -k -H 'Accept: text/html' -o /dev/null %s/\n\n", base)
	spki := spkiHash(st)
	b.WriteString("  Let Chromium use the hints. It ignores Early Hints on a connection with a certificate\n" +
		"  error, so --ignore-certificate-errors is not enough: trust this certificate's key instead\n" +
		"  (the same from run to run while the kept certificate is valid). HTTP/2:\n")
	fmt.Fprintf(&b, "    chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list=%s %s/\n", spki, base)
	if h3 {
		b.WriteString("  HTTP/3:\n")
		fmt.Fprintf(&b, "    chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list=%s --enable-quic --origin-to-force-quic-on=%s %s/\n",
			spki, hostPort, base)
	}
	b.WriteString("  (google-chrome takes the same flags.) The page lists which files arrived through Early Hints.\n\n")
	_, _ = io.WriteString(w, b.String())
}

// demoCertificate returns the demo's certificate and key files, in the
// user's cache directory (earlyhints/demo-cert.pem and demo-key.pem), made
// on first use and again when less than a day of validity is left: the
// printed Chromium command, which trusts the key, stays valid from one run
// to the next. Without a cache directory to keep them in they go to a
// temporary one, which drop removes.
func demoCertificate(logger *slog.Logger) (certFile, keyFile string, drop func(), err error) {
	drop = func() {}
	dir, err := os.UserCacheDir()
	if err == nil {
		dir = filepath.Join(dir, "earlyhints")
		certFile, keyFile = filepath.Join(dir, "demo-cert.pem"), filepath.Join(dir, "demo-key.pem")
		if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && pair.Leaf != nil && time.Until(pair.Leaf.NotAfter) > 24*time.Hour {
			return certFile, keyFile, drop, nil
		}
		if err = writeDemoCertificate(dir, certFile, keyFile); err == nil {
			return certFile, keyFile, drop, nil
		}
		logger.Warn("demo: cannot keep the certificate in the cache directory; a new one is made for this run", "dir", dir, "err", err)
	}
	dir, err = os.MkdirTemp("", "earlyhints-demo-")
	if err != nil {
		return "", "", drop, fmt.Errorf("demo certificate: %w", err)
	}
	drop = func() { _ = os.RemoveAll(dir) }
	certFile, keyFile = filepath.Join(dir, "demo-cert.pem"), filepath.Join(dir, "demo-key.pem")
	if err := writeDemoCertificate(dir, certFile, keyFile); err != nil {
		drop()
		return "", "", func() {}, fmt.Errorf("demo certificate: %w", err)
	}
	return certFile, keyFile, drop, nil
}

func writeDemoCertificate(dir, certFile, keyFile string) error {
	certPEM, keyPEM, err := server.GenerateSelfSigned()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, certPEM, 0o600)
}
