package earlyhints

import (
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// maxVaryNames bounds the request headers one route may vary on; a
// response naming more is not learned from.
const maxVaryNames = 8

// varyNames reads a response's Vary fields: the request headers, canonical
// and sorted, whose value selects the variant. Accept-Encoding is left out
// (every variant names the same files), and so are Cookie and
// Authorization (a response that varies on them is personal, and the
// quorum of private responses protects it; a variant per cookie would keep
// one visitor's links under a key of their own). star reports Vary: *,
// which no request can be matched against, and ok is false when the
// response names too many headers to learn from.
func varyNames(hdr http.Header) (names []string, star, personal, ok bool) {
	for _, v := range hdr.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			switch f {
			case "":
				continue
			case "*":
				return nil, true, false, false
			}
			name := http.CanonicalHeaderKey(f)
			switch name {
			case "Accept-Encoding":
				continue
			case "Cookie", "Authorization":
				personal = true
				continue
			}
			if !httpx.IsToken(name) {
				return nil, false, personal, false
			}
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	if len(names) > maxVaryNames {
		return nil, false, personal, false
	}
	slices.Sort(names)
	return names, false, personal, true
}

// variantClass names the variant of a varying route that a request with
// header hdr asks for: for each of the Vary names, a small class of its
// value rather than the value itself, so that the store keeps a few
// variants per route, not one per browser build. User-Agent is classed as mobile or desktop and by engine;
// Accept-Language by its first language; other headers by a hash of their
// value.
func variantClass(hdr http.Header, names []string) string {
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(strings.ToLower(name))
		b.WriteByte('=')
		v := strings.TrimSpace(strings.Join(hdr.Values(name), ","))
		switch name {
		case "User-Agent":
			b.WriteString(userAgentClass(hdr))
		case "Sec-Ch-Ua-Mobile":
			b.WriteString(strings.Trim(v, "?"))
		case "Accept-Language":
			b.WriteString(firstLanguage(v))
		default:
			h := fnv.New64a()
			h.Write([]byte(v))
			b.WriteString(strconv.FormatUint(h.Sum64(), 36))
		}
	}
	return b.String()
}

// userAgentClass classes a browser as mobile or desktop (Sec-CH-UA-Mobile
// when sent, else the User-Agent's own words) and by engine, the two
// things origins commonly vary a page on.
func userAgentClass(hdr http.Header) string {
	ua := hdr.Get("User-Agent")
	mobile := false
	switch hdr.Get("Sec-Ch-Ua-Mobile") {
	case "?1":
		mobile = true
	case "?0":
	default:
		mobile = strings.Contains(ua, "Mobi") || strings.Contains(ua, "Android") ||
			strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPod")
	}
	form := "desktop"
	if mobile {
		form = "mobile"
	}
	engine := "other"
	switch {
	case strings.Contains(ua, "Firefox/"):
		engine = "gecko"
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "Chromium/") || strings.Contains(ua, "Edg/"):
		engine = "chromium"
	case strings.Contains(ua, "AppleWebKit/"):
		engine = "webkit"
	}
	return form + "-" + engine
}

// firstLanguage returns the primary subtag of the first language in an
// Accept-Language value, lower case ("en" for "en-GB,en;q=0.8").
func firstLanguage(v string) string {
	first, _, _ := strings.Cut(v, ",")
	first, _, _ = strings.Cut(first, ";")
	first, _, _ = strings.Cut(strings.TrimSpace(first), "-")
	if len(first) > 8 || !httpx.IsToken(first) {
		return ""
	}
	return strings.ToLower(first)
}
