package media

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestSlowSubscriber drives a 25 fps stream (GOP of 25, one AAC frame per
// video frame) in fake time to three subscribers: one drains every tick,
// one drains once a second (falls behind, drops to keyframes, recovers) and
// one never drains (cut off). Write is synchronous, so every tick returning
// proves the publisher was never held up.
func TestSlowSubscriber(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantDetail string
		cutBy      time.Duration // the never-draining one is cut off by then
		lagEvery   int           // ticks between the lagging subscriber's drains
	}{
		{"queue fills with audio first", Config{QueuePackets: 64, SlowConsumerAfter: 10 * time.Second}, "queue full", 2 * time.Second, 25},
		{"behind too long", Config{QueuePackets: 256, SlowConsumerAfter: 2 * time.Second}, "behind for longer than 2s", 5 * time.Second, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, logs := newLoggedRegistry(t, tc.cfg)
				p := publish(t, r, "live")
				fast := r.Subscribe("live", SubscribeOptions{})
				lagging := r.Subscribe("live", SubscribeOptions{})
				stuck := r.Subscribe("live", SubscribeOptions{})
				defer fast.Close()
				defer lagging.Close()
				defer stuck.Close()
				p.Write(avcSeq(0))
				p.Write(aacSeq(0))

				var fastEvs, lagEvs []Event
				buf := make([]Event, 0, 1024)
				start := time.Now()
				var cutAt time.Duration
				const ticks = 250 // 10 s
				for i := range ticks {
					ts := uint32(i * 40)
					if i%25 == 0 {
						p.Write(key(ts, 1000))
					} else {
						p.Write(inter(ts, 300))
					}
					p.Write(aac(ts+1, 100))
					fastEvs = append(fastEvs, fast.Drain(buf[:0])...)
					if i%tc.lagEvery == tc.lagEvery-1 {
						lagEvs = append(lagEvs, lagging.Drain(buf[:0])...)
					}
					if cutAt == 0 && stuck.Err() != nil {
						cutAt = time.Since(start)
					}
					time.Sleep(40 * time.Millisecond)
				}

				lagEvs = lagging.Drain(lagEvs)

				// The fast subscriber got everything, in order.
				if got, want := len(fastEvs), 1+2+2*ticks; got != want {
					t.Errorf("fast subscriber got %d events, want %d", got, want)
				}
				if fast.Err() != nil || fast.Stats().Dropped != 0 {
					t.Errorf("fast subscriber: err %v, %+v", fast.Err(), fast.Stats())
				}

				// The lagging one lost video only, and resumed at keyframes.
				if lagging.Err() != nil {
					t.Fatalf("lagging subscriber cut off: %v", lagging.Err())
				}
				if lagging.Stats().Dropped == 0 {
					t.Error("lagging subscriber dropped nothing: test does not exercise backpressure")
				}
				checkResumesAtKeyframes(t, lagEvs)
				audio := 0
				for _, ev := range lagEvs {
					if ev.Type == EventPacket && ev.Packet.Kind == Audio && !ev.Packet.Config {
						audio++
					}
				}
				if audio != ticks {
					t.Errorf("lagging subscriber got %d audio frames, want all %d", audio, ticks)
				}

				// The stuck one was cut off, once, with its reason.
				if !errors.Is(stuck.Err(), ErrSlowConsumer) {
					t.Fatalf("stuck subscriber Err = %v, want ErrSlowConsumer", stuck.Err())
				}
				if cutAt > tc.cutBy {
					t.Errorf("cut off after %v, want by %v", cutAt, tc.cutBy)
				}
				select {
				case <-stuck.Ready():
				default:
					t.Error("Ready not signaled on cut-off")
				}
				if got := stuck.Drain(nil); len(got) != 0 {
					t.Errorf("cut-off subscriber still holds %d events", len(got))
				}
				out := logs.String()
				if n := strings.Count(out, "subscriber cut off"); n != 1 {
					t.Errorf("%d cut-off lines, want 1:\n%s", n, out)
				}
				if !strings.Contains(out, "slow_consumer") || !strings.Contains(out, tc.wantDetail) {
					t.Errorf("cut-off line lacks reason %q:\n%s", tc.wantDetail, out)
				}
				if !strings.Contains(out, "dropping video to the next keyframe") {
					t.Errorf("no drop warning:\n%s", out)
				}
				st := p.Stats()
				if st.SlowConsumers != 1 || st.Dropped == 0 {
					t.Errorf("publication stats %+v", st)
				}
			})
		})
	}
}

// checkResumesAtKeyframes asserts that whenever a subscriber's video skips
// frames, the next frame it gets is a keyframe (40 ms frame spacing).
func checkResumesAtKeyframes(t *testing.T, evs []Event) {
	t.Helper()
	var last *Packet
	for _, ev := range evs {
		if ev.Type != EventPacket || ev.Packet.Kind != Video || ev.Packet.Config {
			continue
		}
		pkt := ev.Packet
		if !pkt.Keyframe && (last == nil || pkt.Time != last.Time+40) {
			prev := "nothing"
			if last != nil {
				prev = describe([]Event{{Packet: last}})
			}
			t.Fatalf("video %s follows %s: a gap must end at a keyframe", describe([]Event{ev}), prev)
		}
		last = pkt
	}
}

// TestNonDroppableFull: a stuck subscriber of an audio-only stream is cut off
// when the queue is full, long before SlowConsumerAfter.
func TestNonDroppableFull(t *testing.T) {
	r, logs := newLoggedRegistry(t, Config{QueuePackets: 16, SlowConsumerAfter: time.Hour})
	p := publish(t, r, "a")
	s := r.Subscribe("a", SubscribeOptions{})
	defer s.Close()
	for i := range 40 {
		p.Write(aac(uint32(i), 10))
	}
	if !errors.Is(s.Err(), ErrSlowConsumer) {
		t.Fatalf("Err = %v", s.Err())
	}
	if !strings.Contains(logs.String(), "queue full") {
		t.Errorf("log: %s", logs.String())
	}
}

// TestHugeKeyframe: a message larger than the byte bound still reaches a
// subscriber whose queue is empty.
func TestHugeKeyframe(t *testing.T) {
	r := newRegistry(t, Config{QueueBytes: 64 << 10})
	p := publish(t, r, "s")
	s := r.Subscribe("s", SubscribeOptions{})
	defer s.Close()
	drainAll(s)
	p.Write(key(0, 200<<10))
	if got := drainAll(s); got != "v:key@0" || s.Err() != nil {
		t.Fatalf("got %q, err %v", got, s.Err())
	}
}

// TestConfigNeverDropped: while a subscriber is behind and dropping video,
// sequence headers and metadata still arrive.
func TestConfigNeverDropped(t *testing.T) {
	r := newRegistry(t, Config{QueuePackets: 16})
	p := publish(t, r, "s")
	s := r.Subscribe("s", SubscribeOptions{})
	defer s.Close()
	drainAll(s)
	p.Write(key(0, 10))
	for i := 1; i < 9; i++ {
		p.Write(inter(uint32(i*40), 10))
	}
	p.Write(inter(400, 10)) // dropped: behind since 8 (half of 16) are queued
	p.Write(avcSeq(401))
	p.SetMetadata(meta())
	p.Write(key(440, 10)) // still behind: dropped too
	got := drainAll(s)
	want := "v:key@0 v@40 v@80 v@120 v@160 v@200 v@240 v@280 v:cfg@401 d@0"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	p.Write(inter(480, 10)) // caught up, but must wait for a keyframe
	p.Write(key(520, 10))
	if got := drainAll(s); got != "v:key@520" {
		t.Fatalf("after catching up: %s", got)
	}
	if s.Stats().Dropped != 4 { // 320, 400, 440 while behind, 480 until the keyframe
		t.Errorf("Dropped = %d, want 4", s.Stats().Dropped)
	}
}
