//go:build e2e

package e2e

import (
	"strconv"
	"testing"
	"time"
)

// waitPlaying waits until the server has logged n `play start` lines for
// stream.
func waitPlaying(t testing.TB, srv *server, stream string, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, strconv.Itoa(n)+" `play start` log lines for "+stream, func() bool {
		return len(srv.findLogs(func(l map[string]any) bool {
			return l["msg"] == "play start" && l["stream"] == stream
		})) >= n
	})
}

// liveCase is one codec pair of the live acceptance test.
type liveCase struct {
	codecs         codecArgs
	vcodec, acodec string // ffprobe codec names expected at the players
	wantBFrames    bool
}

// runLive: an ffmpeg player and an rtmpdump player wait on live/s1; ffmpeg
// publishes for 20 s; both players must decode ≥ 90% of what was published
// (they were connected the whole time), without decoder errors, with the
// right codecs and monotonic timestamps.
func runLive(t *testing.T, lc liveCase) {
	t.Helper()
	srv := startServer(t, serverOpts{})
	url := srv.RTMPURL("live", "s1")

	players := map[string]*player{
		"ffmpeg player":   startFFmpegPlayer(t, url),
		"rtmpdump player": startRtmpdumpPlayer(t, url),
	}
	waitPlaying(t, srv, "s1", len(players))

	start := time.Now()
	pub := startPublisher(t, url, lc.codecs, 20*time.Second)
	pub.finish(t, 60*time.Second)
	t.Logf("published for %v", time.Since(start).Round(time.Millisecond))
	for _, p := range players {
		p.end(t, 5*time.Second)
	}

	published := probe(t, pub.copyPath)
	t.Logf("published: %d video, %d audio frames", published.frames("video"), published.frames("audio"))
	if lc.wantBFrames {
		if n := bFrames(t, pub.copyPath); n == 0 {
			t.Fatalf("publisher produced no B-frames; the test would not exercise composition offsets")
		}
	}
	for who, p := range players {
		got := probe(t, p.out)
		checkReceived(t, who, got, published, lc.vcodec, lc.acodec)
		if lc.wantBFrames {
			if n := bFrames(t, p.out); n == 0 {
				t.Errorf("%s: no B-frames decoded", who)
			}
		}
	}
}

func TestLiveH264AAC(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	runLive(t, liveCase{
		codecs: codecArgs{Video: h264BFrames, Audio: aacAudio},
		vcodec: "h264", acodec: "aac", wantBFrames: true,
	})
}

func TestLiveSorensonNellymoser(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "flv", "nellymoser")
	runLive(t, liveCase{
		codecs: codecArgs{Video: sorenson, Audio: nellyAudio},
		vcodec: "flv1", acodec: "nellymoser",
	})
}

func TestLiveSpeex(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "libspeex")
	runLive(t, liveCase{
		codecs: codecArgs{Video: h264NoB, Audio: speexAudio},
		vcodec: "h264", acodec: "speex",
	})
}

// TestLateJoinerGOPCache: a player that joins mid-GOP gets the cached GOP:
// its first video packet is a keyframe that decodes, and it receives the
// frames published before it joined back to that keyframe.
func TestLateJoinerGOPCache(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	url := srv.RTMPURL("live", "late")

	// 4 s GOPs (keyframes at frames 0, 100, 200), no B-frames.
	const gop = 100
	pub := startPublisher(t, url, codecArgs{Video: h264NoB, Audio: aacAudio}, 12*time.Second)
	// Join in the middle of the second GOP, well after its keyframe.
	waitFor(t, 30*time.Second, "publisher to reach frame 140", func() bool { return pub.frames() >= 140 })
	// rtmpdump keeps the timestamps and packets exactly as the server sent
	// them (ffmpeg -c copy would drop leading non-keyframes by default).
	late := startRtmpdumpPlayer(t, url)
	waitFor(t, 20*time.Second, "late player to receive data", func() bool { return late.size() > 1024 })
	joinedAt := pub.frames()
	t.Logf("late player joined at published frame ≈ %d", joinedAt)
	if joinedAt >= 2*gop {
		t.Fatalf("late player joined at frame %d, after the next keyframe (%d): the machine is too slow for this test", joinedAt, 2*gop)
	}

	pub.finish(t, 60*time.Second)
	late.end(t, 10*time.Second)

	published := probe(t, pub.copyPath)
	got := probe(t, late.out)
	if got.decodeErrors != "" {
		t.Errorf("late joiner: decoder errors (its first frames did not decode):\n%s", got.decodeErrors)
	}
	vp := got.packetsOf("video")
	if len(vp) == 0 {
		t.Fatal("late joiner received no video")
	}
	if vp[0].Flags == "" || vp[0].Flags[0] != 'K' {
		t.Errorf("late joiner: first video packet flags %q, want a keyframe (K)", vp[0].Flags)
	}
	total := len(published.packetsOf("video"))
	decoded := got.frames("video")
	t.Logf("late joiner: %d video packets, %d decoded; %d published", len(vp), decoded, total)
	if decoded != len(vp) {
		t.Errorf("late joiner: decoded %d of %d video packets; every received frame must decode", decoded, len(vp))
	}
	// From the GOP cache it gets everything since the keyframe before it
	// joined (frame 100); without the cache it would start at the next
	// keyframe (200) or mid-GOP (≈ joinedAt).
	if want := total - joinedAt; len(vp) <= want {
		t.Errorf("late joiner received %d video frames, want more than the %d published after it joined (the cached GOP)", len(vp), want)
	}
	checkMonotonic(t, got, "video")
	checkMonotonic(t, got, "audio")
}
