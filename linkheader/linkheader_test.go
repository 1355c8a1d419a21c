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
		{
			"one",
			[]string{`</a.css>; rel=preload; as=style`},
			[]Link{{URI: "/a.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}}}},
			0,
		},
		{
			"several per field and fields",
			[]string{`</a.css>; rel=preload; as=style, </b.js>;rel=preload;as=script`, `<https://cdn.test>; rel=preconnect`},
			[]Link{
				{URI: "/a.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}}},
				{URI: "/b.js", Rel: []string{"preload"}, Params: []Param{{"as", "script"}}},
				{URI: "https://cdn.test", Rel: []string{"preconnect"}},
			},
			0,
		},
		{
			"quoted with escapes and comma",
			[]string{`</x>; rel="preload"; title="a, \"b\" \\ c"`},
			[]Link{{URI: "/x", Rel: []string{"preload"}, Params: []Param{{"title", `a, "b" \ c`}}}},
			0,
		},
		{
			"several rels, case folded",
			[]string{`</x>; REL="Preload  Prefetch"; AS=Font; CrossOrigin`},
			[]Link{{URI: "/x", Rel: []string{"preload", "prefetch"}, Params: []Param{{"as", "Font"}, {"crossorigin", ""}}}},
			0,
		},
		{
			"anchor and unknown kept in order",
			[]string{`</x>; anchor="#a"; rel=preload; foo=bar; nopush`},
			[]Link{{URI: "/x", Rel: []string{"preload"}, Params: []Param{{"anchor", "#a"}, {"foo", "bar"}, {"nopush", ""}}}},
			0,
		},
		{
			"first rel wins",
			[]string{`</x>; rel=preload; rel=prefetch`},
			[]Link{{URI: "/x", Rel: []string{"preload"}}},
			0,
		},
		{
			"comma in target",
			[]string{`</a,b.css>; rel=preload; as=style`},
			[]Link{{URI: "/a,b.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}}}},
			0,
		},
		{
			"bare value with slash",
			[]string{`</f.woff2>; rel=preload; as=font; type=font/woff2`},
			[]Link{{URI: "/f.woff2", Rel: []string{"preload"}, Params: []Param{{"as", "font"}, {"type", "font/woff2"}}}},
			0,
		},
		{
			"bad link beside good ones",
			[]string{`</ok1>; rel=preload, broken; rel=preload, </ok2>; rel=preconnect`},
			[]Link{{URI: "/ok1", Rel: []string{"preload"}}, {URI: "/ok2", Rel: []string{"preconnect"}}},
			1,
		},
		{
			"unterminated quote",
			[]string{`</ok>; rel=preload`, `</x>; title="oops`},
			[]Link{{URI: "/ok", Rel: []string{"preload"}}},
			1,
		},
		{"unclosed target", []string{`</x; rel=preload`}, nil, 1},
		{
			"header injection attempt",
			[]string{"</x>; rel=preload; title=\"a\r\nSet-Cookie: x\", </y>; rel=preload"},
			[]Link{{URI: "/y", Rel: []string{"preload"}}},
			1,
		},
		{"empty elements", []string{` , ,</x>; rel=preload,`}, []Link{{URI: "/x", Rel: []string{"preload"}}}, 0},
		{"empty", []string{""}, nil, 0},
		{
			"valueless params",
			[]string{`</f>; rel=preload; as=font; crossorigin; nopush`},
			[]Link{{URI: "/f", Rel: []string{"preload"}, Params: []Param{{"as", "font"}, {"crossorigin", ""}, {"nopush", ""}}}},
			0,
		},
		{
			"extended value kept raw",
			[]string{`</x>; rel=preload; title*=UTF-8'de'n%c3%a4chstes`},
			[]Link{{URI: "/x", Rel: []string{"preload"}, Params: []Param{{"title*", "UTF-8'de'n%c3%a4chstes"}}}},
			0,
		},
		{
			"rel split on spaces and tabs",
			[]string{"</x>; rel=\"  preload\tPreConnect  \""},
			[]Link{{URI: "/x", Rel: []string{"preload", "preconnect"}}},
			0,
		},
		{"empty rel is no rel and still the first", []string{`</x>; rel=""; rel=preload`}, []Link{{URI: "/x"}}, 0},
		{
			"target spaces trimmed, unsafe bytes encoded",
			[]string{`< /a b"c.css >; rel=preload`},
			[]Link{{URI: "/a%20b%22c.css", Rel: []string{"preload"}}},
			0,
		},
		{
			"unclosed target before the next link",
			[]string{`<broken; rel=x, </ok>; rel=preload`},
			[]Link{{URI: "/ok", Rel: []string{"preload"}}},
			1,
		},
		{
			"unterminated quote keeps the next link",
			[]string{`</x>; title="oops, </y>; rel=preload`},
			[]Link{{URI: "/y", Rel: []string{"preload"}}},
			1,
		},
		{"missing comma", []string{`</a>; rel=preload </b>; rel=preload, </c>`}, []Link{{URI: "/c"}}, 1},
		{"NUL in target", []string{"</a\x00>; rel=preload, </b>"}, []Link{{URI: "/b"}}, 1},
		{"LF in bare value", []string{"</a>; as=st\nyle, </b>"}, []Link{{URI: "/b"}}, 1},
		{"escaped CR in quotes", []string{"</a>; title=\"x\\\ry\", </b>"}, []Link{{URI: "/b"}}, 1},
		{"bad parameter name", []string{`</a>; =x, </b>; (p)=1, </c>`}, []Link{{URI: "/c"}}, 2},
		{"quote after bare value", []string{`</a>; as=x"y", </b>`}, []Link{{URI: "/b"}}, 1},
		{"comma inside quotes is not a link boundary", []string{`</a>; title="x, <y>" bad!, </b>`}, []Link{{URI: "/b"}}, 1},
		{"one error per bad link", []string{`</a,b; rel=x, c, d`, `</e>`}, []Link{{URI: "/e"}}, 1},
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

func TestParse_ErrorNamesPositionAndLink(t *testing.T) {
	_, errs := Parse(`</ok>, </x>; rel=preload; a b`)
	if len(errs) != 1 {
		t.Fatalf("errs = %v", errs)
	}
	msg := errs[0].Error()
	if !strings.Contains(msg, "at byte") || !strings.Contains(msg, `</x>`) {
		t.Errorf("error %q does not say where or which link", msg)
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
		{"keys and rels lower-cased", []Link{{URI: "/a", Rel: []string{"PreLoad"}, Params: []Param{{"AS", "Style"}}}}, `</a>; rel=preload; as=Style`},
		{"rel element with spaces", []Link{{URI: "/a", Rel: []string{" preload  prefetch", ""}}}, `</a>; rel="preload prefetch"`},
		{"extension rel quoted", []Link{{URI: "/a", Rel: []string{"https://rel.test/x"}}}, `</a>; rel="https://rel.test/x"`},
		{"rel with control dropped", []Link{{URI: "/a", Rel: []string{"pre\r\nload", "preload"}}}, `</a>; rel=preload`},
		{"rel among params dropped", []Link{{URI: "/a", Params: []Param{{"REL", "stylesheet"}}}}, `</a>`},
		{"tab kept inside quotes", []Link{{URI: "/a", Params: []Param{{"title", "a\tb"}}}}, "</a>; title=\"a\tb\""},
		{"control-only value", []Link{{URI: "/a", Params: []Param{{"title", "\r\n"}}}}, `</a>; title`},
		{"slash value quoted", []Link{{URI: "/a", Params: []Param{{"type", "font/woff2"}}}}, `</a>; type="font/woff2"`},
		{"empty target", []Link{{Rel: []string{"preload"}}}, `<>; rel=preload`},
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
		`</x>; title="oops, </y>; rel=preload`,
		`< /a b"c >; REL="A\\b"; title*=UTF-8''x`,
		"</a>; as=x\ty z; media=(max-width:1px), </b>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		links, errs := Parse(s)
		for _, err := range errs {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		}
		out := Format(links...)
		checkSafe(t, out)
		if n := Count(out); n != len(links) {
			t.Fatalf("Count(%q) = %d, want the %d links formatted", out, n, len(links))
		}
		again, errs := Parse(out)
		if len(errs) != 0 {
			t.Fatalf("formatted output does not parse: %q: %v", out, errs)
		}
		if !reflect.DeepEqual(again, links) {
			t.Fatalf("round trip changed the links:\n in %#v\nout %#v\nvia %q", links, again, out)
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
		if got[0].String() != out {
			t.Fatalf("formatting is not stable: %q then %q", out, got[0].String())
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

func BenchmarkAppend(b *testing.B) {
	links := []Link{
		{URI: "/static/site.css", Rel: []string{"preload"}, Params: []Param{{"as", "style"}}},
		{URI: "/f.woff2", Rel: []string{"preload"}, Params: []Param{{"as", "font"}, {"type", "font/woff2"}, {"crossorigin", ""}}},
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], links...)
	}
}
