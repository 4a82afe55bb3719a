//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// nsSetup is the page code of the NetStream tests: one NetConnection to
// live, a NetStream with the given transport rendering into a canvas,
// its status events kept in window.t.events.
const nsSetup = `const { NetConnection, NetStream } = await import('/openfcs.js');
const nc = new NetConnection();
await nc.connect('rtmp://' + location.host + '/live');
const ns = new NetStream(nc);
ns.transport = %q;
const c = document.createElement('canvas'); document.body.append(c); ns.attachView(c);
const t = { nc, ns, c, events: [] }; window.t = t;
ns.addEventListener('netStatus', (e) => t.events.push(e.info));
t.luma = () => { const o = new OffscreenCanvas(64, 36); const g = o.getContext('2d'); g.drawImage(c, 0, 0, 64, 36);
  const px = g.getImageData(0, 0, 64, 36).data; let s = 0;
  for (let i = 0; i < px.length; i += 4) s += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2]; return s / (64 * 36); };
`

// nsScript traces what the application hears: a NetStream's WebRTC
// publish must reach onPublish as its NetConnection's client (protocol
// rtmpws, the stream key in publishQueryString), and no WHIP or WHEP
// client may connect; a key other than "k" is refused.
const nsScript = `
application.onConnect = function (client) { trace("connect protocol=" + client.protocol); return true; };
application.onPublish = function (client, stream) {
	trace("publish " + stream.name + " protocol=" + client.protocol + " query=" + stream.publishQueryString);
	if (client.protocol == "rtmpws" && stream.publishQueryString != "key=k") return false;
};
application.onUnpublish = function (client, stream) { trace("unpublish " + stream.name + " protocol=" + client.protocol); };
`

// nsRTCStats is what NetStream.rtcStats() reports.
type nsRTCStats struct {
	Transport    string `json:"transport"`
	DTLSState    string `json:"dtlsState"`
	Pair         bool   `json:"pair"`
	InboundVideo *struct {
		Codec         string `json:"codec"`
		FramesDecoded int    `json:"framesDecoded"`
		FramesDropped int    `json:"framesDropped"`
		Width         int    `json:"width"`
		Height        int    `json:"height"`
	} `json:"inboundVideo"`
	InboundAudio *struct {
		Codec       string  `json:"codec"`
		AudioEnergy float64 `json:"audioEnergy"`
	} `json:"inboundAudio"`
	OutboundVideo *struct {
		Codec   string `json:"codec"`
		Packets int    `json:"packets"`
	} `json:"outboundVideo"`
	OutboundAudio *struct {
		Codec   string `json:"codec"`
		Packets int    `json:"packets"`
	} `json:"outboundAudio"`
}

func readNSStats(t testing.TB, b *browser, page string) nsRTCStats {
	t.Helper()
	var s nsRTCStats
	b.eval(t, page, "return await window.t.ns.rtcStats()", &s)
	return s
}

// transportOf waits for the NetStream to settle on a transport and
// returns it with the reason and the NetStream.Transport events.
func transportOf(t testing.TB, b *browser, page string) (mode, reason string, events []map[string]any) {
	t.Helper()
	b.wait(t, page, "return window.t.ns.transportInUse !== null || window.t.events.some((i) => i.code === 'NetStream.Failed')", 90*time.Second)
	b.eval(t, page, "return window.t.ns.transportInUse ?? ''", &mode)
	b.eval(t, page, "return window.t.ns.transportReason", &reason)
	b.eval(t, page, "return window.t.events.filter((i) => i.code === 'NetStream.Transport')", &events)
	return mode, reason, events
}

// A NetStream of openfcs.js negotiates a WebRTC peer over its own
// NetConnection (the webrtcOffer command) for the client the
// application admitted, or falls back to the WebSocket path:
//   - play: ffmpeg publishes H.264 baseline and AAC over RTMP; the
//     NetStream ('auto') plays it over WebRTC (getStats: DTLS connected,
//     a nominated pair, H.264 and Opus inbound, 90% of the frames ffmpeg
//     published in 6 s decoded and kept, audio energy growing), into a canvas that is not black;
//     the server's WebRTC session is the page's NetConnection client, and
//     closing the NetStream ends it;
//   - publish: the NetStream ('webrtc') publishes Chromium's fake camera
//     and microphone; ffmpeg plays it over RTMP and decodes H.264 and the
//     AAC made from the Opus; the script's onPublish and onUnpublish see
//     the page's rtmpws client with its stream key, and no WHIP client;
//   - a publish the script refuses (403) does not fall back;
//   - B-frames: ffmpeg's default x264 with 'auto' falls back to the
//     WebSocket with the reason visible, and plays.
//
// The subtests share one browser and run in turn, so the test does not
// run in parallel with others either (tparallel).
func TestWebNetStreamWebRTC(t *testing.T) {
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	srv.writeApp(t, "live", map[string]string{"main.asc": nsScript})
	b := startBrowser(t)

	t.Run("play", func(t *testing.T) {
		pub := startPublisher(t, srv.RTMPURL("live", "base"), codecArgs{
			Video: h264Baseline,
			Audio: aacAudio,
		}, 0)
		defer pub.stop(t)
		waitFor(t, 30*time.Second, "the stream", func() bool { return pub.frames() > 10 })
		b.open(t, "play", srv.pageURL("/whep.html"))
		b.eval(t, "play", fmt.Sprintf(nsSetup, "auto")+"ns.play('base'); return true", nil)
		mode, reason, events := transportOf(t, b, "play")
		if mode != "webrtc" || len(events) != 1 || events[0]["transport"] != "webrtc" {
			t.Fatalf("transport %q (reason %q), events %v; want webrtc", mode, reason, events)
		}
		b.wait(t, "play", `return window.t.ns.rtcStats().then((s) => s.inboundVideo && s.inboundVideo.framesDecoded > 25 &&
  s.inboundAudio && s.inboundAudio.audioEnergy > 0)`, time.Minute)
		s0 := readNSStats(t, b, "play")
		if s0.InboundVideo == nil || s0.InboundAudio == nil {
			t.Fatalf("getStats after the first frames: %+v; want video and audio inbound", s0)
		}
		f0 := pub.frames()
		start := time.Now()
		waitFor(t, 30*time.Second, "6 s of playback", func() bool { return time.Since(start) >= 6*time.Second })
		s1 := readNSStats(t, b, "play")
		published := pub.frames() - f0
		window := time.Since(start).Seconds()
		if s1.DTLSState != "connected" || !s1.Pair || s1.InboundVideo == nil || s1.InboundAudio == nil {
			t.Fatalf("getStats: %+v; want a connected WebRTC transport with video and audio", s1)
		}
		v0, v1 := s0.InboundVideo, s1.InboundVideo
		t.Logf("NetStream over WebRTC: %s %dx%d, %s; %d frames published, %d decoded, %d dropped in %.1f s", v1.Codec, v1.Width, v1.Height,
			s1.InboundAudio.Codec, published, v1.FramesDecoded-v0.FramesDecoded, v1.FramesDropped-v0.FramesDropped, window)
		if v1.Codec != "video/H264" || s1.InboundAudio.Codec != "audio/opus" || v1.Width != 320 || v1.Height != 240 {
			t.Errorf("media: %s %dx%d, %s", v1.Codec, v1.Width, v1.Height, s1.InboundAudio.Codec)
		}
		// The reference is what ffmpeg published in the same window: on a
		// loaded machine its -re falls behind the nominal rate.
		shown := (v1.FramesDecoded - v1.FramesDropped) - (v0.FramesDecoded - v0.FramesDropped)
		if want := 0.9 * float64(published); published < 25 || float64(shown) < want {
			t.Errorf("%d frames decoded and kept in %.1f s, want %.0f or more (90%% of the %d published)", shown, window, want, published)
		}
		if s1.InboundAudio.AudioEnergy <= s0.InboundAudio.AudioEnergy {
			t.Errorf("audio energy %v then %v: silent", s0.InboundAudio.AudioEnergy, s1.InboundAudio.AudioEnergy)
		}
		b.checkLit(t, "play")
		// The WebRTC session is the page's client, not one of its own.
		var farID string
		b.eval(t, "play", "return String(window.t.nc.farID)", &farID)
		sessions := srv.findLogs(func(m map[string]any) bool {
			return m["msg"] == "webrtc session" && m["stream"] == "base"
		})
		if len(sessions) != 1 || fmt.Sprint(sessions[0]["client"]) != farID {
			t.Errorf("webrtc session lines %v; want one, of the NetConnection's client %s", sessions, farID)
		}
		b.eval(t, "play", "window.t.ns.close(); return true", nil)
		waitFor(t, 30*time.Second, "the session's end", func() bool {
			return len(srv.findLogs(func(m map[string]any) bool {
				// The page closes its peer as it sends closeStream: either
				// ends the session, whichever arrives first.
				return m["msg"] == "webrtc closed" && m["stream"] == "base" && (m["reason"] == "deleted" || m["reason"] == "peer_gone")
			})) == 1
		})
		b.noProblems(t, "play")
	})

	t.Run("publish", func(t *testing.T) {
		b.open(t, "pub", srv.pageURL("/whep.html"))
		b.eval(t, "pub", fmt.Sprintf(nsSetup, "webrtc")+`const m = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
ns.attachCamera(m.getVideoTracks()[0]); ns.attachAudio(m.getAudioTracks()[0]); ns.publish('fromweb?key=k'); return true`, nil)
		mode, reason, _ := transportOf(t, b, "pub")
		if mode != "webrtc" {
			t.Fatalf("transport %q (reason %q); want webrtc", mode, reason)
		}
		waitFor(t, 30*time.Second, "frames from the browser", func() bool {
			return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc track" && m["codec"] == "video/h264" })) == 1
		})
		s := readNSStats(t, b, "pub")
		if s.OutboundVideo == nil || s.OutboundVideo.Codec != "video/H264" || s.OutboundAudio == nil || s.OutboundAudio.Codec != "audio/opus" {
			t.Errorf("getStats of the publisher: %+v", s)
		}
		checkCameraOverRTMP(t, srv, "fromweb", "aac", "AAC")
		b.eval(t, "pub", "window.t.nc.close(); return true", nil)
		waitFor(t, 30*time.Second, "the session's end", func() bool {
			return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc closed" && m["stream"] == "fromweb" })) == 1
		})
		srv.waitTrace(t, "publish fromweb protocol=rtmpws query=key=k")
		srv.waitTrace(t, "unpublish fromweb protocol=rtmpws")
		for _, tr := range srv.traces() {
			if strings.Contains(tr, "protocol=whip") || strings.Contains(tr, "protocol=whep") {
				t.Errorf("the script saw a WebRTC client of its own: %s", tr)
			}
		}
	})

	t.Run("publish_refused_by_script", func(t *testing.T) {
		// onPublish returns false for a wrong key: the offer is refused
		// with 403, which the WebSocket path would meet too, so 'auto'
		// does not fall back and the NetStream fails.
		b.open(t, "bad", srv.pageURL("/whep.html"))
		b.eval(t, "bad", fmt.Sprintf(nsSetup, "auto")+`const m = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
ns.attachCamera(m.getVideoTracks()[0]); ns.publish('other?key=bad'); return true`, nil)
		mode, reason, _ := transportOf(t, b, "bad")
		t.Logf("transport %q: %s", mode, reason)
		if mode != "" || !strings.Contains(reason, "403") {
			t.Errorf("transport %q (reason %q); want none, refused with 403", mode, reason)
		}
		srv.waitTrace(t, "publish other protocol=rtmpws query=key=bad")
	})

	t.Run("bframes_fall_back", func(t *testing.T) {
		pub := startPublisher(t, srv.RTMPURL("live", "bf"), codecArgs{Video: h264BFrames, Audio: aacAudio}, 0)
		defer pub.stop(t)
		waitFor(t, 30*time.Second, "the stream", func() bool { return pub.frames() > 10 })
		b.open(t, "bf", srv.pageURL("/whep.html"))
		b.eval(t, "bf", fmt.Sprintf(nsSetup, "auto")+"ns.play('bf'); return true", nil)
		mode, reason, events := transportOf(t, b, "bf")
		t.Logf("transport %q: %s", mode, reason)
		if mode != "websocket" || !strings.Contains(reason, "422") || !strings.Contains(reason, "B-frames") ||
			len(events) != 1 || !strings.Contains(fmt.Sprint(events[0]["reason"]), "B-frames") {
			t.Fatalf("transport %q (reason %q, events %v); want the WebSocket because of B-frames", mode, reason, events)
		}
		b.wait(t, "bf", "return window.t.ns.decodedFrames > 25", time.Minute)
		var d0, d1 int
		b.eval(t, "bf", "return window.t.ns.decodedFrames", &d0)
		f0 := pub.frames()
		start := time.Now()
		waitFor(t, 30*time.Second, "6 s of playback", func() bool { return time.Since(start) >= 6*time.Second })
		b.eval(t, "bf", "return window.t.ns.decodedFrames", &d1)
		published := pub.frames() - f0
		window := time.Since(start).Seconds()
		t.Logf("over the WebSocket: %d frames published, %d decoded in %.1f s", published, d1-d0, window)
		// 75% of what ffmpeg published meanwhile: openfcs.js decodes in
		// the page, which a machine running the suite slows.
		if want := 0.75 * float64(published); published < 25 || float64(d1-d0) < want {
			t.Errorf("%d frames decoded in %.1f s, want %.0f or more (75%% of the %d published)", d1-d0, window, want, published)
		}
		b.checkLit(t, "bf")
		b.noProblems(t, "bf")
	})
}
