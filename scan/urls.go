package scan

import (
	"net/url"
	"strings"

	"golang.org/x/text/encoding"

	"github.com/earlyhints/earlyhints/internal/httpx"
	"github.com/earlyhints/earlyhints/internal/weburl"
)

// Bounds on what one link may carry, so a hostile page cannot make the
// result (and the Link header built from it) large.
const (
	maxURLBytes    = 2048
	maxParamBytes  = 1024
	maxSrcsetBytes = 4096
	maxSrcsetItems = 32
)

// resolver turns attribute values into absolute, ASCII-only URLs the way a
// browser does: whitespace stripped, resolved against the base, fragment
// dropped, host in punycode, path percent-encoded as UTF-8 and query
// percent-encoded in the document's encoding. The resolution itself is
// weburl's, the one the rest of the product validates hints with.
type resolver struct {
	base *weburl.URL // nil without a usable base
	// relative is set when the document has no URL: references are kept
	// relative, as written.
	relative bool
	enc      encoding.Encoding // nil for UTF-8
}

func newResolver(base *url.URL, enc encoding.Encoding) resolver {
	if base == nil {
		return resolver{relative: true, enc: enc}
	}
	r := resolver{enc: enc}
	if b, err := weburl.FromURL(base); err == nil {
		r.base = &b
	}
	return r
}

// resolve returns the absolute form of raw, or ok=false when a browser
// would not fetch it over HTTP (data:, javascript:, blob:, unparsable...).
func (r *resolver) resolve(raw []byte) (u weburl.URL, ok bool) {
	s, ok := r.clean(raw)
	if !ok {
		return weburl.URL{}, false
	}
	u, err := weburl.ResolveWithoutCredentials(s, r.base)
	return u, err == nil
}

// clean prepares raw for resolution: HTML whitespace stripped, the
// fragment dropped (hints never carry one; browsers accept any text there)
// and the query in the document's encoding.
func (r *resolver) clean(raw []byte) (string, bool) {
	s := cleanURL(raw)
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if s == "" || len(s) > maxURLBytes {
		return "", false
	}
	return r.encodeQuery(s), true
}

// resolveString returns the absolute form of raw and its origin (relative
// forms and no origin for a document without a URL).
func (r *resolver) resolveString(raw []byte) (uri, org string, ok bool) {
	s, ok := r.clean(raw)
	if !ok {
		return "", "", false
	}
	if r.relative {
		rel, isRel, err := weburl.Relative(s)
		if isRel {
			return rel, "", err == nil && len(rel) <= maxURLBytes
		}
	}
	var buf [256]byte
	b, originEnd, err := weburl.AppendResolveWithoutCredentials(buf[:0], s, r.base)
	if err != nil || len(b) > maxURLBytes {
		return "", "", false
	}
	uri = string(b)
	return uri, uri[:originEnd], true // one allocation for both
}

// cleanURL strips leading and trailing ASCII whitespace and removes tabs and
// newlines inside, as the URL parser of browsers does.
func cleanURL(raw []byte) string {
	start, end := 0, len(raw)
	for start < end && httpx.IsHTMLSpace(raw[start]) {
		start++
	}
	for end > start && httpx.IsHTMLSpace(raw[end-1]) {
		end--
	}
	raw = raw[start:end]
	clean := true
	for _, c := range raw {
		if c == '\t' || c == '\n' || c == '\r' {
			clean = false
			break
		}
	}
	if clean {
		return string(raw)
	}
	b := make([]byte, 0, len(raw))
	for _, c := range raw {
		if c != '\t' && c != '\n' && c != '\r' {
			b = append(b, c)
		}
	}
	return string(b)
}

// encodeQuery writes the query of ref in the document's encoding, as a
// browser does before percent-encoding it (characters the encoding cannot
// represent stay UTF-8); Resolve then escapes the bytes.
func (r *resolver) encodeQuery(ref string) string {
	if r.enc == nil {
		return ref
	}
	q := strings.IndexByte(ref, '?')
	if q < 0 {
		return ref
	}
	for i := q; i < len(ref); i++ {
		if ref[i] >= 0x80 {
			if e, err := r.enc.NewEncoder().String(ref[q:]); err == nil {
				return ref[:q] + e
			}
			return ref
		}
	}
	return ref
}

// resolveImage resolves the URL of an image, and its srcset when it has
// one (useSrcset): a browser picks from the srcset, so an unusable src
// falls back to the srcset's first candidate. With upgrade (an https:
// page), http: URLs become the https: ones browsers fetch instead.
func (r *resolver) resolveImage(src, srcset []byte, useSrcset, upgrade bool) (uri, org, set string, ok bool) {
	var first string
	if useSrcset {
		set, first = r.resolveSrcset(srcset, upgrade)
	}
	uri, org, ok = r.resolveString(src)
	if !ok {
		if first == "" {
			return "", "", "", false
		}
		uri, org, _ = r.resolveString([]byte(first))
	}
	if upgrade {
		uri, org = upgradeHTTP(uri, org)
	}
	return uri, org, set, true
}

// upgradeHTTP rewrites an http: URL and its origin to https:, as browsers
// upgrade mixed-content images, audio and video: port 80 becomes the
// default port of https, another port is kept.
func upgradeHTTP(uri, org string) (string, string) {
	if !strings.HasPrefix(uri, "http://") {
		return uri, org
	}
	rest := uri[len("http://"):]
	host := org[len("http://"):]
	if h, ok := strings.CutSuffix(host, ":443"); ok {
		rest = h + rest[len(host):]
		host = h
	}
	return "https://" + rest, "https://" + host
}

// resolveSrcset rewrites a srcset with absolute URLs, so that a Link header
// (resolved against the request URL, not <base>) means the same images.
// Candidates that do not resolve are dropped; first is the first URL kept.
func (r *resolver) resolveSrcset(srcset []byte, upgrade bool) (out, first string) {
	var b strings.Builder
	s := srcset
	for items := 0; len(s) > 0 && items < maxSrcsetItems; {
		for len(s) > 0 && (httpx.IsHTMLSpace(s[0]) || s[0] == ',') {
			s = s[1:]
		}
		if len(s) == 0 {
			break
		}
		i := 0
		for i < len(s) && !httpx.IsHTMLSpace(s[i]) {
			i++
		}
		rawURL := s[:i]
		s = s[i:]
		var desc []byte
		if n := len(rawURL); n > 0 && rawURL[n-1] == ',' {
			for len(rawURL) > 0 && rawURL[len(rawURL)-1] == ',' {
				rawURL = rawURL[:len(rawURL)-1]
			}
		} else {
			// Descriptors run to the next comma outside parentheses.
			depth, j := 0, 0
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' && depth > 0 {
					depth--
				} else if s[j] == ',' && depth == 0 {
					break
				}
			}
			desc = s[:j]
			s = s[j:]
		}
		abs, org, ok := r.resolveString(rawURL)
		if !ok {
			continue
		}
		if upgrade {
			abs, _ = upgradeHTTP(abs, org)
		}
		items++
		if first == "" {
			first = abs
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(abs)
		if d := cleanParam(desc); d != "" {
			b.WriteByte(' ')
			b.WriteString(d)
		}
		if b.Len() > maxSrcsetBytes {
			return "", first
		}
	}
	return b.String(), first
}

// cleanParam makes an attribute value safe and compact as a Link parameter:
// whitespace runs become one space, control characters go, and an
// oversized value is dropped (a truncated media query or hash would be
// wrong, not shorter).
func cleanParam(v []byte) string {
	if len(v) > maxParamBytes {
		return ""
	}
	simple := true
	for i, c := range v {
		if c < 0x20 || c == 0x7f || (c == ' ' && (i == 0 || i == len(v)-1 || v[i-1] == ' ')) {
			simple = false
			break
		}
	}
	if simple {
		return string(v)
	}
	b := make([]byte, 0, len(v))
	space := false
	for _, c := range v {
		switch {
		case httpx.IsHTMLSpace(c):
			space = len(b) > 0
		case c < 0x20 || c == 0x7f:
		default:
			if space {
				b = append(b, ' ')
				space = false
			}
			b = append(b, c)
		}
	}
	return string(b)
}
