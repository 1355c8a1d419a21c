package netem

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Bounds on what a trace may be, so a hostile or mistaken file cannot make the
// parser allocate without limit or make a link that never delivers. Real
// traces (mahimahi's cellular captures) have a few hundred thousand lines and
// last minutes.
const (
	maxTraceLines   = 1 << 22
	maxTraceLineLen = 64
	// MaxTracePeriod is the longest period (last timestamp) a trace may have.
	// A longer one is almost always a file in the wrong unit (microseconds,
	// epoch times) rather than an hour-long capture.
	MaxTracePeriod = time.Hour
	// MinTraceRate is the lowest average rate, in bits per second, a trace
	// may deliver: one MTU-sized packet per second (12 kbit/s, below GPRS).
	// A slower trace leaves every page load timing out rather than measuring
	// anything.
	MinTraceRate = MTU * 8
)

// Trace is a mahimahi packet-delivery trace: each entry is a moment, in
// milliseconds from the start, at which one MTU-sized packet may leave. The
// trace repeats with a period equal to its last timestamp.
type Trace struct {
	// Millis holds the delivery opportunities, non-decreasing, the last > 0.
	Millis []uint32
}

// ParseMahimahiTrace reads a mahimahi trace: one non-negative integer
// (milliseconds) per line, non-decreasing, the last one greater than zero and
// at most [MaxTracePeriod], with at least one line per second of period on
// average ([MinTraceRate]). Blank lines are ignored.
func ParseMahimahiTrace(r io.Reader) (*Trace, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxTraceLineLen)
	var t Trace
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		if len(t.Millis) == maxTraceLines {
			return nil, fmt.Errorf("%w: trace has more than %d opportunities", ErrInvalidConfig, maxTraceLines)
		}
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: trace line %d: %q is not a millisecond timestamp", ErrInvalidConfig, line, s)
		}
		if n := len(t.Millis); n > 0 && uint32(v) < t.Millis[n-1] {
			return nil, fmt.Errorf("%w: trace line %d: %d goes back in time (previous %d)", ErrInvalidConfig, line, v, t.Millis[n-1])
		}
		t.Millis = append(t.Millis, uint32(v))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading trace: %w", ErrInvalidConfig, err)
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *Trace) validate() error {
	n := len(t.Millis)
	if n == 0 {
		return fmt.Errorf("%w: empty trace; a mahimahi trace needs at least one timestamp", ErrInvalidConfig)
	}
	if t.Millis[n-1] == 0 {
		return fmt.Errorf("%w: trace must end after 0 ms (its last timestamp is its period)", ErrInvalidConfig)
	}
	if n > maxTraceLines {
		return fmt.Errorf("%w: trace has more than %d opportunities", ErrInvalidConfig, maxTraceLines)
	}
	for i := 1; i < n; i++ {
		if t.Millis[i] < t.Millis[i-1] {
			return fmt.Errorf("%w: trace goes back in time at entry %d", ErrInvalidConfig, i)
		}
	}
	if p := t.Period(); p > MaxTracePeriod {
		return fmt.Errorf("%w: trace period %v (its last timestamp) is longer than %v; "+
			"timestamps must be milliseconds from the start: convert the file, or cut it to at most %v",
			ErrInvalidConfig, p, MaxTracePeriod, MaxTracePeriod)
	}
	// One opportunity per second of period, in integers: n·MTU·8 / (last/1000) ≥ MinTraceRate.
	if int64(n)*MTU*8*1000 < int64(MinTraceRate)*int64(t.Millis[n-1]) {
		return fmt.Errorf("%w: trace delivers %d packets in %v, %d bit/s on average, below the %d bit/s floor; "+
			"a trace needs at least one line (one %d-byte packet) per second of its period: add opportunities or shorten it",
			ErrInvalidConfig, n, t.Period(), t.Rate(), MinTraceRate, MTU)
	}
	return nil
}

// Period returns the length of one repetition of the trace.
func (t *Trace) Period() time.Duration {
	return time.Duration(t.Millis[len(t.Millis)-1]) * time.Millisecond
}

// Rate returns the trace's average delivery rate in bits per second.
func (t *Trace) Rate() int64 {
	return int64(float64(len(t.Millis)) * MTU * 8 / t.Period().Seconds())
}

// opportunity returns the time, from the trace's start, of the i-th delivery
// opportunity counted across repetitions.
func (t *Trace) opportunity(i int64) time.Duration {
	n := int64(len(t.Millis))
	return time.Duration(i/n)*t.Period() + time.Duration(t.Millis[i%n])*time.Millisecond
}

// firstAtOrAfter returns the index of the first opportunity at or after d.
func (t *Trace) firstAtOrAfter(d time.Duration) int64 {
	if d < 0 {
		d = 0
	}
	n := int64(len(t.Millis))
	cycle := int64(d / t.Period())
	rem := d - time.Duration(cycle)*t.Period()
	// Binary search within the cycle.
	lo, hi := int64(0), n
	for lo < hi {
		mid := (lo + hi) / 2
		if time.Duration(t.Millis[mid])*time.Millisecond < rem {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return cycle*n + lo
}
