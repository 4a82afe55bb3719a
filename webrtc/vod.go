package webrtc

import (
	"context"
	"math"
	"time"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/playback"
)

// reasonCompleted closes a viewer of a recorded stream whose file has
// been played out.
const reasonCompleted = "completed"

// Pacing of a recorded stream for WebRTC: RTP is sent at the pace of its
// timestamps, since a browser's jitter buffer holds only what the network
// delays; a file sent far ahead of real time would be presented at once
// or dropped.
const (
	vodPaceBuffer = 100
	vodPaceLead   = 20 * time.Millisecond
)

// vodCodecWait bounds the wait for a file's first frames, which tell its
// codecs and B-frames: longer than a live stream's burstWait, since the
// file is there and its frames come at the pace of their timestamps
// (bframeProbe of them, a fifth of a second of video), which a loaded
// machine can stretch past a second; a live stream may not be published
// at all.
const vodCodecWait = 5 * time.Second

// vodLinger is how long a viewer's peer stays open after the file's last
// packet: that packet is still in the browser's jitter buffer and decoder,
// which a busy receiver can hold seconds behind, and closing the peer
// drops whatever they hold.
const vodLinger = 2 * time.Second

// recordedFile tells whether name, not being published, can play from a
// file of the instance's streams folder, with the rules an RTMP play of it
// follows (docs/playback.md#which-source-an-item-plays).
func recordedFile(in *instance.Instance, name string) bool {
	src, err := playback.Resolve(in, playback.Item{Name: name, Start: 0, Len: -1}, "")
	return err == nil && !src.Live
}

// acquireVODOutlet starts an outlet of its own for one viewer of a
// recorded stream: the engine's player reads the file (the player an
// RTMP play uses), paced in real time, and the outlet turns its packets
// into RTP as it does a live stream's. The file's start is held (the
// player paused) until the viewer's peer is connected.
func (s *Server) acquireVODOutlet(in *instance.Instance, t target) *outlet {
	o := &outlet{s: s, key: streamKey(t.App, t.Instance, t.Stream), t: t, ready: make(chan struct{}), done: make(chan struct{}), lenSize: 4,
		rtx:        newRetransmitRing(s.cfg.RetransmitPackets),
		firstFrame: make(chan struct{}), firstMedia: make(chan struct{}), converted: make(chan *media.Packet, 64), refs: 1}
	o.audio.Store("")
	o.player = in.NewPlayer(playback.Options{Buffer: vodPaceBuffer, Lead: vodPaceLead, Log: s.log},
		playback.Item{Name: t.Stream, Start: 0, Len: -1}, false)
	ctx, cancel := context.WithCancel(s.ctx)
	o.cancel = cancel
	s.wg.Add(1)
	go o.runPlayer(ctx)
	o.waitCodecs(vodCodecWait)
	// The codecs are known (or the wait is over): hold the file until the
	// viewer can receive it, so it starts at its beginning.
	o.player.Pause(true)
	return o
}

// runPlayer is run for an outlet fed by a player.
func (o *outlet) runPlayer(ctx context.Context) {
	defer o.s.wg.Done()
	defer close(o.done)
	defer o.player.Close()
	defer o.stopConverters()
	defer o.stopWorkers()
	o.ctx = ctx
	o.player.Start()
	var evs []playback.Event
	first := true
	var tl vodTimeline
	var linger *time.Timer
	var lingerC <-chan time.Time
	stopLinger := func() {
		if linger != nil {
			linger.Stop()
			linger, lingerC = nil, nil
		}
	}
	defer stopLinger()
	for {
		evs = o.player.Drain(evs[:0])
		o.mu.Lock()
		vs := o.viewers
		o.mu.Unlock()
		for i := range evs {
			switch evs[i].Kind {
			case playback.EventPacket:
				// The packet may be shared (the file cache): the output
				// time goes on a copy.
				pk := *evs[i].Packet
				pk.Time = tl.out(evs[i].Time, time.Now())
				o.packet(&pk, vs)
			case playback.EventStop:
				stopLinger()
				linger = time.NewTimer(vodLinger)
				lingerC = linger.C
			case playback.EventNotFound:
				o.endViewers(reasonCompleted)
			case playback.EventSeek:
				// A seek after the end plays on: the viewers stay.
				stopLinger()
				tl.rebase = true
			case playback.EventUnpause:
				// The first is the file's start once the viewer connected
				// (the player waited, paused, from its first packets on):
				// the times go on as they are. Later ones end a pause.
				tl.unpauses++
				tl.rebase = tl.rebase || tl.unpauses > 1
			default:
			}
		}
		clear(evs)
		if first {
			close(o.ready)
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case pk := <-o.converted:
			o.video(pk, vs)
		case <-o.player.Ready():
		case <-lingerC:
			linger, lingerC = nil, nil
			o.endViewers(reasonCompleted)
		}
	}
}

// vodTimeline keeps the RTP time of a recorded stream going forward
// across a NetStream's pause and seek (docs/webrtc.md#pause-and-seek):
// the player restarts its times at the file's position after a seek, and
// a browser's jitter buffer would take times that jump back, or stand
// still over a pause, for packets out of place. After either, the next
// packet is placed where the last one was plus the wall time between
// them, and the file's times go on from there. Outlet goroutine only.
type vodTimeline struct {
	unpauses int // EventUnpause seen
	shift    int64
	last     int64 // output time of the last packet, ms; valid when sent
	at       time.Time
	sent     bool
	rebase   bool
}

func (t *vodTimeline) out(ms uint32, now time.Time) uint32 {
	in := int64(ms)
	if t.rebase && t.sent {
		t.shift = t.last + max(now.Sub(t.at).Milliseconds(), 1) - in
	}
	t.rebase = false
	out := max(in+t.shift, 0)
	t.last, t.at, t.sent = max(t.last, out), now, true
	return uint32(min(out, math.MaxUint32))
}
