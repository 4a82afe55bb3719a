//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestWebRTCReencodeBFrames: with webrtc.reencode_bframes on, ffmpeg
// publishes H.264 with B-frames (its default x264) and AAC; a NetStream
// of openfcs.js ('auto') plays it over WebRTC from the stream's copy
// re-encoded without B-frames: getStats shows H.264 frames decoded and
// Opus with energy, the canvas is not black, the server logs the choice
// (`webrtc play re-encoded`, one converter from h264 to h264) and counts
// it (bframes_reencoded), and refuses nobody for B-frames.
func TestWebRTCReencodeBFrames(t *testing.T) {
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Config: "webrtc:\n  reencode_bframes: true\n"})
	b := startBrowser(t)
	pub := startPublisher(t, srv.RTMPURL("live", "bf"), codecArgs{Video: h264BFrames, Audio: aacAudio}, 0)
	defer pub.stop(t)
	waitFor(t, 30*time.Second, "the stream", func() bool { return pub.frames() > 10 })
	b.open(t, "play", srv.pageURL("/whep.html"))
	b.eval(t, "play", fmt.Sprintf(nsSetup, "auto")+"ns.play('bf'); return true", nil)
	mode, reason, _ := transportOf(t, b, "play")
	if mode != "webrtc" {
		t.Fatalf("transport %q (reason %q); want webrtc, re-encoded", mode, reason)
	}
	b.wait(t, "play", `return window.t.ns.rtcStats().then((s) => s.inboundVideo && s.inboundVideo.framesDecoded > 25 &&
  s.inboundAudio && s.inboundAudio.audioEnergy > 0)`, 90*time.Second)
	s0 := readNSStats(t, b, "play")
	// Judged on the stream's clock: what ffmpeg published meanwhile.
	f0 := pub.frames()
	waitFor(t, time.Minute, "100 more frames published", func() bool { return pub.frames() >= f0+100 })
	s1 := readNSStats(t, b, "play")
	published := pub.frames() - f0
	v0, v1 := s0.InboundVideo, s1.InboundVideo
	t.Logf("re-encoded over WebRTC: %s %dx%d, %s; %d frames published, %d decoded, %d dropped", v1.Codec, v1.Width, v1.Height,
		s1.InboundAudio.Codec, published, v1.FramesDecoded-v0.FramesDecoded, v1.FramesDropped-v0.FramesDropped)
	if v1.Codec != "video/H264" || s1.InboundAudio.Codec != "audio/opus" || v1.Width != 320 || v1.Height != 240 {
		t.Errorf("media: %s %dx%d, %s", v1.Codec, v1.Width, v1.Height, s1.InboundAudio.Codec)
	}
	// Half of what was published: the picture moves, on any machine.
	if decoded := v1.FramesDecoded - v0.FramesDecoded; decoded < published/2 {
		t.Errorf("%d frames decoded while %d were published, want half or more", decoded, published)
	}
	if s1.InboundAudio.AudioEnergy <= s0.InboundAudio.AudioEnergy {
		t.Errorf("audio energy %v then %v: silent", s0.InboundAudio.AudioEnergy, s1.InboundAudio.AudioEnergy)
	}
	b.checkLit(t, "play")
	if n := len(srv.findLogs(func(m map[string]any) bool {
		return m["msg"] == "webrtc play re-encoded" && m["stream"] == "bf" && m["copy"] == "bf:converted"
	})); n != 1 {
		t.Errorf("%d `webrtc play re-encoded` lines, want 1", n)
	}
	if n := len(srv.findLogs(func(m map[string]any) bool {
		return m["msg"] == "webrtc converter started" && m["from"] == "h264" && m["to"] == "h264"
	})); n != 1 {
		t.Errorf("%d converters from h264 to h264 started, want 1", n)
	}
	var st struct {
		WebRTC struct {
			BFramesRefused   int `json:"bframes_refused"`
			BFramesReencoded int `json:"bframes_reencoded"`
		} `json:"webrtc"`
	}
	srv.adminJSON(t, "/admin/api/v1/server", &st)
	if st.WebRTC.BFramesReencoded != 1 || st.WebRTC.BFramesRefused != 0 {
		t.Errorf("server counters %+v; want one play re-encoded, none refused", st.WebRTC)
	}
	b.noProblems(t, "play")
}
