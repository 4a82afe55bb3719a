package webrtc

import (
	"context"
	"io"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/ogg"
)

// Opus to AAC (docs/webrtc.md#players-that-predate-enhanced-rtmp): the
// Opus of a WebRTC publisher reaches players that announced Enhanced RTMP
// Opus as it is, and the others (ffmpeg 5.1, rtmpdump, Flash Player,
// HTTP-FLV players) as AAC made by one ffmpeg per stream, running while
// the stream has such players.

const (
	// legacyPoll is how often a WebRTC publisher looks for players that
	// need AAC: the first one waits at most this long plus ffmpeg's
	// start for its audio.
	legacyPoll = 250 * time.Millisecond
	// aacBitrate is the bit rate of AAC made from Opus, bits/s.
	aacBitrate = 128000
	// maxAACTag bounds a tag read back from the converter: an AAC frame
	// of 1024 samples is a few hundred bytes.
	maxAACTag = 64 << 10
)

// aacConverter is the process turning a WebRTC publisher's Opus into AAC
// tags for legacy players, written into the same stream.
type aacConverter struct {
	proc
	p *publisher
	// The feeding goroutine's state (the publisher's audio track).
	seq    uint32
	serial uint32

	tags atomic.Uint64
}

// startAAC starts the Opus to AAC converter of p; nil when no slot is
// free (logged).
func (p *publisher) startAAC(ctx context.Context) *aacConverter {
	c := &aacConverter{p: p, serial: 1}
	codec := p.ss.s.cfg.LegacyAudio
	c.log = p.ss.log.With("stream", p.ss.t.Stream, "from", "opus", "to", codec)
	c.args = legacyArgs(codec)
	c.preamble = func() [][]byte { return opusPreamble(c.serial) }
	c.read = c.readAAC
	if err := p.ss.s.startProc(ctx, &c.proc); err != nil {
		c.log.Warn("webrtc converter not started", "err", err)
		return nil
	}
	return c
}

// aacArgs are the Opus to AAC converter's arguments.
func aacArgs() []string { return legacyArgs("aac") }

// legacyArgs are the arguments of the converter making codec ("aac" or
// "speex") from Opus: Ogg Opus in, FLV out, both through pipes, every
// buffer at its least. -copyts keeps the stream's own times: the granule
// positions of the pages are the stream's milliseconds times 48, so the
// tags come out at the times of the Opus they were made from, across
// restarts too. Speex is 16 kHz mono wideband, the only Speex Flash
// Player decodes (docs/webrtc.md#players-that-predate-enhanced-rtmp).
func legacyArgs(codec string) []string {
	enc := []string{"-c:a", "aac", "-b:a", strconv.Itoa(aacBitrate), "-ar", "48000", "-ac", "2"}
	if codec == "speex" {
		enc = []string{"-c:a", "libspeex", "-ar", "16000", "-ac", "1"}
	}
	return slices.Concat([]string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-fflags", "nobuffer", "-flags", "low_delay", "-probesize", "32", "-analyzeduration", "0",
		"-f", "ogg", "-i", "pipe:0", "-copyts", "-map", "0:a"}, enc,
		[]string{"-f", "flv", "-flvflags", "no_sequence_end+no_metadata+no_duration_filesize", "-flush_packets", "1", "pipe:1"})
}

// opusPage is the Ogg page of one Opus packet of the stream's time ms.
func opusPage(serial, seq uint32, ms uint32, data []byte) []byte {
	return ogg.AppendPage(nil, 0, int64(ms)*48+int64(opusSamples(data)), serial, seq, data)
}

// opusPreamble are the two header pages an Ogg Opus stream starts with.
func opusPreamble(serial uint32) [][]byte {
	tags := []byte("OpusTags\x07\x00\x00\x00openfcs\x00\x00\x00\x00")
	return [][]byte{ogg.AppendPage(nil, ogg.FlagFirst, 0, serial, 0, opusHead()), ogg.AppendPage(nil, 0, 0, serial, 1, tags)}
}

// feedOpus queues one Opus packet of the stream's time ms. Called by the
// publisher's audio goroutine only.
func (c *aacConverter) feedOpus(ms uint32, data []byte) {
	c.seq++
	c.feed(opusPage(c.serial, c.seq+1, ms, data))
}

// readAAC writes the converter's AAC into the stream, for legacy players.
func (c *aacConverter) readAAC(r io.Reader) error {
	return readFLVTags(r, maxAACTag, func(typ uint8, ms uint32, body []byte) {
		if typ != flv.TagAudio {
			return
		}
		c.tags.Add(1)
		c.p.writeFor(media.ForLegacy, media.Audio, ms, append([]byte(nil), body...))
	})
}

func (c *aacConverter) stop() {
	c.proc.stop()
	c.log.Info("webrtc converter stopped", "restarts", c.restarts.Load(), "aac_tags", c.tags.Load(),
		"dropped", c.dropped.Load())
}

// watchLegacy runs the Opus to AAC converter while the stream has legacy
// players, until done is closed.
func (p *publisher) watchLegacy(done <-chan struct{}) {
	var refused time.Time
	t := time.NewTicker(legacyPoll)
	defer t.Stop()
	defer func() {
		if c := p.aac.Swap(nil); c != nil {
			c.stop()
		}
	}()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		n := p.pub.LegacySubscribers()
		c := p.aac.Load()
		switch {
		case n > 0 && c == nil && time.Since(refused) >= convRetry:
			if c = p.startAAC(p.ss.s.ctx); c == nil {
				refused = time.Now()
				continue
			}
			p.aac.Store(c)
		case n == 0 && c != nil:
			p.aac.Store(nil)
			c.stop()
		}
	}
}

// opusSamples is the duration of an Opus packet in 48 kHz samples, from
// its TOC byte (RFC 6716, section 3.1); 960 (20 ms) when it cannot tell.
func opusSamples(p []byte) int {
	if len(p) == 0 {
		return 960
	}
	cfg := int(p[0] >> 3)
	var frame int // in units of 2.5 ms, 120 samples
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{4, 8, 16, 24}[cfg%4]
	case cfg < 16: // hybrid: 10, 20 ms
		frame = []int{4, 8}[cfg%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{1, 2, 4, 8}[cfg%4]
	}
	frames := 1
	switch p[0] & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(p) < 2 || p[1]&0x3f == 0 {
			return 960
		}
		frames = int(p[1] & 0x3f)
	}
	return frames * frame * 120
}
