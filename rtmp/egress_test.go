package rtmp

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
)

// Players of a live stream over plain TCP are written by the merge clock:
// while media flows, every player receives it, the clock runs rounds and
// no connection has a writer goroutine of its own.
func TestPlayersAreWrittenByTheClock(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 20*time.Second)
	pubC := dial(t, ts, "live", ClientConfig{})
	pub := must(pubC.CreateStream(ctx))
	if err := pub.Publish(ctx, "s", "live"); err != nil {
		t.Fatal(err)
	}
	const players = 8
	var got [players]atomic.Int64
	for i := range players {
		c := dial(t, ts, "live", ClientConfig{})
		s := must(c.CreateStream(ctx))
		s.OnPacket = func(media.Packet) { got[i].Add(1) }
		if err := s.Play(ctx, "s", -1000); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			p := interframe(byte(i))
			if i%25 == 0 {
				p = keyframe(byte(i))
			}
			if err := pub.WritePacket(media.Packet{Kind: media.Video, Time: uint32(i * 40), Payload: p}); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-done }()

	testutil.WaitFor(t, 10*time.Second, "every player to receive video", func() bool {
		for i := range got {
			if got[i].Load() < 10 {
				return false
			}
		}
		return true
	})
	// Joining answers commands on writer goroutines; once the players are
	// in step the clock writes them all. A loaded machine may leave a
	// write waiting for a moment, hence the poll.
	testutil.WaitFor(t, 10*time.Second, "no writer goroutine while media flows", func() bool {
		return testutil.Goroutines(t, "rtmp.(*conn).writeLoop") == 0
	})
	before := ts.srv.EgressStats()
	var after EgressStats
	testutil.WaitFor(t, 10*time.Second, "five clock rounds per player", func() bool {
		after = ts.srv.EgressStats()
		return after.ClockRounds >= before.ClockRounds+5*players
	})
	// Nothing but media is queued meanwhile: no round needs a goroutine.
	if n := after.GoroutineRounds - before.GoroutineRounds; n > 0 {
		t.Errorf("%d writer-goroutine rounds while only media flowed (egress %+v, before %+v)", n, after, before)
	}
}

// With merge_write negative there is no clock: every round runs on a
// writer goroutine as messages arrive.
func TestNoMergeWritesWithoutTheClock(t *testing.T) {
	ts := startServer(t, Config{MergeWrite: -1})
	ctx := testutil.Context(t, 20*time.Second)
	pubC := dial(t, ts, "live", ClientConfig{})
	pub := must(pubC.CreateStream(ctx))
	if err := pub.Publish(ctx, "s", "live"); err != nil {
		t.Fatal(err)
	}
	rec := &packetRecorder{}
	c := dial(t, ts, "live", ClientConfig{})
	s := must(c.CreateStream(ctx))
	s.OnPacket = rec.add
	if err := s.Play(ctx, "s", -1000); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		p := interframe(byte(i))
		if i == 0 {
			p = keyframe(0)
		}
		if err := pub.WritePacket(media.Packet{Kind: media.Video, Time: uint32(i * 40), Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the player to receive every frame", func() bool { return len(rec.snapshot()) >= 20 })
	if st := ts.srv.EgressStats(); st.ClockRounds != 0 || st.GoroutineRounds == 0 {
		t.Fatalf("egress %+v: want goroutine rounds only", st)
	}
}
