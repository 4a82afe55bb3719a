package webrtc

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
)

// Video conversion (docs/webrtc.md#video-conversion): Flash-era video
// (Sorenson H.263, VP6) is re-encoded to H.264 for the WebRTC viewers of
// a stream, once per stream, by an ffmpeg process that runs while the
// stream's outlet has viewers.

// convertibleVideo names the legacy video codecs the outlet re-encodes.
var convertibleVideo = map[flv.VideoCodec]string{
	flv.VideoSorenson: "sorenson", flv.VideoVP6: "vp6", flv.VideoVP6Alpha: "vp6a",
}

// maxVideoTag bounds a tag read back from the video converter: an H.264
// keyframe of a Flash-era picture size is tens of kilobytes.
const maxVideoTag = 4 << 20

// videoConverter is the process turning an outlet's video into H.264
// tags that the outlet then sends as if the stream carried them.
type videoConverter struct {
	proc
	o    *outlet
	from string
	// fed: a keyframe went in since the current process started; until
	// then frames are held back, since ffmpeg cannot decode from an
	// inter frame. Outlet goroutine only, reset by started through
	// restart (atomic).
	restart atomic.Bool
	fed     bool
	// stopping is closed by stop: the reader gives up handing tags to
	// an outlet that no longer takes them.
	stopping chan struct{}

	tags atomic.Uint64
}

// videoArgs are the video converter's arguments: FLV video in, FLV
// H.264 out, both through pipes. Baseline profile without B-frames (what
// WebRTC players decode), x264's fastest preset and zero-latency tuning
// (no look-ahead, no frame held back), a keyframe every two seconds so
// that viewers start soon, the stream's own times kept (-copyts).
func videoArgs() []string {
	return []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-fflags", "nobuffer", "-flags", "low_delay", "-probesize", "32", "-analyzeduration", "0",
		"-f", "flv", "-i", "pipe:0", "-copyts",
		"-map", "0:v", "-an", "-fps_mode", "passthrough",
		"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0",
		"-force_key_frames", "expr:if(isnan(prev_forced_t),1,gte(t,prev_forced_t+2))", "-pix_fmt", "yuv420p",
		"-threads", "1",
		"-f", "flv", "-flvflags", "no_sequence_end+no_metadata+no_duration_filesize", "-flush_packets", "1", "pipe:1"}
}

// startVideoConverter starts the converter of o's video (codec from);
// nil when no slot is free (logged).
func (o *outlet) startVideoConverter(ctx context.Context, from string) *videoConverter {
	c := &videoConverter{o: o, from: from, stopping: make(chan struct{})}
	c.log = o.s.log.With("app", o.t.App, "instance", o.t.Instance, "stream", o.t.Stream, "from", from, "to", "h264")
	c.args = videoArgs()
	c.preamble = func() [][]byte { return [][]byte{flv.AppendHeader(nil, flv.FlagVideo)} }
	c.started = func() { c.restart.Store(true) }
	c.read = c.readH264
	if err := o.s.startProc(ctx, &c.proc); err != nil {
		c.log.Warn("webrtc converter not started", "err", err)
		return nil
	}
	return c
}

// feedVideo queues one video tag, from the first keyframe of the
// current process on. Outlet goroutine only.
func (c *videoConverter) feedVideo(pk *media.Packet) {
	if c.restart.Swap(false) {
		c.fed = false
	}
	if !c.fed && !pk.Keyframe {
		return
	}
	c.fed = true
	c.feed(flv.AppendTag(nil, flv.TagVideo, pk.Time, pk.Payload))
}

// readH264 hands the converter's H.264 tags to the outlet's goroutine.
func (c *videoConverter) readH264(r io.Reader) error {
	return readFLVTags(r, maxVideoTag, func(typ uint8, ms uint32, body []byte) {
		if typ != flv.TagVideo {
			return
		}
		c.tags.Add(1)
		pk := &media.Packet{Kind: media.Video, Time: ms, Payload: append([]byte(nil), body...)}
		select {
		case c.o.converted <- pk:
		case <-c.stopping:
		}
	})
}

func (c *videoConverter) stop() {
	close(c.stopping)
	c.proc.stop()
	c.log.Info("webrtc converter stopped", "restarts", c.restarts.Load(), "h264_tags", c.tags.Load(),
		"dropped", c.dropped.Load())
}
