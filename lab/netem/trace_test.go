package netem

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseMahimahiTrace(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []uint32
		wantErr bool
	}{
		{name: "simple", in: "1\n2\n2\n5\n", want: []uint32{1, 2, 2, 5}},
		{name: "blank lines and spaces", in: "\n 0\n\n3 \n", want: []uint32{0, 3}},
		{name: "no final newline", in: "4\n8", want: []uint32{4, 8}},
		{name: "empty", in: "", wantErr: true},
		{name: "only zero", in: "0\n0\n", wantErr: true},
		{name: "decreasing", in: "5\n3\n", wantErr: true},
		{name: "negative", in: "-1\n3\n", wantErr: true},
		{name: "not a number", in: "1\nabc\n", wantErr: true},
		{name: "overflow", in: "99999999999\n", wantErr: true},
		{name: "line too long", in: strings.Repeat("1", 100) + "\n", wantErr: true},
		{name: "period of an hour", in: "0\n" + strings.Repeat("3600000\n", 3600), want: append([]uint32{0}, repeat(3600000, 3600)...)},
		{name: "period over an hour", in: "012000001\n", wantErr: true},
		{name: "one packet a second", in: "1000\n", want: []uint32{1000}},
		{name: "below one packet a second", in: "1001\n", wantErr: true},
		{name: "long silence", in: "1\n2\n60000\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := ParseMahimahiTrace(strings.NewReader(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Millis) != len(tt.want) {
				t.Fatalf("got %v, want %v", tr.Millis, tt.want)
			}
			for i := range tt.want {
				if tr.Millis[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", tr.Millis, tt.want)
				}
			}
		})
	}
}

func repeat(v uint32, n int) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// TestParseMahimahiTrace_boundsMessage checks that a rejected trace says what
// to do next.
func TestParseMahimahiTrace_boundsMessage(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"012000001\n", "convert the file, or cut it to at most 1h0m0s"},
		{"5000\n", "add opportunities or shorten it"},
	}
	for _, tt := range tests {
		_, err := ParseMahimahiTrace(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseMahimahiTrace(%q) = %v, want it to say %q", tt.in, err, tt.want)
		}
	}
}

func TestTrace_Rate(t *testing.T) {
	tr := loadTrace(t, "12mbps.trace")
	if got := tr.Rate(); got != 12_000_000 {
		t.Errorf("Rate = %d, want 12000000", got)
	}
	if got := tr.Period(); got != time.Second {
		t.Errorf("Period = %v, want 1s", got)
	}
}

func TestTrace_firstAtOrAfter(t *testing.T) {
	tr := &Trace{Millis: []uint32{0, 2, 2, 5}}
	tests := []struct {
		at   time.Duration
		want int64
	}{
		{0, 0},
		{time.Millisecond, 1},
		{2 * time.Millisecond, 1},
		{3 * time.Millisecond, 3},
		{5 * time.Millisecond, 4}, // the next cycle's 0 ms entry, at 5 ms
		{6 * time.Millisecond, 5},
		{-time.Second, 0},
	}
	for _, tt := range tests {
		if got := tr.firstAtOrAfter(tt.at); got != tt.want {
			t.Errorf("firstAtOrAfter(%v) = %d, want %d", tt.at, got, tt.want)
		}
		if got := tr.opportunity(tt.want); got < max(tt.at, 0) {
			t.Errorf("opportunity(%d) = %v, before %v", tt.want, got, tt.at)
		}
	}
}

func loadTrace(t testing.TB, name string) *Trace {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ParseMahimahiTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func FuzzParseMahimahiTrace(f *testing.F) {
	for _, s := range []string{"1\n2\n3\n", "0\n0\n7\n", "", "5\n3\n", "1\r\n2\r\n", " 12 \n\n40\n", "x"} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile("testdata/onoff.trace"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseMahimahiTrace(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if err := tr.validate(); err != nil {
			t.Fatalf("parsed trace fails validation: %v", err)
		}
		if tr.Period() <= 0 || tr.Period() > MaxTracePeriod || tr.Rate() < MinTraceRate-1 {
			t.Fatalf("period %v rate %d", tr.Period(), tr.Rate())
		}
		// Opportunities never go back in time, across a wrap too.
		n := int64(len(tr.Millis))
		for i := int64(1); i < min(2*n, 1000); i++ {
			if tr.opportunity(i) < tr.opportunity(i-1) {
				t.Fatalf("opportunity %d before %d", i, i-1)
			}
		}
	})
}
