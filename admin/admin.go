// Package admin is the operator's view of a running earlyhints: a small
// HTML page and a JSON API over the hint store (list, stats, purge), the
// Prometheus metrics and a health check, served on a listener of its own
// (loopback by default), never on the public one.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/earlyhints/earlyhints/internal/httpx"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/hintstore"
)

// Config configures the admin handler.
type Config struct {
	// Store is the hint store shown and purged. Required.
	Store hintstore.Store
	// Gatherer provides /metrics. Nil means prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Version is shown on the page.
	Version string
	// Logger receives purge notices. Nil means slog.Default().
	Logger *slog.Logger
	// Hosts are the host names (without port) the admin may be reached by,
	// besides IP literals and localhost, which are always accepted. Any
	// other Host is refused: a web page the operator visits could otherwise
	// read and purge the store through DNS rebinding (its own name resolved
	// to the admin address).
	Hosts []string
	// Field, when set, gives the field view of the busiest routes
	// (earlyhints.Handler.Field): /api/routes and a table on the page.
	Field func(limit int) []earlyhints.RouteField
	// Token, when set, is required on every request but /healthz, as
	// "Authorization: Bearer TOKEN" or as the password of HTTP Basic
	// authentication (any user name), which a browser prompts for.
	Token string
}

// maxListed bounds the routes one page or API call returns.
const maxListed = 1000

// New returns the admin handler:
//
//	GET    /             HTML page: stats and learned hints per route
//	GET    /api/hints    JSON list of routes (?limit=N, at most 1000)
//	GET    /api/stats    JSON store statistics
//	DELETE /api/hints    purge one route (?route=KEY) or all (?all=1)
//	GET    /metrics      Prometheus metrics
//	GET    /healthz      "ok", and the store's state when it is a shared
//	                     store that cannot reach its server (still 200: the
//	                     proxy serves, without shared hints)
//
// Purging takes DELETE, which a cross-site form cannot send and a
// cross-site fetch cannot send without a CORS preflight this handler never
// grants.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("admin: no store configured")
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &api{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.page)
	mux.HandleFunc("GET /api/hints", a.list)
	mux.HandleFunc("GET /api/stats", a.stats)
	mux.HandleFunc("DELETE /api/hints", a.purge)
	mux.HandleFunc("GET /api/routes", a.routes)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", a.healthz)
	return a.guard(mux), nil
}

// guard refuses a request whose Host is not the admin's own, and one
// without the token when a token is configured.
func (a *api) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !httpx.KnownHost(r.Host, a.cfg.Hosts...) {
			http.Error(w, "admin: unknown Host "+strconv.Quote(r.Host)+": use the listener's address, or add the name to admin-hosts", http.StatusMisdirectedRequest)
			return
		}
		if a.cfg.Token != "" && r.URL.Path != "/healthz" && !a.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="earlyhints admin", charset="UTF-8"`)
			http.Error(w, "admin: token required (Authorization: Bearer TOKEN, or the token as the password)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *api) authorized(r *http.Request) bool {
	given := ""
	if _, pass, ok := r.BasicAuth(); ok {
		given = pass
	} else if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = strings.TrimSpace(tok)
	}
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(a.cfg.Token)) == 1
}

type api struct{ cfg Config }

func (a *api) entries(r *http.Request) ([]hintstore.Entry, error) {
	limit := maxListed
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("limit must be a positive number, got %q", s)
		}
		limit = min(n, maxListed)
	}
	return a.cfg.Store.List(r.Context(), limit)
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	es, err := a.entries(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, es)
}

// routes serves the field view: per route, navigations, 103s, the
// origin's think time and which hints browsers took.
func (a *api) routes(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Field == nil {
		writeJSON(w, []earlyhints.RouteField{})
		return
	}
	writeJSON(w, a.cfg.Field(maxListed))
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	st, err := a.cfg.Store.Stats(r.Context())
	if err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, st)
}

func (a *api) purge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var err error
	switch {
	case q.Get("all") == "1":
		err = a.cfg.Store.PurgeAll(r.Context())
		a.cfg.Logger.Info("admin: purged all hints", "remote", r.RemoteAddr)
	case q.Get("route") != "":
		err = a.cfg.Store.Purge(r.Context(), q.Get("route"))
		a.cfg.Logger.Info("admin: purged route", "route", q.Get("route"), "remote", r.RemoteAddr)
	default:
		http.Error(w, "name the route to purge (?route=https://host/path) or purge everything (?all=1)", http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// unavailable is implemented by stores that depend on a server (Redis):
// the error says why it cannot be reached, nil while it can.
type unavailable interface{ Unavailable() error }

func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, "ok")
	if u, ok := a.cfg.Store.(unavailable); ok {
		if err := u.Unavailable(); err != nil {
			fmt.Fprintf(w, "store: %v\n", err)
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ms": func(d time.Duration) string {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>earlyhints admin</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}code{font-size:12px}
.n{text-align:right}button{cursor:pointer}</style></head><body>
<h1>earlyhints {{.Version}}</h1>
<p>{{.Stats.Entries}} routes with hints, {{.Stats.Bytes}} bytes; {{.Stats.Hits}} hits, {{.Stats.Misses}} misses,
{{.Stats.Evictions}} evictions, {{.Stats.Expired}} expired. <a href="/metrics">metrics</a> · <a href="/api/hints">JSON</a></p>
<p><button onclick="purge('all=1')">Purge all</button></p>
<table><tr><th>route</th><th>hints sent in the 103</th><th class=n>hits</th><th>expires</th><th></th></tr>
{{range .Entries}}<tr><td><code>{{.Key}}</code></td><td>{{range .Links}}<code>{{.Value}}</code><br>{{end}}</td>
<td class=n>{{.Hits}}</td><td>{{.Expires.Format "15:04:05"}}</td>
<td><button data-route="{{.Key}}" onclick="purge('route='+encodeURIComponent(this.dataset.route))">purge</button></td></tr>
{{else}}<tr><td colspan=5>Nothing learned yet: hints appear after the first HTML response of each page.</td></tr>{{end}}
</table>
{{if .Field}}<h2>Field view</h2>
<table><tr><th>route</th><th class=n>navigations</th><th class=n>103s</th><th class=n>think p50</th><th class=n>p95</th><th class=n>budget</th><th>hints: taken / offered</th></tr>
{{range .Field}}<tr><td><code>{{.Route}}</code></td><td class=n>{{.Navigations}}</td><td class=n>{{.Sent}}</td>
<td class=n>{{ms .ThinkP50}}</td><td class=n>{{ms .ThinkP95}}</td><td class=n>{{if .BudgetBytes}}{{.BudgetBytes}} B{{else}}—{{end}}</td>
<td>{{range .Hints}}<code>{{.Target}}</code> {{.Taken}}/{{.Offered}}{{if .Bytes}} ({{.Bytes}} B){{end}}<br>{{end}}</td></tr>{{end}}
</table>{{end}}
<script>function purge(q){fetch('/api/hints?'+q,{method:'DELETE'}).then(()=>location.reload())}</script>
</body></html>`))

func (a *api) page(w http.ResponseWriter, r *http.Request) {
	es, err := a.entries(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	st, err := a.cfg.Store.Stats(r.Context())
	if err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	var field []earlyhints.RouteField
	if a.cfg.Field != nil {
		field = a.cfg.Field(50)
	}
	_ = pageTmpl.Execute(w, struct {
		Version string
		Stats   hintstore.Stats
		Entries []hintstore.Entry
		Field   []earlyhints.RouteField
	}{a.cfg.Version, st, es, field})
}
