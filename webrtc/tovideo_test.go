package webrtc

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/openfcs/openfcs/media/flv"
)

// testsrcVideoTags are 2 s of ffmpeg's 320x240 testsrc at 25 fps coded
// in what by codec's arguments, as FLV video tag bodies with their times.
func testsrcVideoTags(tb testing.TB, what string, codec ...string) (bodies [][]byte, times []uint32) {
	tb.Helper()
	src, err := exec.Command("ffmpeg", append(append([]string{"-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-t", "2"}, codec...), "-g", "50", "-f", "flv", "pipe:1")...).Output()
	if err != nil {
		tb.Fatalf("ffmpeg making %s (scripts/deps.sh installs it): %v", what, err)
	}
	_ = readFLVTags(bytes.NewReader(src), maxVideoTag, func(typ uint8, ms uint32, body []byte) {
		if typ == flv.TagVideo {
			bodies = append(bodies, append([]byte(nil), body...))
			times = append(times, ms)
		}
	})
	if len(bodies) < 45 {
		tb.Fatalf("%d %s tags from ffmpeg", len(bodies), what)
	}
	return bodies, times
}

// sorensonTags are 2 s of 320x240 Sorenson H.263 at 25 fps from ffmpeg,
// as video tag bodies with their times.
func sorensonTags(tb testing.TB) (bodies [][]byte, times []uint32) {
	tb.Helper()
	return testsrcVideoTags(tb, "Sorenson", "-c:v", "flv", "-q:v", "6")
}

// The converter's own arguments, run by the installed ffmpeg over
// Sorenson starting 7 s into a stream: H.264 without B-frames comes out,
// a sequence header first, every frame at its own time.
func TestSorensonToH264KeepsStreamTime(t *testing.T) {
	bodies, times := sorensonTags(t)
	in := flv.AppendHeader(nil, flv.FlagVideo)
	for i, b := range bodies {
		in = flv.AppendTag(in, flv.TagVideo, 7000+times[i], b)
	}
	out := runFFmpeg(t, in, videoArgs()...)
	var got []uint32
	var first []byte
	keys := 0
	err := readFLVTags(bytes.NewReader(out), maxVideoTag, func(_ uint8, ms uint32, body []byte) {
		h, err := flv.ParseVideoHeader(body)
		if err != nil || h.Codec != flv.VideoAVC {
			t.Fatalf("tag % x: not AVC", body[:min(len(body), 8)])
		}
		if first == nil {
			first = append([]byte(nil), body...)
		}
		if h.PacketType == flv.VideoCodedFrames {
			if h.CompositionTime != 0 {
				t.Fatalf("a frame at %d ms with composition time %d: B-frames", ms, h.CompositionTime)
			}
			if h.FrameType == flv.FrameKey {
				keys++
			}
			got = append(got, ms)
		}
	})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("reading the converter's output: %v", err)
	}
	if !flv.IsVideoSequenceHeader(first) {
		t.Fatalf("first tag % x, want an AVC sequence header", first[:min(len(first), 8)])
	}
	if len(got) < len(bodies)-2 || got[0] < 7000 || got[0] > 7080 || got[len(got)-1] < 8900 {
		t.Fatalf("%d frames of %d, %d ms to %d ms", len(got), len(bodies), got[0], got[len(got)-1])
	}
	// One keyframe at the start and one every 2 s of stream time after.
	if keys < 1 || keys > 2 {
		t.Errorf("%d keyframes in 2 s", keys)
	}
}

// BenchmarkSorensonToH264Converter runs the video converter's ffmpeg
// over 320x240 Sorenson at 25 fps fed in real time (one iteration: one
// second) and reports its cost: the delay from writing a frame to reading
// its H.264 (latency-ms, the mean) and the process's CPU per second of
// video (cpu-ms/s).
func BenchmarkSorensonToH264Converter(b *testing.B) {
	bodies, _ := sorensonTags(b)
	c := startConverterBench(b, videoArgs(), readFLVFrames(maxVideoTag, func(ms uint32) uint32 { return ms }))
	c.write(flv.AppendHeader(nil, flv.FlagVideo))
	ms, i := uint32(1000), 0
	b.ReportAllocs()
	start := c.begin()
	for b.Loop() {
		for range 25 {
			c.send(ms, flv.AppendTag(nil, flv.TagVideo, ms, bodies[i%len(bodies)]))
			ms += 40
			i++
			time.Sleep(time.Until(start.Add(time.Duration(ms-1000) * time.Millisecond)))
		}
	}
	c.finish(float64(ms-1000) / 1000)
}

// h264BFrameTags returns 2 s of ffmpeg's x264 with B-frames at 320x240,
// 25 fps, as FLV video tag bodies (the sequence header first) and times.
func h264BFrameTags(tb testing.TB) (bodies [][]byte, times []uint32) {
	tb.Helper()
	bodies, times = testsrcVideoTags(tb, "H.264", "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-pix_fmt", "yuv420p")
	if bodies[0][1] != 0 {
		tb.Fatalf("the first H.264 tag from ffmpeg is %x, not a sequence header", bodies[0][:2])
	}
	return bodies, times
}

// compositionTime reads an AVC video tag's composition time offset, ms.
func compositionTime(body []byte) int32 {
	if len(body) < 5 {
		return 0
	}
	return int32(uint32(body[2])<<16|uint32(body[3])<<8|uint32(body[4])) << 8 >> 8
}

// The re-encoding converter's arguments, run by the installed ffmpeg over
// x264 with B-frames starting 7 s into a stream: H.264 without B-frames
// comes out (every composition time 0), a sequence header first, each
// frame at its presentation time, in order.
func TestReencodeDropsBFrames(t *testing.T) {
	bodies, times := h264BFrameTags(t)
	in := flv.AppendHeader(nil, flv.FlagVideo)
	bframes := 0
	for i, b := range bodies {
		if compositionTime(b) != 0 {
			bframes++
		}
		in = flv.AppendTag(in, flv.TagVideo, 7000+times[i], b)
	}
	if bframes == 0 {
		t.Fatal("the source has no composition time offsets: no B-frames to drop")
	}
	out := runFFmpeg(t, in, reencodeArgs()...)
	var frames, seq int
	last := int64(-1)
	_ = readFLVTags(bytes.NewReader(out), maxVideoTag, func(typ uint8, ms uint32, body []byte) {
		if typ != flv.TagVideo || len(body) < 5 || body[0]&0x0f != byte(flv.VideoAVC) {
			t.Errorf("a tag of type %d, %x", typ, body[:min(len(body), 5)])
			return
		}
		if body[1] == 0 {
			seq++
			return
		}
		if seq == 0 {
			t.Error("a frame before the sequence header")
		}
		if c := compositionTime(body); c != 0 {
			t.Errorf("frame at %d ms has a composition time of %d: B-frames", ms, c)
		}
		if int64(ms) <= last || ms < 7000 {
			t.Errorf("frame at %d ms after %d: out of order or off the stream's clock", ms, last)
		}
		last = int64(ms)
		frames++
	})
	t.Logf("%d frames in (%d with a composition time), %d out", len(bodies)-1, bframes, frames)
	if frames < len(bodies)-1-2 {
		t.Errorf("%d frames out of %d", frames, len(bodies)-1)
	}
}

// BenchmarkH264ReencodeConverter runs the re-encoding converter's ffmpeg
// over 320x240 x264 with B-frames at 25 fps fed in real time (one
// iteration: one second), as BenchmarkSorensonToH264Converter: the delay
// from writing a frame to reading the frame of the same presentation
// time (latency-ms, the mean; it includes the decoder's reordering) and
// the process's CPU per second of video (cpu-ms/s).
func BenchmarkH264ReencodeConverter(b *testing.B) {
	bodies, _ := h264BFrameTags(b)
	frames := bodies[1:] // from the first keyframe: the clip loops from there
	c := startConverterBench(b, reencodeArgs(), readFLVFrames(maxVideoTag, func(ms uint32) uint32 { return ms }))
	c.write(flv.AppendHeader(nil, flv.FlagVideo))
	c.write(flv.AppendTag(nil, flv.TagVideo, 1000, bodies[0]))
	ms, i := uint32(1000), 0
	b.ReportAllocs()
	start := c.begin()
	for b.Loop() {
		for range 25 {
			f := frames[i%len(frames)]
			c.send(uint32(int64(ms)+int64(compositionTime(f))), flv.AppendTag(nil, flv.TagVideo, ms, f))
			ms += 40
			i++
			time.Sleep(time.Until(start.Add(time.Duration(ms-1000) * time.Millisecond)))
		}
	}
	c.finish(float64(ms-1000) / 1000)
}
