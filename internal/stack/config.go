package stack

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/earlyhints/earlyhints"
)

// The modes of Config.Mode.
const (
	// ModeHints learns and sends 103 Early Hints (the default).
	ModeHints = "hints"
	// ModePush pushes the learned hints over HTTP/2 (legacy server push).
	ModePush = "push"
	// ModePushDigest pushes what a cache digest cookie does not list.
	ModePushDigest = "push-digest"
	// ModeOff only proxies: the middleware neither learns nor hints, and
	// an origin's own 103s pass through.
	ModeOff = "off"
)

// Config is everything the product is built from: the settings of
// `earlyhints proxy` that shape what a request goes through (its listener,
// certificate and admin settings are the server's and the command's), plus
// the hooks a caller may add. The zero value is a product in front of no
// origin, which New refuses: set Origin or Origins. Errors name a setting
// by its flag, which is also its config file key.
type Config struct {
	// Origin is the origin every host not in Origins is forwarded to:
	// http://, https:// or h2c:// (cleartext HTTP/2). Default none.
	Origin string
	// Origins maps a host name the client asks for to the origin URL that
	// serves it. Default none.
	Origins map[string]string
	// PreserveHost sends the client's Host to the origin. Default false:
	// the origin gets its own host name, and with one origin for every
	// host, the client's Host does not split routes.
	PreserveHost bool
	// OriginTimeout bounds the wait for the origin's response headers.
	// 0 means 30s.
	OriginTimeout time.Duration
	// OriginIdleTimeout cuts a body the origin stops sending for this
	// long. 0 means 60s.
	OriginIdleTimeout time.Duration
	// OriginMaxHeaderBytes bounds the origin's response headers, final or
	// 1xx. 0 means 64 KiB.
	OriginMaxHeaderBytes int
	// ExposeOriginErrors shows the origin's address and the error in 502
	// and 504 bodies. Default false.
	ExposeOriginErrors bool
	// TrustedProxies are the CIDRs of proxies in front whose forwarding
	// fields name the client. Default none: every peer is the client.
	TrustedProxies []string

	// Store is where hints are kept: "memory" (or ""), "file:PATH" (in
	// memory, snapshotted to PATH) or "redis://host:port/db" ("rediss://"
	// for TLS). Default memory.
	Store string
	// SnapshotInterval is how often a file: store writes its snapshot
	// while running. 0 means only when the stack closes.
	SnapshotInterval time.Duration
	// RedisKeyPrefix, RedisConnectTimeout, RedisTimeout and
	// RedisWriteTimeout configure a redis:// store; zero means
	// redisstore's defaults.
	RedisKeyPrefix      string
	RedisConnectTimeout time.Duration
	RedisTimeout        time.Duration
	RedisWriteTimeout   time.Duration

	// Mode is one of ModeHints, ModePush, ModePushDigest and ModeOff.
	// "" means ModeHints.
	Mode string
	// PushOnly, in the push modes, gives a client that refuses push no
	// Early Hints either. Default false: it gets the hints as a 103.
	PushOnly bool

	// MaxPreloads and MaxPreconnects cap the links of one 103, and
	// MaxHintBytes the size of its Link values. 0 means the middleware's
	// defaults (100, 8, 16 KiB).
	MaxPreloads    int
	MaxPreconnects int
	MaxHintBytes   int
	// HTTP1Hints sends 103 to HTTP/1.1 clients too. Default false.
	HTTP1Hints bool
	// QueryParams are the query parameters that make pages distinct.
	// Default none: the query is ignored.
	QueryParams []string
	// CrossSitePreload allows preload targets on other sites. Default
	// false: other sites get a preconnect only.
	CrossSitePreload bool
	// DenyUserAgents are User-Agent substrings that never get a 103.
	// Default none.
	DenyUserAgents []string
	// PrivateQuorum is how many distinct visitors must share a link of a
	// personal page before it is hinted. 0 means 3.
	PrivateQuorum int
	// AssumedBandwidth (kbit/s) and AssumedRTT are the client path a 103
	// is budgeted for where the connection measures none. 0 means 5000
	// kbit/s and 100ms.
	AssumedBandwidth int
	AssumedRTT       time.Duration
	// ConnPath measures a client's path (round trip, delivery rate). Nil
	// means server.ConnPath: what the product's own server measures.
	ConnPath func(*http.Request) (rtt time.Duration, bandwidth int64)

	// Observer receives every decision of the middleware, after the
	// metrics and the access log have. Nil means none.
	Observer earlyhints.Observer
	// Logger receives the product's warnings and errors. Nil means
	// slog.Default().
	Logger *slog.Logger
	// AccessLog receives one line per request. Nil means Logger.
	AccessLog *slog.Logger
}
