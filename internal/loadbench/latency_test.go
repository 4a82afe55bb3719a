package loadbench

import (
	"testing"
	"time"

	"github.com/openfcs/openfcs/media"
)

func TestVideoStampRoundTrip(t *testing.T) {
	g := NewSynth(Stream{})
	sent := time.Unix(1700000000, 123456789)
	for range 3 {
		pk := g.Next()
		stampVideo(pk.Payload, sent)
		got, ok := videoStamp(&pk)
		if pk.Kind != media.Video {
			if ok {
				t.Fatalf("audio message read as stamped: %v", got)
			}
			continue
		}
		if !ok || !got.Equal(sent) {
			t.Fatalf("stamp read back as %v, %v; want %v", got, ok, sent)
		}
	}
	for _, h := range g.Headers() {
		before := string(h.Payload)
		stampVideo(h.Payload, sent)
		if string(h.Payload) != before {
			t.Fatalf("codec configuration %x was stamped", h.Payload[:2])
		}
		if _, ok := videoStamp(&h); ok {
			t.Fatalf("codec configuration %x read as stamped", h.Payload[:2])
		}
	}
}

func TestLatencyQuantile(t *testing.T) {
	var h latencyHist
	before := h.snapshot()
	for range 98 {
		h.add(time.Millisecond) // bucket 4: upper edge 1.25 ms
	}
	h.add(30 * time.Millisecond)
	h.add(5 * time.Second) // past the last bucket: counted in it
	after := h.snapshot()
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5 * LatencyBucket},
		{0.98, 5 * LatencyBucket},
		{0.99, 121 * LatencyBucket},
		{1, LatencyBuckets * LatencyBucket},
	}
	for _, tt := range tests {
		if got := LatencyQuantile(before, after, tt.q); got != tt.want {
			t.Errorf("q%.2f = %v, want %v", tt.q, got, tt.want)
		}
	}
	// A window is the difference of two cumulative snapshots.
	h.add(200 * time.Millisecond)
	if got, want := LatencyQuantile(after, h.snapshot(), 0.5), 801*LatencyBucket; got != want {
		t.Errorf("window of one: %v, want %v", got, want)
	}
	if got := LatencyQuantile(after, after, 0.99); got != 0 {
		t.Errorf("empty window: %v, want 0", got)
	}
}
