package webrtc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/rtph264"
)

// keyframeInterval bounds how often a publisher is asked for a keyframe
// (PLI): viewers joining together, or a burst of loss, ask once. While
// requests go unanswered the gap doubles up to keyframeBackoffMax, and
// from the third one a FIR goes with the PLI, for an encoder that heeds
// only one of them.
const (
	keyframeInterval   = 500 * time.Millisecond
	keyframeBackoffMax = 2 * time.Second
	firAfter           = 3
)

// queuedRead bounds the read that looks for a packet already queued when
// a gap's wait ended.
const queuedRead = time.Millisecond

// publisher is a WHIP session's publication: its tracks' RTP becomes FLV
// tags written into the instance's stream.
type publisher struct {
	ss  *session
	pub *media.Publication

	// mu serializes Write: each track has its own reading goroutine, and
	// a Publication has one writer.
	mu     sync.Mutex
	closed bool
	// aac converts the Opus track for legacy players while there are
	// some (toaac.go); stopLegacy ends its watcher.
	aac        atomic.Pointer[aacConverter]
	stopLegacy chan struct{}
	watching   bool // mu

	videoSSRC atomic.Uint32
	kf        keyframeRequests
	frames    atomic.Uint64
	keyframes atomic.Uint64 // IDR frames published
	audio     atomic.Uint64
	lost      atomic.Uint64
	// Packets the reorder buffer put back in order, and sequence numbers
	// it gave up (docs/webrtc.md#loss-and-reordering).
	reordered atomic.Uint64
	skipped   atomic.Uint64
	padding   atomic.Uint64 // padding-only video packets
	plis      atomic.Uint64
	firs      atomic.Uint64
	tracks    sync.WaitGroup
}

// keyframeRequests paces the keyframe requests of one publisher: several
// goroutines ask (its video reader, viewers' PLIs).
type keyframeRequests struct {
	mu         sync.Mutex
	last       time.Time     // the last request sent
	gap        time.Duration // least time between two requests now
	unanswered int           // requests since the last keyframe
	firSeq     uint8
}

// preparePublish claims the stream and sets the track handler.
func (ss *session) preparePublish() *httpError {
	pub, err := ss.in.Streams().Publish(ss.t.Stream)
	switch {
	case errors.Is(err, media.ErrBusy):
		return refuse(http.StatusConflict, "stream already published")
	case err != nil:
		return refuse(http.StatusServiceUnavailable, err.Error())
	}
	p := &publisher{ss: ss, pub: pub, stopLegacy: make(chan struct{})}
	ss.pub = p
	ss.in.Publishing(ss.cl, pub)
	ss.s.registerPublisher(ss.t, p)
	ss.s.published.Add(1)
	ss.pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.tracks.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.tracks.Done()
			p.readTrack(tr)
		}()
	})
	return nil
}

// write publishes one tag for every player unless the publication is
// closed.
func (p *publisher) write(kind media.Kind, ms uint32, payload []byte) {
	p.writeFor(media.ForAll, kind, ms, payload)
}

// writeFor publishes one tag for some of the players.
func (p *publisher) writeFor(a media.Audience, kind media.Kind, ms uint32, payload []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.pub.Write(&media.Packet{Kind: kind, Time: ms, Payload: payload, Audience: a})
	if a != media.ForLegacy {
		p.ss.bytesIn.Add(uint64(len(payload)))
	}
}

// startLegacyWatch starts, once, the watcher that converts the Opus
// track for legacy players.
func (p *publisher) startLegacyWatch() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.watching {
		return
	}
	p.watching = true
	p.tracks.Go(func() { p.watchLegacy(p.stopLegacy) })
}

// close ends the publication once and waits for the track readers.
func (p *publisher) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stopLegacy)
	p.ss.s.unregisterPublisher(p.ss.t, p)
	p.pub.Close()
	p.ss.in.Unpublished(p.ss.cl, p.ss.t.Stream)
	// The readers end when the peer connection closes (run closes it
	// before calling close).
	p.tracks.Wait()
}

func (p *publisher) statsAttrs() []any {
	return []any{"video_frames", p.frames.Load(), "keyframes", p.keyframes.Load(), "audio_packets", p.audio.Load(),
		"frames_lost", p.lost.Load(), "packets_reordered", p.reordered.Load(), "packets_skipped", p.skipped.Load(),
		"packets_padding", p.padding.Load(),
		"plis_sent", p.plis.Load(), "firs_sent", p.firs.Load()}
}

func (p *publisher) sinceStartMS() int64 { return time.Since(p.ss.start).Milliseconds() }

// requestKeyframe asks the publisher for a keyframe (PLI, with a FIR once
// several went unanswered), unless one was asked for too recently.
func (p *publisher) requestKeyframe() {
	ssrc := p.videoSSRC.Load()
	if ssrc == 0 {
		return
	}
	k := &p.kf
	k.mu.Lock()
	now := time.Now()
	if k.gap == 0 {
		k.gap = keyframeInterval
	}
	if !k.last.IsZero() && now.Sub(k.last) < k.gap {
		k.mu.Unlock()
		return
	}
	k.last = now
	k.unanswered++
	if k.unanswered > 1 {
		k.gap = min(2*k.gap, keyframeBackoffMax)
	}
	pkts := []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}
	if k.unanswered >= firAfter {
		// RFC 5104: the FIR's own media SSRC is zero; the entry names
		// the stream, with a number that tells a new request from a
		// repeated one.
		k.firSeq++
		pkts = append(pkts, &rtcp.FullIntraRequest{FIR: []rtcp.FIREntry{{SSRC: ssrc, SequenceNumber: k.firSeq}}})
	}
	k.mu.Unlock()
	if err := p.ss.pc.WriteRTCP(pkts); err != nil {
		return
	}
	p.plis.Add(1)
	p.ss.s.keyframeReqs.Add(1)
	if len(pkts) > 1 {
		p.firs.Add(1)
	}
}

// keyframeArrived resets the pacing of keyframe requests: the next one
// may go keyframeInterval after the last.
func (p *publisher) keyframeArrived() {
	p.keyframes.Add(1)
	p.ss.s.keyframesIn.Add(1)
	p.kf.mu.Lock()
	p.kf.unanswered, p.kf.gap = 0, keyframeInterval
	p.kf.mu.Unlock()
}

// readTrack turns one remote track into tags until it ends.
func (p *publisher) readTrack(tr *pion.TrackRemote) {
	mime := strings.ToLower(tr.Codec().MimeType)
	log := p.ss.log.With("track", tr.Kind().String(), "codec", mime)
	log.Debug("webrtc track")
	switch mime {
	case strings.ToLower(pion.MimeTypeH264):
		p.videoSSRC.Store(uint32(tr.SSRC()))
		p.readH264(tr)
	case strings.ToLower(pion.MimeTypeOpus):
		// With conversion on, players that predate Enhanced RTMP get AAC
		// made from this track instead (toaac.go).
		a := media.ForAll
		if p.ss.s.cfg.Converts() {
			a = media.ForEnhanced
			p.startLegacyWatch()
		}
		p.readAudio(tr, 48000, a, func(data []byte) []byte { return opusTag(flv.AudioCodedFrames, data) },
			opusTag(flv.AudioSequenceStart, opusHead()))
	case strings.ToLower(pion.MimeTypePCMU):
		p.readAudio(tr, 8000, media.ForAll, func(data []byte) []byte { return g711Tag(flv.SoundG711MuLaw, data) }, nil)
	case strings.ToLower(pion.MimeTypePCMA):
		p.readAudio(tr, 8000, media.ForAll, func(data []byte) []byte { return g711Tag(flv.SoundG711ALaw, data) }, nil)
	default:
		log.Info("webrtc track ignored: codec not carried")
		drain(tr)
	}
}

// drain reads a track nobody uses so that pion's buffers do not fill.
func drain(tr *pion.TrackRemote) {
	for {
		if _, _, err := tr.ReadRTP(); err != nil {
			return
		}
	}
}

func (p *publisher) readAudio(tr *pion.TrackRemote, rate int64, a media.Audience, tag func([]byte) []byte, config []byte) {
	clk := rtpClock{rate: rate}
	var last uint16
	started := false
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		// A duplicate or a late retransmission would put audio out of
		// order: RTMP players require rising timestamps.
		if started && int16(pkt.SequenceNumber-last) <= 0 {
			continue
		}
		last, started = pkt.SequenceNumber, true
		if len(pkt.Payload) == 0 {
			continue
		}
		ms := clk.ms(pkt.Timestamp, p.sinceStartMS())
		if config != nil {
			p.writeFor(a, media.Audio, ms, config)
			config = nil
		}
		p.writeFor(a, media.Audio, ms, tag(pkt.Payload))
		p.audio.Add(1)
		if c := p.aac.Load(); c != nil && a == media.ForEnhanced {
			c.feedOpus(ms, pkt.Payload)
		}
	}
}

// readH264 reassembles access units and publishes them as AVC tags: a
// sequence header whenever the parameter sets change, then frames. Until
// the first IDR with its parameter sets nothing is published and a
// keyframe is requested. Packets pass a reorder buffer first, so that a
// late or resent packet still completes its frame
// (docs/webrtc.md#loss-and-reordering).
func (p *publisher) readH264(tr *pion.TrackRemote) {
	cfg := p.ss.s.cfg
	var (
		dep      rtph264.Depacketizer
		ro       = rtph264.Reorderer{Wait: max(cfg.ReorderWait, 0), Max: cfg.ReorderPackets}
		clk      = rtpClock{rate: 90000}
		sps, pps []byte
		ready    bool
		nals     [][]byte
		lastKey  time.Time
		// cached: the engine's GOP cache held this GOP; if it empties
		// before the next keyframe, it overflowed and late joiners
		// wait for a keyframe, which is asked for.
		cached bool
	)
	p.requestKeyframe()
	emit := func(au rtph264.AccessUnit) {
		ms := clk.ms(au.Timestamp, p.sinceStartMS())
		var err error
		nals, err = rtph264.SplitAVCC(nals[:0], au.AVCC, 4, 1<<10)
		if err != nil {
			return
		}
		changed := false
		for _, n := range nals {
			switch rtph264.Type(n) {
			case rtph264.NALSPS:
				if !bytes.Equal(n, sps) {
					sps, changed = append(sps[:0:0], n...), true
				}
			case rtph264.NALPPS:
				if !bytes.Equal(n, pps) {
					pps, changed = append(pps[:0:0], n...), true
				}
			}
		}
		if changed && sps != nil && pps != nil {
			if hdr, err := avcSequenceHeader([][]byte{sps}, [][]byte{pps}); err == nil {
				p.write(media.Video, ms, hdr)
			}
		}
		if !ready {
			if !au.IDR || sps == nil || pps == nil {
				p.requestKeyframe()
				return
			}
			ready = true
		}
		p.write(media.Video, ms, avcFrame(au.AVCC, au.IDR))
		p.frames.Add(1)
		now := time.Now()
		if au.IDR {
			lastKey, cached = now, false
			p.keyframeArrived()
		}
		switch gop := p.pub.Stats().GOPPackets; {
		case gop > 0:
			cached = true
		case cached:
			p.requestKeyframe()
		}
		if cfg.KeyframeRequestInterval > 0 && now.Sub(lastKey) >= cfg.KeyframeRequestInterval {
			p.requestKeyframe()
		}
	}
	lost := uint64(0)
	depacketize := func(pk rtph264.Packet) {
		_ = dep.Push(pk.Payload, pk.Seq, pk.TS, pk.Marker, emit)
		if l := dep.Lost(); l != lost {
			// A frame lost to the network: the following ones reference
			// it, so nothing is published until a fresh keyframe, which
			// is asked for.
			p.lost.Add(l - lost)
			p.ss.s.framesLost.Add(l - lost)
			lost = l
			ready = false
			p.requestKeyframe()
		}
	}
	waiting := false // a read deadline is set
	// queued: the deadline passed; one more read, bounded by
	// queuedRead, takes a packet already queued before the gap is given
	// up (a read whose deadline has passed fails at once, queued packets
	// or not, and this goroutine may have waited for a CPU that long).
	queued := false
	for {
		// Packets held behind a gap go when it times out, whether or
		// not another packet comes.
		if queued {
			_ = tr.SetReadDeadline(time.Now().Add(queuedRead))
			waiting = true
		} else if d, ok := ro.Deadline(); ok {
			_ = tr.SetReadDeadline(d)
			waiting = true
		} else if waiting {
			_ = tr.SetReadDeadline(time.Time{})
			waiting = false
		}
		pkt, _, err := tr.ReadRTP()
		now := time.Now()
		var ne net.Error
		switch {
		case err == nil:
			queued = false
			ro.Push(rtph264.Packet{Seq: pkt.SequenceNumber, TS: pkt.Timestamp, Marker: pkt.Marker, Payload: pkt.Payload}, now, depacketize)
		case waiting && errors.As(err, &ne) && ne.Timeout():
			if !queued {
				queued = true
				continue
			}
			queued = false
			ro.Flush(now, depacketize)
		default:
			if !errors.Is(err, io.EOF) {
				p.ss.log.Debug("webrtc track read", "err", err)
			}
			return
		}
		p.reordered.Store(ro.Reordered())
		p.skipped.Store(ro.Skipped())
		p.padding.Store(dep.Padding())
	}
}

func (s *Server) registerPublisher(t target, p *publisher) {
	s.mu.Lock()
	s.pubs[streamKey(t.App, t.Instance, t.Stream)] = p
	s.mu.Unlock()
}

func (s *Server) unregisterPublisher(t target, p *publisher) {
	s.mu.Lock()
	k := streamKey(t.App, t.Instance, t.Stream)
	if s.pubs[k] == p {
		delete(s.pubs, k)
	}
	s.mu.Unlock()
}

// publisherOf returns the WebRTC publisher of a stream, or nil.
func (s *Server) publisherOf(key string) *publisher {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pubs[key]
}
