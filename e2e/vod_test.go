//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/status"
)

// Recording and VOD acceptance.

// vodAppsDir returns the server's applications folder (from its `started`
// log line).
func vodAppsDir(t testing.TB, srv *server) string {
	t.Helper()
	var dir string
	waitFor(t, 10*time.Second, "the `started` log line", func() bool {
		for _, l := range srv.Logs() {
			if l["msg"] == "started" {
				dir, _ = l["apps"].(string)
				return dir != ""
			}
		}
		return false
	})
	return dir
}

// vodStreams returns app's streams folder for the default instance.
func vodStreams(appsDir, app string) string {
	return filepath.Join(appsDir, app, "streams", "_definst_")
}

// x264 with a keyframe every second (25 frames) and no B-frames: the seek
// tests can tell a keyframe interval apart.
var h264GOP1s = []string{"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-keyint_min", "25",
	"-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "300k"}

// readFLVTags returns the tags of an FLV file.
func readFLVTags(t testing.TB, path string) []flv.Tag {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	rd, err := flv.NewReader(f, fi.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var tags []flv.Tag
	for {
		tag, err := rd.Next(nil)
		if err != nil {
			break
		}
		tags = append(tags, tag)
	}
	return tags
}

// ffprobeDuration returns the container duration ffprobe reports.
func ffprobeDuration(t testing.TB, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	d, err := parseSeconds(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", out, err)
	}
	return d
}

// playEvent is one status or message seen by the project's client.
type playEvent struct {
	code    string // onStatus or onPlayStatus code; "" for media and other data
	kind    media.Kind
	ts      uint32
	payload []byte
}

// playRecorder views the project's client's StreamLog as playEvents.
type playRecorder struct {
	log *rtmp.StreamLog
}

func recordPlay(s *rtmp.ClientStream) *playRecorder {
	return &playRecorder{log: rtmp.LogStream(s)}
}

func (r *playRecorder) events() []playEvent {
	var out []playEvent
	for _, e := range r.log.Events() {
		out = append(out, playEvent{code: e.Code, kind: e.Kind, ts: e.Time, payload: e.Payload})
	}
	return out
}

func (r *playRecorder) codes() []string {
	var out []string
	for _, e := range r.events() {
		if e.code != "" {
			out = append(out, e.code)
		}
	}
	return out
}

// maxMediaTS is the largest audio/video timestamp received so far.
func (r *playRecorder) maxMediaTS() uint32 {
	var m uint32
	for _, e := range r.events() {
		if e.code == "" && (e.kind == media.Audio || e.kind == media.Video) {
			m = max(m, e.ts)
		}
	}
	return m
}

func dialVOD(t testing.TB, url string) *rtmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, url, rtmp.ClientConfig{})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestVODRecordAndPlayback: ffmpeg publishes 10 s of H.264 + AAC to an app
// that records every live publish with a keyframes index (acceptance 1);
// rtmpdump, ffmpeg and the project's client play the recording back
// (acceptance 2); rtmpdump -A 5 and -B 3 (acceptance 3).
func TestVODRecordAndPlayback(t *testing.T) { //nolint:tparallel // subtests play one recording in turn
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Apps: []string{"vod"}})
	apps := vodAppsDir(t, srv)
	if err := os.WriteFile(filepath.Join(apps, "vod", "application.yaml"),
		[]byte("record:\n  live: record\n  keyframes_index: 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := srv.RTMPURL("vod", "clip")
	pub := startPublisher(t, url, codecArgs{Video: h264GOP1s, Audio: aacAudio}, 10*time.Second)
	pub.finish(t, 60*time.Second)
	path := filepath.Join(vodStreams(apps, "vod"), "clip.flv")
	waitFor(t, 20*time.Second, "the `record stop` log line", func() bool {
		return len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "record stop" })) > 0
	})

	// Acceptance 1: codecs, duration, onMetaData duration and keyframes.
	rec := probe(t, path)
	if rec.decodeErrors != "" {
		t.Errorf("recording: decoder errors:\n%s", rec.decodeErrors)
	}
	if s := rec.stream("video"); s == nil || s.CodecName != "h264" {
		t.Errorf("recording: video stream %+v, want h264", s)
	}
	if s := rec.stream("audio"); s == nil || s.CodecName != "aac" {
		t.Errorf("recording: audio stream %+v, want aac", s)
	}
	dur := ffprobeDuration(t, path)
	t.Logf("recording: ffprobe duration %.3f s, %d video / %d audio frames", dur, rec.frames("video"), rec.frames("audio"))
	if math.Abs(dur-10) > 0.5 {
		t.Errorf("recording: ffprobe duration %.3f s, want 10 ± 0.5", dur)
	}
	tags := readFLVTags(t, path)
	if len(tags) == 0 || tags[0].Type != flv.TagScript {
		t.Fatalf("recording does not start with onMetaData")
	}
	md, err := flv.ParseMetadata(tags[0].Payload, amf.Limits{})
	if err != nil {
		t.Fatalf("recording onMetaData: %v", err)
	}
	t.Logf("recording: onMetaData duration %.3f s, %d keyframes indexed", md.Duration, len(md.Keyframes))
	if math.Abs(md.Duration-10) > 0.5 || math.Abs(md.Duration-dur) > 0.1 {
		t.Errorf("onMetaData duration %.3f, want 10 ± 0.5 and ffprobe's %.3f", md.Duration, dur)
	}
	var keys []flv.SeekPoint
	for _, tag := range tags {
		if tag.Type == flv.TagVideo && flv.IsVideoKeyframe(tag.Payload) {
			keys = append(keys, flv.SeekPoint{Time: tag.Time, Offset: tag.Offset})
		}
	}
	if len(md.Keyframes) != len(keys) {
		t.Errorf("keyframes index has %d entries, the file %d keyframes", len(md.Keyframes), len(keys))
	}
	for i := range min(len(keys), len(md.Keyframes)) {
		k, m := keys[i], md.Keyframes[i]
		if k.Offset != m.Offset || int64(k.Time)-int64(m.Time) > 1 || int64(m.Time)-int64(k.Time) > 1 {
			t.Errorf("keyframes index entry %d = %+v, the file has a keyframe %+v", i, m, k)
			break
		}
	}

	// Acceptance 2: rtmpdump and ffmpeg play it back completely.
	players := map[string]*player{
		"ffmpeg player":   startFFmpegPlayer(t, url),
		"rtmpdump player": startVODRtmpdump(t, url),
	}
	for who, p := range players {
		p.end(t, 40*time.Second)
		got := probe(t, p.out)
		if got.decodeErrors != "" {
			t.Errorf("%s: decoder errors:\n%s", who, got.decodeErrors)
		}
		for _, kind := range []string{"video", "audio"} {
			want := rec.frames(kind)
			t.Logf("%s: %s: decoded %d of %d recorded frames (%.1f%%)", who, kind, got.frames(kind), want,
				100*float64(got.frames(kind))/float64(max(want, 1)))
			if float64(got.frames(kind)) < 0.95*float64(want) {
				t.Errorf("%s: decoded %d %s frames, want >= 95%% of %d", who, got.frames(kind), kind, want)
			}
			checkMonotonic(t, got, kind)
		}
	}

	// Acceptance 2: the project's client sees the status sequence.
	t.Run("status sequence", func(t *testing.T) {
		c := dialVOD(t, srv.RTMPURL("vod", ""))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if n, err := c.GetStreamLength(ctx, "clip"); err != nil || math.Abs(n-md.Duration) > 0.001 {
			t.Errorf("getStreamLength = %v, %v; want %v", n, err, md.Duration)
		}
		s, err := c.CreateStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pr := recordPlay(s)
		if err := s.SetBufferLength(5000); err != nil {
			t.Fatal(err)
		}
		if err := s.PlayArgs("clip", 0, -1000, true); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "NetStream.Play.Stop", func() bool { return slices.Contains(pr.codes(), status.PlayStop) })
		want := []string{status.PlayReset, status.PlayStart, status.PlayComplete, status.PlayStop}
		if got := pr.codes(); !slices.Equal(got, want) {
			t.Errorf("status sequence %v, want %v", got, want)
		}
		var video int
		for _, e := range pr.events() {
			if e.kind == media.Video && e.code == "" {
				video++
			}
		}
		t.Logf("project client: %d video messages, statuses %v", video, pr.codes())
		if float64(video) < 0.95*float64(rec.frames("video")) {
			t.Errorf("project client got %d video messages, want >= 95%% of %d", video, rec.frames("video"))
		}
	})

	// Acceptance 3: rtmpdump -A 5 starts at the keyframe at or before 5 s;
	// -B 3 stops at 3 s.
	t.Run("rtmpdump -A 5", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "a5.flv")
		p := startProc(t, procOpts{}, "rtmpdump", "-q", "-r", url, "-A", "5", "-o", out)
		if err := p.wait(t, 30*time.Second); err != nil {
			t.Logf("rtmpdump -A 5: %v", err)
		}
		first := firstVideo(t, out)
		// librtmp adds the seek offset to every timestamp it writes (it
		// assumes a server restarting at 0); the server sends the file's
		// own times (docs/rtmp.md#play), so the file's time is first − 5000.
		sent := int64(first.Time) - 5000
		t.Logf("rtmpdump -A 5: first video at %d ms in its output = %d ms in the file (keyframe: %v)", first.Time, sent, flv.IsVideoKeyframe(first.Payload))
		if !flv.IsVideoKeyframe(first.Payload) || sent > 5000 || sent < 5000-1000-50 {
			t.Errorf("rtmpdump -A 5 started at file time %d ms (keyframe %v), want a keyframe in [3950, 5000]",
				sent, flv.IsVideoKeyframe(first.Payload))
		}
	})
	t.Run("rtmpdump -B 3", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "b3.flv")
		p := startProc(t, procOpts{}, "rtmpdump", "-q", "-r", url, "-B", "3", "-o", out)
		_ = p.wait(t, 30*time.Second) // exit 2: "incomplete", as asked
		var last uint32
		for _, tag := range readFLVTags(t, out) {
			if tag.Type == flv.TagVideo || tag.Type == flv.TagAudio {
				last = max(last, tag.Time)
			}
		}
		t.Logf("rtmpdump -B 3: last media at %d ms", last)
		if last > 3000 || last < 2900 {
			t.Errorf("rtmpdump -B 3 stopped at %d ms, want 3000 (−100)", last)
		}
	})
}

// startVODRtmpdump plays a recorded stream with rtmpdump (not live).
func startVODRtmpdump(t testing.TB, url string) *player {
	t.Helper()
	out := filepath.Join(t.TempDir(), "rtmpdump-vod.flv")
	p := startProc(t, procOpts{}, "rtmpdump", "-q", "-r", url, "-o", out)
	return &player{proc: p, out: out}
}

func firstVideo(t testing.TB, path string) flv.Tag {
	t.Helper()
	for _, tag := range readFLVTags(t, path) {
		if tag.Type == flv.TagVideo && !flv.IsVideoSequenceHeader(tag.Payload) {
			return tag
		}
	}
	t.Fatalf("%s has no video", path)
	return flv.Tag{}
}

// TestVODPacing: a client with a 1 s buffer playing a 30 s file has never
// received more than elapsed + 2 s of media during the first 10 s
// (acceptance 4).
func TestVODPacing(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Apps: []string{"vod"}})
	dir := vodStreams(vodAppsDir(t, srv), "vod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Encode 30 s as fast as possible (not in real time).
	enc := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", "30", "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "32k", "-f", "flv", filepath.Join(dir, "long.flv"))
	if out, err := enc.CombinedOutput(); err != nil {
		t.Fatalf("encoding the 30 s file: %v\n%s", err, out)
	}
	c := dialVOD(t, srv.RTMPURL("vod", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pr := recordPlay(s)
	if err := s.SetBufferLength(1000); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.PlayArgs("long", 0, -1000, true); err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	var samples []string
	for el := time.Duration(0); el < 10*time.Second; el = time.Since(start) {
		got := time.Duration(pr.maxMediaTS()) * time.Millisecond
		ahead := got - el
		worst = max(worst, ahead)
		if len(samples) < 12 && int(el/time.Second) >= len(samples) {
			samples = append(samples, fmt.Sprintf("%.1fs:%.1fs", el.Seconds(), got.Seconds()))
		}
		if got > el+2*time.Second {
			t.Fatalf("at %v the client had media up to %v: more than elapsed + 2 s", el.Round(time.Millisecond), got)
		}
		time.Sleep(50 * time.Millisecond) // sampling interval
	}
	final := time.Duration(pr.maxMediaTS()) * time.Millisecond
	t.Logf("pacing, elapsed:received: %s; most ahead %v", strings.Join(samples, " "), worst.Round(time.Millisecond))
	if final < 9*time.Second {
		t.Errorf("after 10 s the client had only %v of media: pacing too slow", final)
	}
}
