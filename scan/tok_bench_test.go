package scan

import (
	"bytes"
	"testing"

	"golang.org/x/net/html"
)

// BenchmarkTokenizer64KiB is the floor: x/net/html's tokenizer alone over
// the same head, with nothing done per token.
func BenchmarkTokenizer64KiB(b *testing.B) {
	doc := head64KiB(b)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		z := html.NewTokenizer(bytes.NewReader(doc))
		for z.Next() != html.ErrorToken {
		}
	}
}
