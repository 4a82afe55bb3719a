package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
)

// A stream whose audio is carried twice at the origin (a WebRTC
// publisher's Opus for Enhanced RTMP players, AAC made from it for the
// others, docs/webrtc.md#players-that-predate-enhanced-rtmp) reaches a
// relay's players the same way: a legacy player on the edge gets the
// AAC and no Opus, an Enhanced one the Opus and no AAC. The origin
// counts the feed as a legacy player (so that it converts) only while
// the edge has one.
func TestRelayCarriesBothAudiences(t *testing.T) {
	nodes, reg2, pub := startRelayPair(t)
	opusHead := []byte{0x90, 'O', 'p', 'u', 's', 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2}
	opus := []byte{0x91, 'O', 'p', 'u', 's', 0xfc, 0xff, 0xfe}
	aacHead := []byte{0xaf, 0, 0x11, 0x90}
	aac := []byte{0xaf, 1, 0x21, 0x10}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// As a WebRTC publisher does: video and Opus for everyone who
	// decodes it, AAC only while there are legacy players.
	wg.Go(func() {
		pub.Write(&media.Packet{Kind: media.Audio, Payload: opusHead, Audience: media.ForEnhanced})
		pub.Write(&media.Packet{Kind: media.Audio, Payload: aacHead, Audience: media.ForLegacy})
		for i := uint32(0); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			b := []byte{0x27, 1, 0, 0, 0, byte(i)}
			if i%10 == 0 {
				b[0] = 0x17
			}
			pub.Write(&media.Packet{Kind: media.Video, Time: i * 20, Payload: b})
			pub.Write(&media.Packet{Kind: media.Audio, Time: i * 20, Payload: opus, Audience: media.ForEnhanced})
			if pub.LegacySubscribers() > 0 {
				pub.Write(&media.Packet{Kind: media.Audio, Time: i * 20, Payload: aac, Audience: media.ForLegacy})
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	enhanced := reg2.Subscribe("cam", media.SubscribeOptions{})
	defer enhanced.Close()
	testutil.WaitFor(t, 60*time.Second, "the relay to the edge", func() bool { return nodes[1].Stats().Relays == 1 })
	// A feed with only Enhanced players behind it asks for no AAC.
	time.Sleep(3 * keepEvery)
	if n := pub.LegacySubscribers(); n != 0 {
		t.Fatalf("the origin counts %d legacy players with only an Enhanced player on the edge", n)
	}
	old := reg2.Subscribe("cam", media.SubscribeOptions{Legacy: true})
	testutil.WaitFor(t, 30*time.Second, "the origin to count the edge's legacy player", func() bool { return pub.LegacySubscribers() == 1 })

	// count drains sub until it has seen want audio messages, and returns
	// how many were Opus and AAC (headers included).
	count := func(who string, sub *media.Subscriber, want int) (nOpus, nAAC int) {
		deadline := time.After(60 * time.Second)
		for nOpus+nAAC < want {
			select {
			case <-sub.Ready():
				for _, ev := range sub.Drain(nil) {
					if ev.Packet == nil || ev.Packet.Kind != media.Audio {
						continue
					}
					switch ev.Packet.Payload[0] >> 4 {
					case 9:
						nOpus++
					case 10:
						nAAC++
					}
				}
			case <-deadline:
				t.Fatalf("%s on the edge: %d Opus and %d AAC messages after 60 s", who, nOpus, nAAC)
			}
		}
		return nOpus, nAAC
	}
	if o, a := count("the legacy player", old, 30); o != 0 || a < 30 {
		t.Errorf("the legacy player on the edge got %d Opus and %d AAC messages; want AAC only", o, a)
	}
	if o, a := count("the Enhanced player", enhanced, 30); a != 0 || o < 30 {
		t.Errorf("the Enhanced player on the edge got %d Opus and %d AAC messages; want Opus only", o, a)
	}
	old.Close()
	testutil.WaitFor(t, 30*time.Second, "the origin to stop counting a legacy player", func() bool { return pub.LegacySubscribers() == 0 })
}
