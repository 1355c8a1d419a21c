package earlyhints

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// A Dictionary of RFC 9651 (Structured Field Values), parsed as section
// 4.2 says, for the fields the package reads (No-Vary-Search). Every bare
// item type is recognised, so a member the package does not use never
// fails the field; only booleans, strings and inner lists are kept.

// maxFieldBytes bounds a structured field the package parses; a longer
// one is refused as a whole.
const maxFieldBytes = 4 << 10

// sfKind is the type of a bare item, as far as the package tells them
// apart.
type sfKind uint8

const (
	sfOther sfKind = iota // integer, decimal, token, byte sequence, date, display string
	sfBool
	sfString
)

// sfItem is a bare item; its parameters are parsed and dropped.
type sfItem struct {
	kind sfKind
	b    bool
	s    string
}

// sfMember is a dictionary member's value: an item, or an inner list.
type sfMember struct {
	item   sfItem
	list   []sfItem
	isList bool
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{p.i}, args...)...)
}

func (p *sfParser) eof() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// parseSFDictionary parses a Dictionary field value (several field lines
// joined with ","). The members are returned in order of first
// appearance, a later duplicate replacing the value.
func parseSFDictionary(v string) (keys []string, members map[string]sfMember, err error) {
	if len(v) > maxFieldBytes {
		return nil, nil, fmt.Errorf("%d bytes, over the %d read", len(v), maxFieldBytes)
	}
	p := &sfParser{s: v}
	p.skipSP()
	members = make(map[string]sfMember)
	for !p.eof() {
		key, err := p.key()
		if err != nil {
			return nil, nil, err
		}
		var m sfMember
		if p.peek() == '=' {
			p.i++
			if m, err = p.itemOrInnerList(); err != nil {
				return nil, nil, err
			}
		} else {
			m.item = sfItem{kind: sfBool, b: true}
			if err := p.parameters(); err != nil {
				return nil, nil, err
			}
		}
		if _, seen := members[key]; !seen {
			keys = append(keys, key)
		}
		members[key] = m
		p.skipOWS()
		if p.eof() {
			break
		}
		if p.s[p.i] != ',' {
			return nil, nil, p.errorf("expected a comma after member %q", key)
		}
		p.i++
		p.skipOWS()
		if p.eof() {
			return nil, nil, p.errorf("trailing comma")
		}
	}
	return keys, members, nil
}

func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || 'A' <= c && c <= 'Z' }

// key parses a key: lcalpha or "*", then lcalpha, digits, "_-.*".
func (p *sfParser) key() (string, error) {
	start := p.i
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", p.errorf("a key starts with a lower-case letter or '*'")
	}
	p.i++
	for !p.eof() {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) itemOrInnerList() (sfMember, error) {
	if p.peek() == '(' {
		list, err := p.innerList()
		return sfMember{list: list, isList: true}, err
	}
	it, err := p.item()
	return sfMember{item: it}, err
}

func (p *sfParser) innerList() ([]sfItem, error) {
	p.i++ // '('
	var list []sfItem
	for !p.eof() {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			return list, p.parameters()
		}
		it, err := p.item()
		if err != nil {
			return nil, err
		}
		list = append(list, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, p.errorf("items of an inner list are separated by spaces")
		}
	}
	return nil, p.errorf("inner list not closed")
}

func (p *sfParser) item() (sfItem, error) {
	it, err := p.bareItem()
	if err != nil {
		return sfItem{}, err
	}
	return it, p.parameters()
}

func (p *sfParser) parameters() error {
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		if _, err := p.key(); err != nil {
			return err
		}
		if p.peek() == '=' {
			p.i++
			if _, err := p.bareItem(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *sfParser) bareItem() (sfItem, error) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return sfItem{}, p.number()
	case c == '"':
		s, err := p.str()
		return sfItem{kind: sfString, s: s}, err
	case c == '*' || isAlpha(c):
		p.token()
		return sfItem{}, nil
	case c == ':':
		return sfItem{}, p.byteSequence()
	case c == '?':
		b, err := p.boolean()
		return sfItem{kind: sfBool, b: b}, err
	case c == '@':
		p.i++
		start := p.i
		if err := p.number(); err != nil {
			return sfItem{}, err
		}
		if strings.IndexByte(p.s[start:p.i], '.') >= 0 {
			return sfItem{}, p.errorf("a date is an integer")
		}
		return sfItem{}, nil
	case c == '%':
		return sfItem{}, p.displayString()
	}
	return sfItem{}, p.errorf("no item starts with %q", c)
}

// number checks an Integer or Decimal (section 4.2.4).
func (p *sfParser) number() error {
	if p.peek() == '-' {
		p.i++
	}
	if !isDigit(p.peek()) {
		return p.errorf("a number needs a digit")
	}
	digits, dot := 0, -1
	for ; !p.eof(); p.i++ {
		c := p.s[p.i]
		if c == '.' && dot < 0 {
			if digits > 12 {
				return p.errorf("a decimal has at most 12 integer digits")
			}
			dot = digits
			continue
		}
		if !isDigit(c) {
			break
		}
		if digits++; digits > 15 {
			return p.errorf("number too long")
		}
	}
	if dot >= 0 && (digits == dot || digits-dot > 3) {
		return p.errorf("a decimal has 1 to 3 fractional digits")
	}
	return nil
}

func (p *sfParser) str() (string, error) {
	p.i++ // '"'
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.eof() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return "", p.errorf("bad escape in a string")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", p.errorf("a string holds printable ASCII only")
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("string not closed")
}

func (p *sfParser) token() {
	p.i++
	for !p.eof() {
		c := p.s[p.i]
		if !isTChar(c) && c != ':' && c != '/' {
			return
		}
		p.i++
	}
}

func isTChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *sfParser) byteSequence() error {
	p.i++ // ':'
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		return p.errorf("byte sequence not closed")
	}
	b64 := p.s[p.i : p.i+end]
	if _, err := base64.StdEncoding.DecodeString(b64); err != nil {
		if _, err := base64.RawStdEncoding.DecodeString(b64); err != nil {
			return p.errorf("byte sequence is not base64")
		}
	}
	p.i += end + 1
	return nil
}

func (p *sfParser) boolean() (bool, error) {
	p.i++ // '?'
	switch p.peek() {
	case '1':
		p.i++
		return true, nil
	case '0':
		p.i++
		return false, nil
	}
	return false, p.errorf("a boolean is ?0 or ?1")
}

func (p *sfParser) displayString() error {
	p.i++ // '%'
	if p.peek() != '"' {
		return p.errorf("a display string starts with %%\"")
	}
	p.i++
	var b []byte
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '%':
			if p.i+2 > len(p.s) {
				return p.errorf("display string cut short")
			}
			hi, okHi := unhexLower(p.s[p.i])
			lo, okLo := unhexLower(p.s[p.i+1])
			if !okHi || !okLo {
				return p.errorf("a display string escapes with two lower-case hex digits")
			}
			b = append(b, hi<<4|lo)
			p.i += 2
		case c == '"':
			if !utf8.Valid(b) {
				return p.errorf("display string is not UTF-8")
			}
			return nil
		case c < 0x20 || c > 0x7e:
			return p.errorf("a display string holds printable ASCII only")
		default:
			b = append(b, c)
		}
	}
	return p.errorf("display string not closed")
}

// unhexLower is the value of a lower-case hex digit.
func unhexLower(c byte) (byte, bool) {
	switch {
	case isDigit(c):
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

var errNotStrings = errors.New("not an inner list of strings")

// strings returns the member as an inner list of strings.
func (m sfMember) strings() ([]string, error) {
	if !m.isList {
		return nil, errNotStrings
	}
	out := make([]string, 0, len(m.list))
	for _, it := range m.list {
		if it.kind != sfString {
			return nil, errNotStrings
		}
		out = append(out, it.s)
	}
	return out, nil
}
