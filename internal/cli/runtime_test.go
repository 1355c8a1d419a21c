package cli

import "testing"

func TestParseMemoryMax(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"max\n", 0, false},
		{"1073741824\n", 1 << 30, true},
		{"", 0, false},
		{"0\n", 0, false},
		{"-5", 0, false},
		{"12abc", 0, false},
	}
	for _, tt := range tests {
		if got, ok := parseMemoryMax(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("parseMemoryMax(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
