package webrtc

import (
	"bytes"
	"os/exec"
	"sync"
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
	cmd := exec.Command("ffmpeg", opusArgs(64000)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var start time.Time
	var lat time.Duration
	var got int
	done := make(chan struct{})
	go func() {
		defer close(done)
		rd := ogg.NewReader(stdout, maxOpusPacket)
		k := 0
		for {
			p, err := rd.Next()
			if err != nil {
				return
			}
			if bytes.HasPrefix(p.Data, []byte("Opus")) {
				continue
			}
			mu.Lock()
			// Packet k starts k*20 ms into the stream, which was written
			// at start + k*20 ms.
			lat += time.Since(start.Add(time.Duration(k) * 20 * time.Millisecond))
			got++
			mu.Unlock()
			k++
		}
	}()
	_, _ = stdin.Write(flv.AppendHeader(nil, flv.FlagAudio))
	_, _ = stdin.Write(flv.AppendTag(nil, flv.TagAudio, 0, config))
	var ms float64 // AAC frames are 1024 samples: 23.2 ms at 44.1 kHz
	i := 0
	b.ReportAllocs()
	mu.Lock()
	start = time.Now()
	mu.Unlock()
	for b.Loop() {
		for end := ms + 1000; ms < end; ms += 1024 * 1000 / 44100.0 {
			_, _ = stdin.Write(flv.AppendTag(nil, flv.TagAudio, uint32(ms), frames[i%len(frames)]))
			i++
			time.Sleep(time.Until(start.Add(time.Duration(ms * float64(time.Millisecond)))))
		}
	}
	_ = stdin.Close()
	<-done
	_ = cmd.Wait()
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	mu.Lock()
	defer mu.Unlock()
	if got > 0 {
		b.ReportMetric(float64(lat.Milliseconds())/float64(got), "latency-ms")
	}
	b.ReportMetric(float64(cpu.Milliseconds())/(ms/1000), "cpu-ms/s")
}
