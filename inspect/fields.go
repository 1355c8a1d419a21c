package inspect

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/earlyhints/earlyhints/internal/httpx"
)

// directives maps the lower-cased directive names of Cache-Control field
// values to their arguments, the first of each counting; a malformed
// member is skipped, as caches do (httpx.CacheDirectives).
func directives(values []string) map[string]string {
	d := map[string]string{}
	for name, arg := range httpx.CacheDirectives(values) {
		if _, dup := d[name]; !dup {
			d[name] = arg
		}
	}
	return d
}

// uncacheable says why a browser cannot reuse the early-hinted copy of a
// response with header h when the page asks for it, or "" when it can.
// A response without any freshness information is given the benefit of the
// doubt (browsers apply a heuristic lifetime when it has Last-Modified).
func uncacheable(h http.Header, now time.Time, minLifetime time.Duration) string {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(f) == "*" {
				return "Vary: *: no cached copy ever matches a later request, so the page fetches the file a second time"
			}
		}
	}
	cc := directives(h.Values("Cache-Control"))
	if _, ok := cc["no-store"]; ok {
		return "Cache-Control: no-store: the browser cannot keep the early-hinted copy, so the page fetches the file a second time"
	}
	if _, ok := cc["no-cache"]; ok {
		return "Cache-Control: no-cache: the page must revalidate the early-hinted copy before using it, a round trip (or a second download) on the critical path"
	}
	if ma, ok := cc["max-age"]; ok {
		n := httpx.DeltaSeconds(ma)
		if n < 0 {
			return fmt.Sprintf("Cache-Control: max-age=%q is not a number of seconds: the copy is stale at once", ma)
		}
		if time.Duration(n)*time.Second < minLifetime {
			return fmt.Sprintf("Cache-Control: max-age=%d: the early-hinted copy may be stale before a slow page asks for it; give it at least %d s", n, int(minLifetime.Seconds()))
		}
		return ""
	}
	if len(cc) == 0 && strings.Contains(strings.ToLower(h.Get("Pragma")), "no-cache") {
		return "Pragma: no-cache: the page must revalidate the early-hinted copy before using it"
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return fmt.Sprintf("Expires: %q is not a date, which means already expired", exp)
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		if t.Sub(base) < minLifetime {
			return fmt.Sprintf("Expires is %s after Date: the early-hinted copy may be stale before the page asks for it", t.Sub(base).Round(time.Second))
		}
	}
	return ""
}

// advertisesH3 reports whether an Alt-Svc field value offers HTTP/3.
func advertisesH3(values []string) bool {
	for _, v := range values {
		for len(v) > 0 {
			part, rest := httpx.CutList(v)
			v = rest
			alt, _, _ := strings.Cut(part, ";")
			proto, _, ok := strings.Cut(strings.TrimSpace(alt), "=")
			if ok && strings.TrimSpace(proto) == "h3" {
				return true
			}
		}
	}
	return false
}
