package rtmp

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/status"
)

// fanoutRig is the real delivery path minus the sockets: one publication,
// n players each with its own chunk.Writer and Batch, flushed to a
// discarding sink after every published message.
type fanoutRig struct {
	pub     *media.Publication
	players []*player
	writers []*chunk.Writer
	batches []chunk.Batch
	evs     []media.Event
	pkts    []*media.Packet
	next    int
}

func newFanoutRig(tb testing.TB, n int) *fanoutRig {
	tb.Helper()
	reg := media.NewRegistry(media.Config{}, slog.New(slog.DiscardHandler))
	tb.Cleanup(reg.Close)
	pub, err := reg.Publish("s")
	if err != nil {
		tb.Fatal(err)
	}
	r := &fanoutRig{pub: pub, batches: make([]chunk.Batch, n)}
	for range n {
		sub := reg.Subscribe("s", media.SubscribeOptions{})
		r.players = append(r.players, &player{sid: 1, name: "s", sub: sub, skipNotify: true})
		w := chunk.NewWriter()
		w.SetChunkSize(4096)
		r.writers = append(r.writers, w)
	}
	// A GOP's worth of messages reused round-robin: published packets are
	// immutable, and each is drained by every player before it comes round
	// again, so reuse does not change what is measured.
	for i := range 64 {
		kind, size := media.Video, 5000 // ~1 Mbit/s at 25 fps
		if i%2 == 1 {
			kind, size = media.Audio, 200
		}
		p := make([]byte, size)
		p[0], p[1] = 0x27, 1 // AVC NALU, inter frame
		if i == 0 {
			p[0] = 0x17 // keyframe
		}
		if kind == media.Audio {
			p[0], p[1] = 0xaf, 1 // AAC raw
		}
		r.pkts = append(r.pkts, &media.Packet{Kind: kind, Time: uint32(i * 20), Payload: p})
	}
	r.drain(tb) // the opening PublishNotify
	return r
}

func (r *fanoutRig) step(tb testing.TB) {
	tb.Helper()
	pk := r.pkts[r.next%len(r.pkts)]
	r.next++
	r.pub.Write(pk)
	r.drain(tb)
}

func (r *fanoutRig) drain(tb testing.TB) {
	tb.Helper()
	for i, p := range r.players {
		var err error
		r.evs, err = p.write(r.writers[i], &r.batches[i], r.evs[:0])
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := r.batches[i].WriteTo(io.Discard); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkFanout measures one published message delivered through the
// real chunk writer to 1, 100 and 1,000 subscribers (issue "Foundation",
// benchmarks). allocs/op must be 0: nothing is allocated per message per
// subscriber.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			r := newFanoutRig(b, n)
			for range 128 {
				r.step(b) // reach steady state: rings and batches at size
			}
			b.ReportAllocs()
			for b.Loop() {
				r.step(b)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

func TestFanoutDoesNotAllocate(t *testing.T) {
	r := newFanoutRig(t, 100)
	for range 128 {
		r.step(t)
	}
	if a := testing.AllocsPerRun(200, func() { r.step(t) }); a != 0 {
		t.Fatalf("fan-out to 100 subscribers: %v allocs per message, want 0", a)
	}
}

// A player that falls behind has video dropped and is told once with
// NetStream.Play.InsufficientBW (a warning: ffmpeg and librtmp carry on).
func TestPlayerBehindGetsInsufficientBW(t *testing.T) {
	r := newFanoutRig(t, 1)
	r.step(t) // a keyframe first: before one, video is skipped, not dropped
	payload := make([]byte, 5000)
	payload[0], payload[1] = 0x27, 1 // AVC inter frame (NALU): droppable
	// Past half the queue (256 of 512 messages) the player is behind and
	// video is dropped; below the full queue it is not cut off.
	for i := range 400 {
		r.pub.Write(&media.Packet{Kind: media.Video, Time: uint32(i * 40), Payload: payload})
	}
	var out bytes.Buffer
	var err error
	r.evs, err = r.players[0].write(r.writers[0], &r.batches[0], r.evs[:0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.batches[0].WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(out.Bytes(), []byte(status.PlayInsufficientBW)); n != 1 {
		t.Fatalf("InsufficientBW sent %d times, want 1", n)
	}
	if !bytes.Contains(out.Bytes(), []byte(status.LevelWarning)) {
		t.Fatal("InsufficientBW is not a warning")
	}
}
