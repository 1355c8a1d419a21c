package scan

import (
	"bytes"
	"strings"
)

// A few steps of CSS Syntax, enough to read @font-face, @import and font
// declarations out of inline style sheets: strings, comments, blocks and
// top-level separators. Only stripComments and splitTop allocate.

// stripComments removes /* */ comments outside strings.
func stripComments(s string) string {
	if !strings.Contains(s, "/*") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '"' || c == '\'':
			j := endOfString(s, i)
			b.WriteString(s[i:j])
			i = j
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			b.WriteByte(' ')
			i += end + 4
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// endOfString returns the index after the string that starts at s[i].
func endOfString(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q, '\n':
			return j + 1
		}
	}
	return len(s)
}

// nextItem splits s at the first ';' or '{' outside strings and
// parentheses. For '{' it also returns the block's contents and what
// follows its matching '}'.
func nextItem(s string) (prelude string, block string, hasBlock bool, rest string) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'':
			i = endOfString(s, i) - 1
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case ';':
			if depth == 0 {
				return s[:i], "", false, s[i+1:]
			}
		case '{':
			if depth > 0 {
				continue
			}
			level := 1
			for j := i + 1; j < len(s); j++ {
				switch s[j] {
				case '"', '\'':
					j = endOfString(s, j) - 1
				case '{':
					level++
				case '}':
					level--
					if level == 0 {
						return s[:i], s[i+1 : j], true, s[j+1:]
					}
				}
			}
			return s[:i], s[i+1:], true, ""
		case '}':
			if depth == 0 { // a stray close brace: skip it
				return s[:i], "", false, s[i+1:]
			}
		}
	}
	return s, "", false, ""
}

// cssURL reads url(...), url("...") or "..." at the start of s.
func cssURL(s string) (u, rest string, ok bool) {
	if len(s) > 0 && (s[0] == '"' || s[0] == '\'') {
		end := endOfString(s, 0)
		if end < 2 || s[end-1] != s[0] {
			return "", "", false
		}
		u = s[1 : end-1]
		return u, s[end:], !strings.ContainsAny(u, "\\\n")
	}
	if len(s) < 4 || !strings.EqualFold(s[:4], "url(") {
		return "", "", false
	}
	s = strings.TrimLeft(s[4:], " \t\n\r\f")
	if len(s) > 0 && (s[0] == '"' || s[0] == '\'') {
		end := endOfString(s, 0)
		if end < 2 || s[end-1] != s[0] {
			return "", "", false
		}
		u = s[1 : end-1]
		after := strings.TrimLeft(s[end:], " \t\n\r\f")
		if after == "" || after[0] != ')' {
			return "", "", false
		}
		return u, after[1:], !strings.ContainsAny(u, "\\\n")
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return "", "", false
	}
	u = strings.TrimRight(s[:end], " \t\n\r\f")
	return u, s[end+1:], u != "" && !strings.ContainsAny(u, "\\\"'( \t\n")
}

// splitTop splits s at sep outside strings and parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\'':
			i = endOfString(s, i) - 1
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// declaration splits "name: value" (name lower-cased, !important dropped).
func declaration(d string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(d, ":")
	if !ok {
		return "", "", false
	}
	name = strings.ToLower(strings.TrimSpace(name))
	value = strings.TrimSpace(value)
	if i := strings.LastIndexByte(value, '!'); i >= 0 && strings.EqualFold(strings.TrimSpace(value[i+1:]), "important") {
		value = strings.TrimSpace(value[:i])
	}
	return name, value, name != ""
}

// mentionsFontOrImport is a quick look for "font" and "@import" in the
// spellings style sheets use.
func mentionsFontOrImport(css []byte) bool {
	for _, w := range [...]string{"font", "@import", "FONT", "Font", "@IMPORT", "@Import"} {
		if bytes.Contains(css, []byte(w)) {
			return true
		}
	}
	return false
}
