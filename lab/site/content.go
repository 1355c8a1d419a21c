package site

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
)

// newRand returns the generator of one body. ChaCha8's output for a seed is
// fixed by the Go 1 compatibility promise, so bodies are the same on every
// machine and Go release.
func newRand(profile, path string) *rand.ChaCha8 {
	return rand.NewChaCha8(sha256.Sum256([]byte(profile + "\x00" + path)))
}

// The base64 alphabet has neither '*' nor '"' nor '<', so random text can sit
// inside a CSS/JS comment, a JSON string or an HTML comment without closing
// it; about 6 bits of entropy per byte keep gzip from shrinking it much.
const padAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func randText(rng *rand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	var buf [8]byte
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(buf[:], rng.Uint64())
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = padAlphabet[buf[j]&63]
		}
	}
	return b
}

// size32 is n as a format's 32-bit length field. Bodies are at most
// MaxBodySize, so a length out of range is a bug in the caller.
func size32(n int) uint32 {
	if n < 0 || n > math.MaxUint32 {
		panic(fmt.Sprintf("site: length %d does not fit a 32-bit field", n))
	}
	return uint32(n)
}

func randBytes(rng *rand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	_, _ = rng.Read(b) // ChaCha8.Read never fails
	return b
}

// commentFill returns exactly n bytes that a CSS or JS parser skips.
func commentFill(rng *rand.ChaCha8, n int) []byte {
	if n < 4 {
		return bytes.Repeat([]byte("\n"), n)
	}
	b := make([]byte, 0, n)
	b = append(b, "/*"...)
	b = append(b, randText(rng, n-4)...)
	return append(b, "*/"...)
}

// cssString and jsString quote a URL for a stylesheet or a script; Validate
// has already refused control characters.
func cssString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `<`, `\x3c`).Replace(s) + `"`
}

// fontUsers are the selectors whose text uses a stylesheet's first,
// second and further fonts: the body's paragraphs, their first lines and
// their first letters.
var fontUsers = []string{"p", "p::first-line", "p::first-letter"}

// referencesIn returns the text a stylesheet or script must carry so that
// its children are discovered from it; imports and @import come first, as
// the languages require.
func referencesIn(p *Profile, parent Resource) string {
	var first, rest strings.Builder
	fonts := 0
	for i, c := range p.children(parent) {
		u := c.URL()
		switch parent.Type {
		case TypeCSS:
			switch c.Type {
			case TypeCSS:
				first.WriteString("@import url(" + cssString(u) + ");\n")
			case TypeFont:
				// A browser fetches a face only when text uses it, so every
				// face gets text of the body's paragraphs, as a page's
				// fonts do.
				family := "\"f" + strconv.Itoa(i) + "\""
				rest.WriteString("@font-face{font-family:" + family + ";src:url(" + cssString(u) +
					") format(\"woff2\");font-display:swap}\n" +
					fontUsers[min(fonts, len(fontUsers)-1)] + "{font-family:" + family + "}\n")
				fonts++
			default:
				rest.WriteString(".bg" + strconv.Itoa(i) + "{background-image:url(" + cssString(u) + ")}\n")
			}
		case TypeJS, TypeModule:
			if c.Where == WhereImport {
				first.WriteString("import " + jsString(u) + ";\n")
				continue
			}
			switch c.Type {
			case TypeImage:
				rest.WriteString("new Image().src=" + jsString(u) + ";\n")
			case TypeJS, TypeModule:
				kind := ""
				if c.Type == TypeModule {
					kind = "s.type=\"module\";"
				}
				rest.WriteString("{const s=document.createElement(\"script\");" + kind + "s.src=" + jsString(u) +
					";document.head.appendChild(s)}\n")
			case TypeCSS:
				rest.WriteString("{const l=document.createElement(\"link\");l.rel=\"stylesheet\";l.href=" + jsString(u) +
					";document.head.appendChild(l)}\n")
			default:
				rest.WriteString("fetch(" + jsString(u) + ",{mode:\"cors\"}).catch(()=>{});\n")
			}
		}
	}
	return first.String() + rest.String()
}

// generateBody returns the body of r, exactly r.Size bytes long (Validate
// has checked that the references fit).
func generateBody(p *Profile, r Resource) []byte {
	if r.Body != nil {
		return r.Body
	}
	rng := newRand(p.Name, r.URL())
	n := r.Size
	switch r.Type {
	case TypeCSS, TypeJS, TypeModule:
		refs := referencesIn(p, r)
		return append([]byte(refs), commentFill(rng, n-len(refs))...)
	case TypeJSON:
		return jsonBody(rng, n)
	}
	ct := strings.ToLower(r.contentType())
	switch {
	case strings.Contains(ct, "woff2") || (r.Type == TypeFont && !strings.Contains(ct, "woff")):
		return woff2Body(rng, n)
	case strings.HasPrefix(ct, "image/png"):
		return pngBody(rng, n)
	case strings.HasPrefix(ct, "image/jpeg"), strings.HasPrefix(ct, "image/jpg"):
		return jpegBody(rng, n)
	case strings.HasPrefix(ct, "image/gif"):
		return gifBody(rng, n)
	case strings.HasPrefix(ct, "image/svg"):
		return svgBody(rng, n)
	case strings.HasPrefix(ct, "image/webp"):
		return webpBody(rng, n)
	case strings.HasPrefix(ct, "image/avif"):
		return avifBody(rng, n)
	case strings.HasPrefix(ct, "text/css"), strings.Contains(ct, "javascript"):
		return commentFill(rng, n)
	case strings.Contains(ct, "json"):
		return jsonBody(rng, n)
	}
	return randBytes(rng, n)
}

func jsonBody(rng *rand.ChaCha8, n int) []byte {
	const open, closing = `{"pad":"`, `"}`
	if n < len(open)+len(closing) {
		if n == 1 {
			return []byte("0")
		}
		if n == 0 {
			return nil
		}
		return append([]byte("{}"), bytes.Repeat([]byte(" "), n-2)...)
	}
	b := append([]byte(open), randText(rng, n-len(open)-len(closing))...)
	return append(b, closing...)
}

// woff2Body is a WOFF2 header whose private-data block holds the padding, so
// the header's length fields agree with the size. It is not a usable font.
func woff2Body(rng *rand.ChaCha8, n int) []byte {
	const hdr = 48
	if n < hdr {
		return append([]byte("wOF2"), randBytes(rng, max(n-4, 0))...)[:n]
	}
	b := make([]byte, hdr, n)
	be := binary.BigEndian
	copy(b[0:], "wOF2")
	be.PutUint32(b[4:], 0x00010000) // TrueType flavour
	be.PutUint32(b[8:], size32(n))  // length
	// numTables, reserved = 0; totalSfntSize = 12 (an empty table directory)
	be.PutUint32(b[16:], 12)
	be.PutUint16(b[24:], 1) // majorVersion
	if n > hdr {
		be.PutUint32(b[40:], hdr)           // privOffset
		be.PutUint32(b[44:], size32(n-hdr)) // privLength
	}
	return append(b, randBytes(rng, n-hdr)...)
}

type imageBases struct{ png, jpeg, gif []byte }

var baseImages = sync.OnceValue(func() imageBases {
	gray := image.NewGray(image.Rect(0, 0, 1, 1))
	gray.SetGray(0, 0, color.Gray{Y: 200})
	var p, j, g bytes.Buffer
	_ = png.Encode(&p, gray)
	_ = jpeg.Encode(&j, gray, &jpeg.Options{Quality: 75})
	pal := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black, color.White})
	_ = gif.Encode(&g, pal, nil)
	return imageBases{p.Bytes(), j.Bytes(), g.Bytes()}
})

// signatureFill is the fallback for a size too small for a real image: the
// format's signature followed by random bytes.
func signatureFill(rng *rand.ChaCha8, sig []byte, n int) []byte {
	b := append(append([]byte{}, sig...), randBytes(rng, n)...)
	return b[:n]
}

// pngBody is a real 1×1 PNG with a private ancillary chunk ("ehPd") before
// IEND carrying the padding.
func pngBody(rng *rand.ChaCha8, n int) []byte {
	base := baseImages().png
	if n == len(base) {
		return append([]byte{}, base...)
	}
	if n < len(base)+12 {
		return signatureFill(rng, base[:8], n)
	}
	iend := len(base) - 12
	data := randBytes(rng, n-len(base)-12)
	chunk := make([]byte, 0, len(data)+12)
	chunk = binary.BigEndian.AppendUint32(chunk, size32(len(data)))
	chunk = append(chunk, "ehPd"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	b := make([]byte, 0, n)
	b = append(b, base[:iend]...)
	b = append(b, chunk...)
	return append(b, base[iend:]...)
}

// jpegBody is a real 1×1 JPEG with COM segments after SOI carrying the
// padding.
func jpegBody(rng *rand.ChaCha8, n int) []byte {
	base := baseImages().jpeg
	pad := n - len(base)
	if pad == 0 {
		return append([]byte{}, base...)
	}
	if pad < 4 {
		return signatureFill(rng, base[:3], n)
	}
	b := make([]byte, 0, n)
	b = append(b, base[:2]...) // SOI
	const maxSeg = 0xffff + 2  // marker + length field + 65533 bytes
	for pad > 0 {
		take := min(pad, maxSeg)
		if rest := pad - take; rest > 0 && rest < 4 {
			take -= 4
		}
		b = append(b, 0xff, 0xfe)
		b = binary.BigEndian.AppendUint16(b, uint16(take-2))
		b = append(b, randBytes(rng, take-4)...)
		pad -= take
	}
	return append(b, base[2:]...)
}

// gifBody is a real 1×1 GIF with a comment extension before the trailer
// carrying the padding.
func gifBody(rng *rand.ChaCha8, n int) []byte {
	base := baseImages().gif
	pad := n - len(base)
	if pad == 0 {
		return append([]byte{}, base...)
	}
	// An extension costs 3 bytes (introducer, label, terminator) plus one
	// length byte per sub-block of up to 255 bytes.
	payload := -1
	for p := pad - 3; p >= 0 && p >= pad-3-pad/255-2; p-- {
		if 3+(p+254)/255+p == pad {
			payload = p
			break
		}
	}
	if payload < 0 {
		return signatureFill(rng, base[:6], n)
	}
	b := make([]byte, 0, n)
	b = append(b, base[:len(base)-1]...)
	b = append(b, 0x21, 0xfe)
	data := randBytes(rng, payload)
	for len(data) > 0 {
		k := min(len(data), 255)
		b = append(b, byte(k))
		b = append(b, data[:k]...)
		data = data[k:]
	}
	b = append(b, 0x00)
	return append(b, base[len(base)-1])
}

func svgBody(rng *rand.ChaCha8, n int) []byte {
	const open = `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><!--`
	const closing = `--></svg>`
	if n < len(open)+len(closing) {
		return signatureFill(rng, []byte("<svg"), n)
	}
	b := append([]byte(open), randText(rng, n-len(open)-len(closing))...)
	return append(b, closing...)
}

// webpBody is a RIFF/WEBP container holding one unknown chunk; its sizes are
// consistent but it does not decode.
func webpBody(rng *rand.ChaCha8, n int) []byte {
	if n < 20 {
		return signatureFill(rng, []byte("RIFF"), n)
	}
	b := make([]byte, 0, n)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, size32(n-8))
	b = append(b, "WEBPXPAD"...)
	payload := n - 20
	size := payload
	if size%2 == 1 { // chunks are padded to an even size
		size--
	}
	b = binary.LittleEndian.AppendUint32(b, size32(size))
	return append(b, randBytes(rng, payload)...)
}

// avifBody is an ftyp box followed by a free box; it does not decode.
func avifBody(rng *rand.ChaCha8, n int) []byte {
	ftyp := []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf")
	if n < len(ftyp)+8 {
		return signatureFill(rng, ftyp, n)
	}
	b := append([]byte{}, ftyp...)
	b = binary.BigEndian.AppendUint32(b, size32(n-len(ftyp)))
	b = append(b, "free"...)
	return append(b, randBytes(rng, n-len(b))...)
}
