package httpx

import (
	"net/http"
	"strings"
	"testing"
)

func TestHopByHopFields(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want []string
	}{
		{"none", http.Header{"Link": {"</a>"}}, nil},
		{"fixed list", http.Header{"Keep-Alive": {"5"}, "Link": {"</a>"}, "Upgrade": {"h2c"}}, []string{"Keep-Alive", "Upgrade"}},
		{"named by Connection", http.Header{"Connection": {"x-a, X-B"}, "X-A": {"1"}, "X-B": {"2"}, "Link": {"</a>"}}, []string{"Connection", "X-A", "X-B"}},
		{"named but absent", http.Header{"Connection": {"x-gone"}}, []string{"Connection"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HopByHopFields(tc.h)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("HopByHopFields = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseCacheControl(t *testing.T) {
	none := CacheControl{MaxAge: -1}
	tests := []struct {
		name   string
		values []string
		want   CacheControl
	}{
		{"absent", nil, none},
		{"max-age", []string{"public, max-age=3600"}, CacheControl{MaxAge: 3600}},
		{"names case-insensitive, fields joined", []string{"Private", "no-store"}, CacheControl{Private: true, NoStore: true, MaxAge: -1}},
		{"quoted arguments", []string{`private="Set-Cookie", max-age="60"`}, CacheControl{Private: true, MaxAge: 60}},
		{"negative max-age", []string{"no-cache, max-age=-5"}, CacheControl{NoCache: true, MaxAge: -1}},
		{"s-maxage is for shared caches", []string{"s-maxage=10"}, none},
		{"immutable (RFC 8246)", []string{"max-age=31536000, immutable"}, CacheControl{Immutable: true, MaxAge: 31536000}},
		// Where the two parsers of the hinting core and the browser model
		// disagreed, RFC 9111 decides.
		{"space before = is no directive", []string{"max-age =60, no-store"}, CacheControl{NoStore: true, MaxAge: -1}},
		{"space after = is no argument", []string{"max-age= 60"}, none},
		{"delta-seconds has no sign", []string{"max-age=+60"}, none},
		{"delta-seconds past 2^31 counts as the greatest", []string{"max-age=99999999999"}, CacheControl{MaxAge: MaxDeltaSeconds}},
		{"past int64 too", []string{"max-age=99999999999999999999999"}, CacheControl{MaxAge: MaxDeltaSeconds}},
		{"first max-age counts", []string{"max-age=60, max-age=0"}, CacheControl{MaxAge: 60}},
		{"first max-age counts across fields", []string{"max-age=0", "max-age=60"}, CacheControl{MaxAge: 0}},
		{"an unreadable first max-age still counts first", []string{"max-age=soon, max-age=60"}, none},
		{"comma inside a quoted string", []string{`no-cache="Set-Cookie, max-age=5", max-age=7`}, CacheControl{NoCache: true, MaxAge: 7}},
		{"escaped quote inside a quoted string", []string{`private="a\", no-store", max-age=1`}, CacheControl{Private: true, MaxAge: 1}},
		{"unterminated quoted string", []string{`max-age="60`}, none},
		{"quoted string with a bare quote inside", []string{`max-age="6"0"`}, none},
		{"empty argument", []string{"max-age="}, none},
		{"empty members and spaces", []string{" , ,\tno-store ,"}, CacheControl{NoStore: true, MaxAge: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseCacheControl(http.Header{"Cache-Control": tc.values}); got != tc.want {
				t.Errorf("ParseCacheControl(%q) = %+v, want %+v", tc.values, got, tc.want)
			}
		})
	}
}

func TestCacheDirectives(t *testing.T) {
	var got []string
	for name, arg := range CacheDirectives([]string{`Max-Age=60, private="a, \"b\"", bad name, no-store`, "x=1=2, immutable"}) {
		got = append(got, name+"|"+arg)
	}
	want := `max-age|60 private|a, "b" no-store| immutable|`
	if strings.Join(got, " ") != want {
		t.Errorf("CacheDirectives = %q, want %q", strings.Join(got, " "), want)
	}
}

func TestCutList(t *testing.T) {
	for _, tc := range []struct{ in, first, rest string }{
		{"a, b", "a", " b"},
		{`h3=":443, x", h2`, `h3=":443, x"`, " h2"},
		{`a="\",", b`, `a="\","`, " b"},
		{"", "", ""},
	} {
		if first, rest := CutList(tc.in); first != tc.first || rest != tc.rest {
			t.Errorf("CutList(%q) = %q, %q; want %q, %q", tc.in, first, rest, tc.first, tc.rest)
		}
	}
}

func BenchmarkParseCacheControl(b *testing.B) {
	h := http.Header{"Cache-Control": {"public, max-age=3600, stale-while-revalidate=60"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = ParseCacheControl(h)
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60, immutable", `private="a, b", max-age="1"`, `no-cache="\"`, "max-age=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		cc := ParseCacheControl(http.Header{"Cache-Control": {v}})
		if cc.MaxAge < -1 || cc.MaxAge > MaxDeltaSeconds {
			t.Fatalf("ParseCacheControl(%q).MaxAge = %d, outside [-1, MaxDeltaSeconds]", v, cc.MaxAge)
		}
		// Splitting the same directives over two fields reads the same.
		if i := strings.IndexByte(v, ','); i >= 0 && !strings.Contains(v, `"`) {
			two := ParseCacheControl(http.Header{"Cache-Control": {v[:i], v[i+1:]}})
			if two != cc {
				t.Fatalf("%q in one field = %+v, in two = %+v", v, cc, two)
			}
		}
	})
}

func TestLexers(t *testing.T) {
	for s, want := range map[string]bool{"style": true, "": false, "a b": false, "x-y.z~": true, "a,b": false} {
		if IsToken(s) != want {
			t.Errorf("IsToken(%q) = %v", s, !want)
		}
	}
	if !HasControl("a\tb") || HasFieldControl("a\tb") || !HasFieldControl("a\nb") || !HasControl("\x7f") {
		t.Error("control characters misread")
	}
}

func TestIsSpeculative(t *testing.T) {
	tests := []struct {
		hdr  http.Header
		want bool
	}{
		{http.Header{}, false},
		{http.Header{"Sec-Purpose": {"prefetch"}}, true},
		{http.Header{"Sec-Purpose": {"prefetch;prerender"}}, true},
		{http.Header{"Sec-Purpose": {"prefetch; anonymous-client-ip"}}, true},
		{http.Header{"Sec-Purpose": {"Prefetch"}}, true},
		{http.Header{"Purpose": {"prefetch"}}, true},
		{http.Header{"X-Purpose": {"preview"}}, true},
		{http.Header{"X-Moz": {"prefetch"}}, true},
		{http.Header{"Sec-Purpose": {"prefetchx"}}, false},
		{http.Header{"Sec-Fetch-Mode": {"navigate"}}, false},
	}
	for _, tt := range tests {
		r := &http.Request{Header: tt.hdr}
		if got := IsSpeculative(r); got != tt.want {
			t.Errorf("IsSpeculative(%v) = %v, want %v", tt.hdr, got, tt.want)
		}
	}
}

func TestKnownHost(t *testing.T) {
	tests := []struct {
		host  string
		names []string
		want  bool
	}{
		{"127.0.0.1:9090", nil, true},
		{"[::1]:9090", nil, true},
		{"localhost:9090", nil, true},
		{"LOCALHOST.", nil, true},
		{"admin.example:9090", nil, false},
		{"admin.example:9090", []string{"Admin.Example."}, true},
		{"evil.example", []string{"admin.example"}, false},
		{"", []string{""}, false},
	}
	for _, tt := range tests {
		if got := KnownHost(tt.host, tt.names...); got != tt.want {
			t.Errorf("KnownHost(%q, %q) = %v, want %v", tt.host, tt.names, got, tt.want)
		}
	}
}
