package loadbench

import (
	encbin "encoding/binary" // binary is the tests' build helper
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/media"
)

// Publish-to-delivery latency. The publisher writes the wall-clock time at
// which it hands a video frame to its connection into the frame's filler
// bytes (after the NAL unit header, where a decoder-less player ignores
// them); a player reading the frame subtracts it from its own clock. The
// publisher and the players run on one machine (the load tool is a
// loopback tool), so both read the same clock.
const (
	stampOffset = 10 // first filler byte of videoFrame's NAL unit
	stampLen    = 8  // Unix nanoseconds, big-endian
)

// stampVideo writes now into a video frame built by videoFrame. Codec
// configuration and frames too short to hold a stamp are left alone.
func stampVideo(p []byte, now time.Time) {
	if len(p) >= stampOffset+stampLen && p[1] == 1 {
		encbin.BigEndian.PutUint64(p[stampOffset:], uint64(now.UnixNano()))
	}
}

// videoStamp returns the send time stamped into pkt, or false when pkt is
// not a stamped video frame.
func videoStamp(pkt *media.Packet) (time.Time, bool) {
	p := pkt.Payload
	if pkt.Kind != media.Video || len(p) < stampOffset+stampLen || p[1] != 1 {
		return time.Time{}, false
	}
	ns := int64(encbin.BigEndian.Uint64(p[stampOffset:]))
	if ns <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// Latency histogram: LatencyBuckets buckets of LatencyBucket each; the
// last one also counts everything slower.
const (
	LatencyBucket  = 250 * time.Microsecond
	LatencyBuckets = 4000 // up to 1 s
)

// latencyHist counts latencies; safe for concurrent use. Counters are
// cumulative: a reader subtracts two snapshots to get a window's.
type latencyHist struct {
	b [LatencyBuckets]atomic.Int64
}

func (h *latencyHist) add(d time.Duration) {
	i := int(d / LatencyBucket)
	i = min(max(i, 0), LatencyBuckets-1)
	h.b[i].Add(1)
}

// snapshot returns the counts up to the last non-empty bucket.
func (h *latencyHist) snapshot() []int64 {
	last := -1
	out := make([]int64, LatencyBuckets)
	for i := range h.b {
		if out[i] = h.b[i].Load(); out[i] != 0 {
			last = i
		}
	}
	return out[:last+1]
}

// LatencyQuantile returns the q quantile (0 < q ≤ 1) of the latencies
// counted between two cumulative histograms (Snapshot.Latency): the upper
// edge of the bucket holding it. It returns 0 when none was counted.
func LatencyQuantile(before, after []int64, q float64) time.Duration {
	at := func(h []int64, i int) int64 {
		if i < len(h) {
			return h[i]
		}
		return 0
	}
	var total int64
	for i := range after {
		total += after[i] - at(before, i)
	}
	if total <= 0 {
		return 0
	}
	want := int64(float64(total)*q + 0.5)
	want = min(max(want, 1), total)
	var seen int64
	for i := range after {
		if seen += after[i] - at(before, i); seen >= want {
			return time.Duration(i+1) * LatencyBucket
		}
	}
	return time.Duration(len(after)) * LatencyBucket
}
