package media

import (
	"bytes"
	"testing"
)

// opusStart and opusFrame are E-RTMP Opus messages (docs/flv.md#audio-tags):
// a SequenceStart and a CodedFrames.
func opusStart(ts uint32) *Packet {
	return &Packet{Kind: Audio, Time: ts, Audience: ForEnhanced, Payload: []byte{0x90, 'O', 'p', 'u', 's', 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd'}}
}

func opusFrame(ts uint32) *Packet {
	return &Packet{Kind: Audio, Time: ts, Audience: ForEnhanced, Payload: []byte{0x91, 'O', 'p', 'u', 's', 0xfc, 0xff}}
}

func legacy(p *Packet) *Packet { p.Audience = ForLegacy; return p }

// A stream carrying its audio twice reaches each player with one copy:
// live, in the configuration cache and in the GOP cache, whichever
// configuration was written last.
func TestAudienceSplitsAudioTracks(t *testing.T) {
	r := newRegistry(t, Config{})
	p := publish(t, r, "s")
	early := r.Subscribe("s", SubscribeOptions{})
	earlyOld := r.Subscribe("s", SubscribeOptions{Legacy: true})
	defer early.Close()
	defer earlyOld.Close()
	if n := p.LegacySubscribers(); n != 1 {
		t.Fatalf("LegacySubscribers = %d, want 1", n)
	}
	p.Write(avcSeq(0))
	p.Write(opusStart(0))
	p.Write(legacy(aacSeq(0)))
	p.Write(key(0, 100))
	p.Write(opusFrame(10))
	p.Write(legacy(aac(11, 20)))
	p.Write(inter(40, 50))

	// Both configurations stay cached: they must not replace each other.
	late := r.Subscribe("s", SubscribeOptions{})
	lateOld := r.Subscribe("s", SubscribeOptions{Legacy: true})
	defer late.Close()
	defer lateOld.Close()

	const wantNew = "pub v:cfg@0 a:cfg@0 v:key@0 a@10 v@40"
	const wantOld = "pub v:cfg@0 a:cfg@0 v:key@0 a@11 v@40"
	for _, c := range []struct {
		name string
		s    *Subscriber
		want string
		head byte
	}{
		{"enhanced, from the start", early, wantNew, 0x90},
		{"legacy, from the start", earlyOld, wantOld, 0xaf},
		{"enhanced, late", late, wantNew, 0x90},
		{"legacy, late", lateOld, wantOld, 0xaf},
	} {
		evs := c.s.Drain(nil)
		if got := describe(evs); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		for _, ev := range evs {
			if ev.Packet != nil && ev.Packet.Kind == Audio && ev.Packet.Payload[0]&0xf0 != c.head&0xf0 {
				t.Errorf("%s: audio % x, want only %#x", c.name, ev.Packet.Payload[:2], c.head)
			}
		}
	}
	if n := p.LegacySubscribers(); n != 2 {
		t.Fatalf("LegacySubscribers = %d, want 2", n)
	}
	// Monitoring names the codec as published, not the converted copy.
	if snap := r.Snapshot(); len(snap) != 1 || !bytes.HasPrefix(snap[0].AudioHeader, []byte{0x91}) {
		t.Errorf("snapshot audio header: %+v", snap)
	}
}

// An AllAudiences subscriber (a cluster feed) gets both copies, live and
// from the caches, each with its Audience; it counts as a legacy player
// only while its far side says it has some.
func TestAllAudiences(t *testing.T) {
	r := newRegistry(t, Config{})
	p := publish(t, r, "s")
	early := r.Subscribe("s", SubscribeOptions{AllAudiences: true})
	defer early.Close()
	p.Write(avcSeq(0))
	p.Write(opusStart(0))
	p.Write(legacy(aacSeq(0)))
	p.Write(key(0, 100))
	p.Write(opusFrame(10))
	p.Write(legacy(aac(11, 20)))
	late := r.Subscribe("s", SubscribeOptions{AllAudiences: true})
	defer late.Close()
	const want = "pub v:cfg@0 a:cfg@0 a:cfg@0 v:key@0 a@10 a@11"
	for _, c := range []struct {
		name string
		s    *Subscriber
	}{{"from the start", early}, {"late", late}} {
		evs := c.s.Drain(nil)
		if got := describe(evs); got != want {
			t.Errorf("%s: %s, want %s", c.name, got, want)
		}
		var enhanced, old int
		for _, ev := range evs {
			if ev.Packet == nil || ev.Packet.Kind != Audio {
				continue
			}
			switch ev.Packet.Audience {
			case ForEnhanced:
				enhanced++
			case ForLegacy:
				old++
			}
		}
		if enhanced != 2 || old != 2 {
			t.Errorf("%s: %d Opus and %d AAC messages with their audiences, want 2 and 2", c.name, enhanced, old)
		}
	}
	if n := p.LegacySubscribers(); n != 0 {
		t.Fatalf("LegacySubscribers = %d before any demand, want 0", n)
	}
	early.SetLegacyDemand(true)
	if n := p.LegacySubscribers(); n != 1 {
		t.Fatalf("LegacySubscribers = %d with one feed's demand, want 1", n)
	}
	early.SetLegacyDemand(false)
	if n := p.LegacySubscribers(); n != 0 {
		t.Fatalf("LegacySubscribers = %d after the demand ended, want 0", n)
	}
}
