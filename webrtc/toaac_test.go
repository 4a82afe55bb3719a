package webrtc

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/ogg"
)

func TestOpusSamples(t *testing.T) {
	for _, c := range []struct {
		toc  []byte
		want int
	}{
		{[]byte{0xfc}, 960},       // CELT 20 ms, one frame (what browsers send)
		{[]byte{0xf8 | 1}, 1920},  // CELT 20 ms, two frames
		{[]byte{0x08}, 960},       // SILK 20 ms
		{[]byte{0x18}, 2880},      // SILK 60 ms
		{[]byte{0x80}, 120},       // CELT 2.5 ms
		{[]byte{0x83, 0x03}, 360}, // CELT 2.5 ms, three frames (code 3)
		{[]byte{0x83}, 960},       // code 3 without its count byte
		{nil, 960},
	} {
		if got := opusSamples(c.toc); got != c.want {
			t.Errorf("% x: %d samples, want %d", c.toc, got, c.want)
		}
	}
}

// The converter's own arguments, run by the installed ffmpeg over pages
// as the publisher writes them, starting 5 s into a stream: AAC comes
// out, a sequence header first, at the stream's times.
func TestOpusToAACKeepsStreamTime(t *testing.T) {
	t.Run("aac", func(t *testing.T) { testLegacyKeepsStreamTime(t, "aac", flv.SoundAAC, 85) })
	// Speex frames are 20 ms: 2 s are about 100.
	t.Run("speex", func(t *testing.T) { testLegacyKeepsStreamTime(t, "speex", flv.SoundSpeex, 95) })
}

func testLegacyKeepsStreamTime(t *testing.T, codec string, format flv.SoundFormat, minFrames int) {
	t.Helper()
	src, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:r=48000:d=2",
		"-ac", "2", "-c:a", "libopus", "-frame_duration", "20", "-f", "ogg", "pipe:1").Output()
	if err != nil {
		t.Fatalf("ffmpeg making Opus (scripts/deps.sh installs it): %v", err)
	}
	in := bytes.Join(opusPreamble(9), nil)
	rd := ogg.NewReader(bytes.NewReader(src), maxOpusPacket)
	ms, n := uint32(5000), 0
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		if bytes.HasPrefix(p.Data, []byte("Opus")) {
			continue
		}
		in = append(in, opusPage(9, uint32(n+2), ms, p.Data)...)
		ms += uint32(opusSamples(p.Data) / 48)
		n++
	}
	if n < 90 {
		t.Fatalf("%d Opus packets from ffmpeg", n)
	}
	out := runFFmpeg(t, in, legacyArgs(codec)...)
	var times []uint32
	var first []byte
	err = readFLVTags(bytes.NewReader(out), maxAACTag, func(typ uint8, ms uint32, body []byte) {
		if first == nil {
			first = append([]byte(nil), body...)
		}
		if typ == flv.TagAudio && len(body) > 1 && (format != flv.SoundAAC || body[1] == 1) {
			times = append(times, ms)
		}
	})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("reading the converter's output: %v", err)
	}
	if len(first) == 0 || first[0]>>4 != byte(format) || format == flv.SoundAAC && !flv.IsAudioSequenceHeader(first) {
		t.Fatalf("first tag % x, want %s (a sequence header for AAC)", first, codec)
	}
	// 2 s of audio are about 94 AAC frames of 1024 samples.
	if len(times) < minFrames {
		t.Fatalf("%d %s frames from %d Opus packets", len(times), codec, n)
	}
	// Another decoder takes it: ffmpeg reads the FLV and decodes every frame.
	dec := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "flv", "-i", "pipe:0", "-f", "null", "-")
	dec.Stdin = bytes.NewReader(out)
	if msg, err := dec.CombinedOutput(); err != nil || len(bytes.TrimSpace(msg)) > 0 {
		t.Fatalf("ffmpeg decoding the %s: %v %s", codec, err, msg)
	}
	if times[0] < 4950 || times[0] > 5100 || times[len(times)-1] < 6850 || times[len(times)-1] > 7100 {
		t.Fatalf("%s from %d ms to %d ms, want about 5000 to 7000", codec, times[0], times[len(times)-1])
	}
}

// BenchmarkOpusToAACConverter runs the converter's ffmpeg over Opus fed
// in real time (one iteration: one second, 50 packets) and reports what
// a converted stream costs: the delay from writing a packet to reading
// AAC of that time (latency-ms, the mean), and the process's CPU per
// second of audio (cpu-ms/s).
func BenchmarkOpusToAACConverter(b *testing.B) {
	src, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:r=48000",
		"-t", "2", "-ac", "2", "-c:a", "libopus", "-frame_duration", "20", "-f", "ogg", "pipe:1").Output()
	if err != nil {
		b.Fatalf("ffmpeg making Opus: %v", err)
	}
	var pkts [][]byte
	for rd := ogg.NewReader(bytes.NewReader(src), maxOpusPacket); ; {
		p, err := rd.Next()
		if err != nil {
			break
		}
		if !bytes.HasPrefix(p.Data, []byte("Opus")) {
			pkts = append(pkts, append([]byte(nil), p.Data...))
		}
	}
	// AAC of ms is the output of the Opus packet that starts at or
	// before ms, 20 ms apart.
	c := startConverterBench(b, aacArgs(), readFLVFrames(maxAACTag, func(ms uint32) uint32 { return ms - ms%20 }))
	for _, p := range opusPreamble(1) {
		c.write(p)
	}
	ms, seq := uint32(1000), uint32(2)
	b.ReportAllocs()
	start := c.begin()
	for b.Loop() {
		for range 50 {
			p := pkts[int(seq)%len(pkts)]
			c.send(ms, opusPage(1, seq, ms, p))
			ms += 20
			seq++
			time.Sleep(time.Until(start.Add(time.Duration(ms-1000) * time.Millisecond)))
		}
	}
	c.finish(float64(ms-1000) / 1000)
}

func TestLegacyAudioValidated(t *testing.T) {
	for _, c := range []struct {
		codec string
		ok    bool
	}{{"", true}, {"aac", true}, {"speex", true}, {"nellymoser", false}, {"AAC", false}} {
		if err := (Config{LegacyAudio: c.codec}).Validate(); (err == nil) != c.ok {
			t.Errorf("legacy_audio %q: %v", c.codec, err)
		}
	}
	if got := (Config{}).WithDefaults().LegacyAudio; got != "aac" {
		t.Errorf("default legacy_audio %q", got)
	}
}
