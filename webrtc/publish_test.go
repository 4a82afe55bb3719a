package webrtc

import (
	"bytes"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/rtph264"
)

// browserPublisher publishes synthetic H.264 the way a browser does: a
// keyframe at the start and then only when asked (a PLI or a FIR, as it
// is told to heed), P frames of three packets in between, 25 frames a
// second, and Opus.
type browserPublisher struct {
	pc    *pion.PeerConnection
	video *pion.TrackLocalStaticRTP
	audio *pion.TrackLocalStaticSample

	heedPLI, heedFIR bool
	// noFirstKey: no keyframe until one is asked for.
	noFirstKey bool
	// swapEvery: every swapEvery-th frame has its first two packets sent
	// in the wrong order, as UDP or a retransmission delivers them.
	swapEvery int
	// padEvery: a padding-only packet follows every padEvery-th frame,
	// as Chromium probes bandwidth.
	padEvery int

	// dropAndStop, when set, makes the next frame lose its second packet
	// and the one after it a keyframe, the last video sent.
	dropAndStop atomic.Bool
	keyWanted   atomic.Bool
	plis        atomic.Int64 // PLIs received
	firs        atomic.Int64 // FIRs received
	frames      atomic.Int64 // frames sent
	keyframes   atomic.Int64
	swapped     atomic.Int64
	stop        chan struct{}
	wg          sync.WaitGroup
}

func startBrowserPublisher(t testing.TB, url string, bp *browserPublisher) {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	bp.pc, bp.stop = pc, make(chan struct{})
	bp.video, _ = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "pub")
	bp.audio, _ = pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	vt, err := pc.AddTransceiverFromTrack(bp.video, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(bp.audio, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	status, _, body := negotiate(t, pc, url, "anything")
	if status != http.StatusCreated {
		_ = pc.Close()
		t.Fatalf("WHIP POST: %d %s", status, body)
	}
	sender := vt.Sender()
	bp.wg.Go(func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.PictureLossIndication:
					bp.plis.Add(1)
					if bp.heedPLI {
						bp.keyWanted.Store(true)
					}
				case *rtcp.FullIntraRequest:
					bp.firs.Add(1)
					if bp.heedFIR {
						bp.keyWanted.Store(true)
					}
				}
			}
		}
	})
	bp.wg.Go(bp.run)
	t.Cleanup(bp.close)
}

func (bp *browserPublisher) run() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	opus := []byte{0xfc, 0xff, 0xfe, 0x01, 0x02}
	seq := uint16(40000)
	// last: the next frame is the last video; done: it was sent.
	last, done := false, false
	for n := 0; ; n++ {
		select {
		case <-bp.stop:
			return
		case <-tick.C:
		}
		_ = bp.audio.WriteSample(pionmedia.Sample{Data: opus, Duration: 20 * time.Millisecond})
		if n%2 == 1 {
			continue
		}
		f := n / 2
		if done {
			continue
		}
		drop := !last && bp.dropAndStop.Swap(false)
		var payloads [][]byte
		if (f == 0 && !bp.noFirstKey) || bp.keyWanted.Swap(false) || last {
			for _, nal := range [][]byte{testSPS, testPPS, testIDR(f)} {
				payloads = rtph264.AppendPayloads(payloads, nal, 1200)
			}
			bp.keyframes.Add(1)
		} else {
			payloads = rtph264.AppendPayloads(payloads, append(testP(f), bytes.Repeat([]byte{0x5a}, 2500)...), 1200)
		}
		pkts := make([]*rtp.Packet, len(payloads))
		for i, pl := range payloads {
			pkts[i] = &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(f * 3600), Marker: i == len(payloads)-1}, Payload: pl}
			seq++
		}
		if bp.swapEvery > 0 && f%bp.swapEvery == bp.swapEvery-1 {
			pkts[0], pkts[1] = pkts[1], pkts[0]
			bp.swapped.Add(1)
		}
		if bp.padEvery > 0 && f%bp.padEvery == 0 {
			pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PaddingSize: 200, SequenceNumber: seq, Timestamp: uint32(f * 3600)}})
			seq++
		}
		for i, p := range pkts {
			if drop && i == 1 {
				continue
			}
			_ = bp.video.WriteRTP(p)
		}
		bp.frames.Add(1)
		done, last = last, drop
	}
}

func (bp *browserPublisher) close() {
	select {
	case <-bp.stop:
		return
	default:
	}
	close(bp.stop)
	_ = bp.pc.Close()
	bp.wg.Wait()
}

// waitPublisher returns the server's publisher of live/cam once its video
// track is read.
func waitPublisher(t testing.TB, st *stack) *publisher {
	t.Helper()
	var p *publisher
	testutil.WaitFor(t, waitLong, "the WHIP publisher's video", func() bool {
		p = st.srv.publisherOf(streamKey("live", "_definst_", "cam"))
		return p != nil && p.frames.Load() > 0
	})
	return p
}

// lateJoiner subscribes to live/cam like an RTMP player and reports
// whether a video keyframe reached it.
func lateJoiner(t testing.TB, st *stack) func() bool {
	t.Helper()
	in, _ := connectClient(t, st, "")
	sub := in.Streams().Subscribe("cam", media.SubscribeOptions{})
	t.Cleanup(sub.Close)
	var evs []media.Event
	return func() bool {
		evs = sub.Drain(evs[:0])
		for _, ev := range evs {
			if ev.Type == media.EventPacket && ev.Packet.Kind == media.Video && ev.Packet.Keyframe {
				return true
			}
		}
		return false
	}
}

// TestWHIPCacheDroppedAsksKeyframe: a browser sends a keyframe only when
// asked, so its GOP grows until the engine's GOP cache drops it; a player
// joining after that waited for a keyframe nobody asked for (a CI run's
// rtmpdump got 8 s of audio and no video). The publisher asks for one
// when the cache empties.
func TestWHIPCacheDroppedAsksKeyframe(t *testing.T) {
	// A cache of 60 messages: 0.8 s of this stream. No periodic
	// requests, so only the dropped cache can ask.
	st := startStackMedia(t, Config{KeyframeRequestInterval: -1}, media.Config{GOPCacheMaxPackets: 60})
	bp := &browserPublisher{heedPLI: true}
	startBrowserPublisher(t, st.base+"/whip/live/cam", bp)
	p := waitPublisher(t, st)
	// Several GOPs each outgrew the cache and were replaced at a
	// requested keyframe.
	testutil.WaitFor(t, waitLong, "keyframes asked for after the cache dropped", func() bool {
		return p.keyframes.Load() >= 4 && bp.keyframes.Load() >= 4
	})
	for i := range 3 {
		got := lateJoiner(t, st)
		testutil.WaitFor(t, waitLong, "a keyframe at a late joiner", got)
		t.Logf("joiner %d: a keyframe arrived; publisher sent %d keyframes for %d PLIs", i, bp.keyframes.Load(), bp.plis.Load())
	}
	if n := p.lost.Load(); n != 0 {
		t.Errorf("%d frames lost on loopback", n)
	}
}

// TestWHIPPeriodicKeyframe: with keyframe_request_interval set, a
// browser's GOP is renewed on the server's request, whether or not
// anyone lost a packet or joined.
func TestWHIPPeriodicKeyframe(t *testing.T) {
	st := startStack(t, Config{KeyframeRequestInterval: 300 * time.Millisecond})
	bp := &browserPublisher{heedPLI: true}
	startBrowserPublisher(t, st.base+"/whip/live/cam", bp)
	p := waitPublisher(t, st)
	testutil.WaitFor(t, waitLong, "five keyframes", func() bool { return p.keyframes.Load() >= 5 })
	if p.plis.Load() < 4 || bp.plis.Load() < 4 {
		t.Errorf("server sent %d PLIs, the publisher received %d; want 4 or more", p.plis.Load(), bp.plis.Load())
	}
	if s := st.srv.Stats(); s.KeyframeRequests < p.plis.Load() || s.Keyframes < 5 {
		t.Errorf("server stats: %d keyframe requests, %d keyframes; want the session's %d and 5 or more", s.KeyframeRequests, s.Keyframes, p.plis.Load())
	}
	// The server's stream caches the latest GOP, never one from the
	// first keyframe on.
	joined := lateJoiner(t, st)
	testutil.WaitFor(t, waitLong, "a keyframe at a late joiner", joined)
}

// TestWHIPKeyframeFIR: a publisher that ignores PLIs gets a FIR once
// several went unanswered, and its keyframe starts the stream.
func TestWHIPKeyframeFIR(t *testing.T) {
	st := startStack(t, Config{KeyframeRequestInterval: -1})
	bp := &browserPublisher{heedFIR: true, noFirstKey: true}
	startBrowserPublisher(t, st.base+"/whip/live/cam", bp)
	var p *publisher
	testutil.WaitFor(t, waitLong, "a keyframe from the WHIP publisher", func() bool {
		p = st.srv.publisherOf(streamKey("live", "_definst_", "cam"))
		return p != nil && p.keyframes.Load() > 0
	})
	if bp.firs.Load() == 0 || p.firs.Load() == 0 || p.plis.Load() < firAfter {
		t.Errorf("%d PLIs and %d FIRs sent, %d FIRs received; want the FIR with the third request", p.plis.Load(), p.firs.Load(), bp.firs.Load())
	}
	if n := p.frames.Load(); n == 0 {
		t.Error("nothing published")
	}
}

// TestWHIPReordering: packets that arrive out of order within the reorder
// wait complete their frames: no frame lost, none held back for a
// keyframe.
func TestWHIPReordering(t *testing.T) {
	p, bp := publishWithoutLoss(t, &browserPublisher{heedPLI: true, swapEvery: 5}, func(bp *browserPublisher) int64 { return bp.swapped.Load() })
	if p.reordered.Load() == 0 {
		t.Errorf("no packet put back in order, %d frames had two swapped", bp.swapped.Load())
	}
}

// TestWHIPPadding: padding-only packets, which Chromium sends on the
// video's SSRC to probe bandwidth, cost no frame (each once made the
// depacketizer drop a unit and wait for a keyframe: frames_lost 3 to 5
// in each e2e run).
func TestWHIPPadding(t *testing.T) {
	p, _ := publishWithoutLoss(t, &browserPublisher{heedPLI: true, padEvery: 3}, func(bp *browserPublisher) int64 { return bp.frames.Load() / 3 })
	if p.padding.Load() == 0 {
		t.Error("no padding packet counted")
	}
}

// publishWithoutLoss publishes with bp until 20 more of what count counts
// were sent, closes, and checks that no frame was lost nor any packet
// given up meanwhile.
func publishWithoutLoss(t *testing.T, bp *browserPublisher, count func(*browserPublisher) int64) (*publisher, *browserPublisher) {
	t.Helper()
	st := startStack(t, Config{KeyframeRequestInterval: -1})
	startBrowserPublisher(t, st.base+"/whip/live/cam", bp)
	p := waitPublisher(t, st)
	// The first packets may join a frame halfway (the track starts
	// sending when the session is up): losses count from here.
	lost0, skipped0, n0 := p.lost.Load(), p.skipped.Load(), count(bp)
	testutil.WaitFor(t, waitLong, "20 more frames of the kind", func() bool { return count(bp) >= n0+20 })
	bp.close()
	testutil.WaitFor(t, waitLong, "the session to end", func() bool { return st.srv.publisherOf(streamKey("live", "_definst_", "cam")) == nil })
	lost, skipped := p.lost.Load()-lost0, p.skipped.Load()-skipped0
	t.Logf("sent %d frames (%d swapped, padding after every %d-th); published %d, %d packets reordered, %d padding, %d frames lost, %d packets given up",
		bp.frames.Load(), bp.swapped.Load(), bp.padEvery, p.frames.Load(), p.reordered.Load(), p.padding.Load(), lost, skipped)
	if lost != 0 || skipped != 0 {
		t.Errorf("%d frames lost, %d packets given up; want none", lost, skipped)
	}
	return p, bp
}

// TestWHIPGapTimesOut: a packet that never comes (lost, and not resent) is
// given up after the reorder wait even when no other packet arrives: the
// keyframe held behind it is published.
func TestWHIPGapTimesOut(t *testing.T) {
	st := startStack(t, Config{KeyframeRequestInterval: -1})
	bp := &browserPublisher{heedPLI: true}
	startBrowserPublisher(t, st.base+"/whip/live/cam", bp)
	p := waitPublisher(t, st)
	keys, lost, skipped := p.keyframes.Load(), p.lost.Load(), p.skipped.Load()
	bp.dropAndStop.Store(true)
	testutil.WaitFor(t, waitLong, "the keyframe sent after the gap", func() bool { return p.keyframes.Load() > keys })
	if p.lost.Load() != lost+1 || p.skipped.Load() != skipped+1 {
		t.Errorf("%d frames lost and %d packets given up since the drop; want 1 and 1", p.lost.Load()-lost, p.skipped.Load()-skipped)
	}
	if s := st.srv.Stats(); s.FramesLost != p.lost.Load() {
		t.Errorf("server stats: %d frames lost, the session %d", s.FramesLost, p.lost.Load())
	}
}
