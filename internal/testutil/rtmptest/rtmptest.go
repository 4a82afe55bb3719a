// Package rtmptest holds what the transports' tests do with the project's
// RTMP client once it is connected, whatever carries it (RTMP, RTMPT,
// WebSocket): publish and play a stream, record what is played, and the
// smallest H.264 and AAC FLV payloads a player accepts.
package rtmptest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
)

// Recorder collects played packets; its methods are safe for concurrent
// use (the client's reader adds, the test reads).
type Recorder struct {
	mu   sync.Mutex
	pkts []media.Packet
}

// Add records p; it is what Play sets as the stream's OnPacket.
func (r *Recorder) Add(p media.Packet) {
	r.mu.Lock()
	r.pkts = append(r.pkts, p)
	r.mu.Unlock()
}

// Of returns the packets of kind recorded so far, in order.
func (r *Recorder) Of(kind media.Kind) []media.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []media.Packet
	for _, p := range r.pkts {
		if p.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

// Count returns how many packets of kind were recorded so far.
func (r *Recorder) Count(kind media.Kind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.pkts {
		if p.Kind == kind {
			n++
		}
	}
	return n
}

// AVCConfig and AACConfig are FLV sequence headers: an AVC decoder
// configuration record (High profile, level 3.1) and an AAC
// AudioSpecificConfig (LC, 44.1 kHz, stereo).
var (
	AVCConfig = []byte{0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f}
	AACConfig = []byte{0xaf, 0x00, 0x12, 0x10}
)

// Keyframe is an FLV H.264 keyframe body of size bytes of i after its
// header, so that frames tell apart on arrival.
func Keyframe(i byte, size int) []byte {
	return append([]byte{0x17, 0x01, 0, 0, 0, i}, bytes.Repeat([]byte{i}, size)...)
}

// Interframe is Keyframe for an inter frame, with a composition time.
func Interframe(i byte, size int) []byte {
	return append([]byte{0x27, 0x01, 0, 0, 0x28, i}, bytes.Repeat([]byte{i}, size)...)
}

// Publish opens a stream on c and publishes it live as name.
func Publish(t testing.TB, c *rtmp.Client, name string) *rtmp.ClientStream {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, name, "live"); err != nil {
		t.Fatal(err)
	}
	return s
}

// Play opens a stream on c playing name live, recording into r.
func Play(t testing.TB, c *rtmp.Client, name string, r *Recorder) *rtmp.ClientStream {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.OnPacket = r.Add
	if err := s.Play(ctx, name, -1000); err != nil {
		t.Fatal(err)
	}
	return s
}

// Write sends p on s; a failure ends the test.
func Write(t testing.TB, s *rtmp.ClientStream, p media.Packet) {
	t.Helper()
	if err := s.WritePacket(p); err != nil {
		t.Fatal(err)
	}
}

// FeedVideo writes video to s until the test ends or a write fails: a
// frame every 5 ms of size bytes, each 25th a keyframe, faster than a
// player that stopped reading can be queued for.
func FeedVideo(t testing.TB, s *rtmp.ClientStream, size int) {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			p := Interframe(byte(i), size)
			if i%25 == 0 {
				p = Keyframe(byte(i), size)
			}
			if s.WritePacket(media.Packet{Kind: media.Video, Time: uint32(5 * i), Payload: p}) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// SendAndCheck is the body of "one scenario, every transport": it writes
// the AVC and AAC configs and 60 frames of video and audio on ps, every
// 20th video frame a keyframe of keySize bytes (large enough to span
// many chunks), then waits until rec, the player's recorder, holds every
// video message, each in order with its time and bytes.
func SendAndCheck(t testing.TB, ps *rtmp.ClientStream, rec *Recorder, keySize int) {
	t.Helper()
	frame := func(i int) []byte {
		if i%20 == 0 {
			return Keyframe(byte(i), keySize)
		}
		return Interframe(byte(i), 3000+100*i)
	}
	Write(t, ps, media.Packet{Kind: media.Video, Payload: AVCConfig})
	Write(t, ps, media.Packet{Kind: media.Audio, Payload: AACConfig})
	const n = 60
	for i := range n {
		Write(t, ps, media.Packet{Kind: media.Video, Time: uint32(40 * i), Payload: frame(i)})
		Write(t, ps, media.Packet{Kind: media.Audio, Time: uint32(40 * i), Payload: []byte{0xaf, 0x01, byte(i)}})
	}
	testutil.WaitFor(t, 10*time.Second, "all video at the player", func() bool { return rec.Count(media.Video) >= n+1 })
	vids := rec.Of(media.Video)
	if !bytes.Equal(vids[0].Payload, AVCConfig) {
		t.Fatalf("first video %x, want the config", vids[0].Payload)
	}
	for i, p := range vids[1:] {
		if want := frame(i); p.Time != uint32(40*i) || !bytes.Equal(p.Payload, want) {
			t.Fatalf("video %d: time %d, %d bytes, want time %d, %d bytes", i, p.Time, len(p.Payload), 40*i, len(want))
		}
	}
}
