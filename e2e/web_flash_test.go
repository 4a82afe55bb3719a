//go:build e2e

package e2e

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// ffmpeg publishes the Flash Player 6 to 10 codecs over RTMP: Sorenson
// H.263 with Nellymoser, and Sorenson H.263 with Speex. The play page
// of openfcs.js, held to the WebSocket path (transport=websocket), plays
// each: its connect leaves those codecs out of its codec masks, so the
// server gives it the stream's converted copy (H.264 and Opus, one pair
// of converters for the stream). The canvas is lit and changes, an
// AnalyserNode hears sound, no Play.Failed; the copy is in the admin
// view with its codecs and the page as its player. Then Chromium plays
// the same stream over WebRTC (whep.html), which shares the copy: still
// two converters running and one started per codec.
func TestWebPlaysFlashCodecs(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "flv", "nellymoser", "libspeex")
	srv := startServer(t, serverOpts{})
	b := startBrowser(t)
	for _, c := range flashCodecStreams {
		pub := startPublisher(t, srv.RTMPURL("live", c.stream), codecArgs{Video: sorenson, Audio: c.audio}, 0)
		waitFor(t, 30*time.Second, "the stream", func() bool { return pub.frames() > 10 })
		page := c.stream + "-ws"
		b.open(t, page, srv.pageURL("/play.html?autoplay=1&transport=websocket&stream="+c.stream))
		b.eval(t, page, canvasProbe, nil)
		// From the first picture on (the player waits for the converted
		// audio to start its clock), 4 s of samples: the probe takes a
		// picture every 250 ms.
		b.wait(t, page, "return probe.frames.some((f) => f.decoded > 0 && f.mean > 10)", 90*time.Second)
		var n0 int
		b.eval(t, page, "return probe.frames.length", &n0)
		b.wait(t, page, fmt.Sprintf("return probe.frames.length >= %d", n0+16), time.Minute)
		p := readPlayProbe(t, b, page)
		p.Frames = p.Frames[n0:]
		p.Peaks = p.Peaks[min(int(p.Frames[0].Peaks), len(p.Peaks)):]
		checkPicture(t, c.stream+" over the WebSocket", p)
		peak := 0.0
		for _, v := range p.Peaks {
			peak = math.Max(peak, v)
		}
		t.Logf("%s: %d frames decoded, %d analyser samples, peak %.3f, info %v", c.stream, p.Decoded, len(p.Peaks), peak, p.Info)
		if peak < 0.01 {
			t.Errorf("%s: the AnalyserNode saw silence (peak %.4f)", c.stream, peak)
		}
		for _, s := range p.Statuses {
			if strings.Contains(s, "Play.Failed") {
				t.Errorf("%s: status %s", c.stream, s)
			}
		}
		if n := len(srv.findLogs(func(m map[string]any) bool {
			return m["msg"] == "play converted" && m["stream"] == c.stream && m["copy"] == c.stream+":converted"
		})); n != 1 {
			t.Errorf("%s: %d `play converted` lines, want 1", c.stream, n)
		}
		var streams []struct {
			Name       string `json:"name"`
			Published  bool   `json:"published"`
			VideoCodec string `json:"video_codec"`
			AudioCodec string `json:"audio_codec"`
			Players    []any  `json:"subscribers"`
		}
		srv.adminJSON(t, "/admin/api/v1/instances/live/_definst_/streams", &streams)
		found := false
		for _, s := range streams {
			if s.Name == c.stream+":converted" {
				found = true
				t.Logf("admin view of the copy: %+v", s)
				if !s.Published || s.VideoCodec != "h264" || s.AudioCodec != "Opus" || len(s.Players) != 1 {
					t.Errorf("%s: the copy in the admin view: %+v; want published, h264 and Opus, one player", c.stream, s)
				}
			}
		}
		if !found {
			t.Errorf("%s: no %s:converted in the admin view: %+v", c.stream, c.stream, streams)
		}

		// A WebRTC viewer of the same stream plays from the same copy.
		rtc := c.stream + "-rtc"
		b.open(t, rtc, srv.pageURL("/whep.html?autoplay=1&path=live/"+c.stream))
		b.wait(t, rtc, "const s = window.openfcsWebRTC.last; return s && s.framesDecoded > 25 && s.audioEnergy > 0", time.Minute)
		s1 := readRTCPage(t, b, rtc)
		if s1.Mode != "webrtc" || s1.VideoCodec != "video/H264" || s1.AudioCodec != "audio/opus" {
			t.Errorf("%s: WebRTC viewer: mode %q, %s, %s; want WebRTC, H.264 and Opus", c.stream, s1.Mode, s1.VideoCodec, s1.AudioCodec)
		}
		// One copy for the page and the WebRTC viewer.
		checkFlashConverters(t, srv, c.stream, c.from)
		b.act(t, map[string]any{"op": "screenshot", "page": page, "path": artifact(t, c.stream+"-websocket.png")})
		b.noProblems(t, page)
		b.noProblems(t, rtc)
		pub.stop(t)
		b.do(t, time.Minute, map[string]any{"op": "close", "page": page})
		b.do(t, time.Minute, map[string]any{"op": "close", "page": rtc})
	}
}

// TestWebPlayFlashBeforePublish: the play page of openfcs.js plays a
// stream before anyone publishes it: NetStream.Play.Start, then nothing.
// ffmpeg then publishes Sorenson H.263 with Nellymoser; once the first
// of its media reach the page's play, the server moves the play to the
// stream's converted copy (a `play converted` line marked late), and the
// page shows a lit, changing picture and hears sound, with no
// NetStream.Play.Failed.
func TestWebPlayFlashBeforePublish(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "flv", "nellymoser")
	srv := startServer(t, serverOpts{})
	b := startBrowser(t)
	b.open(t, "play", srv.pageURL("/play.html?autoplay=1&transport=websocket&stream=early"))
	b.eval(t, "play", canvasProbe, nil)
	waitPlaying(t, srv, "early", 1)
	b.wait(t, "play", `return Array.from(document.querySelectorAll('#log li')).some((l) => l.textContent.includes('NetStream.Play.Start'));`, 30*time.Second)
	pub := startPublisher(t, srv.RTMPURL("live", "early"), codecArgs{Video: sorenson, Audio: nellyAudio}, 0)
	defer pub.stop(t)
	waitFor(t, time.Minute, "the play moved to the copy", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool {
			return m["msg"] == "play converted" && m["stream"] == "early" && m["copy"] == "early:converted" && m["late"] == true
		})) == 1
	})
	b.wait(t, "play", "return probe.frames.some((f) => f.decoded > 0 && f.mean > 10)", 90*time.Second)
	var n0 int
	b.eval(t, "play", "return probe.frames.length", &n0)
	b.wait(t, "play", fmt.Sprintf("return probe.frames.length >= %d", n0+16), time.Minute)
	p := readPlayProbe(t, b, "play")
	p.Frames = p.Frames[n0:]
	p.Peaks = p.Peaks[min(int(p.Frames[0].Peaks), len(p.Peaks)):]
	checkPicture(t, "early play", p)
	peak := 0.0
	for _, v := range p.Peaks {
		peak = math.Max(peak, v)
	}
	t.Logf("%d frames decoded, %d analyser samples, peak %.3f, statuses %q", p.Decoded, len(p.Peaks), peak, p.Statuses)
	if peak < 0.01 {
		t.Errorf("the AnalyserNode saw silence (peak %.4f)", peak)
	}
	for _, s := range p.Statuses {
		if strings.Contains(s, "Play.Failed") {
			t.Errorf("status %s", s)
		}
	}
	b.noProblems(t, "play")
}

// TestWebPlayRecordedFlashCodecs: a recorded FLV with Sorenson H.263 and
// Nellymoser (docs/webrtc.md#recorded-flash-era-files-in-pages):
//   - played by a page over the WebSocket it is not converted: the page
//     reports NetStream.Play.Failed naming each codec, once, and decodes
//     nothing;
//   - played by a NetStream with transport 'auto' (the default start) it
//     goes over WebRTC, whose outlet converts it for that viewer: H.264
//     and Opus decoded, a picture that is not black, sound.
func TestWebPlayRecordedFlashCodecs(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "flv", "nellymoser")
	apps := t.TempDir()
	streamFile(t, apps, "live", "old.flv", append(append(append([]string{"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=20",
		"-f", "lavfi", "-i", "sine=f=440:r=22050:duration=20"}, sorenson...), nellyAudio...), "-f", "flv")...)
	srv := startServer(t, serverOpts{AppsDir: apps})
	b := startBrowser(t)

	b.open(t, "ws", srv.pageURL("/whep.html"))
	b.eval(t, "ws", fmt.Sprintf(nsSetup, "websocket")+"ns.play('old', 0); return true", nil)
	b.wait(t, "ws", "return window.t.events.filter((i) => i.code === 'NetStream.Play.Failed').length >= 2", time.Minute)
	b.wait(t, "ws", "return window.t.events.some((i) => i.code === 'NetStream.Play.Start')", time.Minute)
	var failed []string
	b.eval(t, "ws", "return window.t.events.filter((i) => i.code === 'NetStream.Play.Failed').map((i) => i.description)", &failed)
	var decoded int
	b.eval(t, "ws", "return window.t.ns.decodedFrames", &decoded)
	t.Logf("over the WebSocket: %q, %d frames decoded", failed, decoded)
	if len(failed) != 2 || !slices.ContainsFunc(failed, func(s string) bool { return strings.Contains(s, "Sorenson H.263") }) ||
		!slices.ContainsFunc(failed, func(s string) bool { return strings.Contains(s, "Nellymoser") }) {
		t.Errorf("want one NetStream.Play.Failed for Sorenson H.263 and one for Nellymoser, got %q", failed)
	}
	if decoded != 0 {
		t.Errorf("decoded %d frames of a codec the browser has no decoder for", decoded)
	}
	b.do(t, time.Minute, map[string]any{"op": "close", "page": "ws"})

	b.open(t, "rtc", srv.pageURL("/whep.html"))
	b.eval(t, "rtc", fmt.Sprintf(nsSetup, "auto")+"ns.play('old'); return true", nil)
	if mode, reason, _ := transportOf(t, b, "rtc"); mode != "webrtc" {
		t.Fatalf("transport %q (reason %q); want webrtc", mode, reason)
	}
	b.wait(t, "rtc", `return window.t.ns.rtcStats().then((s) => s.inboundVideo && s.inboundVideo.framesDecoded > 50 &&
  s.inboundAudio && s.inboundAudio.audioEnergy > 0)`, 90*time.Second)
	s := readNSStats(t, b, "rtc")
	t.Logf("over WebRTC: %s %dx%d, %d frames decoded, %s energy %.3f", s.InboundVideo.Codec, s.InboundVideo.Width, s.InboundVideo.Height,
		s.InboundVideo.FramesDecoded, s.InboundAudio.Codec, s.InboundAudio.AudioEnergy)
	if s.InboundVideo.Codec != "video/H264" || s.InboundAudio.Codec != "audio/opus" || s.InboundVideo.Width != 320 {
		t.Errorf("media over WebRTC: %+v %+v", *s.InboundVideo, *s.InboundAudio)
	}
	b.checkLit(t, "rtc")
	for _, conv := range [][2]string{{"sorenson", "h264"}, {"nellymoser", "opus"}} {
		if n := len(srv.findLogs(func(m map[string]any) bool {
			return m["msg"] == "webrtc converter started" && m["from"] == conv[0] && m["to"] == conv[1]
		})); n != 1 {
			t.Errorf("%d converters from %s to %s started, want 1", n, conv[0], conv[1])
		}
	}
	b.noProblems(t, "rtc")
}
