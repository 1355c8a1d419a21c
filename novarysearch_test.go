package earlyhints

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestParseNoVarySearch(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  string // the rule written back; "" with ok false: no rule
		bad   bool
	}{
		{value: `params=("utm_source" "utm_medium")`, want: `params=("utm_medium" "utm_source")`},
		{value: `params`, want: `params`},
		{value: `params=?1`, want: `params`},
		{value: `params=?0`, want: ``},
		{value: `params, except=("id")`, want: `params, except=("id")`},
		{value: `key-order`, want: `key-order`},
		{value: `key-order=?0`, want: ``},
		{value: `key-order, params=("a")`, want: `key-order, params=("a")`},
		{value: `params=("a";x=1 "b");y, key-order;z`, want: `key-order, params=("a" "b")`},
		{value: `params=("a%20b" "c+d" "%zz")`, want: `params=("%25zz" "a+b" "c+d")`},
		{value: `  params=("a")  ,   key-order  `, want: `key-order, params=("a")`},
		{value: `params=("a"), params=("b")`, want: `params=("b")`},
		{value: `params=("a"), params`, want: `params`},
		{value: `future=:YWJj:, other=1.5, x=@1700000000, y=%"caf%c3%a9", tok=a/b, params=("q")`, want: `params=("q")`},
		{value: ``, want: ``},
		{value: `unknown=("a")`, want: ``},

		{value: `params=(utm_source)`, bad: true},            // tokens, not strings
		{value: `params="utm_source"`, bad: true},            // a string, not a list
		{value: `except=("id")`, bad: true},                  // except without params
		{value: `params=("a"), except=("id")`, bad: true},    // params is a list
		{value: `key-order="yes"`, bad: true},                // not a boolean
		{value: `key-order=("a")`, bad: true},                // not a boolean
		{value: `params, except=("id" 1)`, bad: true},        // a number in except
		{value: `params=("a" "b"`, bad: true},                // list not closed
		{value: `params=("a"),`, bad: true},                  // trailing comma
		{value: `Params`, bad: true},                         // keys are lower case
		{value: `params=("a")"b"`, bad: true},                // junk after a member
		{value: `params=("caf\u00e9")`, bad: true},           // non-ASCII in a string
		{value: `params=("a\"b")`, want: `params=("a%22b")`}, // an escaped quote
		{value: `params=("a\b")`, bad: true},                 // a bad escape
		{value: `x=1234567890123456`, bad: true},             // integer too long
		{value: `x=1.2345`, bad: true},                       // too many fractional digits
		{value: `x=?2`, bad: true},
		{value: `x=@1659578233.12`, bad: true}, // a date is an integer
		{value: `x=:not base64!:`, bad: true},
		{value: `x=%"caf%C3%A9"`, bad: true}, // upper-case hex
	} {
		t.Run(tc.value, func(t *testing.T) {
			rule, ok, err := parseNoVarySearch(tc.value)
			if tc.bad {
				if !errors.Is(err, ErrNoVarySearch) {
					t.Fatalf("parse %q: err %v, want ErrNoVarySearch", tc.value, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse %q: %v", tc.value, err)
			}
			if got := rule.String(); got != tc.want || ok != (tc.want != "") {
				t.Fatalf("parse %q = %q (ok %v), want %q", tc.value, got, ok, tc.want)
			}
		})
	}
}

func TestNoVarySearch_KeyQuery(t *testing.T) {
	for _, tc := range []struct {
		rule, query, want string
		names             []string
	}{
		{`params=("utm_source" "utm_medium")`, "utm_source=x", "", nil},
		{`params=("utm_source" "utm_medium")`, "id=1&utm_medium=m", "id=1", []string{"id"}},
		{`params=("utm_source")`, "b=2&a=1&utm_source=x", "b=2&a=1", []string{"a", "b"}},
		{`key-order`, "b=2&a=1", "a=1&b=2", []string{"a", "b"}},
		{`key-order`, "a=2&b=1&a=1", "a=2&a=1&b=1", []string{"a", "b"}}, // values keep their order
		{`params`, "id=1&q=x", "", nil},
		{`params, except=("id")`, "q=x&id=7&page=2", "id=7", []string{"id"}},
		{`params, except=("a b")`, "a+b=1%2F2&c=3", "a+b=1%2F2", []string{"a b"}},
		{`params=("utm_source")`, "utm%5Fsource=x&&id", "id=", []string{"id"}},
	} {
		t.Run(tc.rule+"/"+tc.query, func(t *testing.T) {
			rule, _, err := parseNoVarySearch(tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			got, names := rule.keyQuery(tc.query)
			if got != tc.want || !slices.Equal(names, tc.names) {
				t.Fatalf("keyQuery(%q) = %q %q, want %q %q", tc.query, got, names, tc.want, tc.names)
			}
		})
	}
}

// TestSearchRules_Bound: a path gets at most maxSearchRoutes keyed queries;
// later ones share the path's route, with no parameter in the key (so the
// privacy rule treats their values as the request's own).
func TestSearchRules_Bound(t *testing.T) {
	var s searchRules
	const base = "https://a.example/p"
	if err := s.learn(base, `params, except=("id")`); err != nil {
		t.Fatal(err)
	}
	for i := range maxSearchRoutes + 5 {
		r := httptest.NewRequest("GET", fmt.Sprintf("%s?id=%d", base, i), nil)
		peek, _, _ := s.route(r, base, false)
		key, names, ok := s.route(r, base, true)
		if !ok {
			t.Fatal("the path has a rule")
		}
		want, wantNames := fmt.Sprintf("%s?id=%d", base, i), []string{"id"}
		if i >= maxSearchRoutes {
			want, wantNames = base, nil
		}
		if key != want || peek != want || !slices.Equal(names, wantNames) {
			t.Fatalf("query %d: key %q (before admission %q) names %q, want %q %q", i, key, peek, names, want, wantNames)
		}
	}
	// A known query keeps its route; a new rule starts the count again.
	r := httptest.NewRequest("GET", base+"?id=3", nil)
	if key, _, _ := s.route(r, base, false); key != base+"?id=3" {
		t.Fatalf("known query: %q", key)
	}
	if err := s.learn(base, `params, except=("id" "page")`); err != nil {
		t.Fatal(err)
	}
	r = httptest.NewRequest("GET", base+"?id=40&page=2", nil)
	if key, _, _ := s.route(r, base, true); key != base+"?id=40&page=2" {
		t.Fatalf("after a new rule: %q", key)
	}
	// A response without the field forgets the rule.
	if err := s.learn(base, ""); err != nil || s.active.Load() != 0 {
		t.Fatalf("forget: err %v, active %d", err, s.active.Load())
	}
	if _, _, ok := s.route(r, base, false); ok {
		t.Fatal("rule still applies after a response without No-Vary-Search")
	}
}

// TestSearchRules_MalformedOnce: a malformed field is reported the first
// time a path sends it, and changes nothing.
func TestSearchRules_MalformedOnce(t *testing.T) {
	var s searchRules
	const base = "https://a.example/p"
	var errs int
	for range 5 {
		if err := s.learn(base, `params=(utm_source)`); err != nil {
			errs++
		}
	}
	if errs != 1 {
		t.Fatalf("%d errors for one malformed path, want 1", errs)
	}
	r := httptest.NewRequest("GET", base+"?id=1", nil)
	if _, _, ok := s.route(r, base, false); ok {
		t.Fatal("a malformed field gave the path a rule")
	}
	if err := s.learn("https://a.example/q", `params=(x)`); err == nil {
		t.Fatal("another path's malformed field is reported too")
	}
}

func FuzzParseNoVarySearch(f *testing.F) {
	for _, s := range []string{
		`params=("utm_source" "utm_medium")`, `params`, `params, except=("id")`, `key-order`,
		`key-order, params=("a";x=1 "b");y`, `params=(utm)`, `except=("a")`, `a=:YWJj:, b=-1.5, c=@1, d=%"%c3%a9"`,
		`params=("a\"b\\c" "%zz+")`, `,`, `params=(`, `x=?1;a;b=tok/x:y`,
	} {
		f.Add(s, "a=1&utm_source=x&b=%20&id")
	}
	f.Fuzz(func(t *testing.T, value, query string) {
		rule, ok, err := parseNoVarySearch(value)
		if err != nil {
			if !errors.Is(err, ErrNoVarySearch) || ok {
				t.Fatalf("parse %q: err %v ok %v", value, err, ok)
			}
			return
		}
		again, ok2, err := parseNoVarySearch(rule.String())
		if err != nil || ok2 != ok || again.String() != rule.String() {
			t.Fatalf("parse %q = %q (ok %v), written back parses as %q (ok %v, err %v)", value, rule.String(), ok, again.String(), ok2, err)
		}
		q, names := rule.keyQuery(query)
		if (q == "") != (len(names) == 0) {
			t.Fatalf("keyQuery(%q) = %q with names %q", query, q, names)
		}
		for _, n := range names {
			if !rule.varies(n) {
				t.Fatalf("keyQuery(%q) kept %q, which the rule drops", query, n)
			}
		}
	})
}
