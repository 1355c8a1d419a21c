package experiment

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"time"

	"github.com/earlyhints/earlyhints/lab/browser"
)

// modelBrowser is the lab's browser model (lab/browser) behind Browser.
// It acts on Early Hints and accepts push on every HTTP/2 cell, and loads
// h2 pages with the push-capable client even where nothing is pushed, so
// that all strategies of a protocol are measured with the same client.
//
// A browser keeps its cache and its cookies across its loads, so a warm
// load presents what the priming load was given, the cache digest cookie
// of cache-aware push included; a new browser starts with neither.
type modelBrowser struct {
	env   Env
	cache *browser.Cache
	jar   http.CookieJar
}

func newModelBrowser(env Env) (Browser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("experiment: cookie jar: %w", err)
	}
	return &modelBrowser{env: env, cache: &browser.Cache{}, jar: jar}, nil
}

func (b *modelBrowser) Load(ctx context.Context, url string) (Measurement, error) {
	cfg := browser.Config{
		Proto:         string(b.env.Protocol),
		TLS:           trustOnly(b.env.RootCAs),
		DialContext:   b.env.DialContext,
		Cache:         b.cache,
		Jar:           b.jar,
		UseEarlyHints: true,
		AcceptPush:    b.env.Protocol == H2,
		H2PushClient:  b.env.Protocol == H2,
	}
	if b.env.Protocol == H3 {
		udpAddr, err := net.ResolveUDPAddr("udp", b.env.UDPAddr)
		if err != nil {
			return Measurement{}, fmt.Errorf("experiment: quic address: %w", err)
		}
		// Every origin of the page lives on the server under test.
		cfg.ResolveUDP = func(string) (*net.UDPAddr, error) { return udpAddr, nil }
		if b.env.ListenUDP != nil {
			pc, err := b.env.ListenUDP()
			if err != nil {
				return Measurement{}, fmt.Errorf("experiment: quic socket: %w", err)
			}
			defer pc.Close()
			cfg.PacketConn = pc
		}
	}
	res, err := browser.Load(ctx, url, cfg)
	if res == nil {
		return Measurement{}, err
	}
	m := Measurement{
		Render: res.RenderTime, Load: res.LoadTime, HTML: res.HTMLEnd,
		Bytes: res.Bytes, Wasted: res.WastedBytes, Pushed: res.Pushes,
		Discovery:     discoveryDelay(res),
		HTMLFirstByte: res.HTMLFirstByte,
		Waterfall:     waterfallOfModel(res),
	}
	if res.EarlyHints {
		m.EarlyHintsAt = res.EarlyHintsAt
	}
	for _, e := range res.Entries {
		if e.Initiator == browser.InitEarlyHints && e.Used {
			m.EarlyHinted = append(m.EarlyHinted, pathOf(e.URL))
		}
	}
	return m, err
}

// discoveryDelay is δ as the waterfall shows it: how long after the
// document's first byte the last render-blocking resource that the page
// itself revealed (not a hint, push or cache hit) was requested.
func discoveryDelay(res *browser.Result) time.Duration {
	var d time.Duration
	for _, e := range res.Entries {
		if !e.RenderBlocking || (e.Initiator != browser.InitParser && e.Initiator != browser.InitCSS) {
			continue
		}
		d = max(d, e.Start-res.HTMLFirstByte)
	}
	return d
}

func (b *modelBrowser) Close() error { return nil }

// trustOnly returns a TLS configuration that accepts exactly the
// certificates issued by roots, whatever name the browser asks for: every
// host of the page (third parties included) is served by the one server
// under test, whose generated certificate names only its own address.
func trustOnly(roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // replaced by the chain check in VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("experiment: the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			if err != nil {
				return fmt.Errorf("experiment: untrusted server certificate: %w", err)
			}
			return nil
		},
	}
}

// ModelError is the model's render-time error against Chromium on one
// kind of cell (network, cache and protocol; all pages, strategies and
// think times of the run together): the least, median and largest
// Calibration.RenderErrPct of its cells measured in both browsers.
type ModelError struct {
	Network   string   `json:"network"`
	Cache     Cache    `json:"cache"`
	Protocol  Protocol `json:"protocol"`
	Cells     int      `json:"cells"`
	MinPct    float64  `json:"min_pct"`
	MedianPct float64  `json:"median_pct"`
	MaxPct    float64  `json:"max_pct"`
}

// Within reports whether every cell of the kind was within
// CalibrationLimit.
func (e ModelError) Within() bool {
	return abs(e.MinPct) <= CalibrationLimit && abs(e.MaxPct) <= CalibrationLimit
}

// ModelErrors summarises the calibrated model cells of a run by kind, in
// the order the kinds first appear.
func ModelErrors(cells []CellResult) []ModelError {
	type kind struct {
		network string
		cache   Cache
		proto   Protocol
	}
	var order []kind
	errs := map[kind][]float64{}
	for _, c := range cells {
		if c.Browser != BrowserModel || c.Calibration == nil {
			continue
		}
		k := kind{c.Network, c.Cache, c.Protocol}
		if _, seen := errs[k]; !seen {
			order = append(order, k)
		}
		errs[k] = append(errs[k], c.Calibration.RenderErrPct)
	}
	out := make([]ModelError, 0, len(order))
	for _, k := range order {
		xs := errs[k]
		e := ModelError{Network: k.network, Cache: k.cache, Protocol: k.proto, Cells: len(xs), MinPct: xs[0], MaxPct: xs[0], MedianPct: Median(xs)}
		for _, x := range xs {
			e.MinPct, e.MaxPct = min(e.MinPct, x), max(e.MaxPct, x)
		}
		out = append(out, e)
	}
	return out
}
