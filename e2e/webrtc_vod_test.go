//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// recordedClip makes name.flv in live's recorded streams under apps: 8 s
// of 320x240 testsrc at 25 fps coded with video (a keyframe a second),
// a 440 Hz sine as AAC.
func recordedClip(t testing.TB, apps, name string, video ...string) {
	t.Helper()
	streamFile(t, apps, "live", name+".flv", append(append([]string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=8",
		"-f", "lavfi", "-i", "sine=f=440:r=44100:duration=8"}, video...),
		"-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-f", "flv")...)
}

// A recorded FLV (H.264 baseline and AAC, made by ffmpeg) plays in
// Chromium over WebRTC (whep.html): the engine's player reads the file in
// real time, the transport is WebRTC by getStats, H.264 and Opus arrive,
// 80% or more of the file's frames are decoded and kept, the picture is
// not black, the audio not silent, and the session closes as completed
// when the file ends. An openfcs.js NetStream with transport 'webrtc'
// plays the same file over WebRTC and ends with NetStream.Play.Stop,
// without falling back. The same file with B-frames falls back to the
// WebSocket path, where openfcs.js plays it.
func TestWebRTCChromiumPlaysRecorded(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	apps := t.TempDir()
	const frames = 8 * fps
	recordedClip(t, apps, "clip", "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0")
	recordedClip(t, apps, "bclip", "-c:v", "libx264", "-profile:v", "high", "-bf", "2")
	srv := startServer(t, serverOpts{AppsDir: apps})
	b := startBrowser(t)
	b.open(t, "p", srv.pageURL("/whep.html?autoplay=1&path=live/clip"))
	b.wait(t, "p", "return window.openfcsWebRTC.mode !== ''", time.Minute)
	b.wait(t, "p", "const s = window.openfcsWebRTC.last; return s && s.framesDecoded > 25 && s.audioEnergy > 0", time.Minute)
	s := readRTCPage(t, b, "p")
	if s.Mode != "webrtc" || s.DTLSState != "connected" || !s.Pair {
		t.Fatalf("transport: mode %q, DTLS %q, pair %v; want WebRTC", s.Mode, s.DTLSState, s.Pair)
	}
	if s.VideoCodec != "video/H264" || s.AudioCodec != "audio/opus" || s.Width != 320 || s.Height != 240 {
		t.Errorf("media: %s %dx%d, %s", s.VideoCodec, s.Width, s.Height, s.AudioCodec)
	}
	var luma float64
	b.eval(t, "p", "return window.openfcsWebRTC.luma()", &luma)
	if luma < 30 {
		t.Errorf("mean luma %.1f: the picture is black", luma)
	}
	b.act(t, map[string]any{"op": "screenshot", "page": "p", "path": artifact(t, "whep-recorded.png")})
	waitFor(t, 2*time.Minute, "the session to close at the file's end", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc closed" && m["reason"] == "completed" })) == 1
	})
	// The last frames may still be in the page's jitter buffer.
	time.Sleep(500 * time.Millisecond)
	s = readRTCPage(t, b, "p")
	kept := s.FramesDecoded - s.FramesDropped
	t.Logf("recorded over WebRTC: %d of the file's %d frames decoded and kept (%d received); audio energy %.2f",
		kept, frames, s.FramesReceived, s.AudioEnergy)
	if float64(kept) < 0.8*frames {
		t.Errorf("%d frames decoded and kept, want 80%% of the file's %d", kept, frames)
	}
	if s.AudioEnergy <= 0 {
		t.Error("the Opus from the file's AAC is silent")
	}
	b.noProblems(t, "p")

	b.open(t, "ns", srv.pageURL("/whep.html"))
	b.eval(t, "ns", fmt.Sprintf(nsSetup, "webrtc")+"ns.play('clip'); return true", nil)
	if mode, reason, events := transportOf(t, b, "ns"); mode != "webrtc" || len(events) != 1 {
		t.Fatalf("NetStream of a recorded file: transport %q (reason %q), events %v; want webrtc", mode, reason, events)
	}
	b.wait(t, "ns", `return window.t.ns.rtcStats().then((s) => s.inboundVideo && s.inboundVideo.framesDecoded > 25 &&
  s.inboundAudio && s.inboundAudio.audioEnergy > 0)`, time.Minute)
	b.eval(t, "ns", "return window.t.luma()", &luma)
	if luma < 30 {
		t.Errorf("NetStream over WebRTC: canvas mean luma %.1f, black", luma)
	}
	b.wait(t, "ns", "return window.t.events.some((i) => i.code === 'NetStream.Play.Stop' && i.transport === 'webrtc')", 2*time.Minute)
	ns := readNSStats(t, b, "ns")
	var fellBack bool
	b.eval(t, "ns", "return window.t.ns.transportInUse !== 'webrtc' || window.t.events.some((i) => i.code === 'NetStream.WebRTC.Closed')", &fellBack)
	t.Logf("NetStream over WebRTC: %+v", ns.InboundVideo)
	if fellBack {
		t.Error("the NetStream fell back after the file's end")
	}
	if ns.InboundVideo == nil || float64(ns.InboundVideo.FramesDecoded-ns.InboundVideo.FramesDropped) < 0.8*frames {
		t.Errorf("NetStream over WebRTC: %+v, want 80%% of the file's %d frames decoded and kept", ns.InboundVideo, frames)
	}

	b.open(t, "q", srv.pageURL("/whep.html?autoplay=1&path=live/bclip"))
	b.wait(t, "q", "return window.openfcsWebRTC.mode !== ''", time.Minute)
	var mode, reason string
	b.eval(t, "q", "return window.openfcsWebRTC.mode", &mode)
	b.eval(t, "q", "return window.openfcsWebRTC.reason", &reason)
	if mode != "websocket" || !strings.Contains(reason, "B-frames") {
		t.Fatalf("recorded file with B-frames: mode %q (reason %q), want the WebSocket path", mode, reason)
	}
	b.wait(t, "q", "return window.openfcsWebRTC.ns.decodedFrames > 25", time.Minute)
	b.eval(t, "q", "return window.openfcsWebRTC.luma()", &luma)
	if luma < 30 {
		t.Errorf("B-frame file over the WebSocket: mean luma %.1f, the picture is black", luma)
	}
}
