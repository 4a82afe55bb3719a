//go:build e2e

package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWebRTCChromiumPublishesSpeex: with webrtc.legacy_audio: speex, a
// player that predates Enhanced RTMP (rtmpdump here, standing in for
// Flash Player 6 to 9) gets Chromium's Opus as Speex, which ffmpeg's
// libspeex decodes to sound.
func TestWebRTCChromiumPublishesSpeex(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Config: "webrtc:\n  legacy_audio: speex\n"})
	b := startBrowser(t)
	publishWHIPPage(t, b, srv)
	out := filepath.Join(t.TempDir(), "rtmpdump.flv")
	// rtmpdump of a live stream ends at -B with status 2 (incomplete
	// download): the file is what counts.
	_, _ = exec.Command("rtmpdump", "-q", "-v", "-r", srv.RTMPURL("live", "cam"), "-B", "8", "-o", out).CombinedOutput()
	mi := probe(t, out)
	a := mi.stream("audio")
	peak := audioPeak(t, out)
	t.Logf("rtmpdump: audio %+v with %d frames, peak %.1f dB", a, mi.frames("audio"), peak)
	// The converter starts with the player, seconds late on a loaded
	// machine: 8 s of buffer hold at least 2 s of Speex, 100 frames of
	// 20 ms.
	if a == nil || a.CodecName != "speex" || mi.frames("audio") < 100 {
		t.Errorf("audio %+v with %d decoded frames, want Speex, 100 or more", a, mi.frames("audio"))
	}
	if errs := decodeProblems(mi.decodeErrors); errs != "" {
		t.Errorf("decoding: %s", errs)
	}
	checkMonotonic(t, mi, "audio")
	if peak < -40 {
		t.Errorf("audio peak %.1f dB: silent", peak)
	}
	if n := len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc converter started" && m["to"] == "speex" })); n != 1 {
		t.Errorf("%d Opus to Speex converter starts, want 1", n)
	}
}
