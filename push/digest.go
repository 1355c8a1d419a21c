package push

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// A Digest is a Golomb-coded set (GCS) of the assets a client was pushed,
// each identified by its URL and validator, so that a changed asset is not
// found in it and is pushed again. It is the cache digest that H2O's CASPer
// keeps in a cookie: n items cost about n·(P+1.5) bits for a false-positive
// rate of 2^-P.
//
// Hashes are reduced to the range capacity·2^P, fixed per digest, so that a
// digest can grow by one push at a time; up to capacity items the
// false-positive rate stays under 2^-P.
//
// Wire form (before base64url): one byte P, a uvarint capacity, a uvarint
// n, then the n sorted hash values' deltas, each as a Rice code with parameter P (the quotient in
// unary, 1s ended by a 0, then P low bits), most significant bit first.
type Digest struct {
	p        uint8
	capacity int      // fixes the hash range capacity·2^P, so digests merge
	hashes   []uint64 // sorted, each < capacity·2^P
}

// Digest limits: a cookie is at most 4 KiB, so a decoded digest is small.
const (
	maxDigestItems = 4096
	maxDigestP     = 24
	maxCookieBytes = 4096
)

// ErrBadDigest is returned for a digest that cannot be decoded. A client
// that sends one is treated as having nothing cached.
var ErrBadDigest = errors.New("push: malformed cache digest")

// NewDigest returns an empty digest for capacity items with
// false-positive rate 2^-p.
func NewDigest(p uint8, capacity int) *Digest {
	return &Digest{p: min(max(p, 1), maxDigestP), capacity: min(max(capacity, 1), maxDigestItems)}
}

// ItemKey identifies an asset version for a digest.
func ItemKey(url, validator string) uint64 {
	sum := sha256.Sum256([]byte(url + "\x00" + validator))
	return binary.BigEndian.Uint64(sum[:8])
}

// Len is the number of items in d.
func (d *Digest) Len() int { return len(d.hashes) }

func (d *Digest) bound() uint64 {
	return uint64(d.capacity) << d.p //nolint:gosec // capacity is in [1, maxDigestItems]
}

// Contains reports whether the item may be in d (false positives at rate
// 2^-P; never a false negative).
func (d *Digest) Contains(key uint64) bool {
	if len(d.hashes) == 0 {
		return false
	}
	h := key % d.bound()
	_, ok := slices.BinarySearch(d.hashes, h)
	return ok
}

// Build returns a digest of keys for capacity items with false-positive
// rate 2^-p. Past capacity, the last keys (the most recent pushes) are kept.
func Build(keys []uint64, p uint8, capacity int) *Digest {
	d := NewDigest(p, capacity)
	d.Add(keys...)
	return d
}

// Add puts keys in d. Past its capacity, the oldest hashes of d are
// dropped, then the first of keys.
func (d *Digest) Add(keys ...uint64) {
	if len(keys) > d.capacity {
		keys = keys[len(keys)-d.capacity:]
	}
	if over := len(d.hashes) + len(keys) - d.capacity; over > 0 {
		// A sorted set keeps no age: drop from the front, which is as
		// good as random for hashes.
		d.hashes = d.hashes[over:]
	}
	bound := d.bound()
	for _, k := range keys {
		h := k % bound
		if i, found := slices.BinarySearch(d.hashes, h); !found {
			d.hashes = slices.Insert(d.hashes, i, h)
		}
	}
}

// Encode returns the cookie value of d.
func (d *Digest) Encode() string {
	var w bitWriter
	w.buf = append(w.buf, d.p)
	w.buf = binary.AppendUvarint(w.buf, uint64(d.capacity)) //nolint:gosec // capacity is in [1, maxDigestItems]
	w.buf = binary.AppendUvarint(w.buf, uint64(len(d.hashes)))
	var prev uint64
	for _, h := range d.hashes {
		delta := h - prev
		prev = h
		q := delta >> d.p
		for range q {
			w.writeBit(1)
		}
		w.writeBit(0)
		w.writeBits(delta&(1<<d.p-1), int(d.p))
	}
	return base64.RawURLEncoding.EncodeToString(w.buf)
}

// DecodeDigest parses a cookie value. Hostile input is bounded: at most
// 4 KiB of cookie and 4096 items, and nothing is allocated beyond that.
func DecodeDigest(s string) (*Digest, error) {
	if len(s) > maxCookieBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadDigest, len(s), maxCookieBytes)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDigest, err)
	}
	if len(raw) < 2 {
		return nil, fmt.Errorf("%w: too short", ErrBadDigest)
	}
	p := raw[0]
	if p < 1 || p > maxDigestP {
		return nil, fmt.Errorf("%w: parameter %d out of range 1..%d", ErrBadDigest, p, maxDigestP)
	}
	rest := raw[1:]
	capacity, used := binary.Uvarint(rest)
	if used <= 0 || capacity == 0 || capacity > maxDigestItems {
		return nil, fmt.Errorf("%w: bad capacity", ErrBadDigest)
	}
	rest = rest[used:]
	n, used := binary.Uvarint(rest)
	if used <= 0 || n > capacity {
		return nil, fmt.Errorf("%w: bad item count", ErrBadDigest)
	}
	// Every item takes at least P+1 bits: a count the data cannot hold is a lie.
	r := bitReader{buf: rest[used:]}
	if n*(uint64(p)+1) > uint64(len(r.buf))*8 {
		return nil, fmt.Errorf("%w: %d items do not fit in %d bytes", ErrBadDigest, n, len(r.buf))
	}
	d := &Digest{p: p, capacity: int(capacity), hashes: make([]uint64, 0, n)}
	bound := d.bound()
	var prev uint64
	for range n {
		var q uint64
		for {
			b, ok := r.readBit()
			if !ok {
				return nil, fmt.Errorf("%w: truncated", ErrBadDigest)
			}
			if b == 0 {
				break
			}
			q++
			if q > bound>>p {
				return nil, fmt.Errorf("%w: value out of range", ErrBadDigest)
			}
		}
		low, ok := r.readBits(int(p))
		if !ok {
			return nil, fmt.Errorf("%w: truncated", ErrBadDigest)
		}
		delta := q<<p | low
		if delta > math.MaxUint64-prev || prev+delta >= bound {
			return nil, fmt.Errorf("%w: value out of range", ErrBadDigest)
		}
		prev += delta
		if len(d.hashes) > 0 && delta == 0 {
			continue // a duplicate: sets hold each hash once
		}
		d.hashes = append(d.hashes, prev)
	}
	return d, nil
}

// ParamForRate returns P for a false-positive rate (0.01 → 7).
func ParamForRate(rate float64) uint8 {
	if rate <= 0 || rate >= 1 {
		return 7
	}
	return uint8(min(max(int(math.Ceil(-math.Log2(rate))), 1), maxDigestP))
}

type bitWriter struct {
	buf  []byte
	nbit uint8 // bits used in the last byte (0 = start a new byte)
}

func (w *bitWriter) writeBit(b byte) {
	if w.nbit == 0 {
		w.buf = append(w.buf, 0)
	}
	if b != 0 {
		w.buf[len(w.buf)-1] |= 0x80 >> w.nbit
	}
	w.nbit = (w.nbit + 1) % 8
}

func (w *bitWriter) writeBits(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		w.writeBit(byte(v >> uint(i) & 1))
	}
}

type bitReader struct {
	buf []byte
	pos int // in bits
}

func (r *bitReader) readBit() (byte, bool) {
	if r.pos >= len(r.buf)*8 {
		return 0, false
	}
	b := r.buf[r.pos/8] >> (7 - uint(r.pos%8)) & 1
	r.pos++
	return b, true
}

func (r *bitReader) readBits(n int) (uint64, bool) {
	var v uint64
	for range n {
		b, ok := r.readBit()
		if !ok {
			return 0, false
		}
		v = v<<1 | uint64(b)
	}
	return v, true
}
