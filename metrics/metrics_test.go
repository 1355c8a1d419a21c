package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earlyhints/earlyhints"
	"github.com/earlyhints/earlyhints/metrics"
	"github.com/earlyhints/earlyhints/push"
)

func TestObserver_Counts(t *testing.T) {
	reg := prometheus.NewRegistry()
	o, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []earlyhints.Event{
		{Kind: earlyhints.EventSent, Links: 3, Bytes: 120, Elapsed: 3 * time.Microsecond},
		{Kind: earlyhints.EventSent, Links: 2, Bytes: 80, Elapsed: time.Microsecond},
		{Kind: earlyhints.EventSkipped, Reason: earlyhints.ReasonProtocol},
		{Kind: earlyhints.EventSkipped, Reason: earlyhints.ReasonNoHints},
		{Kind: earlyhints.EventSkipped, Reason: earlyhints.ReasonNoHints},
	} {
		o.Observe(e)
	}
	o.ObservePush(push.Event{Kind: push.EventPushed, Bytes: 1000})
	want := `
# HELP earlyhints_links_sent_total Link values sent in 103 responses.
# TYPE earlyhints_links_sent_total counter
earlyhints_links_sent_total 5
# HELP earlyhints_push_bytes_total Body bytes pushed (legacy HTTP/2 push).
# TYPE earlyhints_push_bytes_total counter
earlyhints_push_bytes_total 1000
# HELP earlyhints_responses_sent_total 103 Early Hints responses sent.
# TYPE earlyhints_responses_sent_total counter
earlyhints_responses_sent_total 2
# HELP earlyhints_skipped_total Requests that got no 103, by reason.
# TYPE earlyhints_skipped_total counter
earlyhints_skipped_total{reason="no_hints"} 2
earlyhints_skipped_total{reason="protocol"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"earlyhints_links_sent_total", "earlyhints_push_bytes_total", "earlyhints_responses_sent_total", "earlyhints_skipped_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "earlyhints_hint_latency_seconds"); n != 1 {
		t.Fatalf("latency histogram: %d series", n)
	}
}

func TestNew_TwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg); err == nil || !strings.Contains(err.Error(), "one Observer per registry") {
		t.Fatalf("second registration: %v", err)
	}
}

func TestFanout(t *testing.T) {
	var a, b int
	f := metrics.Fanout{earlyhints.ObserverFunc(func(earlyhints.Event) { a++ }), nil, earlyhints.ObserverFunc(func(earlyhints.Event) { b++ })}
	f.Observe(earlyhints.Event{Kind: earlyhints.EventSent})
	if a != 1 || b != 1 {
		t.Fatalf("a=%d b=%d", a, b)
	}
}

// BenchmarkObserver_Observe is the cost the metrics add to each request: a
// navigation that got a 103, and a request that was not one.
func BenchmarkObserver_Observe(b *testing.B) {
	o, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		e    earlyhints.Event
	}{
		{"sent", earlyhints.Event{Kind: earlyhints.EventSent, Links: 3, Bytes: 120, Elapsed: 3 * time.Microsecond}},
		{"skipped", earlyhints.Event{Kind: earlyhints.EventSkipped, Reason: earlyhints.ReasonNotNav}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				o.Observe(tc.e)
			}
		})
	}
}

// TestObserver_WhatLearningRefused: a link left out by rule (another
// site's file, a personal link) is not bad input, and a store failure is
// the store's, not the input's: each has its own counter.
func TestObserver_WhatLearningRefused(t *testing.T) {
	reg := prometheus.NewRegistry()
	o, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []earlyhints.Event{
		{Kind: earlyhints.EventNotLearned, Links: 1, Reason: earlyhints.ReasonCrossSite},
		{Kind: earlyhints.EventNotLearned, Links: 1, Reason: earlyhints.ReasonCrossSite},
		{Kind: earlyhints.EventNotLearned, Links: 1, Reason: earlyhints.ReasonPersonal},
		{Kind: earlyhints.EventInvalid, Reason: earlyhints.ReasonStoreError},
		{Kind: earlyhints.EventInvalid},
	} {
		o.Observe(e)
	}
	for name, want := range map[string]float64{
		"earlyhints_invalid_input_total": 1,
		"earlyhints_store_errors_total":  1,
	} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := gathered(t, reg, "earlyhints_links_not_learned_total"); got != 3 {
		t.Errorf("links_not_learned_total = %v, want 3 (2 cross_site, 1 personal)", got)
	}
}

// gathered sums the values of a counter family.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
