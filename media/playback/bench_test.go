package playback

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/openfcs/openfcs/media"
)

// BenchmarkPlayerRecorded plays a 10 s file (25 fps video, 43 audio
// frames per second) through the player and drains it as an adapter does,
// unpaced (a 60 s buffer), up to its last packet. Per-packet cost is the file read plus one queue
// append and one drain copy; what a play allocates is per play and per
// 256 packets (the reader's slabs), reported per packet.
func BenchmarkPlayerRecorded(b *testing.B) {
	l := newLib(b)
	l.write(b, "clip", 10_000, 25)
	// The packets of one play: the onMetaData, then every tag after it.
	v, err := media.OpenVOD(nil, filepath.Join(l.dir, "clip.flv"), media.VODFLV, media.VODLimits{})
	if err != nil {
		b.Fatal(err)
	}
	want := 1
	for _, err := v.Next(); err == nil; _, err = v.Next() {
		want++
	}
	_ = v.Close()
	var evs []Event
	var packets int
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	b.ReportAllocs()
	for b.Loop() {
		p := New(Options{Library: l, Buffer: 60_000}, Item{Name: "clip", Len: -1}, true)
		p.Start()
		// The last packet, not Complete, ends an op: Complete waits until a
		// client would have played the 10 s out.
		for got := 0; got < want; {
			<-p.Ready()
			evs = p.Drain(evs[:0])
			for i := range evs {
				if evs[i].Kind == EventPacket {
					got++
				}
			}
			clear(evs)
		}
		packets += want
		p.Close()
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Mallocs-before)/float64(max(packets, 1)), "allocs/packet")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(packets, 1)), "ns/packet")
}
