package browser

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkLoad measures the model's own cost per page load on loopback
// (no server delays): the floor under every lab measurement.
func BenchmarkLoad(b *testing.B) {
	for _, proto := range []string{H1, H2, H3} {
		b.Run(proto, func(b *testing.B) {
			s := tinySite(b, false)
			s.think = 0
			for k, a := range s.assets {
				a.delay = 0
				s.assets[k] = a
			}
			cfg := Config{Proto: proto, TLS: s.tls()}
			for b.Loop() {
				if _, err := Load(context.Background(), s.url(proto), cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseCSSURLs(b *testing.B) {
	css := []byte(strings.Repeat(`.a{color:red;background:url("/img/bg.png")} /* c */ @font-face{src:url(/f.woff2)}`, 1000))
	b.SetBytes(int64(len(css)))
	for b.Loop() {
		ParseCSSURLs(css)
	}
}
