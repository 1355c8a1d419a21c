package earlyhints

import (
	"strings"
	"sync"

	"github.com/earlyhints/earlyhints/hintstore"
)

// pending is what one response offers to learn from: the learner fills
// it from the navigation and the final header (learner.start), the
// observing writer copies the head of the body into it, and the learner
// analyses it once the response is passed on (learner.learn).
type pending struct {
	links           []string
	body            []byte
	bodyBuf         *[]byte // pooled backing of body, returned after learning
	limit           int
	headEnd         bool // the copy reached </head>: it stops bodyAfterHead later
	private         bool
	vary            []string
	variant         string // the request's class for vary (see variantClass)
	contentType     string
	contentEncoding string
	requester       hintstore.Requester
	values          []string // the request's own values (see requestValues)
}

// key is the store key the response of route teaches: the route, or its
// variant when the response varies.
func (p *pending) key(route string) string {
	if len(p.vary) > 0 {
		return hintstore.VariantKey(route, p.variant)
	}
	return route
}

// bodyPool holds the buffers that copy a page's head for the scanner.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// copyBody makes p copy up to limit bytes of the body for the scanner
// (see copyHead), into a pooled buffer.
func (p *pending) copyBody(limit int) {
	p.limit = limit
	p.bodyBuf = bodyPool.Get().(*[]byte)
	p.body = (*p.bodyBuf)[:0]
}

// bodyAfterHead is how much of an uncompressed body past </head> is
// copied: the scanner reads the start of the body for the LCP image and
// late stylesheets (a page often opens it with an inline SVG sprite or a
// navigation before its first image), and stops there itself.
const bodyAfterHead = 256 << 10

// copyHead appends what of b the scanner needs: up to the limit, and for
// an uncompressed body no further than bodyAfterHead past the end of the
// head.
func (p *pending) copyHead(b []byte) {
	if len(p.body) >= p.limit {
		return
	}
	from := max(0, len(p.body)-len("</head"))
	p.body = append(p.body, b[:min(len(b), p.limit-len(p.body))]...)
	if p.headEnd || p.contentEncoding != "" && !strings.EqualFold(p.contentEncoding, "identity") {
		return
	}
	if i := indexFold(p.body[from:], "</head"); i >= 0 {
		p.headEnd = true
		p.limit = min(p.limit, from+i+bodyAfterHead)
		p.body = p.body[:min(len(p.body), p.limit)]
	}
}

// indexFold is bytes.Index ignoring ASCII case, for a lower-case needle.
func indexFold(s []byte, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if s[i] != '<' {
			continue
		}
		j := 1
		for j < len(needle) && (s[i+j]|0x20) == needle[j] {
			j++
		}
		if j == len(needle) {
			return i
		}
	}
	return -1
}

// release returns the pooled body buffer.
func (p *pending) release() {
	if p.bodyBuf == nil {
		return
	}
	if cap(p.body) <= DefaultScanBytes {
		*p.bodyBuf = p.body[:0]
		bodyPool.Put(p.bodyBuf)
	}
	p.bodyBuf, p.body = nil, nil
}
