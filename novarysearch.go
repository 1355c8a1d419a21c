package earlyhints

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dunglas/httpsfv"
)

// An origin's No-Vary-Search (draft-ietf-httpbis-no-vary-search) says
// which query parameters do not change its page. The route key of a path
// whose navigations answered with one follows it: the parameters that do
// not matter are dropped from the key, the others split routes (at most
// maxSearchRoutes per path), and with key-order their order is not part
// of the key. Without the field, Config.QueryParams keys the path.

const (
	// maxSearchPaths bounds the paths whose No-Vary-Search is remembered;
	// past it one is forgotten to make room (its next response teaches
	// it again).
	maxSearchPaths = 4096
	// maxSearchRoutes bounds the distinct keyed queries of one path: the
	// first ones its responses taught get routes of their own, later ones
	// share the path's route, where their values are the request's own
	// (see requestValues).
	maxSearchRoutes = 32
	// maxSearchParams bounds the parameter names of one No-Vary-Search,
	// and the query parameters of one request that a key is made of.
	maxSearchParams = 64
)

// ErrNoVarySearch reports a No-Vary-Search field that is not what the
// draft defines; the path keeps its routes as before.
var ErrNoVarySearch = errors.New("earlyhints: malformed No-Vary-Search")

// noVarySearch is the URL search variance a No-Vary-Search field gives.
type noVarySearch struct {
	// anyOrder: key-order, the order of the parameters does not matter.
	anyOrder bool
	// except: params was true, so only names split routes; else names
	// are the parameters that do not matter and every other one splits.
	except bool
	names  []string // sorted, decoded as query names are
}

// parseNoVarySearch parses the value of a No-Vary-Search field (its lines
// joined with ","). ok is false when the value is the draft's default (no
// member it defines), which the package takes as no rule at all: the
// query then keys routes as Config.QueryParams says.
func parseNoVarySearch(v string) (rule noVarySearch, ok bool, err error) {
	if len(v) > maxFieldBytes {
		return noVarySearch{}, false, fmt.Errorf("%w: %d bytes, over the %d read", ErrNoVarySearch, len(v), maxFieldBytes)
	}
	dict, err := httpsfv.UnmarshalDictionary([]string{v})
	if err != nil {
		return noVarySearch{}, false, fmt.Errorf("%w: not a structured-field dictionary (RFC 9651): %w; send e.g. params=(\"utm_source\")", ErrNoVarySearch, err)
	}
	for _, k := range dict.Names() {
		m, _ := dict.Get(k)
		switch k {
		case "key-order":
			b, ok := boolMember(m)
			if !ok {
				return noVarySearch{}, false, fmt.Errorf("%w: key-order must be a boolean (key-order or key-order=?0)", ErrNoVarySearch)
			}
			rule.anyOrder = b
		case "params":
			if b, ok := boolMember(m); ok {
				rule.except = b
				continue
			}
			names, ok := stringsMember(m)
			if !ok {
				return noVarySearch{}, false, fmt.Errorf("%w: params must be a boolean or an inner list of strings, as params=(\"a\" \"b\")", ErrNoVarySearch)
			}
			rule.names = names
		case "except":
			// Read once params is known, below.
		}
	}
	if m, found := dict.Get("except"); found {
		if !rule.except {
			return noVarySearch{}, false, fmt.Errorf("%w: except is only allowed with params (every parameter) before it", ErrNoVarySearch)
		}
		names, ok := stringsMember(m)
		if !ok {
			return noVarySearch{}, false, fmt.Errorf("%w: except must be an inner list of strings, as except=(\"id\")", ErrNoVarySearch)
		}
		rule.names = names
	} else if rule.except {
		rule.names = nil // params=?1 overrides an earlier list
	}
	if len(rule.names) > maxSearchParams {
		return noVarySearch{}, false, fmt.Errorf("%w: %d parameter names, over the %d read", ErrNoVarySearch, len(rule.names), maxSearchParams)
	}
	for i, n := range rule.names {
		rule.names[i] = decodeQueryPart(n)
	}
	slices.Sort(rule.names)
	rule.names = slices.Compact(rule.names)
	return rule, rule.anyOrder || rule.except || len(rule.names) > 0, nil
}

// varies reports whether the query parameter name splits routes.
func (r *noVarySearch) varies(name string) bool {
	_, listed := slices.BinarySearch(r.names, name)
	return listed == r.except
}

// keyQuery returns the part of rawQuery that keys the route, re-encoded
// ("" when none), and the names of the parameters in it, sorted.
func (r *noVarySearch) keyQuery(rawQuery string) (query string, names []string) {
	type pair struct{ name, value string }
	var pairs []pair
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		name = decodeQueryPart(name)
		if !r.varies(name) {
			continue
		}
		pairs = append(pairs, pair{name, decodeQueryPart(value)})
		if len(pairs) >= maxSearchParams {
			break
		}
	}
	if len(pairs) == 0 {
		return "", nil
	}
	if r.anyOrder {
		slices.SortStableFunc(pairs, func(a, b pair) int { return strings.Compare(a.name, b.name) })
	}
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.value))
		names = append(names, p.name)
	}
	slices.Sort(names)
	return b.String(), slices.Compact(names)
}

// String writes the rule back as a No-Vary-Search value.
func (r noVarySearch) String() string {
	var parts []string
	if r.anyOrder {
		parts = append(parts, "key-order")
	}
	list := func(names []string) string {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = `"` + url.QueryEscape(n) + `"`
		}
		return "(" + strings.Join(q, " ") + ")"
	}
	switch {
	case r.except && len(r.names) > 0:
		parts = append(parts, "params", "except="+list(r.names))
	case r.except:
		parts = append(parts, "params")
	case len(r.names) > 0:
		parts = append(parts, "params="+list(r.names))
	}
	return strings.Join(parts, ", ")
}

// decodeQueryPart decodes a name or value as application/x-www-form-
// urlencoded does: "+" is a space, and a "%" that escapes nothing stays.
func decodeQueryPart(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	s = strings.ReplaceAll(s, "+", " ")
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, okHi := unhex(s[i+1])
			lo, okLo := unhex(s[i+2])
			if okHi && okLo {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// unhex is the value of a hex digit of either case.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// searchRules remembers, per path, the No-Vary-Search its responses sent
// and the keyed queries that have routes of their own. The route key is
// computed before the response exists, so the rule learned from one
// response keys the path's next requests; the response that teaches it
// is itself learned under the key it gives.
type searchRules struct {
	active atomic.Int32 // paths with a rule; 0 keeps the hit path free of the lock
	mu     sync.RWMutex
	paths  map[string]*searchPath
}

// searchPath is what one path's responses said.
type searchPath struct {
	raw     string       // the field as last parsed
	rule    noVarySearch // valid when ok
	ok      bool
	logged  bool                // a malformed field of the path was logged
	queries map[string]struct{} // keyed queries with a route of their own
}

// route returns the route key of r, whose path's route key (no query,
// routeHost applied) is base, under the path's rule: ok is false when
// the path has none. With admit, the keyed query takes one of the path's
// places if it has none and one is free.
func (s *searchRules) route(r *http.Request, base string, admit bool) (key string, names []string, ok bool) {
	if s.active.Load() == 0 {
		return "", nil, false
	}
	if admit {
		s.mu.Lock()
		defer s.mu.Unlock()
	} else {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	sp := s.paths[base]
	if sp == nil || !sp.ok {
		return "", nil, false
	}
	if r.URL.RawQuery == "" {
		return base, nil, true
	}
	q, names := sp.rule.keyQuery(r.URL.RawQuery)
	if q == "" {
		return base, nil, true
	}
	if _, known := sp.queries[q]; !known {
		if len(sp.queries) >= maxSearchRoutes {
			return base, nil, true // shared: no value of the query is in the key
		}
		if admit {
			sp.queries[q] = struct{}{}
		}
	}
	return base + "?" + q, names, true
}

// learn records what a response of the path base said in its
// No-Vary-Search field (raw, "" without one). It returns the error of a
// malformed field the first time the path sends one, to be logged once.
func (s *searchRules) learn(base, raw string) error {
	if raw == "" && s.active.Load() == 0 {
		return nil
	}
	s.mu.RLock()
	sp := s.paths[base]
	same := sp != nil && sp.raw == raw || sp == nil && raw == ""
	s.mu.RUnlock()
	if same {
		return nil
	}
	rule, ok, err := parseNoVarySearch(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paths == nil {
		s.paths = make(map[string]*searchPath)
	}
	sp = s.paths[base]
	if sp == nil {
		if len(s.paths) >= maxSearchPaths {
			for k, old := range s.paths {
				s.drop(k, old)
				break
			}
		}
		sp = &searchPath{}
		s.paths[base] = sp
	}
	wasOK := sp.ok
	sp.raw = raw
	if err != nil || !ok {
		sp.ok, sp.rule, sp.queries = false, noVarySearch{}, nil
	} else {
		if !wasOK || !slices.Equal(sp.rule.names, rule.names) || sp.rule.except != rule.except || sp.rule.anyOrder != rule.anyOrder {
			sp.queries = make(map[string]struct{})
		}
		sp.ok, sp.rule = true, rule
	}
	switch {
	case wasOK && !sp.ok:
		s.active.Add(-1)
	case !wasOK && sp.ok:
		s.active.Add(1)
	}
	if err != nil && !sp.logged {
		sp.logged = true
		return err
	}
	if !sp.ok && !sp.logged {
		delete(s.paths, base) // nothing to remember
	}
	return nil
}

// drop forgets the path k; s.mu is held.
func (s *searchRules) drop(k string, sp *searchPath) {
	if sp.ok {
		s.active.Add(-1)
	}
	delete(s.paths, k)
}

// maxFieldBytes bounds the No-Vary-Search field the package parses; a
// longer one is refused as a whole.
const maxFieldBytes = 4 << 10

// boolMember returns the value of a dictionary member that is a boolean
// item (parameters are ignored).
func boolMember(m httpsfv.Member) (bool, bool) {
	it, ok := m.(httpsfv.Item)
	if !ok {
		return false, false
	}
	b, ok := it.Value.(bool)
	return b, ok
}

// stringsMember returns the strings of a dictionary member that is an
// inner list of strings.
func stringsMember(m httpsfv.Member) ([]string, bool) {
	il, ok := m.(httpsfv.InnerList)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(il.Items))
	for _, it := range il.Items {
		s, ok := it.Value.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
