package webrtc

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/ogg"
)

// Conversion (docs/webrtc.md#conversion): a played stream whose audio
// WebRTC cannot carry gets one ffmpeg process, started with the stream's
// outlet (its first viewer) and stopped with it (its last viewer), which
// turns the audio into Opus for every viewer at once.

// convertible names the audio codecs a converter turns into Opus, as
// audioCodec names them.
var convertible = map[string]bool{
	"aac": true, "mp3": true, "mp3_8k": true, "speex": true,
	"nellymoser": true, "nellymoser8k": true, "nellymoser16k": true,
	"pcm": true, "pcm_le": true, "adpcm": true,
}

const (
	// opusFrame is the Opus frame ffmpeg is told to make: 20 ms, 960
	// samples at 48 kHz, one RTP packet each.
	opusFrame = 960
	// maxOpusPacket bounds a packet read back from ffmpeg.
	maxOpusPacket = 8 << 10
)

// converter is the process turning an outlet's audio into Opus RTP
// packets for its viewers.
type converter struct {
	proc
	o      *outlet
	from   string
	config atomic.Pointer[[]byte] // the codec's sequence header tag, sent first at every start
	lastMS atomic.Uint32          // the time of the last tag fed
	nextTS uint32                 // reader goroutine only
	seq    uint16                 // reader goroutine only

	packets atomic.Uint64
}

// opusArgs are the audio converter's arguments: FLV audio in, Ogg Opus
// out, both through pipes, every buffer at its least
// (docs/webrtc.md#conversion).
func opusArgs(bitrate int) []string {
	return []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-fflags", "nobuffer", "-flags", "low_delay", "-probesize", "32", "-analyzeduration", "0",
		"-f", "flv", "-i", "pipe:0",
		"-map", "0:a", "-c:a", "libopus", "-b:a", strconv.Itoa(bitrate), "-ar", "48000", "-ac", "2",
		"-application", "lowdelay", "-frame_duration", "20",
		"-f", "ogg", "-page_duration", "20000", "-flush_packets", "1", "pipe:1"}
}

// startConverter starts the converter of o's audio (codec from); nil
// when webrtc.max_converters are running (logged).
func (o *outlet) startConverter(ctx context.Context, from string) *converter {
	c := &converter{o: o, from: from}
	c.log = o.s.log.With("app", o.t.App, "instance", o.t.Instance, "stream", o.t.Stream, "from", from, "to", "opus")
	c.args = opusArgs(o.s.cfg.OpusBitrate)
	c.preamble = func() [][]byte {
		out := [][]byte{flv.AppendHeader(nil, flv.FlagAudio)}
		if cfg := c.config.Load(); cfg != nil {
			out = append(out, *cfg)
		}
		return out
	}
	// RTP time goes on from where the stream is: a restart neither
	// rewinds nor jumps ahead of the other viewers' clocks.
	c.started = func() { c.nextTS = max(c.nextTS, c.lastMS.Load()*48) }
	c.read = c.readOpus
	if err := o.s.startProc(ctx, &c.proc); err != nil {
		c.log.Warn("webrtc converter not started", "err", err)
		return nil
	}
	return c
}

// feed queues one audio packet for ffmpeg; never blocks.
func (c *converter) feed(payload []byte, ms uint32, config bool) {
	tag := flv.AppendTag(nil, flv.TagAudio, ms, payload)
	if config {
		c.config.Store(&tag)
	}
	c.lastMS.Store(ms)
	c.proc.feed(tag)
}

// stop ends the process and waits for the converter's goroutines.
func (c *converter) stop() {
	c.proc.stop()
	c.log.Info("webrtc converter stopped", "restarts", c.restarts.Load(), "opus_packets", c.packets.Load(),
		"dropped", c.dropped.Load())
}

// readOpus takes Opus packets from ffmpeg's Ogg output and sends them to
// the viewers.
func (c *converter) readOpus(r io.Reader) error {
	rd := ogg.NewReader(r, maxOpusPacket)
	for {
		p, err := rd.Next()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(p.Data, []byte("OpusHead")) || bytes.HasPrefix(p.Data, []byte("OpusTags")) {
			continue
		}
		c.seq++
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: c.seq, Timestamp: c.nextTS}, Payload: p.Data}
		c.nextTS += opusFrame
		c.packets.Add(1)
		c.o.mu.Lock()
		vs := c.o.viewers
		c.o.mu.Unlock()
		// One batch for the packet's datagrams to every viewer, as for
		// the stream's own packets.
		c.o.s.batch.begin()
		for _, v := range vs {
			if v.audioCodec == "opus" && !v.away.Load() {
				v.write(v.audio, pkt)
			}
		}
		c.o.s.batch.end()
	}
}
