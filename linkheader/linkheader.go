// Package linkheader parses and formats RFC 8288 Link header field values.
//
// Parsing is lenient per link and strict per character: a malformed link is
// reported on its own and never drops the well-formed links beside it.
// Formatting never emits CR, LF, NUL or an unbalanced quote, whatever the
// input, so a formatted value is always safe to put in a header.
package linkheader

import (
	"errors"
	"fmt"
	"strings"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// Link is one link of a Link field value.
type Link struct {
	// URI is the target as written between < and >, unresolved, with
	// surrounding whitespace removed. Parse percent-encodes the bytes a
	// browser's URL parser would encode anyway (space, ", <), so that a
	// parsed link formats back to itself.
	URI string
	// Rel holds the relation types, lower-cased, in the order given; nil
	// when the link has no (or an empty) rel.
	Rel []string
	// Params holds every other parameter in the order given (anchor
	// included); keys are lower-cased, values unquoted. A parameter without
	// a value (e.g. "crossorigin" or "nopush") has an empty Value. Extended
	// values (RFC 8187, "title*") are kept raw.
	Params []Param
}

// Param is one target attribute of a Link.
type Param struct {
	Key   string
	Value string
}

// Limits on one Parse call: input beyond them is reported, not read. They
// bound the work an attacker-controlled header can cause.
const (
	MaxInput = 64 << 10
	MaxLinks = 256
)

// ErrMalformed wraps every parse error.
var ErrMalformed = errors.New("linkheader: malformed link")

// Parse parses one or more Link field values. Each malformed link yields an
// error in errs and is skipped; parsing resumes at the next link of the
// same field value, so the links beside it are kept.
func Parse(values ...string) (links []Link, errs []error) {
	links, errs = parse(values)
	if len(links) == 0 {
		links = nil
	}
	return links, errs
}

func parse(values []string) (links []Link, errs []error) {
	estimate := 0
	for _, v := range values {
		estimate += strings.Count(v, "<")
	}
	if estimate > 0 {
		links = make([]Link, 0, min(estimate, MaxLinks))
	}
	total := 0
	for _, v := range values {
		total += len(v)
		if total > MaxInput {
			errs = append(errs, fmt.Errorf("%w: field values longer than %d bytes; the rest is ignored", ErrMalformed, MaxInput))
			return links, errs
		}
		p := parser{s: v}
		for !p.eof() {
			start := p.i
			l, ok, err := p.link()
			if err != nil {
				errs = append(errs, fmt.Errorf("%w at byte %d of %q: %w", ErrMalformed, p.i, clip(v[start:]), err))
				p.i = resync(v, p.resume)
				continue
			}
			if !ok {
				continue
			}
			if len(links) >= MaxLinks {
				errs = append(errs, fmt.Errorf("%w: more than %d links; the rest is ignored", ErrMalformed, MaxLinks))
				return links, errs
			}
			links = append(links, l)
		}
	}
	return links, errs
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

type parser struct {
	s string
	i int
	// resume is where to look for the next link after an error: inside a
	// broken target or an unterminated quote, quotes and brackets after it
	// cannot be trusted.
	resume int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// resync returns the offset of the next link start after from: a comma
// outside quoted strings followed by optional whitespace and '<' (every
// link-value starts with '<'). When the quotes after from are unbalanced it
// ignores them, so one stray quote cannot swallow the rest of the field.
func resync(s string, from int) int {
	if i, ok := nextLink(s, from, true); ok {
		return i
	}
	i, _ := nextLink(s, from, false)
	return i
}

func nextLink(s string, from int, quotes bool) (int, bool) {
	inQuote := false
	for i := from; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
		case quotes && c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			j := i + 1
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j < len(s) && s[j] == '<' {
				return i + 1, true
			}
		}
	}
	return len(s), !inQuote
}

var (
	errNoTarget   = errors.New("expected <target>")
	errUnclosed   = errors.New("unterminated <target>")
	errControl    = errors.New("control character")
	errQuote      = errors.New("unterminated quoted string")
	errToken      = errors.New("expected a parameter name")
	errAfterParam = errors.New("expected ; or , after a parameter")
)

// link parses one link-value; ok is false for an empty element (",,").
func (p *parser) link() (l Link, ok bool, err error) {
	p.resume = p.i
	p.ws()
	if p.eof() {
		return Link{}, false, nil
	}
	if p.s[p.i] == ',' {
		p.i++
		return Link{}, false, nil
	}
	if p.s[p.i] != '<' {
		return Link{}, false, errNoTarget
	}
	p.resume = p.i + 1
	end := p.i + 1
	for end < len(p.s) && p.s[end] != '>' {
		c := p.s[end]
		if c < 0x20 || c == 0x7f {
			p.i = end
			return Link{}, false, errControl
		}
		if c == '<' {
			// A second '<' before '>' means this target was never closed
			// and the next link starts here.
			p.i = end
			return Link{}, false, errUnclosed
		}
		end++
	}
	if end == len(p.s) {
		return Link{}, false, errUnclosed
	}
	l.URI = normalizeURI(strings.Trim(p.s[p.i+1:end], " "))
	p.i = end + 1
	p.resume = p.i
	seenRel := false
	for {
		p.ws()
		if p.eof() {
			return l, true, nil
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			return l, true, nil
		case ';':
			p.i++
		default:
			return Link{}, false, errAfterParam
		}
		p.ws()
		if p.eof() || p.s[p.i] == ',' || p.s[p.i] == ';' {
			continue // an empty parameter, tolerated
		}
		key := p.token()
		if key == "" {
			return Link{}, false, errToken
		}
		key = lowerASCII(key)
		p.ws()
		value := ""
		if !p.eof() && p.s[p.i] == '=' {
			p.i++
			p.ws()
			if value, err = p.value(); err != nil {
				return Link{}, false, err
			}
		}
		if key == "rel" {
			if !seenRel {
				// RFC 8288: occurrences after the first are ignored.
				seenRel = true
				l.Rel = splitRel(value)
			}
			continue
		}
		l.Params = append(l.Params, Param{Key: key, Value: value})
	}
}

// normalizeURI percent-encodes the bytes that cannot appear in a URI
// reference and that formatting would encode, as browsers do when they
// parse the target.
func normalizeURI(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsURIEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	return string(appendURI(b, s))
}

// splitRel splits a rel value on spaces and tabs, lower-casing each type.
func splitRel(v string) []string {
	n := 0
	for range fieldsSeq(v) {
		n++
	}
	if n == 0 {
		return nil
	}
	rels := make([]string, 0, n)
	for f := range fieldsSeq(v) {
		rels = append(rels, lowerASCII(f))
	}
	return rels
}

// fieldsSeq yields the space/tab separated fields of v.
func fieldsSeq(v string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i < len(v); {
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
			start := i
			for i < len(v) && v[i] != ' ' && v[i] != '\t' {
				i++
			}
			if i > start && !yield(v[start:i]) {
				return
			}
		}
	}
}

func (p *parser) token() string {
	start := p.i
	for p.i < len(p.s) && httpx.IsTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) value() (string, error) {
	if p.eof() || p.s[p.i] != '"' {
		start := p.i
		p.token()
		if !p.eof() && !isDelim(p.s[p.i]) {
			// Be lenient with bare values like type=font/woff2 or
			// media=(min-width:1px), common in the wild: read up to the
			// next delimiter. A quote or a '<' there is an error: it is
			// a missing ';' or ','.
			for p.i < len(p.s) && !isDelim(p.s[p.i]) && p.s[p.i] != '"' && p.s[p.i] != '<' {
				if c := p.s[p.i]; c < 0x20 && c != '\t' || c == 0x7f {
					return "", errControl
				}
				p.i++
			}
			return strings.TrimRight(p.s[start:p.i], " \t"), nil
		}
		return p.s[start:p.i], nil
	}
	open := p.i
	p.i++
	start, escaped := p.i, false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			escaped = true
			if p.i+1 < len(p.s) {
				if e := p.s[p.i+1]; e < 0x20 && e != '\t' || e == 0x7f {
					return "", errControl
				}
			}
			p.i += 2
			continue
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if escaped {
				v = unescape(v)
			}
			return v, nil
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", errControl
		}
		p.i++
	}
	// Links after an unterminated quote may still be recovered.
	p.resume = open + 1
	p.i = min(p.i, len(p.s))
	if p.i > start && httpx.HasFieldControl(p.s[start:p.i]) {
		return "", errControl
	}
	return "", errQuote
}

// unescape removes the backslashes of a quoted-string body whose escaped
// bytes were checked by the caller.
func unescape(v string) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b = append(b, v[i])
	}
	return string(b)
}

func isDelim(c byte) bool { return c == ';' || c == ',' }

// lowerASCII lower-cases ASCII letters; it allocates only when s has an
// upper-case letter. Keys and relation types are ASCII, and bytes beyond it
// are kept as they are, so lower-casing never changes a byte's length.
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Param returns the value of the first parameter named key
// (case-insensitive).
func (l Link) Param(key string) (value string, ok bool) {
	for _, p := range l.Params {
		if strings.EqualFold(p.Key, key) {
			return p.Value, true
		}
	}
	return "", false
}

// HasRel reports whether l has the relation type rel (case-insensitive).
func (l Link) HasRel(rel string) bool {
	for _, r := range l.Rel {
		if strings.EqualFold(r, rel) {
			return true
		}
	}
	return false
}
