package rtmp

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/message"
)

// The ingest clock reads a publisher's socket itself and leaves what it
// does not handle (here data messages) to the reader goroutine, in order:
// a player gets audio and data in the order they were sent, and the clock
// handled some of the audio.
func TestClockReadsPublisherInOrder(t *testing.T) {
	ts := startServer(t, Config{MergeWrite: 40 * time.Millisecond})
	ctx := testutil.Context(t, 30*time.Second)
	pubC := dial(t, ts, "live", ClientConfig{})
	pub := must(pubC.CreateStream(ctx))
	if err := pub.Publish(ctx, "s", "live"); err != nil {
		t.Fatal(err)
	}
	plC := dial(t, ts, "live", ClientConfig{})
	pl := must(plC.CreateStream(ctx))
	rec := &packetRecorder{}
	pl.OnPacket = func(p media.Packet) {
		if p.Time > 0 {
			rec.add(p)
		}
	}
	if err := pl.Play(ctx, "s", -1000); err != nil {
		t.Fatal(err)
	}
	send := func(p media.Packet) {
		t.Helper()
		if err := pub.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	audio := []byte{0xaf, 0x01, 1, 2, 3, 4}
	cue := must(amf.AppendAMF0Values(nil, amf.String("onTextData"), amf.String("cue")))
	var want []media.Packet
	for i := 1; i <= 80; i++ {
		p := media.Packet{Kind: media.Audio, Time: uint32(i * 10), Payload: audio}
		if i%10 == 5 {
			p = media.Packet{Kind: media.Data, Time: uint32(i * 10), Payload: cue}
		}
		send(p)
		want = append(want, p)
		time.Sleep(10 * time.Millisecond)
	}
	testutil.WaitFor(t, 20*time.Second, "the player gets every message", func() bool { return len(rec.snapshot()) >= len(want) })
	got := rec.snapshot()
	if len(got) != len(want) {
		t.Fatalf("the player got %d messages, %d sent", len(got), len(want))
	}
	for i, p := range got {
		if p.Kind != want[i].Kind || p.Time != want[i].Time {
			t.Fatalf("message %d: %v at %d, want %v at %d", i, p.Kind, p.Time, want[i].Kind, want[i].Time)
		}
		if p.Kind == media.Data {
			if h, _, _ := message.Handler(p.Payload); h != "onTextData" {
				t.Fatalf("message %d: data %q", i, h)
			}
		}
	}
	st := ts.srv.IngestStats()
	t.Logf("ingest: %+v", st)
	if st.ClockMessages == 0 || st.ClockReads == 0 {
		t.Errorf("the clock read none of the publisher's messages itself: %+v", st)
	}
	if st.Wakes == 0 {
		t.Errorf("the data messages woke no reader goroutine: %+v", st)
	}
}

// Bad input from a publisher that the ingest clock reads closes that
// publisher alone, with one closed line, and another publisher's player
// keeps getting its stream.
func TestClockBadInputClosesOnlyThatPublisher(t *testing.T) {
	ts := startServer(t, Config{MergeWrite: 40 * time.Millisecond})
	ctx := testutil.Context(t, 30*time.Second)
	audio := []byte{0xaf, 0x01, 1, 2, 3, 4}
	publish := func(name string) (*Client, *ClientStream) {
		c := dial(t, ts, "live", ClientConfig{})
		s := must(c.CreateStream(ctx))
		if err := s.Publish(ctx, name, "live"); err != nil {
			t.Fatal(err)
		}
		return c, s
	}
	badC, bad := publish("bad")
	_, good := publish("good")
	plC := dial(t, ts, "live", ClientConfig{})
	pl := must(plC.CreateStream(ctx))
	rec := &packetRecorder{}
	pl.OnPacket = func(p media.Packet) {
		if p.Kind == media.Audio {
			rec.add(p)
		}
	}
	if err := pl.Play(ctx, "good", -1000); err != nil {
		t.Fatal(err)
	}
	// Both publish until the clock has read some of their messages.
	i := 0
	testutil.WaitFor(t, 20*time.Second, "the clock reads the publishers", func() bool {
		i++
		for _, s := range []*ClientStream{bad, good} {
			if err := s.WritePacket(media.Packet{Kind: media.Audio, Time: uint32(i * 10), Payload: audio}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond)
		return ts.srv.IngestStats().ClockMessages >= 20
	})
	// A continuation chunk (fmt 3) of a chunk stream never opened.
	badC.wmu.Lock()
	_, err := badC.nc.Write([]byte{0xc0 | 50, 1, 2, 3})
	badC.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-badC.Done():
	case <-ctx.Done():
		t.Fatal("the server did not close the publisher that sent a bad chunk")
	}
	testutil.WaitFor(t, 10*time.Second, "its closed line", func() bool {
		return strings.Contains(ts.logs.String(), "reason=protocol_error")
	})
	n := len(rec.snapshot())
	for j := 1; j <= 10; j++ {
		if err := good.WritePacket(media.Packet{Kind: media.Audio, Time: uint32((i + j) * 10), Payload: audio}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	testutil.WaitFor(t, 20*time.Second, "the other publisher's player keeps playing", func() bool { return len(rec.snapshot()) >= n+10 })
	if c := strings.Count(ts.logs.String(), "reason=protocol_error"); c != 1 {
		t.Errorf("%d connections closed for a protocol error, want 1:\n%s", c, ts.logs.String())
	}
}

// A chunk larger than the reader's buffer cannot be parsed from what one
// tick reads: the clock leaves it to the reader goroutine, and the player
// gets the large message intact between the small ones.
func TestClockLeavesLargeChunksToTheReader(t *testing.T) {
	ts := startServer(t, Config{MergeWrite: 40 * time.Millisecond})
	ctx := testutil.Context(t, 30*time.Second)
	pubC := dial(t, ts, "live", ClientConfig{ChunkSize: 1 << 20})
	pub := must(pubC.CreateStream(ctx))
	if err := pub.Publish(ctx, "s", "live"); err != nil {
		t.Fatal(err)
	}
	plC := dial(t, ts, "live", ClientConfig{})
	pl := must(plC.CreateStream(ctx))
	rec := &packetRecorder{}
	pl.OnPacket = func(p media.Packet) {
		if p.Kind == media.Video && p.Time > 0 {
			rec.add(p)
		}
	}
	if err := pl.Play(ctx, "s", -1000); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 100_000)
	big[0], big[1] = 0x17, 0x01 // an AVC keyframe
	for k := range big[5:] {
		big[5+k] = byte(k)
	}
	small := []byte{0x17, 0x01, 0, 0, 0, 9, 9, 9} // keyframes too: a player waits for one
	var want []int
	for i := 1; i <= 40; i++ {
		p := media.Packet{Kind: media.Video, Time: uint32(i * 10), Payload: small}
		if i%8 == 0 {
			p.Payload = big
		}
		if err := pub.WritePacket(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, len(p.Payload))
		time.Sleep(10 * time.Millisecond)
	}
	testutil.WaitFor(t, 20*time.Second, "the player gets every message", func() bool { return len(rec.snapshot()) >= len(want) })
	for i, p := range rec.snapshot() {
		if p.Time != uint32((i+1)*10) || len(p.Payload) != want[i] {
			t.Fatalf("message %d: %d bytes at %d, want %d at %d", i, len(p.Payload), p.Time, want[i], (i+1)*10)
		}
		if len(p.Payload) == len(big) && !bytes.Equal(p.Payload, big) {
			t.Fatalf("message %d: the large message arrived altered", i)
		}
	}
	if st := ts.srv.IngestStats(); st.ClockMessages == 0 {
		t.Errorf("the clock read none of the small messages: %+v", st)
	}
}
