package netem

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// bulkServer answers each connection with size bytes derived from the
// 8-byte seed the client sends first, then closes.
func bulkServer(t *testing.T, size int) net.Listener {
	t.Helper()
	return serveTCP(t, func(c net.Conn) {
		var seed [8]byte
		if _, err := io.ReadFull(c, seed[:]); err != nil {
			return
		}
		_, _ = c.Write(bulkPayload(binary.BigEndian.Uint64(seed[:]), size))
	})
}

// bulkPayload is a byte stream unique to seed, so a segment delivered to
// the wrong connection, lost or repeated shows up as a mismatch.
func bulkPayload(seed uint64, size int) []byte {
	out := make([]byte, 0, size+sha256.Size)
	var block [16]byte
	binary.BigEndian.PutUint64(block[:8], seed)
	for i := uint64(0); len(out) < size; i++ {
		binary.BigEndian.PutUint64(block[8:], i)
		sum := sha256.Sum256(block[:])
		out = append(out, sum[:]...)
	}
	return out[:size]
}

// Connections sharing a link with a small queue must never lose bytes of
// their streams: the relay terminates TCP, so the queue makes them wait
// instead of dropping.
func TestRelay_TCPSharedLinkSmallQueue(t *testing.T) {
	const conns, size = 16, 256 << 10
	p := Profile{
		Name: "shared",
		Up:   LinkConfig{Delay: time.Millisecond, Bandwidth: 50 * mbit, QueueBytes: 4 << 10},
		Down: LinkConfig{Delay: time.Millisecond, Bandwidth: 100 * mbit, QueueBytes: 8 << 10},
	}
	r := newTestRelay(t, RelayConfig{Profile: p, Target: bulkServer(t, size).Addr().String(), MaxInFlight: 64 << 10, Logger: quiet})
	// Each connection moves size bytes through a 100 Mbit/s link shared by
	// all: about 0.2 s in total; the deadline only bounds a hang.
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan string, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", r.Addr().String())
			if err != nil {
				errs <- err.Error()
				return
			}
			defer c.Close()
			_ = c.SetDeadline(deadline)
			var seed [8]byte
			binary.BigEndian.PutUint64(seed[:], uint64(i)+1)
			if _, err := c.Write(seed[:]); err != nil {
				errs <- err.Error()
				return
			}
			got, err := io.ReadAll(c)
			if want := bulkPayload(uint64(i)+1, size); err != nil || !bytes.Equal(got, want) {
				errs <- fmt.Sprintf("connection %d: %d of %d bytes, intact %v, err %v", i, len(got), size, bytes.Equal(got, want), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	up, down := r.Stats()
	t.Logf("up %+v, down %+v", up, down)
	if up.DroppedQueue+down.DroppedQueue > 0 {
		t.Errorf("the relay dropped %d segments from TCP streams", up.DroppedQueue+down.DroppedQueue)
	}
}

// TestLink_Offer checks the relay's way into a Link on a fake clock: a full
// queue keeps the packet and says when room comes, without counting a drop.
func TestLink_Offer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		// 1500 bytes take 10 ms at 1.2 Mbit/s; the queue holds two packets.
		l, err := newLink(LinkConfig{Bandwidth: 1_200_000, QueueBytes: 3000}, func([]byte) {}, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for i := range 2 {
			if v, _ := l.offer(make([]byte, 1500), 1500, nil, 0, func([]byte) {}); v != deliver {
				t.Fatalf("packet %d: verdict %v, want deliver", i, v)
			}
		}
		v, retry := l.offer(make([]byte, 1500), 1500, nil, 0, func([]byte) {})
		if v != full || retry.Sub(start) != 10*time.Millisecond {
			t.Fatalf("third packet: verdict %v, retry after %v; want full, 10ms", v, retry.Sub(start))
		}
		time.Sleep(time.Until(retry))
		if v, _ := l.offer(make([]byte, 1500), 1500, nil, 0, func([]byte) {}); v != deliver {
			t.Fatalf("after the wait: verdict %v, want deliver", v)
		}
		if s := l.Stats(); s.Sent != 3 || s.DroppedQueue != 0 {
			t.Errorf("stats %+v, want 3 sent and none dropped", s)
		}
		l.Close()
		if v, _ := l.offer([]byte{1}, 1, nil, 0, func([]byte) {}); v == deliver || v == full {
			t.Errorf("offer after Close: verdict %v", v)
		}
	})
}
