package webrtc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/ogg"
)

// Converted copies (docs/webrtc.md#flash-era-streams-in-pages): a live
// stream with Flash-era codecs gets, while players that cannot decode
// them play it, one copy in the same instance whose Sorenson or VP6 is
// H.264 and whose Nellymoser, Speex or ADPCM is Enhanced RTMP Opus. The
// copy is made by the same managed converters as the WebRTC outlet's
// (proc.go), once per stream, and every such player subscribes to it;
// so do the stream's WebRTC viewers, whose outlet then has nothing left
// to convert.

// copySuffix ends a copy's name. A colon is refused in every name a
// client gives (instance.CheckName), so no client can publish or play a
// copy by its name: it is reached only through Convert.
const copySuffix = ":converted"

// Flash's connect codec masks (docs/rtmp.md#connect): the bits of the
// codecs a copy converts.
const (
	sndADPCM    = 0x0002
	sndNelly8   = 0x0020
	sndNelly    = 0x0040
	sndNelly16  = 0x0200
	sndSpeex    = 0x0800
	vidSorenson = 0x0004
	vidVP6      = 0x0010
	vidVP6Alpha = 0x0020
)

// copiedAudio maps the audio formats a copy converts to Opus to their
// mask bit and converter name.
var copiedAudio = map[flv.SoundFormat]struct {
	bit  uint32
	name string
}{
	flv.SoundADPCM: {sndADPCM, "adpcm"}, flv.SoundNelly8k: {sndNelly8, "nellymoser8k"},
	flv.SoundNelly: {sndNelly, "nellymoser"}, flv.SoundNelly16k: {sndNelly16, "nellymoser16k"},
	flv.SoundSpeex: {sndSpeex, "speex"},
}

// copiedVideo maps the video codecs a copy converts to H.264 to their
// mask bit.
var copiedVideo = map[flv.VideoCodec]uint32{
	flv.VideoSorenson: vidSorenson, flv.VideoVP6: vidVP6, flv.VideoVP6Alpha: vidVP6Alpha,
}

// webrtcAudioMask and webrtcVideoMask are what a WebRTC viewer decodes,
// as Flash's masks: G.711 (the outlet converts the rest itself) and
// H.264.
const (
	webrtcAudioMask = 0x0080 | 0x0100
	webrtcVideoMask = 0x0080
)

// needsCopy reports whether a player with these masks needs the copy of
// a stream whose last audio and video messages start with audio and
// video.
func needsCopy(audio, video []byte, audioMask, videoMask uint32) bool {
	if len(video) > 0 && video[0]&0x80 == 0 { // not an E-RTMP header
		if bit, ok := copiedVideo[flv.VideoCodec(video[0]&0x0f)]; ok && videoMask&bit == 0 {
			return true
		}
	}
	if len(audio) > 0 {
		if a, ok := copiedAudio[flv.SoundFormat(audio[0]>>4)]; ok && audioMask&a.bit == 0 {
			return true
		}
	}
	return false
}

// copies are the server's running converted copies, by stream key.
type copies struct {
	mu sync.Mutex // a leaf
	m  map[string]*copyStream
}

// copyStream is one stream's converted copy.
type copyStream struct {
	s    *Server
	log  *slog.Logger
	key  string
	reg  *media.Registry
	name string // the copy's name in reg
	refs int    // guarded by copies.mu
	sub  *media.Subscriber

	cancel context.CancelFunc
	done   chan struct{}

	// mu serializes the copy's writes: the copy's goroutine passes
	// through what needs no conversion while the converters' readers
	// write what they made.
	mu       sync.Mutex
	pub      *media.Publication // nil while the source is not published
	opusHead bool               // the Opus sequence start went into pub

	// reencode: H.264 goes through the video converter too, which
	// makes it without B-frames (docs/webrtc.md#b-frames-re-encoded).
	reencode atomic.Bool
	// avcSeq is the source's last H.264 sequence header as an FLV tag,
	// which the converter gets first at every start.
	avcSeq atomic.Pointer[[]byte]

	// The copy's goroutine only.
	video, audio       *copyProc
	videoFrom          string
	audioFrom          string
	refusedV, refusedA time.Time
}

// Convert gives a player the converted copy of a stream with Flash-era
// codecs its masks leave out (rtmp.Converter), starting the copy for
// its first player; ok false when the stream needs no conversion for
// it, is not published, or conversion is off.
func (s *Server) Convert(in *instance.Instance, stream string, audioMask, videoMask uint32) (string, func(), bool) {
	if !s.started.Load() || !s.cfg.Converts() {
		return "", nil, false
	}
	reg := in.Streams()
	audio, video, ok := reg.Headers(stream)
	if !ok || !needsCopy(audio, video, audioMask, videoMask) {
		return "", nil, false
	}
	return s.acquireCopy(in, stream, false)
}

// acquireCopy returns the running copy of stream, starting it if
// needed, and its release. reencode makes the copy re-encode H.264 too
// (its B-frames), from now on for every player of the copy.
func (s *Server) acquireCopy(in *instance.Instance, stream string, reencode bool) (string, func(), bool) {
	key := streamKey(in.App, in.Name, stream)
	s.copies.mu.Lock()
	if s.ctx.Err() != nil {
		s.copies.mu.Unlock()
		return "", nil, false
	}
	if s.copies.m == nil {
		s.copies.m = map[string]*copyStream{}
	}
	c := s.copies.m[key]
	if c == nil {
		c = &copyStream{s: s, key: key, reg: in.Streams(), name: stream + copySuffix, done: make(chan struct{}),
			log: s.log.With("app", in.App, "instance", in.Name, "stream", stream)}
		c.reencode.Store(reencode) // before run reads the source
		c.sub = c.reg.Subscribe(stream, media.SubscribeOptions{})
		// Published now, so that the first player finds it live.
		c.publish()
		ctx, cancel := context.WithCancel(s.ctx)
		c.cancel = cancel
		s.copies.m[key] = c
		s.wg.Go(func() { c.run(ctx) })
		c.log.Info("converted copy started", "copy", c.name)
	}
	if reencode && !c.reencode.Swap(true) {
		c.log.Info("converted copy re-encodes H.264", "copy", c.name)
	}
	c.refs++
	s.copies.mu.Unlock()
	var once sync.Once
	return c.name, func() { once.Do(func() { s.releaseCopy(c) }) }, true
}

// releaseCopy drops a reference; the last one stops the copy.
func (s *Server) releaseCopy(c *copyStream) {
	s.copies.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last && s.copies.m[c.key] == c {
		delete(s.copies.m, c.key)
	}
	s.copies.mu.Unlock()
	if last {
		c.cancel()
		<-c.done
	}
}

// run copies the source's events into the copy until ctx ends.
func (c *copyStream) run(ctx context.Context) {
	defer close(c.done)
	defer func() { c.sub.Close() }() // c.sub changes when the source is read afresh
	defer c.unpublish()
	evs := make([]media.Event, 0, 64)
	for {
		select {
		case <-ctx.Done():
			c.log.Info("converted copy stopped", "copy", c.name)
			return
		case <-c.sub.Ready():
		}
		evs = c.sub.Drain(evs[:0])
		for i, ev := range evs {
			c.handle(ctx, ev)
			evs[i] = media.Event{}
		}
		if err := c.sub.Err(); err != nil {
			// Cut off (slow) or the registry closed: the players of the
			// copy see it unpublished and the source is read afresh.
			c.log.Warn("converted copy lost its source", "err", err)
			c.unpublish()
			if ctx.Err() != nil || errors.Is(err, media.ErrClosed) {
				return
			}
			c.sub.Close()
			c.sub = c.reg.Subscribe(c.sub.Name(), media.SubscribeOptions{})
		}
	}
}

func (c *copyStream) handle(ctx context.Context, ev media.Event) {
	switch ev.Type {
	case media.EventPublishNotify:
		c.publish()
	case media.EventUnpublishNotify:
		c.unpublish()
	case media.EventPacket:
		pk := ev.Packet
		switch pk.Kind {
		case media.Video:
			c.onVideo(ctx, pk)
		case media.Audio:
			c.onAudio(ctx, pk)
		default:
			// Metadata describes the stream as published (its codec
			// ids): the copy leaves it out. Other data goes through.
			if !bytes.Contains(pk.Payload[:min(len(pk.Payload), 16)], []byte("onMetaData")) {
				c.write(&media.Packet{Kind: pk.Kind, Time: pk.Time, Payload: pk.Payload})
			}
		}
	}
}

// publish opens the copy (the source is published).
func (c *copyStream) publish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub != nil {
		return
	}
	// As a relay: the copy is not this node's own stream to announce
	// to a cluster (media.Observer).
	pub, err := c.reg.PublishRelay(c.name)
	if err != nil {
		c.log.Warn("converted copy not published", "copy", c.name, "err", err)
		return
	}
	c.pub, c.opusHead = pub, false
}

// unpublish stops the converters and closes the copy (the source is
// no longer published): its players get NetStream.Play.UnpublishNotify.
func (c *copyStream) unpublish() {
	if c.video != nil {
		c.video.stop()
		c.video = nil
	}
	if c.audio != nil {
		c.audio.stop()
		c.audio = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub != nil {
		c.pub.Close()
		c.pub = nil
	}
}

// write publishes one packet in the copy, if it is open.
func (c *copyStream) write(pk *media.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub != nil {
		c.pub.Write(pk)
	}
}

func (c *copyStream) onVideo(ctx context.Context, pk *media.Packet) {
	var from string
	if len(pk.Payload) > 0 && pk.Payload[0]&0x80 == 0 {
		if _, ok := copiedVideo[flv.VideoCodec(pk.Payload[0]&0x0f)]; ok {
			from = convertibleVideo[flv.VideoCodec(pk.Payload[0]&0x0f)]
		}
	}
	if from == "" && c.reencode.Load() && len(pk.Payload) > 1 && pk.Payload[0]&0x80 == 0 &&
		flv.VideoCodec(pk.Payload[0]&0x0f) == flv.VideoAVC {
		if pk.Payload[1] == 0 { // AVC sequence header: the converter's, not the copy's
			tag := flv.AppendTag(nil, flv.TagVideo, pk.Time, pk.Payload)
			c.avcSeq.Store(&tag)
			if c.video != nil && c.videoFrom == "h264" {
				c.video.feed(tag) // new parameters for the running process
			}
			return
		}
		from = "h264"
	}
	if from == "" {
		c.write(&media.Packet{Kind: media.Video, Time: pk.Time, Payload: pk.Payload})
		return
	}
	if c.video != nil && c.videoFrom != from {
		c.video.stop()
		c.video = nil
	}
	if c.video == nil {
		if time.Since(c.refusedV) < convRetry {
			return
		}
		if c.video = c.startVideo(ctx, from); c.video == nil {
			c.refusedV = time.Now()
			return
		}
		c.videoFrom = from
	}
	if c.video.restart.Swap(false) {
		c.video.fed = false
	}
	if !c.video.fed && !pk.Keyframe {
		return // ffmpeg cannot decode from an inter frame
	}
	c.video.fed = true
	c.video.feed(flv.AppendTag(nil, flv.TagVideo, pk.Time, pk.Payload))
}

func (c *copyStream) onAudio(ctx context.Context, pk *media.Packet) {
	if len(pk.Payload) == 0 {
		return
	}
	a, ok := copiedAudio[flv.SoundFormat(pk.Payload[0]>>4)]
	if !ok {
		c.write(&media.Packet{Kind: media.Audio, Time: pk.Time, Payload: pk.Payload})
		return
	}
	if c.audio != nil && c.audioFrom != a.name {
		c.audio.stop()
		c.audio = nil
	}
	if c.audio == nil {
		if time.Since(c.refusedA) < convRetry {
			return
		}
		if c.audio = c.startAudio(ctx, a.name); c.audio == nil {
			c.refusedA = time.Now()
			return
		}
		c.audioFrom = a.name
	}
	c.audio.feed(flv.AppendTag(nil, flv.TagAudio, pk.Time, pk.Payload))
}

// copyProc is one converter of a copy.
type copyProc struct {
	proc
	from, to string
	// Video: a keyframe went in since the current process started
	// (the copy's goroutine only); restart is set by each start.
	restart atomic.Bool
	fed     bool
	// Audio: the end of the last Opus packet written, ms (the
	// reader's).
	nextMS uint32

	out atomic.Uint64 // tags written into the copy
}

func (c *copyStream) newProc(from, to string) *copyProc {
	p := &copyProc{from: from, to: to}
	p.log = c.log.With("copy", c.name, "from", from, "to", to)
	return p
}

// startVideo starts the H.264 converter of the copy; nil when no slot
// is free (logged).
func (c *copyStream) startVideo(ctx context.Context, from string) *copyProc {
	p := c.newProc(from, "h264")
	p.args = videoArgs()
	p.preamble = func() [][]byte { return [][]byte{flv.AppendHeader(nil, flv.FlagVideo)} }
	if from == "h264" {
		p.args = reencodeArgs()
		p.preamble = func() [][]byte {
			b := [][]byte{flv.AppendHeader(nil, flv.FlagVideo)}
			if seq := c.avcSeq.Load(); seq != nil {
				b = append(b, *seq)
			}
			return b
		}
	}
	p.started = func() { p.restart.Store(true) }
	p.read = func(r io.Reader) error {
		return readFLVTags(r, maxVideoTag, func(typ uint8, ms uint32, body []byte) {
			if typ != flv.TagVideo {
				return
			}
			p.out.Add(1)
			c.write(&media.Packet{Kind: media.Video, Time: ms, Payload: append([]byte(nil), body...)})
		})
	}
	return c.startProc(ctx, p)
}

// startAudio starts the Opus converter of the copy; nil when no slot
// is free (logged). ffmpeg keeps the stream's times (-copyts), so each
// Opus packet is placed by the granule position of its Ogg page, at the
// time of the audio it was made from, across restarts too.
func (c *copyStream) startAudio(ctx context.Context, from string) *copyProc {
	p := c.newProc(from, "opus")
	p.args = copyOpusArgs(c.s.cfg.OpusBitrate)
	p.preamble = func() [][]byte { return [][]byte{flv.AppendHeader(nil, flv.FlagAudio)} }
	p.read = func(r io.Reader) error {
		rd := ogg.NewReader(r, maxOpusPacket)
		preskip := int64(0)
		for {
			op, err := rd.Next()
			if err != nil {
				return err
			}
			if bytes.HasPrefix(op.Data, []byte("OpusHead")) {
				if len(op.Data) >= 12 {
					preskip = int64(op.Data[10]) | int64(op.Data[11])<<8
				}
				continue
			}
			if bytes.HasPrefix(op.Data, []byte("OpusTags")) {
				continue
			}
			n := uint32(opusSamples(op.Data) / 48)
			ms := p.nextMS
			if op.Granule >= 0 {
				ms = uint32(max(0, (op.Granule-preskip)/48-int64(n)))
			}
			if p.out.Load() > 0 && ms < p.nextMS-n {
				continue // never behind what the copy already carries
			}
			p.nextMS = ms + n
			p.out.Add(1)
			c.writeOpus(ms, op.Data)
		}
	}
	return c.startProc(ctx, p)
}

// copyOpusArgs are the audio converter's arguments (opusArgs) keeping
// the stream's times.
func copyOpusArgs(bitrate int) []string {
	args := opusArgs(bitrate)
	i := slices.Index(args, "pipe:0") + 1
	return slices.Insert(args, i, "-copyts")
}

// writeOpus publishes one Opus packet in the copy, after the Opus
// sequence start where the copy has none yet.
func (c *copyStream) writeOpus(ms uint32, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub == nil {
		return
	}
	if !c.opusHead {
		c.pub.Write(&media.Packet{Kind: media.Audio, Time: ms, Payload: opusTag(flv.AudioSequenceStart, opusHead())})
		c.opusHead = true
	}
	c.pub.Write(&media.Packet{Kind: media.Audio, Time: ms, Payload: opusTag(flv.AudioCodedFrames, data)})
}

func (c *copyStream) startProc(ctx context.Context, p *copyProc) *copyProc {
	if err := c.s.startProc(ctx, &p.proc); err != nil {
		p.log.Warn("webrtc converter not started", "err", err)
		return nil
	}
	return p
}

func (p *copyProc) stop() {
	p.proc.stop()
	p.log.Info("webrtc converter stopped", "restarts", p.restarts.Load(), "tags", p.out.Load(),
		"dropped", p.dropped.Load())
}

// outletSource names what a WebRTC outlet of stream subscribes to: the
// converted copy when the stream has Flash-era codecs, shared with the
// pages that play it over RTMP, with its release; else stream itself.
func (s *Server) outletSource(in *instance.Instance, stream string) (string, func()) {
	if base, ok := strings.CutSuffix(stream, copySuffix); ok {
		// The outlet of a stream's re-encoded copy (reencodedOutlet).
		if name, release, ok := s.acquireCopy(in, base, true); ok {
			return name, release
		}
		return stream, nil
	}
	name, release, ok := s.Convert(in, stream, webrtcAudioMask, webrtcVideoMask)
	if !ok {
		return stream, nil
	}
	return name, release
}

// reencodeArgs are the arguments of the converter that re-encodes H.264
// without B-frames: those of videoArgs but the input's nobuffer and the
// decoder's low_delay flags. With low_delay the decoder would output
// frames in decoding order, out of order for a stream with B-frames;
// with nobuffer Debian's ffmpeg 5.1 decodes no frame at all of such a
// stream read at once (TestReencodeDropsBFrames).
func reencodeArgs() []string {
	args := videoArgs()
	for _, flag := range []string{"nobuffer", "low_delay"} {
		i := slices.Index(args, flag)
		args = slices.Delete(args, i-1, i+1)
	}
	// One decoding thread: frame threads would hold a frame each.
	i := slices.Index(args, "-i")
	return slices.Insert(args, i-2, "-threads", "1")
}

// reencodedOutlet returns the outlet of the B-frame-free copy of t's
// stream, for a viewer whose outlet o found B-frames, and releases o;
// nil when the option is off or the stream is recorded.
func (s *Server) reencodedOutlet(ss *session, o *outlet) *outlet {
	if !s.cfg.ReencodeBFrames || !s.cfg.Converts() || ss.recorded || strings.HasSuffix(o.t.Stream, copySuffix) {
		return nil
	}
	t := o.t
	t.Stream += copySuffix
	ro, herr := s.acquireOutlet(ss.in, t)
	if herr != nil {
		return nil
	}
	s.releaseOutlet(o)
	s.reencoded.Add(1)
	ss.log.Info("webrtc play re-encoded", "stream", ss.t.Stream, "copy", t.Stream,
		"why", "the stream's H.264 has B-frames")
	return ro
}
