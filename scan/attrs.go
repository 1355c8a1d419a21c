package scan

import (
	"bytes"
	"strings"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// maxAttrs bounds the attributes read from one element.
const maxAttrs = 64

type attrBit uint32

const (
	attrRel attrBit = 1 << iota
	attrHref
	attrAs
	attrType
	attrMedia
	attrCrossorigin
	attrFetchpriority
	attrImagesrcset
	attrImagesizes
	attrIntegrity
	attrSrc
	attrSrcset
	attrSizes
	attrLoading
	attrWidth
	attrHeight
	attrAsync
	attrDefer
	attrNomodule
	attrDisabled
	attrOnload
)

// attrs holds the attributes the rules read; the first occurrence of a
// duplicated attribute wins, as in the HTML parser.
type attrs struct {
	set                                                    attrBit
	rel, href, as, typ, media, crossorigin, fetchpriority  []byte
	imagesrcset, imagesizes, integrity, src, srcset, sizes []byte
	loading, width, height                                 []byte
}

func (a *attrs) has(b attrBit) bool { return a.set&b != 0 }

func (a *attrs) put(b attrBit, dst *[]byte, v []byte) {
	if a.set&b == 0 {
		a.set |= b
		if dst != nil {
			*dst = v
		}
	}
}

// readAttrs fills s.a from the current start tag. It splits the raw tag
// bytes itself, the way the tokenizer does, which costs no allocation; a
// tag whose wanted values hold character references or NULs is read again
// through the tokenizer, which decodes them.
func (s *scanner) readAttrs() {
	a := &s.a
	*a = attrs{}
	if a.parseRaw(s.z.Raw()) {
		return
	}
	*a = attrs{}
	for more, n := true, 0; more && n < maxAttrs; n++ {
		var k, v []byte
		k, v, more = s.z.TagAttr()
		a.setAttr(k, v)
	}
}

// setAttr records a wanted attribute; key is lower case.
func (a *attrs) setAttr(k, v []byte) {
	switch string(k) {
	case "rel":
		a.put(attrRel, &a.rel, v)
	case "href":
		a.put(attrHref, &a.href, v)
	case "as":
		a.put(attrAs, &a.as, v)
	case "type":
		a.put(attrType, &a.typ, v)
	case "media":
		a.put(attrMedia, &a.media, v)
	case "crossorigin":
		a.put(attrCrossorigin, &a.crossorigin, v)
	case "fetchpriority":
		a.put(attrFetchpriority, &a.fetchpriority, v)
	case "imagesrcset":
		a.put(attrImagesrcset, &a.imagesrcset, v)
	case "imagesizes":
		a.put(attrImagesizes, &a.imagesizes, v)
	case "integrity":
		a.put(attrIntegrity, &a.integrity, v)
	case "src":
		a.put(attrSrc, &a.src, v)
	case "srcset":
		a.put(attrSrcset, &a.srcset, v)
	case "sizes":
		a.put(attrSizes, &a.sizes, v)
	case "loading":
		a.put(attrLoading, &a.loading, v)
	case "width":
		a.put(attrWidth, &a.width, v)
	case "height":
		a.put(attrHeight, &a.height, v)
	case "async":
		a.put(attrAsync, nil, nil)
	case "defer":
		a.put(attrDefer, nil, nil)
	case "nomodule":
		a.put(attrNomodule, nil, nil)
	case "disabled":
		a.put(attrDisabled, nil, nil)
	case "onload":
		a.put(attrOnload, nil, nil)
	}
}

// parseRaw splits a start tag's raw bytes into attributes following the
// tokenizer's readTag step by step. It reports false when a value it kept
// needs decoding (a character reference or a NUL).
func (a *attrs) parseRaw(raw []byte) bool {
	i, n := 1, len(raw)
	for i < n && !httpx.IsHTMLSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' { // tag name
		i++
	}
	skip := func() {
		for i < n && httpx.IsHTMLSpace(raw[i]) {
			i++
		}
	}
	skip()
	for count := 0; i < n && raw[i] != '>' && count < maxAttrs; count++ {
		// Key: up to whitespace, '/', '>' or '=' (a leading '=' is part of it).
		ks := i
		for i < n {
			c := raw[i]
			if c == '=' && i == ks {
				i++
				continue
			}
			if httpx.IsHTMLSpace(c) || c == '/' || c == '>' || c == '=' {
				break
			}
			i++
		}
		key := raw[ks:i]
		var val []byte
		skip()
		if i < n && raw[i] == '/' {
			i++
		} else if i < n && raw[i] == '=' {
			i++
			skip()
			if i < n {
				switch q := raw[i]; q {
				case '>':
				case '\'', '"':
					i++
					vs := i
					for i < n && raw[i] != q {
						i++
					}
					val = raw[vs:i]
					if i < n {
						i++
					}
				default:
					vs := i
					for i < n && !httpx.IsHTMLSpace(raw[i]) && raw[i] != '>' {
						i++
					}
					val = raw[vs:i]
				}
			}
		}
		if len(key) > 0 && len(key) <= 16 {
			var buf [16]byte
			for j, c := range key {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				buf[j] = c
			}
			before := a.set
			a.setAttr(buf[:len(key)], val)
			if a.set != before && needsDecoding(val) {
				return false
			}
		}
		skip()
	}
	return true
}

func needsDecoding(v []byte) bool {
	for _, c := range v {
		if c == '&' || c == 0 {
			return true
		}
	}
	return false
}

// keyword is an enumerated attribute's value: trimmed and lower-cased.
func keyword(v []byte) string {
	return strings.ToLower(string(bytes.Trim(v, httpx.HTMLSpace)))
}
