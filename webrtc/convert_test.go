package webrtc

import (
	"bytes"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/ogg"
)

// BenchmarkAACToOpusConverter runs the audio converter's ffmpeg over AAC
// (44.1 kHz mono, 64 kbit/s, as the e2e publisher sends) fed in real
// time (one iteration: one second) and reports its cost: the delay from
// writing the AAC of a moment to reading the Opus packet that starts
// there (latency-ms, the mean), and the process's CPU per second of audio
// (cpu-ms/s).
func BenchmarkAACToOpusConverter(b *testing.B) {
	src, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:r=44100",
		"-t", "2", "-ac", "1", "-c:a", "aac", "-b:a", "64k", "-f", "flv", "pipe:1").Output()
	if err != nil {
		b.Fatalf("ffmpeg making AAC: %v", err)
	}
	var config []byte
	var frames [][]byte
	_ = readFLVTags(bytes.NewReader(src), maxAACTag, func(typ uint8, _ uint32, body []byte) {
		switch {
		case typ != flv.TagAudio:
		case flv.IsAudioSequenceHeader(body):
			config = append([]byte(nil), body...)
		default:
			frames = append(frames, append([]byte(nil), body...))
		}
	})
	if config == nil || len(frames) < 80 {
		b.Fatalf("AAC from ffmpeg: config % x, %d frames", config, len(frames))
	}
	c := startConverterBench(b, opusArgs(64000), func(c *converterBench, stdout io.Reader) {
		rd := ogg.NewReader(stdout, maxOpusPacket)
		for k := 0; ; {
			p, err := rd.Next()
			if err != nil {
				return
			}
			if bytes.HasPrefix(p.Data, []byte("Opus")) {
				continue
			}
			// Packet k starts k*20 ms into the stream, which was written
			// at start + k*20 ms.
			c.arrivedAfter(time.Duration(k) * 20 * time.Millisecond)
			k++
		}
	})
	c.write(flv.AppendHeader(nil, flv.FlagAudio))
	c.write(flv.AppendTag(nil, flv.TagAudio, 0, config))
	var ms float64 // AAC frames are 1024 samples: 23.2 ms at 44.1 kHz
	i := 0
	b.ReportAllocs()
	start := c.begin()
	for b.Loop() {
		for end := ms + 1000; ms < end; ms += 1024 * 1000 / 44100.0 {
			c.write(flv.AppendTag(nil, flv.TagAudio, uint32(ms), frames[i%len(frames)]))
			i++
			time.Sleep(time.Until(start.Add(time.Duration(ms * float64(time.Millisecond)))))
		}
	}
	c.finish(ms / 1000)
}
