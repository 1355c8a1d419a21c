package site

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestGenerateBody_ExactSizes(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 4, 5, 9, 10, 11, 20, 43, 47, 48, 49, 67, 79, 80, 100, 300, 700, 1000, 65537, 65540, 65541, 131075, 200_000}
	types := []struct {
		typ Type
		ct  string
	}{
		{TypeCSS, ""},
		{TypeJS, ""},
		{TypeModule, ""},
		{TypeJSON, ""},
		{TypeOther, ""},
		{TypeFont, ""},
		{TypeImage, "image/png"},
		{TypeImage, "image/jpeg"},
		{TypeImage, "image/gif"},
		{TypeImage, "image/svg+xml"},
		{TypeImage, "image/webp"},
		{TypeImage, "image/avif"},
	}
	p := &Profile{Name: "sizes"}
	for _, tt := range types {
		t.Run(string(tt.typ)+tt.ct, func(t *testing.T) {
			for _, n := range sizes {
				r := Resource{Path: "/x", Type: tt.typ, ContentType: tt.ct, Size: n}
				b := generateBody(p, r)
				if len(b) != n {
					t.Fatalf("size %d: got %d bytes", n, len(b))
				}
				if again := generateBody(p, r); !bytes.Equal(b, again) {
					t.Fatalf("size %d: body not deterministic", n)
				}
			}
		})
	}
}

func TestGenerateBody_ValidFormats(t *testing.T) {
	p := &Profile{Name: "formats"}
	body := func(typ Type, ct string, n int) []byte {
		return generateBody(p, Resource{Path: "/f", Type: typ, ContentType: ct, Size: n})
	}
	for _, n := range []int{700, 5000, 70_000, 140_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if _, err := png.Decode(bytes.NewReader(body(TypeImage, "image/png", n))); err != nil {
				t.Errorf("png: %v", err)
			}
			if _, err := jpeg.Decode(bytes.NewReader(body(TypeImage, "image/jpeg", n))); err != nil {
				t.Errorf("jpeg: %v", err)
			}
			if _, err := gif.Decode(bytes.NewReader(body(TypeImage, "image/gif", n))); err != nil {
				t.Errorf("gif: %v", err)
			}
			var v map[string]string
			if err := json.Unmarshal(body(TypeJSON, "", n), &v); err != nil {
				t.Errorf("json: %v", err)
			}
			w := body(TypeFont, "", n)
			if string(w[:4]) != "wOF2" || binary.BigEndian.Uint32(w[8:]) != uint32(n) {
				t.Errorf("woff2 header %q, length field %d", w[:4], binary.BigEndian.Uint32(w[8:]))
			}
			for _, typ := range []Type{TypeCSS, TypeJS} {
				c := body(typ, "", n)
				// One comment, closed only at the very end.
				if !bytes.HasPrefix(c, []byte("/*")) || bytes.Index(c, []byte("*/")) != n-2 {
					t.Errorf("%s: padding is not a single comment", typ)
				}
			}
			if s := body(TypeImage, "image/svg+xml", n); !bytes.HasPrefix(s, []byte("<svg")) || !bytes.HasSuffix(s, []byte("</svg>")) {
				t.Errorf("svg: %q...", s[:10])
			}
			if w := body(TypeImage, "image/webp", n); string(w[:4]) != "RIFF" || string(w[8:12]) != "WEBP" || binary.LittleEndian.Uint32(w[4:]) != uint32(n-8) {
				t.Errorf("webp header wrong")
			}
		})
	}
}

func TestGenerateBody_DependsOnProfileAndPath(t *testing.T) {
	r := Resource{Path: "/a.js", Type: TypeJS, Size: 1000}
	a := generateBody(&Profile{Name: "one"}, r)
	b := generateBody(&Profile{Name: "two"}, r)
	r.Path = "/b.js"
	c := generateBody(&Profile{Name: "one"}, r)
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("bodies do not depend on the profile name and path")
	}
}

// TestSite_ETagsGolden pins every ETag of every built-in profile, so a
// change of generator (or of Go's ChaCha8) that would make runs
// incomparable is caught. Run with -update after a deliberate change.
func TestSite_ETagsGolden(t *testing.T) {
	var b strings.Builder
	for _, name := range ProfileNames() {
		p, _ := ProfileByName(name)
		for _, opts := range []Options{{}, {PreloadInHTML: true}} {
			s, err := New(p, opts)
			if err != nil {
				t.Fatal(err)
			}
			_, etag, _ := s.Body(p.htmlPath())
			fmt.Fprintf(&b, "%s preload=%v %s %s\n", name, opts.PreloadInHTML, p.htmlPath(), etag)
			if opts.PreloadInHTML {
				continue
			}
			for _, r := range p.Resources {
				_, etag, _ := s.Body(r.URL())
				fmt.Fprintf(&b, "%s %s %s\n", name, r.URL(), etag)
			}
		}
	}
	golden := filepath.Join("testdata", "etags.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("ETags changed; got:\n%s", b.String())
	}
}
