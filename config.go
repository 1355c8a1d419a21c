package earlyhints

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/earlyhints/earlyhints/hintstore"
	"github.com/earlyhints/earlyhints/scan"
)

// Defaults applied to zero fields of Config.
const (
	// DefaultMaxPreloads is a safety cap, not the budget: what a 103 names
	// is bounded by the document budget (the route's think time at the
	// client's bandwidth, render-blocking files first) and by
	// DefaultMaxHeaderBytes. Real heads name up to 70 render-blocking
	// files; a count past 100 is a page to fix, not to hint.
	DefaultMaxPreloads = 100
	// DefaultMaxPreconnects leaves room for the third-party origins of a
	// page's critical files (fonts, CDNs, a consent script), then the
	// page's own preconnects, then the origins of its images and modules;
	// each costs the browser a handshake, so not more.
	DefaultMaxPreconnects = 12
	// DefaultMaxHeaderBytes bounds the Link field of one 103: 16 KiB holds
	// 100 long WordPress-style URLs, fits the first round trip's window
	// (ten segments) once HPACK or QPACK Huffman-codes it, and is far
	// below Chromium's 256 KiB header list. Behind a proxy with smaller
	// buffers for 1xx (nginx's proxy_buffer_size: 4 or 8 KiB), set it
	// lower.
	DefaultMaxHeaderBytes = 16 << 10
	DefaultScanBytes      = scan.DefaultMaxBytes
	DefaultPrivateQuorum  = 3
	DefaultLearnInterval  = time.Second
	// DefaultAssumedBandwidth is the client bandwidth, in bits per second,
	// that a 103 is budgeted for: a slow 4G link.
	DefaultAssumedBandwidth = 5_000_000
	// DefaultAssumedRTT is the client round trip a 103 is budgeted for when
	// the connection's own is not known: a 4G client not far away.
	DefaultAssumedRTT = 100 * time.Millisecond
)

// Config configures a Handler. The zero value works.
type Config struct {
	// Store keeps learned hints. Nil means a new in-memory store
	// (hintstore.NewMemory with its defaults).
	Store hintstore.Store
	// MaxPreloads caps preload and modulepreload links in one 103. 0 means
	// 100 (see DefaultMaxPreloads).
	MaxPreloads int
	// MaxPreconnects caps preconnect links in one 103. 0 means 12.
	MaxPreconnects int
	// MaxHeaderBytes caps the total size of the Link values in one 103.
	// 0 means 16 KiB.
	MaxHeaderBytes int
	// AllowHTTP1 sends 103 to HTTP/1.x clients too. Default false: browsers
	// ignore 103 over HTTP/1.1 and some old clients and proxies break on 1xx.
	AllowHTTP1 bool
	// AllowCrossSitePreload lets preload targets live on another site.
	// Default false: only same-site preloads; preconnect may name any https origin.
	AllowCrossSitePreload bool
	// DenyUserAgents lists substrings of User-Agent values that never get a 103.
	DenyUserAgents []string
	// QueryParams names the query parameters that are part of a route key
	// of a path whose responses send no No-Vary-Search (once one does, its
	// rule keys the path instead). Default none: the query is ignored.
	QueryParams []string
	// PrivateQuorum is how many distinct requesters (distinct networks and
	// distinct credentials, see hintstore.Requester) must produce a hint seen
	// in a private response before it is sent to anyone. 0 means 3: one
	// person commonly reaches a site from two networks (home and mobile),
	// rarely from three within the hints' time to live.
	PrivateQuorum int
	// RouteHost, when set, is the host of every route key instead of the
	// request's. Set it when one origin answers whatever Host a client
	// sends (a proxy with a single origin that gets its own name): the
	// client's Host must not split routes, or made-up hosts would each take
	// a place in the store. Empty: the request's host, normalised.
	RouteHost string
	// IdentityKey keys the hash that identifies requesters of private
	// responses. Nil means a random key per process.
	IdentityKey []byte
	// Identity, when set, returns the key to hash requesters with and its
	// hintstore.KeyID, read at every hash: a fleet's key that may change
	// (redisstore.Store.CurrentIdentity). A nil key falls back to
	// IdentityKey.
	Identity func() (key []byte, id string)
	// ScanBytes bounds how much of an HTML response is scanned. 0 means
	// 512 KiB: inline SVG sprites, JSON-LD and inlined CSS push real heads
	// past 100 KiB, and the scanner skips such content cheaply.
	ScanBytes int
	// LearnInterval is the least time between two analyses of public
	// responses of one route; views in between pass through unanalysed
	// (private responses are always counted, for the quorum). 0 means 1s;
	// negative means every response.
	LearnInterval time.Duration
	// AssumedBandwidth is the client bandwidth, in bits per second, a 103 is
	// budgeted for: once a route's think time T is known (its median over
	// the last views), its 103 names no more bytes of files (as last served)
	// than arrive at this rate between the first hinted request reaching
	// the server (one round trip after the 103 leaves) and the document
	// being ready, plus the first window: max(0, T − RTT) × bandwidth / 8 +
	// 14,600 bytes. So the hinted files never fill the link ahead of the
	// page. ConnPath's measurement, when there is one, replaces it. 0 means
	// 5 Mbit/s; negative means no budget.
	AssumedBandwidth int64
	// AssumedRTT is the client round trip the budget subtracts when
	// ConnPath does not measure one (nil ConnPath, or a connection that
	// does not report it). 0 means 100 ms; negative means none.
	AssumedRTT time.Duration
	// ConnPath, when set, reports what the server measured of r's
	// connection: its smoothed round trip and its delivery rate in bits
	// per second, zero for what it does not know (the assumed values
	// stand in). server.ConnPath fits. It is called once per navigation
	// that gets a 103 and must not block.
	ConnPath func(r *http.Request) (rtt time.Duration, bandwidth int64)
	// DisableScan learns only from Link headers, not from the HTML.
	DisableScan bool
	// DisableLearning never records observations (hints come from the store
	// as filled by someone else).
	DisableLearning bool
	// Disabled turns hinting off: the Handler only calls next (mode "off").
	Disabled bool
	// Observer receives every decision. Nil means none.
	Observer Observer
	// Logger receives warnings. Nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports whether c is usable.
func (c Config) Validate() error {
	switch {
	case c.MaxPreloads < 0:
		return fmt.Errorf("%w: MaxPreloads %d is negative", ErrBadConfig, c.MaxPreloads)
	case c.MaxPreconnects < 0:
		return fmt.Errorf("%w: MaxPreconnects %d is negative", ErrBadConfig, c.MaxPreconnects)
	case c.MaxHeaderBytes < 0:
		return fmt.Errorf("%w: MaxHeaderBytes %d is negative", ErrBadConfig, c.MaxHeaderBytes)
	case c.MaxHeaderBytes > 0 && c.MaxHeaderBytes < 64:
		return fmt.Errorf("%w: MaxHeaderBytes %d is too small for one link (use at least 64)", ErrBadConfig, c.MaxHeaderBytes)
	case c.PrivateQuorum < 0:
		return fmt.Errorf("%w: PrivateQuorum %d is negative", ErrBadConfig, c.PrivateQuorum)
	case c.PrivateQuorum == 1:
		return fmt.Errorf("%w: PrivateQuorum 1 would hint one user's private URLs to others (use 2 or more)", ErrBadConfig)
	case c.ScanBytes < 0 || c.ScanBytes > scan.MaxMaxBytes:
		return fmt.Errorf("%w: ScanBytes %d out of range 0..%d", ErrBadConfig, c.ScanBytes, scan.MaxMaxBytes)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.MaxPreloads == 0 {
		c.MaxPreloads = DefaultMaxPreloads
	}
	if c.MaxPreconnects == 0 {
		c.MaxPreconnects = DefaultMaxPreconnects
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.PrivateQuorum == 0 {
		c.PrivateQuorum = DefaultPrivateQuorum
	}
	if c.ScanBytes == 0 {
		c.ScanBytes = DefaultScanBytes
	}
	if c.LearnInterval == 0 {
		c.LearnInterval = DefaultLearnInterval
	}
	if c.AssumedBandwidth == 0 {
		c.AssumedBandwidth = DefaultAssumedBandwidth
	}
	switch {
	case c.AssumedRTT == 0:
		c.AssumedRTT = DefaultAssumedRTT
	case c.AssumedRTT < 0:
		c.AssumedRTT = 0
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// caps are the per-103 limits of a Config. They are applied when a 103 is
// written and again when links are stored: a shared store may have been
// filled under other caps.
type caps struct {
	preloads, preconnects, headerBytes int
}

func (c *Config) caps() caps {
	return caps{preloads: c.MaxPreloads, preconnects: c.MaxPreconnects, headerBytes: c.MaxHeaderBytes}
}

// budget counts the links of one 103 against its caps: preloads,
// preconnects and Link bytes (each value plus its ", " separator).
type budget struct {
	caps                        caps
	preloads, preconnects, size int
}

// admit reports whether value still fits, and counts it when it does.
func (b *budget) admit(preconnect bool, value string) bool {
	switch {
	case preconnect && b.preconnects >= b.caps.preconnects,
		!preconnect && b.preloads >= b.caps.preloads,
		b.size+len(value)+2 > b.caps.headerBytes:
		return false
	}
	if preconnect {
		b.preconnects++
	} else {
		b.preloads++
	}
	b.size += len(value) + 2
	return true
}
