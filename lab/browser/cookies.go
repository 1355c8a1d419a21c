package browser

import (
	"net/http"
	"net/url"
)

// jarFetcher gives every request of a load the cookies of a jar and keeps
// the cookies every response sets, whatever the protocol: the fetchers are
// bare round trippers (net/http's Client, which would do this, is not used,
// so that 1xx, push and connection reuse stay under the model's control).
type jarFetcher struct {
	fetcher
	jar http.CookieJar
}

// withJar wraps f with jar; a nil jar leaves f as it is (no cookies).
func withJar(f fetcher, jar http.CookieJar) fetcher {
	if jar == nil {
		return f
	}
	return &jarFetcher{fetcher: f, jar: jar}
}

func (f *jarFetcher) RoundTrip(r *http.Request) (*http.Response, error) {
	addCookies(r, f.jar)
	resp, err := f.fetcher.RoundTrip(r)
	if err == nil {
		keepCookies(f.jar, r.URL, resp)
	}
	return resp, err
}

// addCookies adds the jar's cookies for r's URL to r, the way
// net/http.Client does.
func addCookies(r *http.Request, jar http.CookieJar) {
	for _, c := range jar.Cookies(r.URL) {
		r.AddCookie(c)
	}
}

// keepCookies stores the cookies resp sets for u.
func keepCookies(jar http.CookieJar, u *url.URL, resp *http.Response) {
	if jar == nil {
		return
	}
	if cs := resp.Cookies(); len(cs) > 0 {
		jar.SetCookies(u, cs)
	}
}
