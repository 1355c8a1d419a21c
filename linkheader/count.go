package linkheader

// Count returns how many links the field values hold, without parsing them:
// the non-empty elements between commas outside <...> and quoted strings.
// It allocates nothing, for a caller that only needs the number (a log line,
// an event); a malformed link counts as one.
func Count(values ...string) int {
	n := 0
	for _, v := range values {
		n += count(v)
	}
	return n
}

func count(v string) int {
	n, inURI, inQuote, content := 0, false, false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote:
			switch c {
			case '\\':
				i++
			case '"':
				inQuote = false
			}
		case inURI:
			if c == '>' {
				inURI = false
			}
		case c == '<':
			inURI, content = true, true
		case c == '"':
			inQuote = true
		case c == ',':
			if content {
				n++
			}
			content = false
		case c != ' ' && c != '\t':
			content = true
		}
	}
	if content {
		n++
	}
	return n
}
