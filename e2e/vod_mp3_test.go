//go:build e2e

package e2e

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/media/flv"
)

// TestVODMP3: MP3s made by ffmpeg (libmp3lame, 44.1 and 22.05 kHz) play via
// mp3: with rtmpdump; the output decodes as mp3 with the source duration
// ± 0.2 s.
func TestVODMP3(t *testing.T) { //nolint:tparallel // subtests share one server, one rate at a time
	t.Parallel()
	requireEncoders(t, "libmp3lame")
	srv := startServer(t, serverOpts{Apps: []string{"vod"}})
	dir := vodStreams(vodAppsDir(t, srv), "vod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, rate := range []string{"44100", "22050"} {
		t.Run(rate, func(t *testing.T) {
			src := filepath.Join(dir, "song"+rate+".mp3")
			enc := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
				"-f", "lavfi", "-i", "sine=frequency=440:sample_rate="+rate, "-t", "4",
				"-c:a", "libmp3lame", "-b:a", "64k", "-ar", rate, "-metadata", "title=Test Song", src)
			if out, err := enc.CombinedOutput(); err != nil {
				t.Fatalf("encoding: %v\n%s", err, out)
			}
			want := ffprobeDuration(t, src)
			out := filepath.Join(t.TempDir(), "mp3.flv")
			p := startProc(t, procOpts{}, "rtmpdump", "-q", "-r", srv.RTMPURL("vod", "mp3:song"+rate), "-o", out)
			if err := p.wait(t, 30*time.Second); err != nil {
				t.Logf("rtmpdump: %v", err)
			}
			got := probe(t, out)
			if got.decodeErrors != "" {
				t.Errorf("decoder errors:\n%s", got.decodeErrors)
			}
			a := got.stream("audio")
			if a == nil || a.CodecName != "mp3" {
				t.Fatalf("audio stream %+v, want mp3", a)
			}
			d := ffprobeDuration(t, out)
			t.Logf("%s Hz: source %.3f s, played %.3f s, %d frames", rate, want, d, a.Frames)
			if math.Abs(d-want) > 0.2 {
				t.Errorf("played duration %.3f s, source %.3f s: want within 0.2 s", d, want)
			}
		})
	}
}

// TestVODKillDuringRecording: the server is killed (SIGKILL) while ffmpeg
// publishes to a recording app; the next server trims the file on first
// access and it plays back without decoder errors.
func TestVODKillDuringRecording(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	apps := filepath.Join(t.TempDir(), "applications")
	if err := os.MkdirAll(filepath.Join(apps, "vod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(apps, "vod", "application.yaml"), []byte("record:\n  live: record\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A server of our own: the harness's expects a clean exit.
	addr := make(chan string, 1)
	crash := startProc(t, procOpts{Quiet: true, StderrLine: func(line string) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" && m["proto"] == "rtmp" {
			select {
			case addr <- m["addr"].(string):
			default:
			}
		}
	}}, openfcsBin, "serve", "--rtmp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--apps", apps, "--log-format", "json")
	var rtmpAddr string
	select {
	case rtmpAddr = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("the first server did not listen")
	}
	pub := startPublisher(t, "rtmp://"+rtmpAddr+"/vod/crash", codecArgs{Video: h264GOP1s, Audio: aacAudio}, 0)
	path := filepath.Join(apps, "vod", "streams", "_definst_", "crash.flv")
	waitFor(t, 30*time.Second, "200 KB recorded", func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Size() > 200<<10
	})
	_ = syscall.Kill(crash.cmd.Process.Pid, syscall.SIGKILL)
	<-crash.done
	pub.interrupt(t, 10*time.Second)
	fi, _ := os.Stat(path)
	t.Logf("killed with %d bytes on disk", fi.Size())

	// The next server gets the file as it was left.
	srv := startServer(t, serverOpts{Apps: []string{"vod"}})
	dir := vodStreams(vodAppsDir(t, srv), "vod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Make sure the tail is torn, as a crash mid-write leaves it.
	raw = raw[:len(raw)-7]
	if err := os.WriteFile(filepath.Join(dir, "crash.flv"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	player := startFFmpegPlayer(t, srv.RTMPURL("vod", "crash"))
	player.end(t, 60*time.Second)
	got := probe(t, player.out)
	if got.decodeErrors != "" {
		t.Errorf("decoder errors after the crash:\n%s", got.decodeErrors)
	}
	if got.frames("video") < 25 {
		t.Errorf("played %d video frames", got.frames("video"))
	}
	trimmed, _ := os.ReadFile(filepath.Join(dir, "crash.flv"))
	if !flv.TailOK(strings.NewReader(string(trimmed)), int64(len(trimmed))) {
		t.Errorf("the file was not trimmed on first access (%d bytes, was %d)", len(trimmed), len(raw))
	}
	t.Logf("trimmed %d → %d bytes; played %d video frames", len(raw), len(trimmed), got.frames("video"))
}
