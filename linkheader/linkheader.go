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
)

// Link is one link of a Link field value.
type Link struct {
	// URI is the target as written between < and >, unresolved.
	URI string
	// Rel holds the relation types, lower-cased, in the order given.
	Rel []string
	// Params holds every other parameter in the order given; keys are
	// lower-cased, values unquoted. A parameter without a value (e.g.
	// "crossorigin" or "nopush") has an empty Value.
	Params []Param
}

// Param is one target attribute of a Link.
type Param struct {
	Key   string
	Value string
}

// Limits on one Parse call: input beyond them is reported, not read.
const (
	MaxInput = 64 << 10
	MaxLinks = 256
)

// ErrMalformed wraps every parse error.
var ErrMalformed = errors.New("linkheader: malformed link")

// Parse parses one or more Link field values. Each malformed link yields an
// error in errs and is skipped; the others are returned in order.
func Parse(values ...string) (links []Link, errs []error) {
	total := 0
	for _, v := range values {
		total += len(v)
		if total > MaxInput {
			errs = append(errs, fmt.Errorf("%w: field values longer than %d bytes; the rest is ignored", ErrMalformed, MaxInput))
			return links, errs
		}
		p := parser{s: v}
		for !p.eof() {
			if len(links) >= MaxLinks {
				errs = append(errs, fmt.Errorf("%w: more than %d links; the rest is ignored", ErrMalformed, MaxLinks))
				return links, errs
			}
			start := p.i
			l, err, ok := p.link()
			if err != nil {
				errs = append(errs, fmt.Errorf("%w at byte %d of %q: %w", ErrMalformed, start, clip(v[start:]), err))
				p.i = start
				p.skipToComma()
				continue
			}
			if ok {
				links = append(links, l)
			}
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
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipToComma moves past the next comma outside quotes and angle brackets.
func (p *parser) skipToComma() {
	inQuote, inAngle := false, false
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case inQuote && c == '\\':
			p.i++
		case c == '"' && !inAngle:
			inQuote = !inQuote
		case c == '<' && !inQuote:
			inAngle = true
		case c == '>' && !inQuote:
			inAngle = false
		case c == ',' && !inQuote && !inAngle:
			return
		}
	}
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
func (p *parser) link() (Link, error, bool) {
	p.ws()
	if p.eof() {
		return Link{}, nil, false
	}
	if p.s[p.i] == ',' {
		p.i++
		return Link{}, nil, false
	}
	if p.s[p.i] != '<' {
		return Link{}, errNoTarget, false
	}
	end := strings.IndexByte(p.s[p.i:], '>')
	if end < 0 {
		return Link{}, errUnclosed, false
	}
	var l Link
	l.URI = strings.TrimSpace(p.s[p.i+1 : p.i+end])
	if hasControl(l.URI) {
		return Link{}, errControl, false
	}
	p.i += end + 1
	for {
		p.ws()
		if p.eof() {
			return l, nil, true
		}
		switch p.s[p.i] {
		case ',':
			p.i++
			return l, nil, true
		case ';':
			p.i++
		default:
			return Link{}, errAfterParam, false
		}
		p.ws()
		if p.eof() || p.s[p.i] == ',' || p.s[p.i] == ';' {
			continue // an empty parameter, tolerated
		}
		key := p.token()
		if key == "" {
			return Link{}, errToken, false
		}
		key = strings.ToLower(key)
		p.ws()
		value := ""
		if !p.eof() && p.s[p.i] == '=' {
			p.i++
			p.ws()
			var err error
			if value, err = p.value(); err != nil {
				return Link{}, err, false
			}
		}
		if key == "rel" {
			if l.Rel != nil {
				continue // RFC 8288: occurrences after the first are ignored
			}
			l.Rel = strings.Fields(strings.ToLower(value))
			if l.Rel == nil {
				l.Rel = []string{}
			}
			continue
		}
		l.Params = append(l.Params, Param{Key: key, Value: value})
	}
}

func (p *parser) token() string {
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) value() (string, error) {
	if p.eof() || p.s[p.i] != '"' {
		v := p.token()
		if !p.eof() && !isDelim(p.s[p.i]) {
			// Be lenient with bare values like type=text/css or
			// media=(min-width:1px): read up to the next delimiter.
			start := p.i - len(v)
			for p.i < len(p.s) && !isDelim(p.s[p.i]) && p.s[p.i] != '"' {
				if p.s[p.i] < 0x20 || p.s[p.i] == 0x7f {
					return "", errControl
				}
				p.i++
			}
			v = strings.TrimRight(p.s[start:p.i], " \t")
		}
		return v, nil
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\' && p.i < len(p.s):
			c = p.s[p.i]
			p.i++
			if c < 0x20 && c != '\t' || c == 0x7f {
				return "", errControl
			}
			b.WriteByte(c)
		case c == '"':
			return b.String(), nil
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", errControl
		default:
			b.WriteByte(c)
		}
	}
	return "", errQuote
}

func isDelim(c byte) bool { return c == ';' || c == ',' }

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// isTokenChar reports whether c is a tchar of RFC 9110.
func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Format joins links into one field value.
func Format(links ...Link) string {
	var b strings.Builder
	for i, l := range links {
		if i > 0 {
			b.WriteString(", ")
		}
		l.write(&b)
	}
	return b.String()
}

// String formats l as a field value; it never contains CR, LF or NUL.
func (l Link) String() string {
	var b strings.Builder
	l.write(&b)
	return b.String()
}

func (l Link) write(b *strings.Builder) {
	b.WriteByte('<')
	writeURI(b, l.URI)
	b.WriteByte('>')
	var rels []string
	for _, r := range l.Rel {
		if r = strings.ToLower(r); r != "" && isToken(r) {
			rels = append(rels, r)
		}
	}
	if len(rels) > 0 {
		b.WriteString("; rel=")
		writeValue(b, strings.Join(rels, " "))
	}
	for _, p := range l.Params {
		key := strings.ToLower(p.Key)
		if key == "" || key == "rel" || !isToken(key) {
			continue
		}
		b.WriteString("; ")
		b.WriteString(key)
		if p.Value != "" {
			b.WriteByte('=')
			writeValue(b, p.Value)
		}
	}
}

// writeURI percent-encodes the bytes that could end the target or break
// the header: controls, space, <, >, and the quote.
func writeURI(b *strings.Builder, uri string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		if c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
}

// writeValue writes v bare when it is a token, else quoted with escapes;
// control characters are dropped.
func writeValue(b *strings.Builder, v string) {
	if isToken(v) {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			continue
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// Param returns the value of the parameter key (case-insensitive).
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
