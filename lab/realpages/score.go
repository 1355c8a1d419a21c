package realpages

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/linkheader"
	"golang.org/x/net/html"
)

// Category is why a file is critical.
type Category string

// The categories, in the order a file is put in the first that fits.
const (
	RenderBlocking Category = "render-blocking"
	Font           Category = "font"
	LCPImage       Category = "lcp-image"
)

// Categories lists them in order.
var Categories = []Category{RenderBlocking, Font, LCPImage}

// Ratio is part of a whole.
type Ratio struct{ Got, Of int }

// Add adds o to r.
func (r *Ratio) Add(o Ratio) { r.Got += o.Got; r.Of += o.Of }

// Value is Got/Of, 1 for an empty whole.
func (r Ratio) Value() float64 {
	if r.Of == 0 {
		return 1
	}
	return float64(r.Got) / float64(r.Of)
}

func (r Ratio) String() string {
	if r.Of == 0 {
		return "–"
	}
	return fmt.Sprintf("%d/%d", r.Got, r.Of)
}

// Percent formats r as a percentage with its counts.
func (r Ratio) Percent() string {
	if r.Of == 0 {
		return "– (0 of 0)"
	}
	return fmt.Sprintf("%.1f %% (%d of %d)", 100*r.Value(), r.Got, r.Of)
}

// Miss is a critical file the 103 did not cover, or a preload the page
// did not fetch.
type Miss struct {
	URL      string
	Category Category // "" for a wasted preload
	SameSite bool
	// Reason is the guessed cause, one of a few short phrases; Detail
	// adds what is particular to this file.
	Reason, Detail string
}

// Score is how the 103 of one page compares with what it needed.
type Score struct {
	Name, Site string
	Got103     bool
	// HintableHead: Chromium waited for a file (a render-blocking one)
	// that the page's head names in its markup, so a 103 had something to
	// hint; a file a script inserts, or one named only in the body, is
	// not counted.
	HintableHead bool
	Preloads     []string
	Preconnects  []string
	// SameSite are the critical files of the page's site that the 103
	// preloaded, by category; ThirdParty the critical files of other sites
	// whose origin the 103 preconnected (or that it preloaded).
	SameSite   map[Category]Ratio
	ThirdParty map[Category]Ratio
	// Precision: the preloads the page then fetched.
	Precision Ratio
	Misses    []Miss
	// NonCritical are the preloads the page fetched but did not wait for,
	// by what they were ("script", "async stylesheet", "image", …): the
	// places critical files could have had.
	NonCritical map[string]int
	// Events are the middleware's decisions over the run (Result.Events).
	Events map[string]int
	// OverBudget counts the hints the middleware left out of its 103s over
	// the document budget during the run.
	OverBudget int
}

// SameSiteAll sums SameSite over the categories.
func (s *Score) SameSiteAll() Ratio { return sum(s.SameSite) }

// ThirdPartyAll sums ThirdParty over the categories.
func (s *Score) ThirdPartyAll() Ratio { return sum(s.ThirdParty) }

func sum(m map[Category]Ratio) Ratio {
	var r Ratio
	for _, v := range m {
		r.Add(v)
	}
	return r
}

// ScoreConfig says what the product was allowed: the caps a miss is
// blamed on. The zero value is the product's defaults.
type ScoreConfig struct {
	MaxPreloads, MaxPreconnects int
	// ScanBytes is the product's scan bound; 0 means its default.
	ScanBytes int
}

// ScorePage compares the 103 of r with t for page p.
func ScorePage(p *Page, t *Truth, r *Result, cfg ScoreConfig) *Score {
	if cfg.MaxPreloads == 0 {
		cfg.MaxPreloads = earlyhints.DefaultMaxPreloads
	}
	if cfg.MaxPreconnects == 0 {
		cfg.MaxPreconnects = earlyhints.DefaultMaxPreconnects
	}
	base, _ := url.Parse(t.URL)
	s := &Score{
		Name: p.Name, Site: p.Site(), Got103: r.Got103, HintableHead: headNames(p.HTML, t.URL, t.Blocking),
		SameSite: map[Category]Ratio{}, ThirdParty: map[Category]Ratio{}, Events: r.Events, NonCritical: map[string]int{},
	}
	for k, n := range r.Events {
		if strings.HasPrefix(k, leftOutLinks+earlyhints.ReasonOverBudget) {
			s.OverBudget += n
		}
	}
	links, _ := linkheader.Parse(r.Hints...)
	for _, l := range links {
		u := normURL(l.URI, base)
		switch {
		case u == "":
		case l.HasRel("preload") || l.HasRel("modulepreload"):
			s.Preloads = append(s.Preloads, u)
		case l.HasRel("preconnect"):
			s.Preconnects = append(s.Preconnects, originOf(u))
		}
	}
	html := p.HTML
	sv := scanPage(html, base, cfg.ScanBytes)
	seen := map[string]bool{}
	add := func(u string, c Category) {
		if u == "" || seen[u] {
			return
		}
		seen[u] = true
		same := siteOf(hostOf(u)) == s.Site
		got := slices.Contains(s.Preloads, u)
		if same {
			rt := s.SameSite[c]
			rt.Of++
			if got {
				rt.Got++
			} else {
				why, detail := sameSiteReason(html, base, sv, u, c, s, cfg)
				s.Misses = append(s.Misses, Miss{URL: u, Category: c, SameSite: true, Reason: why, Detail: detail})
			}
			s.SameSite[c] = rt
			return
		}
		got = got || slices.Contains(s.Preconnects, originOf(u))
		rt := s.ThirdParty[c]
		rt.Of++
		if got {
			rt.Got++
		} else {
			why, detail := thirdPartyReason(html, sv, u, s, cfg)
			s.Misses = append(s.Misses, Miss{URL: u, Category: c, Reason: why, Detail: detail})
		}
		s.ThirdParty[c] = rt
	}
	for _, u := range t.Blocking {
		add(u, RenderBlocking)
	}
	for _, u := range t.Fonts {
		add(u, Font)
	}
	add(t.LCP, LCPImage)
	for _, u := range s.Preloads {
		s.Precision.Of++
		if t.Fetched(u) {
			s.Precision.Got++
			if !seen[u] {
				s.NonCritical[nonCriticalKind(html, base, t, u)]++
			}
		} else {
			s.Misses = append(s.Misses, Miss{URL: u, Reason: wastedReason(html, base, u)})
		}
	}
	return s
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.ToLower(p.Hostname())
}

func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Path
}

func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Scheme + "://" + strings.ToLower(p.Host)
}

// mention finds where the HTML names u: its offset and whether it was
// named with http: (-1 when the HTML does not name it: the browser found
// it in a stylesheet or a script).
func mention(html []byte, base *url.URL, u string) (int, bool) {
	p, err := url.Parse(u)
	if err != nil {
		return -1, false
	}
	tail := p.EscapedPath()
	if p.RawQuery != "" {
		tail += "?" + p.RawQuery
	}
	forms := []string{tail, strings.ReplaceAll(tail, "&", "&amp;")}
	if up, err := url.PathUnescape(tail); err == nil {
		forms = append(forms, up)
	}
	best, insecure := -1, false
	for _, f := range forms {
		from := 0
		for {
			i := bytes.Index(html[from:], []byte(f))
			if i < 0 {
				break
			}
			i += from
			from = i + 1
			// The host must be the file's, named or implied by the page.
			pre := string(html[max(0, i-len(p.Host)-8):i])
			named := strings.HasSuffix(strings.ToLower(pre), strings.ToLower(p.Host))
			implied := strings.EqualFold(p.Host, base.Host) && (i == 0 || html[i-1] == '"' || html[i-1] == '\'' || html[i-1] == '(' || html[i-1] == '=')
			if !named && !implied {
				continue
			}
			if best < 0 || i < best {
				best, insecure = i, strings.HasSuffix(strings.ToLower(pre), "http://"+strings.ToLower(p.Host))
			}
			break
		}
	}
	return best, insecure
}

// tagAt returns the markup of the tag around offset i, lower-cased, and
// whether i lies in an inline <style> element.
func tagAt(html []byte, i int) (string, bool) {
	lt := bytes.LastIndexByte(html[:i], '<')
	if lt < 0 {
		return "", false
	}
	gt := bytes.IndexByte(html[i:], '>')
	if gt < 0 {
		gt = len(html) - i
	}
	tag := strings.ToLower(string(html[lt : i+gt]))
	before := bytes.ToLower(html[max(0, i-64<<10):i])
	open, close := bytes.LastIndex(before, []byte("<style")), bytes.LastIndex(before, []byte("</style"))
	return tag, open >= 0 && open > close && !strings.HasPrefix(tag, "<link") && !strings.HasPrefix(tag, "<script")
}

// wastedReason guesses why the page never fetched a preloaded u.
func wastedReason(html []byte, base *url.URL, u string) string {
	if i, _ := mention(html, base, u); i >= 0 {
		if _, inStyle := tagAt(html, i); inStyle {
			// A font an inline @font-face declares is fetched only if
			// some text uses it (here with the external stylesheets
			// stubbed: one only they would use looks unused too).
			return "preloaded, never fetched: an inline @font-face no text used"
		}
	}
	return "preloaded, never fetched"
}

// nonCriticalKind says what a preloaded file the page did not wait for
// was.
func nonCriticalKind(html []byte, base *url.URL, t *Truth, u string) string {
	dest := ""
	for _, f := range t.Requests {
		if f.URL == u {
			dest = f.Dest
			break
		}
	}
	if strings.HasSuffix(strings.ToLower(hostOf(u)+pathOf(u)), "/favicon.ico") {
		return "favicon (the browser's own fetch)"
	}
	if i, _ := mention(html, base, u); i >= 0 {
		tag, _ := tagAt(html, i)
		switch {
		case strings.Contains(tag, "icon"):
			return "icon"
		case dest == "style" && strings.Contains(tag, "onload"):
			return "async stylesheet"
		case dest == "style" && strings.Contains(tag, "media="):
			return "stylesheet for media=" + attr(tag, "media")
		case dest == "script" && (strings.Contains(tag, " async") || strings.Contains(tag, " defer")):
			return "async or deferred script"
		case dest == "script" && i > bytes.Index(bytes.ToLower(html), []byte("<body")):
			return "script in the body"
		}
	}
	if dest == "" {
		return "other"
	}
	return dest
}

// attr returns the value of name in a lower-cased tag.
func attr(tag, name string) string {
	i := strings.Index(tag, name+"=")
	if i < 0 {
		return ""
	}
	v := tag[i+len(name)+1:]
	if v != "" && (v[0] == '"' || v[0] == '\'') {
		if j := strings.IndexByte(v[1:], v[0]); j >= 0 {
			return v[1 : j+1]
		}
	}
	if j := strings.IndexAny(v, " >"); j >= 0 {
		return v[:j]
	}
	return v
}

// Pooled sums the scores of a corpus.
type Pooled struct {
	Pages, Got103 int
	// NoHintsHintable counts the pages that name a hintable file (a
	// render-blocking one) but got no 103.
	NoHintsHintable int
	SameSite        map[Category]Ratio
	ThirdParty      map[Category]Ratio
	Precision       Ratio
	// NonCritical counts the preloads of files the pages fetched but did
	// not wait for, by kind.
	NonCritical map[string]int
	// Invalid counts the middleware's EventInvalid reports (what
	// earlyhints_invalid_input_total counts) over every page's views.
	Invalid int
	// Reasons counts the misses by reason (the reason's words before any
	// colon), same-site and third-party apart.
	Reasons map[string]int
}

// Pool sums scores.
func Pool(scores []*Score) Pooled {
	p := Pooled{SameSite: map[Category]Ratio{}, ThirdParty: map[Category]Ratio{}, Reasons: map[string]int{}, NonCritical: map[string]int{}}
	for _, s := range scores {
		p.Pages++
		if s.Got103 {
			p.Got103++
		} else if s.HintableHead {
			p.NoHintsHintable++
		}
		for _, c := range Categories {
			r := p.SameSite[c]
			r.Add(s.SameSite[c])
			p.SameSite[c] = r
			r = p.ThirdParty[c]
			r.Add(s.ThirdParty[c])
			p.ThirdParty[c] = r
		}
		p.Precision.Add(s.Precision)
		for k, n := range s.NonCritical {
			p.NonCritical[k] += n
		}
		p.Invalid += s.Events[earlyhints.EventInvalid.String()]
		for _, m := range s.Misses {
			k := "third-party "
			switch {
			case m.Category == "":
				k = "precision"
			case m.SameSite:
				k = "same-site "
			}
			p.Reasons[k+string(m.Category)+": "+m.Reason]++
		}
	}
	return p
}

// SameSiteAll sums SameSite over the categories.
func (p Pooled) SameSiteAll() Ratio { return sum(p.SameSite) }

// ThirdPartyAll sums ThirdParty over the categories.
func (p Pooled) ThirdPartyAll() Ratio { return sum(p.ThirdParty) }

// headNames reports whether the head of the page at base names one of
// files in its markup: the src or href of a tag before the body, resolved
// against the page (inline scripts' text is not markup, so a file a
// script writes in does not count).
func headNames(htmlDoc []byte, base string, files []string) bool {
	page, err := url.Parse(base)
	if err != nil {
		return false
	}
	want := make(map[string]bool, len(files))
	for _, f := range files {
		want[f] = true
	}
	z := html.NewTokenizer(bytes.NewReader(htmlDoc))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return false
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "head" {
				return false
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, more := z.TagName()
			if string(name) == "body" {
				return false
			}
			for more {
				var key, val []byte
				key, val, more = z.TagAttr()
				if k := string(key); k != "src" && k != "href" {
					continue
				}
				if u, err := page.Parse(strings.TrimSpace(string(val))); err == nil && want[u.String()] {
					return true
				}
			}
		}
	}
}
