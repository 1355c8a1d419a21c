package push

import (
	"fmt"
	"testing"
)

func TestDigest_RoundTrip(t *testing.T) {
	tests := []struct {
		name string
		n    int
		p    uint8
	}{
		{"empty", 0, 7},
		{"one", 1, 7},
		{"hundred at 1%", 100, 7},
		{"coarse", 50, 1},
		{"fine", 20, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var keys []uint64
			for i := range tc.n {
				keys = append(keys, ItemKey(fmt.Sprintf("https://a.test/%d.css", i), `"v1"`))
			}
			d := Build(keys, tc.p, max(tc.n, 1))
			got, err := DecodeDigest(d.Encode())
			if err != nil {
				t.Fatalf("DecodeDigest(Encode()) = %v", err)
			}
			for i, k := range keys {
				if !got.Contains(k) {
					t.Fatalf("item %d lost in the round trip", i)
				}
			}
			if got.Len() != d.Len() {
				t.Fatalf("Len = %d, want %d", got.Len(), d.Len())
			}
		})
	}
}

func TestDigest_ChangedValidatorIsNotContained(t *testing.T) {
	d := Build([]uint64{ItemKey("https://a.test/app.js", `"v1"`)}, 20, 100)
	if !d.Contains(ItemKey("https://a.test/app.js", `"v1"`)) {
		t.Fatal("pushed version not in the digest")
	}
	if d.Contains(ItemKey("https://a.test/app.js", `"v2"`)) {
		t.Fatal("a changed asset is still reported as cached")
	}
}

// TestDigest_FalsePositiveRate: with P=7 about 1/128 of absent items match.
func TestDigest_FalsePositiveRate(t *testing.T) {
	var keys []uint64
	for i := range 100 {
		keys = append(keys, ItemKey(fmt.Sprintf("https://a.test/in/%d", i), ""))
	}
	d := Build(keys, ParamForRate(0.01), 100)
	const probes = 20000
	fp := 0
	for i := range probes {
		if d.Contains(ItemKey(fmt.Sprintf("https://a.test/out/%d", i), "")) {
			fp++
		}
	}
	// Expected 1/128 = 0.78 %; allow a wide margin (statistical, not timing).
	if rate := float64(fp) / probes; rate > 0.02 {
		t.Fatalf("false-positive rate %.4f, want about 0.008", rate)
	}
	if size := len(d.Encode()); size > 200 {
		t.Errorf("100 items at 1%% take %d cookie bytes, want under 200", size)
	}
}

func TestDigest_Capacity(t *testing.T) {
	var keys []uint64
	for i := range 10 {
		keys = append(keys, ItemKey(fmt.Sprint(i), ""))
	}
	d := Build(keys, 20, 3)
	if d.Len() != 3 || !d.Contains(keys[9]) {
		t.Fatalf("capacity 3 holds %d items, newest kept=%v", d.Len(), d.Contains(keys[9]))
	}
	d.Add(ItemKey("new", ""))
	if d.Len() != 3 || !d.Contains(ItemKey("new", "")) {
		t.Fatal("adding past capacity must keep the new item and the size")
	}
}

// TestDigest_Grows: a digest decoded from a cookie takes one more push and
// still holds the earlier ones (the range does not depend on the count).
func TestDigest_Grows(t *testing.T) {
	a, b := ItemKey("https://a.test/a.css", `"1"`), ItemKey("https://a.test/b.js", `"1"`)
	d, err := DecodeDigest(Build([]uint64{a}, 7, 100).Encode())
	if err != nil {
		t.Fatal(err)
	}
	d.Add(b)
	d, err = DecodeDigest(d.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Contains(a) || !d.Contains(b) {
		t.Fatalf("grown digest lost an item: a=%v b=%v", d.Contains(a), d.Contains(b))
	}
}

func TestDecodeDigest_Rejects(t *testing.T) {
	tests := map[string]string{
		"not base64":   "!!!",
		"too short":    "Bw",
		"capacity 0":   "BwAA",
		"p zero":       "AGQB",
		"p huge":       "_2QB",
		"count lies":   "B2T_Bw", // p=7, capacity 100, n=1023 items
		"oversized":    string(make([]byte, 5000)),
		"truncated":    Build([]uint64{1 << 40, 2 << 50, 3 << 60}, 7, 100).Encode()[:6],
		"varint broke": "B4CAgICAgICAgIAB",
		"few bits":     "B2RkAA", // p=7, capacity 100, 100 items in 1 byte
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeDigest(in); err == nil {
				t.Fatalf("DecodeDigest(%q) accepted hostile input", in)
			}
		})
	}
}

func FuzzDecodeDigest(f *testing.F) {
	f.Add("")
	f.Add(Build([]uint64{1, 99, 12345}, 7, 100).Encode())
	f.Add(Build(nil, 3, 10).Encode())
	f.Add("B_8H")
	f.Add("GP____8P")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeDigest(s)
		if err != nil {
			return
		}
		if d.Len() > maxDigestItems {
			t.Fatalf("decoded %d items, limit %d", d.Len(), maxDigestItems)
		}
		again, err := DecodeDigest(d.Encode())
		if err != nil {
			t.Fatalf("re-encoding a decoded digest fails: %v", err)
		}
		if again.Len() != d.Len() {
			t.Fatalf("re-encoding changed the item count %d → %d", d.Len(), again.Len())
		}
	})
}
