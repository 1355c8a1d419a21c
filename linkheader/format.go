package linkheader

import (
	"strings"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// Format joins links into one field value.
func Format(links ...Link) string {
	n := 0
	for _, l := range links {
		n += l.sizeHint() + 2
	}
	return string(Append(make([]byte, 0, n), links...))
}

// Append appends the field value of links to dst, as Format does, for
// callers that reuse a buffer.
func Append(dst []byte, links ...Link) []byte {
	for i, l := range links {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = l.AppendTo(dst)
	}
	return dst
}

// String formats l as a field value; it never contains CR, LF or NUL.
func (l Link) String() string {
	var buf [256]byte
	return string(l.AppendTo(buf[:0]))
}

func (l Link) sizeHint() int {
	n := len(l.URI) + 2
	for _, r := range l.Rel {
		n += len(r) + 1
	}
	for _, p := range l.Params {
		n += len(p.Key) + len(p.Value) + 5
	}
	return n + 8
}

// AppendTo appends the field value of l to dst:
// <uri>; rel="a b"; key=token-or-"quoted". Whatever l holds, the output has
// no CR, LF, NUL or unbalanced quote: unsafe bytes of the target are
// percent-encoded, control characters of values dropped, parameters whose
// key is not a token (and "rel" among Params) dropped.
func (l Link) AppendTo(dst []byte) []byte {
	dst = append(dst, '<')
	dst = appendURI(dst, l.URI)
	dst = append(dst, '>')
	dst = appendRel(dst, l.Rel)
	for _, p := range l.Params {
		if !httpx.IsToken(p.Key) || strings.EqualFold(p.Key, "rel") {
			continue
		}
		dst = append(dst, "; "...)
		dst = appendLower(dst, p.Key)
		if v := dropControls(p.Value); v != "" {
			dst = append(dst, '=')
			dst = appendValue(dst, v)
		}
	}
	return dst
}

// appendRel writes the relation types, lower-cased: bare when there is one
// and it is a token, else quoted and space-separated. An element holding
// spaces contributes each of its words, as a parser would read them back.
func appendRel(dst []byte, rels []string) []byte {
	n, bare := 0, true
	for _, r := range rels {
		for f := range fieldsSeq(r) {
			if !safeRel(f) {
				continue
			}
			n++
			bare = bare && httpx.IsToken(f)
		}
	}
	if n == 0 {
		return dst
	}
	dst = append(dst, "; rel="...)
	bare = bare && n == 1
	if !bare {
		dst = append(dst, '"')
	}
	first := true
	for _, r := range rels {
		for f := range fieldsSeq(r) {
			if !safeRel(f) {
				continue
			}
			if !first {
				dst = append(dst, ' ')
			}
			first = false
			for i := 0; i < len(f); i++ {
				c := f[i]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				if c == '"' || c == '\\' {
					dst = append(dst, '\\')
				}
				dst = append(dst, c)
			}
		}
	}
	if !bare {
		dst = append(dst, '"')
	}
	return dst
}

// safeRel rejects relation types with control characters: they cannot be
// written, and dropping bytes inside one would name another relation.
func safeRel(r string) bool {
	for i := 0; i < len(r); i++ {
		if c := r[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// needsURIEscape reports the bytes that could end the target or break the
// header: controls, space, <, >, and the quote (which would unbalance naive
// quote-aware splitters).
func needsURIEscape(c byte) bool {
	return c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"'
}

func appendURI(dst []byte, uri string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		if needsURIEscape(c) {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// dropControls removes control characters other than tab, which a header
// cannot carry; it allocates only when there is one.
func dropControls(v string) string {
	if !httpx.HasFieldControl(v) {
		return v
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 0x20 && c != 0x7f || c == '\t' {
			b = append(b, c)
		}
	}
	return string(b)
}

// appendValue writes v, free of controls, bare when it is a token, else
// quoted with escapes.
func appendValue(dst []byte, v string) []byte {
	if httpx.IsToken(v) {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
