package realpages

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sizes are the body sizes the stub origin serves, by kind of file. The
// saved pages keep no subresources, so each gets a body of the size a
// typical file of its kind has on the web (HTTP Archive's medians,
// rounded): the product's document budget counts these bytes.
type Sizes struct {
	Style, Script, Font, Image int
}

// DefaultSizes are the sizes used when Origin.Sizes is zero.
var DefaultSizes = Sizes{Style: 16 << 10, Script: 24 << 10, Font: 24 << 10, Image: 32 << 10}

// Fetch is one request the stub origin served: the URL and the request
// fields that say what it was for, as the browser sent them.
type Fetch struct {
	URL     string `json:"url"`
	Dest    string `json:"dest,omitempty"` // Sec-Fetch-Dest
	Mode    string `json:"mode,omitempty"` // Sec-Fetch-Mode
	Site    string `json:"site,omitempty"` // Sec-Fetch-Site
	Referer string `json:"referer,omitempty"`
	Accept  string `json:"accept,omitempty"`
}

// Origin is the stub origin: every host's files come from it. The zero
// value serves no page (404 for its URLs) and every other URL with a stub
// body.
type Origin struct {
	// Think is how long the origin takes before a page's response headers
	// (as an origin rendering the page does): the time a 103 fills.
	Think time.Duration
	// NoStore marks every response Cache-Control: no-store, so a browser
	// that loads many pages fetches each file anew; otherwise files are
	// cacheable for a day, as static files are.
	NoStore bool
	// Sizes are the subresources' body sizes; zero means DefaultSizes.
	Sizes Sizes

	mu    sync.Mutex
	pages map[string]*Page // host + request URI → page
	log   []Fetch
}

// Add serves p's saved HTML at its URL.
func (o *Origin) Add(p *Page) error {
	k, err := pageKey(p.URL)
	if err != nil {
		return fmt.Errorf("realpages: page %q: %w", p.Name, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pages == nil {
		o.pages = map[string]*Page{}
	}
	o.pages[k] = p
	return nil
}

func pageKey(raw string) (string, error) {
	n := normURL(raw, nil)
	if n == "" {
		return "", fmt.Errorf("URL %q is not absolute http(s)", raw)
	}
	i := strings.Index(n, "://")
	return n[i+3:], nil
}

// Log returns the requests served since the last Reset, in arrival order.
func (o *Origin) Log() []Fetch {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Fetch(nil), o.log...)
}

// Reset empties the log.
func (o *Origin) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.log = o.log[:0]
}

func (o *Origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, p, ok := strings.Cut(host, ":"); ok && (p == "443" || p == "80") {
		host = h
	}
	raw := "https://" + host + r.RequestURI
	if !strings.HasPrefix(r.RequestURI, "/") {
		raw = r.RequestURI // absolute form
	}
	u := normURL(raw, nil)
	k, _ := pageKey(u)
	o.mu.Lock()
	page := o.pages[k]
	if len(o.log) < 1<<16 {
		o.log = append(o.log, Fetch{
			URL: u, Dest: r.Header.Get("Sec-Fetch-Dest"), Mode: r.Header.Get("Sec-Fetch-Mode"),
			Site: r.Header.Get("Sec-Fetch-Site"), Referer: r.Header.Get("Referer"), Accept: r.Header.Get("Accept"),
		})
	}
	o.mu.Unlock()

	if o.NoStore {
		w.Header().Set("Cache-Control", "no-store")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=86400")
	}
	if page != nil {
		if o.Think > 0 {
			t := time.NewTimer(o.Think)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if !o.NoStore {
			w.Header().Del("Cache-Control") // as most origins send a page
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(page.HTML)))
		_, _ = w.Write(page.HTML)
		return
	}
	ctype, body := o.stub(r.Header.Get("Sec-Fetch-Dest"), r.URL.Path)
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	// Fonts and module scripts are fetched in CORS mode.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// kindOf says what a file is: by the browser's Sec-Fetch-Dest, else by the
// path's extension.
func kindOf(dest, p string) string {
	switch dest {
	case "style", "script", "font", "image", "iframe", "frame", "document":
		return dest
	case "worker", "sharedworker", "serviceworker", "audioworklet", "paintworklet":
		return "script"
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".css":
		return "style"
	case ".js", ".mjs":
		return "script"
	case ".woff2", ".woff", ".ttf", ".otf", ".eot":
		return "font"
	case ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico", ".bmp":
		return "image"
	case ".json":
		return "json"
	case ".html", ".htm", ".php", ".shtml":
		return "document"
	}
	return ""
}

func (o *Origin) stub(dest, p string) (string, []byte) {
	sz := o.Sizes
	if sz == (Sizes{}) {
		sz = DefaultSizes
	}
	switch kindOf(dest, p) {
	case "style":
		return "text/css; charset=utf-8", pad([]byte("body{margin:0}\n"), sz.Style, "/*", "*/\n")
	case "script":
		return "text/javascript; charset=utf-8", pad([]byte("void 0;\n"), sz.Script, "/*", "*/\n")
	case "font":
		// Font bytes: a WOFF2 signature and padding. The browser fetches
		// and rejects it, and falls back to another font: what a page
		// needs of a font, its fetch, is all there.
		return "font/woff2", pad([]byte("wOF2"), sz.Font, "", "")
	case "image":
		// A decodable image, large enough to be a page's largest
		// contentful paint as the original was; PNG decoders ignore what
		// follows IEND, which makes up the size.
		return "image/png", pad(append([]byte(nil), stubPNG...), sz.Image, "", "")
	case "json":
		return "application/json", []byte("{}\n")
	case "iframe", "frame", "document":
		return "text/html; charset=utf-8", []byte("<!doctype html><title>stub</title>\n")
	}
	return "text/plain; charset=utf-8", nil
}

// pad grows b to n bytes with a comment (open … close) of filler, or with
// zero bytes when open is "".
func pad(b []byte, n int, open, close string) []byte {
	if len(b)+len(open)+len(close) >= n {
		return b
	}
	if open == "" {
		return append(b, make([]byte, n-len(b))...)
	}
	b = append(b, open...)
	b = append(b, bytes.Repeat([]byte{'x'}, n-len(b)-len(close))...)
	return append(b, close...)
}

// stubPNG is a 1200×800 image in one colour.
var stubPNG = func() []byte {
	img := image.NewPaletted(image.Rect(0, 0, 1200, 800), color.Palette{color.RGBA{R: 0x88, G: 0x99, B: 0xaa, A: 0xff}})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	return b.Bytes()
}()
