package webrtc

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/media/rtph264"
)

// rtpMTU bounds an RTP payload: with the RTP, SRTP, UDP and IP headers a
// packet stays under the 1280 bytes every IPv6 path carries.
const rtpMTU = 1200

// burstWait bounds how long a WHEP POST waits for a new outlet's first
// drain (the stream's cached configuration and GOP), which tells the
// stream's codecs.
const burstWait = time.Second

// viewer is a WHEP session's side of an outlet: its tracks.
type viewer struct {
	ss         *session
	o          *outlet
	video      *viewTrack
	audio      *viewTrack
	audioCodec string

	fresh    bool // outlet goroutine only: the GOP cache goes first
	attached bool // o.mu guards
	packets  atomic.Uint64
	plis     atomic.Uint64
	// retransmitted counts the packets sent again for NACKs.
	retransmitted atomic.Uint64
	rtxBudget     retransmitBudget // the video RTCP goroutine's
	// away: the peer's connection is disconnected (it may come back):
	// nothing is sent to it.
	away atomic.Bool
}

// preparePlay finds the stream's outlet and adds this viewer's tracks.
func (ss *session) preparePlay() *httpError {
	var o *outlet
	if ss.recorded {
		o = ss.s.acquireVODOutlet(ss.in, ss.t)
	} else {
		var herr *httpError
		if o, herr = ss.s.acquireOutlet(ss.in, ss.t); herr != nil {
			return herr
		}
	}
	if o.bframes.Load() {
		// Re-encoded without B-frames where configured
		// (docs/webrtc.md#b-frames-re-encoded).
		if ro := ss.s.reencodedOutlet(ss, o); ro != nil {
			o = ro
		}
	}
	v := &viewer{ss: ss, o: o}
	ss.view = v
	if o.bframes.Load() {
		ss.s.bframes.Add(1)
		return refuse(http.StatusUnprocessableEntity,
			"the stream's H.264 has B-frames, which WebRTC players cannot decode: play it over the WebSocket path")
	}
	var err error
	v.video, err = newViewTrack(pion.RTPCodecCapability{
		MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}, "video")
	if err != nil {
		return refuse(http.StatusInternalServerError, err.Error())
	}
	if herr := ss.addTrack(v, v.video); herr != nil {
		return herr
	}
	v.audioCodec = o.audioCodec()
	if v.audioCodec == "" {
		// No audio seen yet (a publisher whose audio track starts late):
		// Opus, what WebRTC publishers send.
		v.audioCodec = "opus"
	}
	if convertible[v.audioCodec] && ss.s.cfg.Converts() {
		// The outlet's converter makes Opus of it.
		v.audioCodec = "opus"
	}
	var capa pion.RTPCodecCapability
	switch v.audioCodec {
	case "opus":
		capa = pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	case "pcmu":
		capa = pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}
	case "pcma":
		capa = pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}
	default:
		ss.log.Info("webrtc audio not carried", "stream", ss.t.Stream, "codec", v.audioCodec)
	}
	if capa.MimeType != "" {
		if v.audio, err = newViewTrack(capa, "audio"); err != nil {
			return refuse(http.StatusInternalServerError, err.Error())
		}
		if herr := ss.addTrack(v, v.audio); herr != nil {
			return herr
		}
	}
	ss.s.played.Add(1)
	return nil
}

// addTrack adds a track and reads its sender's RTCP: keyframe requests
// go to the outlet, NACKs are answered from the outlet's retransmission
// buffer, the rest feeds the sender reports.
func (ss *session) addTrack(v *viewer, tr *viewTrack) *httpError {
	sender, err := ss.pc.AddTrack(tr)
	if err != nil {
		return refuse(http.StatusInternalServerError, err.Error())
	}
	// The viewer's outlet, read once: detach clears v.o while this
	// goroutine may still be reading the peer's last RTCP.
	o := v.o
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					v.plis.Add(1)
					o.keyframeRequest()
				case *rtcp.TransportLayerNack:
					if tr == v.video {
						v.retransmit(o, tr, p)
					}
				}
			}
		}
	}()
	return nil
}

// attach starts sending to the viewer (its peer is connected: packets
// written before would be lost).
func (v *viewer) attach() {
	v.o.mu.Lock()
	defer v.o.mu.Unlock()
	if v.o.ended {
		v.ss.end(v.o.endReason)
		return
	}
	v.fresh, v.attached = true, true
	v.o.viewers = append(slices.Clip(v.o.viewers), v)
	if v.o.player != nil {
		v.o.player.Pause(false) // the recorded stream starts now
	}
}

// detach stops sending and releases the outlet; once.
func (v *viewer) detach() {
	o := v.o
	o.mu.Lock()
	if i := slices.Index(o.viewers, v); i >= 0 {
		o.viewers = slices.Delete(slices.Clone(o.viewers), i, i+1)
	}
	o.mu.Unlock()
	if v.o != nil {
		v.ss.s.releaseOutlet(o)
		v.o = nil
	}
}

func (v *viewer) statsAttrs() []any {
	return []any{"packets_out", v.packets.Load(), "keyframe_requests", v.plis.Load(), "retransmitted", v.retransmitted.Load()}
}

// write sends one shared packet from a goroutine other than the outlet's
// (the audio converter's).
func (v *viewer) write(tr *viewTrack, p *rtp.Packet) {
	if tr != nil && tr.sendShared(p) {
		v.packets.Add(1)
		v.ss.bytesOut.Add(uint64(len(p.Payload) + rtpHeaderSize))
	}
}

// sendAll writes pkts, the stream's shared packets, to one of the
// viewer's tracks: outlet goroutine only.
func (v *viewer) sendAll(tr *viewTrack, pkts []*rtp.Packet) {
	if tr == nil {
		return
	}
	var n, bytes uint64
	for _, p := range pkts {
		if tr.send(p) {
			n++
			bytes += uint64(len(p.Payload) + rtpHeaderSize)
		}
	}
	if n > 0 {
		v.packets.Add(n)
		v.ss.bytesOut.Add(bytes)
	}
}

// outlet is one played stream: one engine subscriber whose packets are
// turned into RTP once and written to every viewer's tracks.
type outlet struct {
	s   *Server
	key string
	t   target
	sub *media.Subscriber
	reg *media.Registry // sub's, to subscribe again after a cut-off
	// player feeds the outlet of a recorded stream instead of sub: one
	// per viewer, since each plays the file from its start.
	player *playback.Player
	// releaseCopy gives back the converted copy sub plays instead of a
	// Flash-era stream (pagecopy.go); nil when it plays the stream.
	releaseCopy func()

	refs int // s.mu guards

	mu        sync.Mutex // guards viewers, ended, endReason
	viewers   []*viewer  // copy on write: the goroutine reads a snapshot
	ended     bool
	endReason string

	ready   chan struct{} // closed after the first drain
	cancel  context.CancelFunc
	ctx     context.Context // the goroutine's
	done    chan struct{}
	bframes atomic.Bool
	audio   atomic.Value // string: the stream's audio codec as audioCodec names it
	// videoConfig: an AVC sequence header was seen; firstFrame is closed
	// once bframeProbe frames (or a B-frame) tell whether the stream has
	// B-frames.
	videoConfig atomic.Bool
	firstFrame  chan struct{}
	firstMedia  chan struct{} // closed at the first audio or video packet
	mediaSeen   bool          // the goroutine's: firstMedia is closed

	// The goroutine's state.
	sps, pps [][]byte
	lenSize  int
	vseq     uint16
	aseq     uint16
	gop      []*rtp.Packet
	gopBytes int
	// rtx keeps the latest video packets for every viewer's NACKs.
	rtx     *retransmitRing
	gopFull bool
	conv    *converter      // the audio's conversion to Opus, when it needs one
	vconv   *videoConverter // the video's conversion to H.264, when it needs one
	// converted carries the video converter's H.264 tags to the
	// goroutine, which sends them as the stream's video.
	converted chan *media.Packet
	// convRefused, vconvRefused: when a converter could not start for
	// want of a slot (webrtc.max_converters); retried after convRetry.
	convRefused, vconvRefused time.Time
	// audioConfig is the last audio sequence header, which a converter
	// started later needs first.
	audioConfig []byte
	// framesSeen counts coded frames up to bframeProbe.
	framesSeen int
	// lastTime is the time of the latest audio or video packet sent;
	// after a new subscription, until resynced, what is not later (the
	// stream's cached GOP, already sent) is left out.
	lastTime uint32
	resync   bool
	// resubscribed counts the subscriptions taken again after a cut-off.
	resubscribed int
	// workers take shares of a large fan-out; shares waits for them.
	workers []chan fanShare
	shares  sync.WaitGroup
	stopped sync.WaitGroup // the workers' exits
}

// fanShare is a share of one fan-out: the packets for some of the
// viewers.
type fanShare struct {
	vs   []*viewer
	pkts []*rtp.Packet
	// gop is what a fresh viewer gets instead of a video frame; audio
	// names the audio codec of an audio packet (empty for video).
	gop   []*rtp.Packet
	audio string
}

// fanOutShare is the fewest viewers a fan-out worker takes: with fewer the
// handoff costs more than the worker saves.
const fanOutShare = 64

// convRetry is how long a stream waits before trying again for a
// converter slot.
const convRetry = 5 * time.Second

// bframeProbe is how many frames decide whether a stream has B-frames: x264
// and OBS put the first B-frame within the first few frames after a keyframe.
const bframeProbe = 6

// acquireOutlet returns the stream's running outlet, starting one if
// needed, with a reference the caller releases with releaseOutlet.
func (s *Server) acquireOutlet(in *instance.Instance, t target) (*outlet, *httpError) {
	key := streamKey(t.App, t.Instance, t.Stream)
	s.mu.Lock()
	o := s.outlets[key]
	if o == nil {
		o = &outlet{s: s, key: key, t: t, ready: make(chan struct{}), done: make(chan struct{}), lenSize: 4,
			rtx:        newRetransmitRing(s.cfg.RetransmitPackets),
			firstFrame: make(chan struct{}), firstMedia: make(chan struct{}), converted: make(chan *media.Packet, 64)}
		o.audio.Store("")
		var name string
		name, o.releaseCopy = s.outletSource(in, t.Stream)
		o.reg = in.Streams()
		o.sub = o.reg.Subscribe(name, media.SubscribeOptions{})
		ctx, cancel := context.WithCancel(s.ctx)
		o.cancel = cancel
		s.outlets[key] = o
		s.wg.Add(1)
		go o.run(ctx)
	}
	o.refs++
	s.mu.Unlock()
	o.waitCodecs(burstWait)
	return o, nil
}

// waitCodecs waits, bounded by bound, until the stream's first packets
// tell its codecs and whether its H.264 has B-frames.
func (o *outlet) waitCodecs(bound time.Duration) {
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case <-o.ready:
	case <-timer.C:
	}
	if !o.videoConfig.Load() && o.audioCodec() == "" {
		// Published this instant: nothing tells the codecs yet.
		select {
		case <-o.firstMedia:
		case <-timer.C:
		}
	}
	if o.videoConfig.Load() {
		// A video stream: whether it has B-frames shows in the
		// composition times of its first frames.
		select {
		case <-o.firstFrame:
		case <-timer.C:
		}
	}
}

// releaseOutlet drops a reference; the last one stops the outlet.
func (s *Server) releaseOutlet(o *outlet) {
	s.mu.Lock()
	o.refs--
	last := o.refs == 0
	if last && s.outlets[o.key] == o {
		delete(s.outlets, o.key)
	}
	s.mu.Unlock()
	if last {
		o.cancel()
		<-o.done
		if o.releaseCopy != nil {
			o.releaseCopy()
		}
	}
}

func (o *outlet) audioCodec() string { s, _ := o.audio.Load().(string); return s }

// keyframeRequest handles a viewer's PLI or FIR: a WebRTC publisher is
// asked for a keyframe; an RTMP publisher cannot be, and the viewer
// recovers at the stream's next keyframe (docs/webrtc.md#keyframes).
func (o *outlet) keyframeRequest() {
	if p := o.s.publisherOf(o.key); p != nil {
		p.requestKeyframe()
	}
}

// endViewers ends every viewer's session with reason, and refuses later
// ones.
func (o *outlet) endViewers(reason string) {
	o.mu.Lock()
	o.ended, o.endReason = true, reason
	vs := o.viewers
	o.mu.Unlock()
	o.s.mu.Lock()
	if o.s.outlets[o.key] == o {
		delete(o.s.outlets, o.key)
	}
	o.s.mu.Unlock()
	for _, v := range vs {
		v.ss.end(reason)
	}
}

func (o *outlet) run(ctx context.Context) {
	defer o.s.wg.Done()
	defer close(o.done)
	defer func() { o.sub.Close() }() // the latest subscription
	defer o.stopConverters()
	defer o.stopWorkers()
	o.ctx = ctx
	evs := o.sub.Drain(nil)
	first := true
	for {
		o.mu.Lock()
		vs := o.viewers
		o.mu.Unlock()
		for i := range evs {
			switch evs[i].Type {
			case media.EventPacket:
				o.packet(evs[i].Packet, vs)
			case media.EventUnpublishNotify:
				o.endViewers(reasonUnpublished)
			}
		}
		clear(evs)
		if first {
			close(o.ready)
			first = false
			o.s.log.Debug("webrtc outlet", "app", o.t.App, "instance", o.t.Instance, "stream", o.t.Stream,
				"audio", o.audioCodec(), "video_config", o.sps != nil, "gop_packets", len(o.gop))
		}
		if err := o.sub.Err(); err != nil {
			if !errors.Is(err, media.ErrSlowConsumer) || ctx.Err() != nil {
				o.endViewers(reasonSlow)
				return
			}
			o.subscribeAgain()
			evs = o.sub.Drain(evs[:0])
			continue
		}
		select {
		case <-ctx.Done():
			return
		case pk := <-o.converted:
			o.mu.Lock()
			vs := o.viewers
			o.mu.Unlock()
			o.video(pk, vs)
			evs = evs[:0]
			continue
		case <-o.sub.Ready():
		}
		evs = o.sub.Drain(evs[:0])
	}
}

// subscribeAgain follows the stream again after the engine cut the outlet
// off for staying behind it (a machine too busy to give the fan-out the
// CPU it needs, a burst of viewers' handshakes): ending every viewer for
// it would turn a passing stall into a lost audience. The viewers wait
// for the stream's next keyframe, as new ones do, and the outlet leaves
// out what it had sent already.
func (o *outlet) subscribeAgain() {
	o.resubscribed++
	o.s.log.Warn("webrtc outlet fell behind the stream and was cut off: following it again, the viewers resume at its next keyframe",
		"app", o.t.App, "instance", o.t.Instance, "stream", o.t.Stream, "times", o.resubscribed)
	name := o.sub.Name()
	o.sub.Close()
	o.sub = o.reg.Subscribe(name, media.SubscribeOptions{})
	clear(o.gop)
	o.gop, o.gopBytes, o.gopFull = o.gop[:0], 0, false
	o.resync = true
	o.mu.Lock()
	for _, v := range o.viewers {
		v.fresh = true
	}
	o.mu.Unlock()
}

func (o *outlet) stopConverters() {
	if o.conv != nil {
		o.conv.stop()
	}
	if o.vconv != nil {
		o.vconv.stop()
	}
}

// packet turns one engine packet into RTP for the viewers.
func (o *outlet) packet(pk *media.Packet, vs []*viewer) {
	if pk.Kind != media.Video && pk.Kind != media.Audio {
		return
	}
	if o.resync {
		if int32(pk.Time-o.lastTime) <= 0 {
			return // sent before the cut-off
		}
		o.resync = false
	}
	o.lastTime = pk.Time
	if !o.mediaSeen {
		defer close(o.firstMedia) // after the packet is accounted for
		o.mediaSeen = true
	}
	switch pk.Kind {
	case media.Video:
		o.video(pk, vs)
	case media.Audio:
		o.audioPacket(pk, vs)
	}
}

func (o *outlet) audioPacket(pk *media.Packet, vs []*viewer) {
	codec, data, config := audioCodec(pk.Payload)
	if codec == "" {
		return
	}
	if codec != o.audioCodec() {
		o.audio.Store(codec)
	}
	if convertible[codec] && o.s.cfg.Converts() {
		if config {
			o.audioConfig = pk.Payload
		}
		if o.conv != nil && o.conv.from != codec {
			o.conv.stop() // the publisher changed codec
			o.conv = nil
		}
		if o.conv == nil {
			if len(vs) == 0 || time.Since(o.convRefused) < convRetry {
				return // nobody to convert for yet (a WHEP POST in progress), or no slot free
			}
			if o.conv = o.startConverter(o.ctx, codec); o.conv == nil {
				o.convRefused = time.Now()
				return
			}
			if o.audioConfig != nil && !config {
				o.conv.feed(o.audioConfig, pk.Time, true)
			}
		}
		o.conv.feed(pk.Payload, pk.Time, config)
		return
	}
	if config || data == nil || len(data) == 0 {
		return
	}
	var rate uint32
	switch codec {
	case "opus":
		rate = 48
	case "pcmu", "pcma":
		rate = 8
	default:
		return
	}
	o.aseq++
	p := []*rtp.Packet{{Header: rtp.Header{Version: 2, SequenceNumber: o.aseq, Timestamp: pk.Time * rate, Marker: false}, Payload: data}}
	o.spread(fanShare{vs: vs, pkts: p, audio: codec})
}

func (o *outlet) video(pk *media.Packet, vs []*viewer) {
	h, err := flv.ParseVideoHeader(pk.Payload)
	if name, ok := convertibleVideo[h.Codec]; ok && err == nil && !h.Ex {
		o.legacyVideo(pk, name, vs)
		return
	}

	if err != nil || h.Ex || h.Codec != flv.VideoAVC || h.DataOffset > len(pk.Payload) {
		return
	}
	body := pk.Payload[h.DataOffset:]
	switch h.PacketType {
	case flv.VideoSequenceStart:
		if cfg, err := rtph264.ParseConfig(body); err == nil {
			o.sps, o.pps, o.lenSize = cloneAll(cfg.SPS), cloneAll(cfg.PPS), cfg.LengthSize
		} else if rtph264.IsAnnexB(body) {
			// Parameter sets as Annex-B instead of a configuration record.
			nals, _ := rtph264.SplitAnnexB(nil, body, 64)
			o.paramSets(nals)
		}
		o.videoConfig.Store(true)
		return
	case flv.VideoCodedFrames:
	default:
		return
	}
	// B-frames show in the composition time of the frames after the
	// first keyframe: a new viewer waits for a few before the verdict.
	if o.framesSeen < bframeProbe {
		if o.framesSeen++; o.framesSeen == bframeProbe || h.CompositionTime != 0 {
			o.framesSeen = bframeProbe
			close(o.firstFrame)
		}
	}
	if h.CompositionTime != 0 {
		if !o.bframes.Swap(true) {
			o.s.log.Info("webrtc outlet: the stream has B-frames; WebRTC viewers are closed and refused, the WebSocket path plays it",
				"app", o.t.App, "instance", o.t.Instance, "stream", o.t.Stream)
			o.endViewers(reasonBFrames)
		}
		return
	}
	// AVCC first: a 4-byte length of 256 to 511 starts with 00 00 01,
	// which reads as an Annex-B start code too.
	nals, err := rtph264.SplitAVCC(nil, body, o.lenSize, maxFrameNALs)
	if err != nil && rtph264.IsAnnexB(body) {
		nals, err = rtph264.SplitAnnexB(nil, body, maxFrameNALs)
	}
	if err != nil || len(nals) == 0 {
		return
	}
	// Parameter sets sent in-band replace those of the sequence header.
	o.paramSets(nals)
	idr, hasPS := false, false
	for _, n := range nals {
		switch rtph264.Type(n) {
		case rtph264.NALIDR:
			idr = true
		case rtph264.NALSPS:
			hasPS = true
		}
	}
	if idr && !hasPS && o.sps != nil {
		// Parameter sets before each IDR: a viewer that joins at this
		// keyframe has never seen the sequence header.
		nals = append(append(append([][]byte{}, o.sps...), o.pps...), nals...)
	}
	var payloads [][]byte
	for _, n := range nals {
		if t := rtph264.Type(n); t == rtph264.NALAUD {
			continue
		}
		payloads = rtph264.AppendPayloads(payloads, n, rtpMTU)
	}
	if len(payloads) == 0 {
		return
	}
	ts := pk.Time * 90
	pkts := make([]*rtp.Packet, len(payloads))
	for i, pl := range payloads {
		o.vseq++
		pkts[i] = &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: o.vseq, Timestamp: ts, Marker: i == len(payloads)-1}, Payload: pl}
		o.rtx.put(pkts[i])
	}
	if idr {
		clear(o.gop)
		o.gop, o.gopBytes, o.gopFull = o.gop[:0], 0, false
	}
	if !o.gopFull && (idr || len(o.gop) > 0) {
		for _, p := range pkts {
			o.gopBytes += len(p.Payload)
		}
		if o.gopBytes > o.s.cfg.GOPCacheBytes {
			// Too long a GOP to cache: new viewers wait for the next
			// keyframe instead.
			clear(o.gop)
			o.gop, o.gopFull = o.gop[:0], true
		} else {
			o.gop = append(o.gop, pkts...)
		}
	}
	o.fanOut(pkts, vs)
}

// fanOut sends one frame's packets to every viewer, a fresh viewer the
// GOP cache instead (which ends with them).
func (o *outlet) fanOut(pkts []*rtp.Packet, vs []*viewer) {
	o.spread(fanShare{vs: vs, pkts: pkts, gop: o.gop})
}

// spread sends a fan-out, split between the outlet's goroutine and up to
// a worker per further core when the viewers are many: on a busy machine
// one goroutine gets about one thread's share of the CPU, less than a
// large stream needs, and would fall behind the stream. Each share is the
// viewers' own SRTP and datagrams; the packets are the same, built once.
// The datagrams of the fan-out leave together at its end (batchConn), or
// as a worker ends its share. It returns once every share is sent, so a
// viewer's packets keep their order.
func (o *outlet) spread(f fanShare) {
	o.s.batch.begin()
	defer o.s.batch.end()
	n := len(f.vs)
	k := min(runtime.GOMAXPROCS(0), n/fanOutShare)
	if k <= 1 {
		o.send(f)
		return
	}
	for len(o.workers) < k-1 {
		ch := make(chan fanShare)
		o.workers = append(o.workers, ch)
		o.stopped.Add(1)
		go o.work(ch)
	}
	per := (n + k - 1) / k
	o.shares.Add(k - 1)
	for w := 1; w < k; w++ {
		share := f
		share.vs = f.vs[min(w*per, n):min((w+1)*per, n)]
		o.workers[w-1] <- share
	}
	f.vs = f.vs[:per]
	o.send(f)
	o.shares.Wait()
}

// work sends the shares it is given until the outlet stops.
func (o *outlet) work(ch chan fanShare) {
	defer o.stopped.Done()
	for f := range ch {
		o.send(f)
		o.s.batch.flush()
		o.shares.Done()
	}
}

// stopWorkers ends the workers: the outlet goroutine, at its end.
func (o *outlet) stopWorkers() {
	for _, ch := range o.workers {
		close(ch)
	}
	o.workers = nil
	o.stopped.Wait()
}

// send writes a share of a fan-out.
func (o *outlet) send(f fanShare) {
	for _, v := range f.vs {
		if v.away.Load() {
			continue
		}
		if f.audio != "" {
			if v.audioCodec == f.audio {
				v.sendAll(v.audio, f.pkts)
			}
			continue
		}
		if v.fresh {
			if len(f.gop) == 0 {
				continue // nothing decodable yet: wait for a keyframe
			}
			v.sendAll(v.video, f.gop)
			v.fresh = false
			v.ss.log.Debug("webrtc viewer starts", "gop_packets", len(f.gop))
			continue
		}
		v.sendAll(v.video, f.pkts)
	}
}

// legacyVideo feeds Flash-era video to the stream's video converter,
// started for the first viewer.
func (o *outlet) legacyVideo(pk *media.Packet, codec string, vs []*viewer) {
	if !o.s.cfg.Converts() {
		return
	}
	if o.vconv != nil && o.vconv.from != codec {
		o.vconv.stop() // the publisher changed codec
		o.vconv = nil
	}
	if o.vconv == nil {
		if len(vs) == 0 || time.Since(o.vconvRefused) < convRetry {
			return
		}
		if o.vconv = o.startVideoConverter(o.ctx, codec); o.vconv == nil {
			o.vconvRefused = time.Now()
			return
		}
	}
	o.vconv.feedVideo(pk)
}

// maxFrameNALs bounds the NAL units of one FLV frame the outlet splits.
const maxFrameNALs = 1 << 10

// paramSets keeps the SPS and PPS among nals, if any.
func (o *outlet) paramSets(nals [][]byte) {
	var sps, pps [][]byte
	for _, n := range nals {
		switch rtph264.Type(n) {
		case rtph264.NALSPS:
			sps = append(sps, n)
		case rtph264.NALPPS:
			pps = append(pps, n)
		}
	}
	if sps != nil {
		o.sps = cloneAll(sps)
	}
	if pps != nil {
		o.pps = cloneAll(pps)
	}
}

func cloneAll(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = append([]byte(nil), b...)
	}
	return out
}
