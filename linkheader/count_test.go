package linkheader

import "testing"

func TestCount(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want int
	}{
		{"none", nil, 0},
		{"empty value", []string{""}, 0},
		{"one", []string{`</a.css>; rel=preload; as=style`}, 1},
		{"two in one value", []string{`</a.css>; rel=preload, </b.js>; rel=preload`}, 2},
		{"one per value", []string{`</a.css>; rel=preload`, `<https://cdn>; rel=preconnect`}, 2},
		{"comma in the URI", []string{`</a,b.css>; rel=preload`}, 1},
		{"comma in a quoted string", []string{`</a>; title="x, \"y, z\""; rel=preload, </b>`}, 2},
		{"empty elements", []string{` , ,</a>;rel=preload,, `}, 1},
		{"malformed counts as one", []string{`nonsense; rel=x`}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Count(tt.in...); got != tt.want {
				t.Errorf("Count(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}
