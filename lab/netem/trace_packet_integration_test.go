//go:build integration && linux

package netem

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// Packet mode drives its links by a trace as relay mode does: a download
// through the 4g-varying preset's namespaces arrives intact.
func TestPacketNet_Trace(t *testing.T) {
	p, err := ProfileByName("4g-varying")
	if err != nil {
		t.Fatal(err)
	}
	n := newTestPacketNet(t, p)
	ln, err := n.ListenTCP("")
	if err != nil {
		t.Fatalf("ListenTCP: %v", err)
	}
	defer ln.Close()
	payload := bulkPayload(11, 256<<10)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write(payload)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := n.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("download: %d of %d bytes, intact %v, err %v", len(got), len(payload), bytes.Equal(got, payload), err)
	}
}
