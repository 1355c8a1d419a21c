package realpages

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// ErrBadCorpus is returned when the corpus files cannot be used.
var ErrBadCorpus = errors.New("realpages: bad corpus")

// Page is one saved page.
type Page struct {
	// Name is the page's name in the corpus (the directory it had in the
	// source corpus).
	Name string `json:"name"`
	// URL is where the page was saved from, as https.
	URL string `json:"url"`
	// Source is the page's path in the source corpus.
	Source string `json:"source"`
	// SHA256 is the hash of the saved HTML, so a changed file is noticed.
	SHA256 string `json:"sha256"`
	// HTML is the saved page, byte for byte.
	HTML []byte `json:"-"`
}

// Host returns the page's host name, lower-cased.
func (p *Page) Host() string {
	u, err := url.Parse(p.URL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// Site returns the page's site (eTLD+1).
func (p *Page) Site() string { return siteOf(p.Host()) }

// Corpus is a set of saved pages.
type Corpus struct {
	From    string  `json:"from"`
	Commit  string  `json:"commit"`
	License string  `json:"license"`
	Pages   []*Page `json:"pages"`
}

// Page returns the page called name.
func (c *Corpus) Page(name string) (*Page, bool) {
	for _, p := range c.Pages {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// LoadCorpus reads dir/corpus.json and the pages it lists from
// dir/pages/NAME.html.gz, checking each against its hash.
func LoadCorpus(dir string) (*Corpus, error) {
	b, err := os.ReadFile(filepath.Join(dir, "corpus.json")) //nolint:gosec // the corpus directory the caller names
	if err != nil {
		return nil, fmt.Errorf("%w: %w (run from the package directory, or pass the testdata directory)", ErrBadCorpus, err)
	}
	c := &Corpus{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%w: corpus.json: %w", ErrBadCorpus, err)
	}
	if len(c.Pages) == 0 {
		return nil, fmt.Errorf("%w: corpus.json lists no pages", ErrBadCorpus)
	}
	seen := map[string]bool{}
	for _, p := range c.Pages {
		u, err := url.Parse(p.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("%w: page %q: URL %q is not an absolute https URL", ErrBadCorpus, p.Name, p.URL)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%w: page %q listed twice", ErrBadCorpus, p.Name)
		}
		seen[p.Name] = true
		if p.HTML, err = readGzip(filepath.Join(dir, "pages", p.Name+".html.gz")); err != nil {
			return nil, fmt.Errorf("%w: page %q: %w", ErrBadCorpus, p.Name, err)
		}
		sum := sha256.Sum256(p.HTML)
		if hex.EncodeToString(sum[:]) != p.SHA256 {
			return nil, fmt.Errorf("%w: page %q: its HTML does not match its sha256 in corpus.json; restore the file from the source corpus", ErrBadCorpus, p.Name)
		}
	}
	return c, nil
}

func readGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path) //nolint:gosec // a file of the corpus directory the caller names
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// siteOf returns the registrable domain of host (eTLD+1), or host itself
// when it has none (an IP address, a public suffix).
func siteOf(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	s, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return s
}

// normURL is the form URLs are compared in: parsed and printed again,
// host lower-cased, default port and fragment dropped. It returns "" for
// what is not an http(s) URL.
func normURL(raw string, base *url.URL) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return ""
	}
	u.Fragment, u.RawFragment = "", ""
	u.Host = strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		u.Host = u.Hostname()
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}
