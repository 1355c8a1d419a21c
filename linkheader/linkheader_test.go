package linkheader

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []Link
		wantErr int
	}{
		{"one", []string{`</a.css>; rel=preload; as=style`},
			[]Link{{URI: "/a.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}}}}, 0},
		{"several per field and fields", []string{`</a.css>; rel=preload; as=style, </b.js>;rel=preload;as=script`, `<https://cdn.test>; rel=preconnect`},
			[]Link{
				{URI: "/a.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}}},
				{URI: "/b.js", Rel: []string{"preload"}, Params: []Param{{"as", "script"}}},
				{URI: "https://cdn.test", Rel: []string{"preconnect"}},
			}, 0},
		{"quoted with escapes and comma", []string{`</x>; rel="preload"; title="a, \"b\" \\ c"`},
			[]Link{{URI: "/x", Rel: []string{"preload"}, Params: []Param{{"title", `a, "b" \ c`}}}}, 0},
		{"several rels, case folded", []string{`</x>; REL="Preload  Prefetch"; AS=Font; CrossOrigin`},
			[]Link{{URI: "/x", Rel: []string{"preload", "prefetch"}, Params: []Param{{"as", "Font"}, {"crossorigin", ""}}}}, 0},
		{"anchor and unknown kept in order", []string{`</x>; anchor="#a"; rel=preload; foo=bar; nopush`},
			[]Link{{URI: "/x", Rel: []string{"preload"}, Params: []Param{{"anchor", "#a"}, {"foo", "bar"}, {"nopush", ""}}}}, 0},
		{"first rel wins", []string{`</x>; rel=preload; rel=prefetch`},
			[]Link{{URI: "/x", Rel: []string{"preload"}}}, 0},
		{"comma in target", []string{`</a,b.css>; rel=preload; as=style`},
			[]Link{{URI: "/a,b.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}}}}, 0},
		{"bare value with slash", []string{`</f.woff2>; rel=preload; as=font; type=font/woff2`},
			[]Link{{URI: "/f.woff2", Rel: []string{"preload"}, Params: []Param{{"as", "font"}, {"type", "font/woff2"}}}}, 0},
		{"bad link beside good ones", []string{`</ok1>; rel=preload, broken; rel=preload, </ok2>; rel=preconnect`},
			[]Link{{URI: "/ok1", Rel: []string{"preload"}}, {URI: "/ok2", Rel: []string{"preconnect"}}}, 1},
		{"unterminated quote", []string{`</ok>; rel=preload`, `</x>; title="oops`},
			[]Link{{URI: "/ok", Rel: []string{"preload"}}}, 1},
		{"unclosed target", []string{`</x; rel=preload`}, nil, 1},
		{"header injection attempt", []string{"</x>; rel=preload; title=\"a\r\nSet-Cookie: x\", </y>; rel=preload"},
			[]Link{{URI: "/y", Rel: []string{"preload"}}}, 1},
		{"empty elements", []string{` , ,</x>; rel=preload,`}, []Link{{URI: "/x", Rel: []string{"preload"}}}, 0},
		{"empty", []string{""}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := Parse(tc.in...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("links:\n got %#v\nwant %#v", got, tc.want)
			}
			if len(errs) != tc.wantErr {
				t.Errorf("errors = %v, want %d", errs, tc.wantErr)
			}
			for _, err := range errs {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
			}
		})
	}
}

func TestParse_Bounds(t *testing.T) {
	many := strings.Repeat("</x>; rel=preload, ", MaxLinks+10)
	links, errs := Parse(many)
	if len(links) != MaxLinks || len(errs) != 1 {
		t.Fatalf("got %d links and %v, want %d and one error", len(links), errs, MaxLinks)
	}
	_, errs = Parse(strings.Repeat("a", MaxInput+1))
	if len(errs) != 1 {
		t.Fatalf("oversized input: %v", errs)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   []Link
		want string
	}{
		{"tokens bare", []Link{{URI: "/a.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}}}}, `</a.css>; rel=preload; as=style`},
		{"several rels quoted", []Link{{URI: "/a", Rel: []string{"preload", "nopush"}}}, `</a>; rel="preload nopush"`},
		{"valueless param", []Link{{URI: "/f", Rel: []string{"preload"}, Params: []Param{{"as", "font"}, {"crossorigin", ""}}}}, `</f>; rel=preload; as=font; crossorigin`},
		{"quoted value", []Link{{URI: "/a", Params: []Param{{"media", `(max-width: 600px)`}}}}, `</a>; media="(max-width: 600px)"`},
		{"two links", []Link{{URI: "/a", Rel: []string{"preload"}}, {URI: "https://c.test", Rel: []string{"preconnect"}}}, `</a>; rel=preload, <https://c.test>; rel=preconnect`},
		{"injection in URI", []Link{{URI: "/a>\r\nX: y<", Rel: []string{"preload"}}}, `</a%3E%0D%0AX:%20y%3C>; rel=preload`},
		{"injection in value", []Link{{URI: "/a", Params: []Param{{"title", "x\"\r\n\\y\x00"}}}}, `</a>; title="x\"\\y"`},
		{"bad key dropped", []Link{{URI: "/a", Params: []Param{{"a b", "v"}, {"", "v"}, {"ok", "v"}}}}, `</a>; ok=v`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Format(tc.in...); got != tc.want {
				t.Errorf("Format = %s\n          want %s", got, tc.want)
			}
		})
	}
}

func TestLink_ParamAndHasRel(t *testing.T) {
	l := Link{URI: "/a", Rel: []string{"preload"}, Params: []Param{{"as", "style"}, {"crossorigin", ""}}}
	if v, ok := l.Param("AS"); !ok || v != "style" {
		t.Errorf("Param(AS) = %q, %v", v, ok)
	}
	if _, ok := l.Param("crossorigin"); !ok {
		t.Error("valueless param not found")
	}
	if _, ok := l.Param("type"); ok {
		t.Error("absent param found")
	}
	if !l.HasRel("PRELOAD") || l.HasRel("prefetch") {
		t.Error("HasRel")
	}
}

func checkSafe(t *testing.T, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\r\n\x00") {
		t.Fatalf("formatted value contains CR, LF or NUL: %q", s)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`</a.css>; rel=preload; as=style`,
		`</a>; rel="preload prefetch"; title="x, \"y\""; crossorigin, <https://c>; rel=preconnect`,
		`<broken; rel=x, </ok>; rel=preload`,
		`</f.woff2>; rel=preload; as=font; type=font/woff2; crossorigin=anonymous`,
		"</a>; title=\"\r\n\"",
		`<>;;,,;rel=`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		links, _ := Parse(s)
		out := Format(links...)
		checkSafe(t, out)
		again, errs := Parse(out)
		if len(errs) != 0 {
			t.Fatalf("formatted output does not parse: %q: %v", out, errs)
		}
		if len(again) != len(links) {
			t.Fatalf("round trip changed the number of links: %d → %d (%q)", len(links), len(again), out)
		}
		if out2 := Format(again...); out2 != out {
			t.Fatalf("round trip not stable:\n%q\n%q", out, out2)
		}
	})
}

func FuzzFormat(f *testing.F) {
	f.Add("/a.css", "preload", "as", "style")
	f.Add("/a>\r\n", "pre load", "ti tle", "\"\\")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, uri, rel, key, value string) {
		l := Link{URI: uri, Rel: strings.Fields(rel), Params: []Param{{key, value}}}
		out := l.String()
		checkSafe(t, out)
		got, errs := Parse(out)
		if len(errs) != 0 || len(got) != 1 {
			t.Fatalf("Format(%#v) = %q does not parse back as one link: %v", l, out, errs)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	v := `</static/site.css>; rel=preload; as=style, </static/app.js>; rel=preload; as=script, </f.woff2>; rel=preload; as=font; crossorigin, <https://cdn.example.com>; rel=preconnect`
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(v)
	}
}

func BenchmarkFormat(b *testing.B) {
	l := Link{URI: "/static/site.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}, {"crossorigin", ""}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = l.String()
	}
}
