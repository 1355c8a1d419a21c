package scan

import (
	"strings"
	"testing"
)

func TestMatchMedia(t *testing.T) {
	tests := []struct {
		media string
		vp    Viewport
		want  match
	}{
		{"", Viewport{}, matchYes},
		{"   ", Viewport{}, matchYes},
		{"all", Viewport{}, matchYes},
		{"ALL", Viewport{}, matchYes},
		{"screen", Viewport{}, matchYes},
		{"only screen", Viewport{}, matchYes},
		{"screen, projection", Viewport{}, matchYes},
		{"handheld, screen", Viewport{}, matchYes},
		{"projection, tv", Viewport{}, matchNo},
		{"print", Viewport{}, matchNo},
		{"only print", Viewport{}, matchNo},
		{"speech", Viewport{}, matchNo},
		{"aural, braille", Viewport{}, matchNo},
		{"not print", Viewport{}, matchYes},
		{"not screen", Viewport{}, matchNo},
		{"not all and (monochrome)", Viewport{}, matchYes},
		{"screen and (min-width: 0)", Viewport{}, matchYes},
		{"screen and (min-width:0px)", Viewport{}, matchYes},
		{"screen and (min-width: 1px)", Viewport{}, matchYes},
		{"(min-width: 20em)", Viewport{}, matchYes},
		{"(min-width: 768px)", Viewport{}, matchUnknown},
		{"only screen and (max-width: 768px)", Viewport{}, matchUnknown},
		{"screen and (max-width: 99999px)", Viewport{}, matchYes},
		{"(min-width: 768px)", Viewport{Width: 1280}, matchYes},
		{"(min-width: 768px)", Viewport{Width: 412}, matchNo},
		{"(max-width: 768px)", Viewport{Width: 412}, matchYes},
		{"(width >= 600px)", Viewport{Width: 1280}, matchYes},
		{"(width >= 0)", Viewport{}, matchYes},
		{"(400px <= width <= 700px)", Viewport{Width: 500}, matchYes},
		{"(400px <= width <= 700px)", Viewport{Width: 800}, matchNo},
		{"(400px <= width <= 700px)", Viewport{}, matchUnknown},
		{"not screen and (min-width: 768px)", Viewport{}, matchUnknown},
		{"print, (min-width: 768px)", Viewport{}, matchUnknown},
		{"print, screen and (min-width: 0)", Viewport{}, matchYes},
		{"(color)", Viewport{}, matchYes},
		{"(monochrome)", Viewport{}, matchNo},
		{"(orientation: landscape)", Viewport{}, matchUnknown},
		{"(prefers-color-scheme: dark)", Viewport{}, matchUnknown},
		{"(prefers-reduced-motion: no-preference)", Viewport{}, matchUnknown},
		{"(-webkit-min-device-pixel-ratio: 1)", Viewport{}, matchYes},
		{"(-webkit-min-device-pixel-ratio: 2), (min-resolution: 192dpi)", Viewport{}, matchUnknown},
		{"(min-resolution: 1dppx)", Viewport{}, matchYes},
		{"(scripting: enabled)", Viewport{}, matchYes},
		{"(scripting: none)", Viewport{}, matchNo},
		{"(display-mode: browser)", Viewport{}, matchYes},
		{"(min-width: 0) and (hover: hover)", Viewport{}, matchUnknown},
		{"(min-width: 0) or (monochrome)", Viewport{}, matchYes},
		{"not (monochrome)", Viewport{}, matchYes},
		{"((color) and (min-width: 0))", Viewport{}, matchYes},
		// Queries that do not parse are "not all"; the list goes on.
		{"(unknown-feature)", Viewport{}, matchNo},
		{"screen and (unknown: 1)", Viewport{}, matchNo},
		{"not screen and (unknown: 1)", Viewport{}, matchNo},
		{"(min-width: 10)", Viewport{}, matchNo}, // a length needs a unit
		{"screen and", Viewport{}, matchNo},
		{"screen (color)", Viewport{}, matchNo},
		{"(color) and (min-width: 0) or (monochrome)", Viewport{}, matchNo},
		{"screen and (color) or (monochrome)", Viewport{}, matchNo},
		{"only", Viewport{}, matchNo},
		{"(foo bar)", Viewport{}, matchNo},
		{"bogus!, screen", Viewport{}, matchYes},
		{"screen /* comment */ and (color)", Viewport{}, matchYes},
		{strings.Repeat("screen, ", 200), Viewport{}, matchNo}, // over the length bound
	}
	for _, tc := range tests {
		if got := matchMedia(tc.media, tc.vp); got != tc.want {
			t.Errorf("matchMedia(%q, %+v) = %d, want %d", tc.media, tc.vp, got, tc.want)
		}
	}
}

func FuzzMatchMedia(f *testing.F) {
	for _, s := range []string{
		"screen", "only screen and (max-width: 768px)", "not print", "screen, projection",
		"(400px <= width <= 700px)", "(-webkit-min-device-pixel-ratio: 2), (min-resolution: 192dpi)",
		"not all and (monochrome)", "((color) and (min-width: 0))", "(min-width: 40em) and (orientation: landscape)",
		"print and (min-resolution: 2dppx)", "(width > 1e3px)", "(min-width: -.5px)", "((((", ")))", "not not screen",
	} {
		f.Add(s, 0)
		f.Add(s, 800)
	}
	f.Fuzz(func(t *testing.T, media string, width int) {
		vp := Viewport{Width: max(width, 0) % 100000}
		m := matchMedia(media, vp)
		if m > matchYes {
			t.Fatalf("matchMedia(%q) = %d", media, m)
		}
		// A list matches when one of its queries does: adding a query
		// never makes it match less.
		if more := matchMedia(media+", print", vp); more < m && len(lexMedia(nil, media)) > 0 && len(media)+7 <= maxMediaBytes {
			t.Fatalf("matchMedia(%q) = %d but with \", print\" %d", media, m, more)
		}
		// Knowing the window never turns a sure answer around.
		if known := matchMedia(media, Viewport{Width: 1280, Height: 720}); m != matchUnknown && vp.Width == 0 && known != m {
			t.Fatalf("matchMedia(%q) = %d for any window but %d for 1280x720", media, m, known)
		}
	})
}

func BenchmarkMatchMedia(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		matchMedia("only screen and (max-width: 768px)", Viewport{})
		matchMedia("screen, projection", Viewport{})
	}
}
