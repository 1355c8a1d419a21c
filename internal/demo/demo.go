// Package demo is the small site that `earlyhints demo` puts behind the
// proxy: pages that take a configurable think time before answering, two
// stylesheets, a head script, a web font named only from CSS (and in the
// origin's own Link header), a hero image, and a personal page that sets a
// cookie and names a per-visitor image. Each page reports, from its own
// Resource Timing, which resources arrived through Early Hints.
package demo

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"golang.org/x/image/font/gofont/goregular"
)

// DefaultThink is the origin's think time when Config.Think is zero.
const DefaultThink = 300 * time.Millisecond

// Pages are the HTML pages of the site, the ones worth priming.
var Pages = []string{"/", "/account"}

//go:embed site
var site embed.FS

var pageTmpl = template.Must(template.ParseFS(site, "site/page.html"))

// Config configures the demo origin. The zero value works.
type Config struct {
	// Think is how long the origin works on a page before answering.
	// 0 means 300ms; negative means none.
	Think time.Duration
	// Compare is the origin (https://host:port) of the same site behind a
	// proxy with the other setting: each page links to its twin there,
	// carrying its own timings, and shows both side by side. "" for none.
	Compare string
	// Hinted says whether this site's proxy sends Early Hints (the label
	// of its column in the comparison).
	Hinted bool
	// Logger receives errors. Nil means slog.Default().
	Logger *slog.Logger
}

// New returns the demo origin.
func New(cfg Config) http.Handler {
	if cfg.Think == 0 {
		cfg.Think = DefaultThink
	}
	if cfg.Think < 0 {
		cfg.Think = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	o := &origin{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", o.home)
	mux.HandleFunc("GET /account", o.account)
	mux.HandleFunc("GET /static/{file}", o.static)
	mux.HandleFunc("GET /avatar/{file}", o.avatar)
	return mux
}

type origin struct{ cfg Config }

type pageData struct {
	Compare string
	Label   string
	Other   string
	Title   string
	Hero    string
	User    string
	Think   time.Duration
	ThinkMS int64
}

// fontLink is the origin's own hint: the font is named only from CSS, so
// no HTML scan finds it; sending Link teaches the proxy about it.
const fontLink = `</static/go.ttf>; rel=preload; as=font; type="font/ttf"; crossorigin`

func (o *origin) home(w http.ResponseWriter, r *http.Request) {
	o.render(w, r, pageData{Title: "Early Hints, live", Hero: "/static/hero.svg"})
}

var visitorID = regexp.MustCompile(`^[0-9a-f]{16}$`)

func (o *origin) account(w http.ResponseWriter, r *http.Request) {
	uid := ""
	if c, err := r.Cookie("visitor"); err == nil && visitorID.MatchString(c.Value) {
		uid = c.Value
	} else {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		uid = hex.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: "visitor", Value: uid, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	}
	w.Header().Set("Cache-Control", "private, no-cache")
	o.render(w, r, pageData{Title: "Your account", Hero: "/avatar/" + uid + ".svg", User: uid})
}

func (o *origin) render(w http.ResponseWriter, r *http.Request, d pageData) {
	d.Think, d.ThinkMS = o.cfg.Think, o.cfg.Think.Milliseconds()
	d.Compare = o.cfg.Compare
	d.Label, d.Other = "with Early Hints", "without hints"
	if !o.cfg.Hinted {
		d.Label, d.Other = d.Other, d.Label
	}
	// The work of a real application: the page cannot start before it.
	select {
	case <-time.After(o.cfg.Think):
	case <-r.Context().Done():
		return
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		o.cfg.Logger.Error("demo: render page", "path", r.URL.Path, "error", err)
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Add("Link", fontLink)
	h.Set("Server-Timing", fmt.Sprintf(`think;dur=%d;desc="origin think time"`, d.ThinkMS))
	_, _ = w.Write(buf.Bytes())
}

var staticTypes = map[string]string{
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".svg": "image/svg+xml", ".ttf": "font/ttf",
}

// startTime versions the static files for revalidation.
var startTime = time.Now()

func (o *origin) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	var body []byte
	if name == "go.ttf" {
		body = goregular.TTF
	} else {
		b, err := site.ReadFile("site/" + name)
		if err != nil || strings.HasSuffix(name, ".html") {
			http.NotFound(w, r)
			return
		}
		body = b
	}
	ext := name[strings.LastIndexByte(name, '.'):]
	w.Header().Set("Content-Type", staticTypes[ext])
	// Cacheable for an hour: Chromium hands an Early Hints preload to the
	// page through its HTTP cache. With no-cache, or even max-age=60, its
	// Resource Timing reports the files as loaded by the page ("link"), not
	// by the hints ("early-hints"), though they came from the 103.
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, name, startTime, bytes.NewReader(body))
}

func (o *origin) avatar(w http.ResponseWriter, r *http.Request) {
	uid, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if !ok || !visitorID.MatchString(uid) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	//nolint:gosec // uid matched visitorID: hex digits only, nothing to escape
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="200"><rect width="640" height="200" fill="#%s"/>`+
		`<text x="32" y="118" font-family="sans-serif" font-size="36" fill="#fff">visitor %s</text></svg>`, uid[:6], uid)
}
