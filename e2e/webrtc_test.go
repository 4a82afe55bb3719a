//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ffmpeg publishes H.264 (no B-frames) and AAC over RTMP; a pion WHEP
// client plays it over WebRTC, and the video it receives decodes in
// ffprobe at the published size.
func TestWebRTCPlayRTMPPublish(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: append(slices.Clip(h264NoB), "-g", "25"), Audio: aacAudio}, 0)
	t.Cleanup(func() { pub.stop(t) })
	url := "http://" + srv.httpAddr + "/whep/live/cam"
	var rec *whepRecorder
	waitFor(t, 30*time.Second, "a WHEP session on the published stream", func() bool {
		r, status, _ := startWHEPRecorder(t, url)
		rec = r
		return status == http.StatusCreated
	})
	waitFor(t, 60*time.Second, "3 s of video over WebRTC", func() bool { u, _ := rec.counts(); return u >= 75 })
	path := rec.save(t)
	mi := probe(t, path)
	v := mi.stream("video")
	if w, h := probeSize(t, path); v == nil || v.CodecName != "h264" || w != 320 || h != 240 {
		t.Fatalf("ffprobe of the WebRTC video: %+v %dx%d", v, w, h)
	}
	if n := mi.frames("video"); n < 70 {
		t.Errorf("ffprobe decoded %d frames, want 70 or more", n)
	}
	if mi.decodeErrors != "" {
		t.Errorf("decoding the WebRTC video: %s", mi.decodeErrors)
	}
	// The AAC became Opus, converted once for the stream by ffmpeg.
	waitFor(t, 30*time.Second, "2 s of Opus", func() bool { _, a := rec.counts(); return a >= 100 })
	rec.mu.Lock()
	acodec := rec.acodec
	rec.mu.Unlock()
	if acodec != "audio/opus" {
		t.Errorf("audio %q, want audio/opus", acodec)
	}
	if n := len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc converter started" && m["from"] == "aac" })); n != 1 {
		t.Errorf("%d converter starts, want 1", n)
	}
}

// Killing the converter mid-stream: it is restarted with a log line, the
// player's audio resumes within 2 s and its video never stops.
func TestWebRTCConverterRestart(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: append(slices.Clip(h264NoB), "-g", "25"), Audio: aacAudio}, 0)
	t.Cleanup(func() { pub.stop(t) })
	url := "http://" + srv.httpAddr + "/whep/live/cam"
	var rec *whepRecorder
	waitFor(t, 30*time.Second, "a WHEP session on the published stream", func() bool {
		r, status, _ := startWHEPRecorder(t, url)
		rec = r
		return status == http.StatusCreated
	})
	waitFor(t, 30*time.Second, "1 s of Opus", func() bool { _, a := rec.counts(); return a >= 50 })
	starts := srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc converter started" })
	if len(starts) != 1 {
		t.Fatalf("%d converter starts", len(starts))
	}
	pid := int(starts[0]["pid"].(float64))
	units0, _ := rec.counts()
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill converter %d: %v", pid, err)
	}
	waitFor(t, 30*time.Second, "the restart log line", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc converter exited; restarting" })) == 1
	})
	// The first packet after the kill that comes after a pause: packets
	// already in flight at the kill do not count as resumed.
	var resumed time.Time
	waitFor(t, 30*time.Second, "audio after the restart", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for i := 1; i < len(rec.audioAt); i++ {
			if rec.audioAt[i].After(killed) && rec.audioAt[i].Sub(rec.audioAt[i-1]) > 100*time.Millisecond {
				resumed = rec.audioAt[i]
				return true
			}
		}
		return false
	})
	if gap := resumed.Sub(killed); gap > 2*time.Second {
		t.Errorf("audio resumed %v after the converter was killed, want within 2 s", gap)
	} else {
		t.Logf("audio resumed %v after the converter was killed", gap.Round(time.Millisecond))
	}
	// Video went on meanwhile: a second of frames arrives after the kill.
	waitFor(t, 30*time.Second, "video after the kill", func() bool { u, _ := rec.counts(); return u >= units0+25 })
}

// A pion WHIP client publishes H.264 and Opus; ffmpeg plays it over RTMP
// and gets AAC from the stream's Opus to AAC converter. Killing that
// converter mid-stream: it is restarted with a log line, the AAC in the
// player's file resumes within 2 s of stream time, and its video never
// pauses. An HTTP-FLV player then gets AAC as well.
func TestWebRTCOpusToAACRestart(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "libopus")
	srv := startServer(t, serverOpts{})
	h264 := ffmpegFile(t, "in.h264", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "4",
		"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p",
		"-x264-params", "sliced-threads=0", "-threads", "1", "-f", "h264")
	opus := ffmpegFile(t, "in.ogg", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "4", "-ac", "2",
		"-c:a", "libopus", "-frame_duration", "20", "-f", "ogg")
	if _, status, body := startWHIPFile(t, "http://"+srv.httpAddr+"/whip/live/cam", "any", h264, opus); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %q", status, body)
	}
	waitFor(t, 30*time.Second, "the WHIP stream", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc connected" })) > 0
	})
	out := filepath.Join(t.TempDir(), "ffmpeg.flv")
	player := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", srv.RTMPURL("live", "cam"),
		"-t", "10", "-c", "copy", "-f", "flv", out)
	var stderr strings.Builder
	player.Stderr = &stderr
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	var starts []map[string]any
	waitFor(t, 30*time.Second, "the Opus to AAC converter", func() bool {
		starts = srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc converter started" && m["to"] == "aac" })
		return len(starts) == 1
	})
	time.Sleep(3 * time.Second) // some AAC before the kill
	pid := int(starts[0]["pid"].(float64))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill converter %d: %v", pid, err)
	}
	waitFor(t, 30*time.Second, "the restart", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool {
			return m["msg"] == "webrtc converter exited; restarting" && m["to"] == "aac"
		})) == 1 && len(srv.findLogs(func(m map[string]any) bool {
			return m["msg"] == "webrtc converter started" && m["to"] == "aac"
		})) == 2
	})
	if err := player.Wait(); err != nil {
		t.Fatalf("ffmpeg player: %v\n%s", err, stderr.String())
	}
	mi := probe(t, out)
	if a := mi.stream("audio"); a == nil || a.CodecName != "aac" || mi.frames("audio") < 200 {
		t.Fatalf("audio %+v with %d frames, want AAC, 200 or more in 10 s", a, mi.frames("audio"))
	}
	if errs := decodeProblems(mi.decodeErrors); errs != "" {
		t.Errorf("decoding: %s", errs)
	}
	checkMonotonic(t, mi, "audio")
	for _, c := range []struct {
		kind string
		max  float64
	}{
		{"audio", 2},
		// A video frame lost on the publisher's UDP path (a loaded
		// machine drops some even on loopback) holds the video back to
		// the next keyframe, 1 s later; the converter never touches it.
		{"video", 1.1},
	} {
		var last, gap, at float64
		for i, p := range mi.packetsOf(c.kind) {
			var ts float64
			_, _ = fmt.Sscanf(p.DTSTime, "%f", &ts)
			if i > 0 && ts-last > gap {
				gap, at = ts-last, last
			}
			last = ts
		}
		t.Logf("%s: longest gap %.3f s, after %.3f s (of %.3f s)", c.kind, gap, at, last)
		if gap > c.max {
			t.Errorf("%s: a gap of %.3f s, want at most %.1f s", c.kind, gap, c.max)
		}
	}
	// An HTTP-FLV player cannot announce Enhanced RTMP: it gets AAC too.
	flvOut := filepath.Join(t.TempDir(), "httpflv.flv")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", "http://"+srv.httpAddr+"/live/cam.flv",
		"-t", "4", "-c", "copy", "-f", "flv", flvOut).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg over HTTP-FLV: %v\n%s", err, b)
	}
	if mi := probe(t, flvOut); mi.stream("audio") == nil || mi.stream("audio").CodecName != "aac" || mi.frames("audio") < 50 {
		t.Errorf("HTTP-FLV audio %+v with %d frames, want AAC, 50 or more", mi.stream("audio"), mi.frames("audio"))
	}
}

// ffmpeg's default x264 has B-frames: a WHEP request is refused with a
// reason naming them (a page then takes the WebSocket path).
func TestWebRTCRefusesBFrames(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: h264BFrames, Audio: aacAudio}, 0)
	t.Cleanup(func() { pub.stop(t) })
	url := "http://" + srv.httpAddr + "/whep/live/cam"
	var status int
	var body string
	waitFor(t, 30*time.Second, "a WHEP answer other than 404", func() bool {
		_, status, body = startWHEPRecorder(t, url)
		return status != http.StatusNotFound
	})
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "B-frames") {
		t.Fatalf("WHEP of a B-frame stream: %d %q, want 422 naming B-frames", status, body)
	}
}

// A pion WHIP client publishes H.264 and G.711 mu-law; ffmpeg and rtmpdump
// play the stream over RTMP and RTMPT and decode both tracks, and a pion
// WHEP client plays it over WebRTC.
func TestWebRTCWHIPPublish(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "pcm_mulaw")
	srv := startServer(t, serverOpts{})
	h264 := ffmpegFile(t, "in.h264", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "4",
		"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p",
		"-x264-params", "sliced-threads=0", "-threads", "1", "-f", "h264")
	mulaw := ffmpegFile(t, "in.ul", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000", "-t", "4", "-f", "mulaw")
	url := "http://" + srv.httpAddr + "/whip/live/cam"
	if _, status, body := startWHIPFile(t, url, "", h264, mulaw); status != http.StatusUnauthorized {
		t.Fatalf("WHIP without a token: %d %q, want 401", status, body)
	}
	if _, status, body := startWHIPFile(t, url, "any", h264, mulaw); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %q", status, body)
	}
	waitFor(t, 30*time.Second, "the WHIP stream to carry frames", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc connected" })) > 0
	})
	dir := t.TempDir()
	outs := map[string]string{}
	for _, u := range []struct{ name, url string }{
		{"ffmpeg-rtmp", srv.RTMPURL("live", "cam")},
		{"ffmpeg-rtmpt", "rtmpt://" + srv.rtmpAddr + "/live/cam"},
	} {
		out := filepath.Join(dir, u.name+".flv")
		outs[u.name] = out
		cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", u.url, "-t", "3", "-c", "copy", "-f", "flv", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", u.name, err, b)
		}
	}
	out := filepath.Join(dir, "rtmpdump.flv")
	outs["rtmpdump"] = out
	// rtmpdump of a live stream ends at -B with status 2 (incomplete
	// download): the file is what counts.
	_ = exec.Command("rtmpdump", "-q", "-v", "-r", srv.RTMPURL("live", "cam"), "-B", "3", "-o", out).Run()
	for name, path := range outs {
		mi := probe(t, path)
		v, a := mi.stream("video"), mi.stream("audio")
		if w, h := probeSize(t, path); v == nil || v.CodecName != "h264" || w != 320 || h != 240 || mi.frames("video") < 25 {
			t.Errorf("%s: video %+v %dx%d, %d frames", name, v, w, h, mi.frames("video"))
		}
		if mi.decodeErrors != "" {
			t.Errorf("%s: decoding: %s", name, mi.decodeErrors)
		}
		if a == nil || a.CodecName != "pcm_mulaw" || mi.frames("audio") < 25 {
			t.Errorf("%s: audio %+v, %d frames", name, a, mi.frames("audio"))
		}
	}
	rec, status, body := startWHEPRecorder(t, "http://"+srv.httpAddr+"/whep/live/cam")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %q", status, body)
	}
	waitFor(t, 30*time.Second, "video and G.711 over WHEP", func() bool { u, a := rec.counts(); return u >= 25 && a >= 50 })
	if mi := probe(t, rec.save(t)); mi.frames("video") < 25 {
		u, _ := rec.counts()
		t.Errorf("WHEP video: ffprobe decoded %d frames of %d units; decoder said:\n%s", mi.frames("video"), u, mi.decodeErrors)
	}
	rec.mu.Lock()
	acodec := rec.acodec
	rec.mu.Unlock()
	if acodec != "audio/PCMU" {
		t.Errorf("WHEP audio codec %q, want audio/PCMU", acodec)
	}
}

// probeSize is the width and height of the first video stream of path.
func probeSize(t testing.TB, path string) (w, h int) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	_, _ = fmt.Sscanf(strings.TrimSpace(string(out)), "%d,%d", &w, &h)
	return w, h
}

// rtcPageStats is what whep.js's stats() reports.
type rtcPageStats struct {
	Mode           string  `json:"mode"`
	Presented      int     `json:"presented"`
	DTLSState      string  `json:"dtlsState"`
	Pair           bool    `json:"pair"`
	FramesReceived int     `json:"framesReceived"`
	FramesDecoded  int     `json:"framesDecoded"`
	FramesDropped  int     `json:"framesDropped"`
	Width          int     `json:"width"`
	Height         int     `json:"height"`
	VideoCodec     string  `json:"videoCodec"`
	AudioCodec     string  `json:"audioCodec"`
	AudioEnergy    float64 `json:"audioEnergy"`
}

func readRTCPage(t testing.TB, b *browser, page string) rtcPageStats {
	t.Helper()
	var s rtcPageStats
	b.eval(t, page, "return await window.openfcsWebRTC.stats()", &s)
	return s
}

// ffmpeg publishes H.264 baseline and AAC over RTMP; Chromium plays it
// over WebRTC (whep.html, a plain RTCPeerConnection): the transport is
// WebRTC by getStats (DTLS connected, a nominated pair, H.264 and Opus
// inbound), 90% or more of the frames published in a 6 s window are
// decoded and kept, the picture is not black and the Opus is not silent.
func TestWebRTCChromiumPlaysRTMP(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{
		Video: h264Baseline,
		Audio: aacAudio,
	}, 0)
	t.Cleanup(func() { pub.stop(t) })
	waitFor(t, 30*time.Second, "the stream", func() bool { return pub.frames() > 10 })
	b := startBrowser(t)
	b.open(t, "p", srv.pageURL("/whep.html?autoplay=1&path=live/cam"))
	b.wait(t, "p", "return window.openfcsWebRTC.mode !== ''", time.Minute)
	b.wait(t, "p", "const s = window.openfcsWebRTC.last; return s && s.framesDecoded > 25 && s.audioEnergy > 0", time.Minute)
	// Up to four 6 s windows: a receiver starved of CPU by the rest of
	// the suite drops frames for seconds at a time; one window in which
	// the machine let it keep up shows what the server delivers.
	var s0, s1 rtcPageStats
	var published, shown int
	var window float64
	for try := range 4 {
		s0 = readRTCPage(t, b, "p")
		f0 := pub.frames()
		start := time.Now()
		waitFor(t, 30*time.Second, "6 s of playback", func() bool { return time.Since(start) >= 6*time.Second })
		s1 = readRTCPage(t, b, "p")
		published = pub.frames() - f0
		window = time.Since(start).Seconds()
		// Frames decoded and not dropped by the receiver: the figure
		// WebRTC's statistics give (the <video>'s requestVideoFrameCallback
		// count is logged too, but headless Chromium on a loaded machine
		// skips compositor frames, so it is not the measure). The
		// reference is what ffmpeg published in the same window, not the
		// nominal rate: on a loaded machine ffmpeg's -re falls behind too.
		shown = (s1.FramesDecoded - s1.FramesDropped) - (s0.FramesDecoded - s0.FramesDropped)
		t.Logf("window %d: %d frames published, %d decoded and kept, %d presented in %.1f s (nominal %d fps)",
			try+1, published, shown, s1.Presented-s0.Presented, window, fps)
		if published >= 25 && float64(shown) >= 0.9*float64(published) {
			break
		}
	}
	t.Logf("WebRTC page: %+v", s1)
	if s1.Mode != "webrtc" || s1.DTLSState != "connected" || !s1.Pair {
		t.Fatalf("transport: mode %q, DTLS %q, pair %v; want WebRTC", s1.Mode, s1.DTLSState, s1.Pair)
	}
	if s1.VideoCodec != "video/H264" || s1.AudioCodec != "audio/opus" || s1.Width != 320 || s1.Height != 240 {
		t.Errorf("media: %s %dx%d, %s", s1.VideoCodec, s1.Width, s1.Height, s1.AudioCodec)
	}
	if want := 0.9 * float64(published); published < 25 || float64(shown) < want {
		t.Errorf("%d frames decoded and kept in %.1f s, want %.0f or more (90%% of the %d published)", shown, window, want, published)
	}
	if s1.AudioEnergy <= s0.AudioEnergy {
		t.Errorf("audio energy %v then %v: silent", s0.AudioEnergy, s1.AudioEnergy)
	}
	var luma float64
	b.eval(t, "p", "return window.openfcsWebRTC.luma()", &luma)
	if luma < 30 {
		t.Errorf("mean luma %.1f: the picture is black", luma)
	}
	b.act(t, map[string]any{"op": "screenshot", "page": "p", "path": artifact(t, "whep.png")})
	b.noProblems(t, "p")
}

// ffmpeg's default x264 has B-frames, which Chromium's WebRTC does not
// decode: the same page takes the WebSocket path by itself and says why,
// the server logs the choice (the outlet's B-frame line, the WHEP
// refusal with 422, the bframes_refused counter), and openfcs.js plays
// the stream: its decoded frames keep growing, at least 75% of the frame
// rate, and the picture is not black.
func TestWebRTCChromiumBFramesFallBack(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: h264BFrames, Audio: aacAudio}, 0)
	t.Cleanup(func() { pub.stop(t) })
	waitFor(t, 30*time.Second, "the stream", func() bool { return pub.frames() > 10 })
	b := startBrowser(t)
	b.open(t, "p", srv.pageURL("/whep.html?autoplay=1&path=live/cam"))
	b.wait(t, "p", "return window.openfcsWebRTC.mode !== ''", time.Minute)
	var reason, mode string
	b.eval(t, "p", "return window.openfcsWebRTC.reason", &reason)
	b.eval(t, "p", "return window.openfcsWebRTC.mode", &mode)
	if mode != "websocket" || !strings.Contains(reason, "B-frames") {
		t.Fatalf("mode %q (reason %q), want the WebSocket path because of B-frames", mode, reason)
	}
	if n := len(srv.findLogs(func(m map[string]any) bool {
		return strings.HasPrefix(fmt.Sprint(m["msg"]), "webrtc outlet: the stream has B-frames") && m["stream"] == "cam"
	})); n != 1 {
		t.Errorf("%d outlet lines about B-frames, want 1", n)
	}
	if n := len(srv.findLogs(func(m map[string]any) bool {
		return m["msg"] == "webrtc refused" && fmt.Sprint(m["status"]) == "422"
	})); n != 1 {
		t.Errorf("%d WHEP refusals with 422 logged, want 1", n)
	}
	var st struct {
		WebRTC struct {
			BFrames    int `json:"bframes_refused"`
			Converters int `json:"converters"`
		} `json:"webrtc"`
	}
	srv.adminJSON(t, "/admin/api/v1/server", &st)
	if st.WebRTC.BFrames != 1 {
		t.Errorf("admin: bframes_refused %d, want 1", st.WebRTC.BFrames)
	}
	b.wait(t, "p", "return window.openfcsWebRTC.ns.decodedFrames > 25", time.Minute)
	var d0, d1 int
	b.eval(t, "p", "return window.openfcsWebRTC.ns.decodedFrames", &d0)
	start := time.Now()
	waitFor(t, 30*time.Second, "4 s of playback", func() bool { return time.Since(start) >= 4*time.Second })
	b.eval(t, "p", "return window.openfcsWebRTC.ns.decodedFrames", &d1)
	window := time.Since(start).Seconds()
	t.Logf("over the WebSocket: %d frames decoded by openfcs.js in %.1f s", d1-d0, window)
	// 75% of the frame rate: openfcs.js decodes on the page's own
	// thread, which a machine running the suite in parallel slows.
	if want := 0.75 * fps * window; float64(d1-d0) < want {
		t.Errorf("%d frames decoded in %.1f s, want %.0f or more", d1-d0, window, want)
	}
	var luma float64
	b.eval(t, "p", "return window.openfcsWebRTC.luma()", &luma)
	if luma < 30 {
		t.Errorf("mean luma %.1f: the picture is black", luma)
	}
	// The refused WHEP POST is the page's one failed request; nothing else.
	for _, p := range b.problems(t, "p") {
		if !strings.Contains(p, "/whep/") && !strings.Contains(p, "422") {
			t.Errorf("page problem: %s", p)
		}
	}
}

// Chromium publishes its (fake) camera and microphone over WHIP
// (whip.html, a plain RTCPeerConnection, H.264 and Opus); ffmpeg 5.1 and
// rtmpdump, which know no Enhanced RTMP, play the stream over RTMP and
// RTMPT and decode its H.264 at the camera's size and AAC that one
// converter per stream made from the Opus (the beep of Chromium's fake
// microphone, so not silent); a WHEP page in the same browser plays it
// over WebRTC with the Opus as it came.
func TestWebRTCChromiumPublishes(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	b := startBrowser(t)
	publishWHIPPage(t, b, srv)
	dir := t.TempDir()
	rtmpt := "rtmpt://" + srv.rtmpAddr + "/live/cam"
	players := []struct {
		name string
		cmd  []string
	}{
		{"ffmpeg-rtmp", []string{"ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", srv.RTMPURL("live", "cam"), "-t", "10", "-c", "copy", "-f", "flv"}},
		{"ffmpeg-rtmpt", []string{"ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", rtmpt, "-t", "10", "-c", "copy", "-f", "flv"}},
		// rtmpdump of a live stream ends at -B with status 2 (incomplete
		// download): the file is what counts. 8 s leaves room for a late
		// keyframe: on a loaded machine a player can join just after a
		// lost frame and wait for the keyframe asked for then.
		{"rtmpdump-rtmp", []string{"rtmpdump", "-q", "-v", "-r", srv.RTMPURL("live", "cam"), "-B", "8", "-o"}},
		{"rtmpdump-rtmpt", []string{"rtmpdump", "-q", "-v", "-r", rtmpt, "-B", "8", "-o"}},
	}
	for _, p := range players {
		out := filepath.Join(dir, p.name+".flv")
		cmd := exec.Command(p.cmd[0], append(slices.Clip(p.cmd[1:]), out)...)
		b, err := cmd.CombinedOutput()
		if err != nil && p.cmd[0] == "ffmpeg" {
			t.Fatalf("%s: %v\n%s", p.name, err, b)
		}
		n, w, h := decodeVideo(t, out)
		mi := probe(t, out)
		a := mi.stream("audio")
		peak := audioPeak(t, out)
		span := map[string][2]string{}
		for _, pk := range mi.packets {
			sp := span[pk.CodecType]
			if sp[0] == "" {
				sp[0] = pk.DTSTime
			}
			sp[1] = pk.DTSTime
			span[pk.CodecType] = sp
		}
		t.Logf("%s: %d H.264 frames %dx%d, audio %v with %d frames, peak %.1f dB; times %v", p.name, n, w, h, a, mi.frames("audio"), peak, span)
		// The camera is 640x360; Chromium's encoder scales it down by
		// itself when the machine is busy, keeping the aspect. A player
		// starts with the stream's cached GOP, a few seconds at most
		// since the server asks the browser for keyframes; one joining
		// after a lost frame waits for the keyframe asked for then.
		if n < 25 || w < 320 || w*9 != h*16 {
			t.Errorf("%s: decoded %d frames of %dx%d, want 25 or more of the camera's 16:9 picture", p.name, n, w, h)
		}
		// A player starts with the cached picture from the last
		// keyframe, up to webrtc.keyframe_request_interval (4 s) old,
		// and the AAC starts with the player's converter, seconds later
		// on a loaded machine (4.1 s after the picture once, at load
		// 34): ffmpeg's 10 s of stream time hold at least 2 s of AAC,
		// 100 frames of 1024 samples at 48 kHz (rtmpdump's 8 s of
		// buffer hold more).
		if a == nil || a.CodecName != "aac" || mi.frames("audio") < 100 {
			t.Errorf("%s: audio %+v with %d decoded frames, want AAC, 100 or more", p.name, a, mi.frames("audio"))
		}
		if errs := decodeProblems(mi.decodeErrors); errs != "" {
			t.Errorf("%s: decoding: %s", p.name, errs)
		}
		checkMonotonic(t, mi, "video")
		checkMonotonic(t, mi, "audio")
		if peak < -40 {
			t.Errorf("%s: audio peak %.1f dB: silent", p.name, peak)
		}
	}
	// Each player started the converter (they played one after the
	// other, and it stops with the last); never more than one at once.
	starts := srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc converter started" && m["to"] == "aac" })
	stops := srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc converter stopped" && m["to"] == "aac" })
	if len(starts) < 1 || len(starts) > len(players) || len(stops) < len(starts)-1 {
		t.Errorf("Opus to AAC converter: %d starts and %d stops for %d players in turn", len(starts), len(stops), len(players))
	}
	b.open(t, "play", srv.pageURL("/whep.html?autoplay=1&path=live/cam"))
	b.wait(t, "play", "const s = window.openfcsWebRTC.last; return s && s.mode === 'webrtc' && s.framesDecoded > 25 && s.audioEnergy > 0", time.Minute)
	if s := readRTCPage(t, b, "play"); s.AudioCodec != "audio/opus" {
		t.Errorf("WHEP page audio %q, want audio/opus", s.AudioCodec)
	}
	var sent map[string]any
	b.eval(t, "pub", "return await window.openfcsWHIP.stats()", &sent)
	t.Logf("whip.html sent %v", sent)
	b.noProblems(t, "pub")
	// The session's close line tells how its video fared. Chromium sends
	// a keyframe only when asked: the server asks whenever the video
	// goes keyframe_request_interval (4 s) without one, so over this
	// session of 30 s or more it must have asked and been answered more
	// than once, else a player joining late would wait for a keyframe
	// nobody asked for.
	b.eval(t, "pub", "document.getElementById('stop').click(); return true", nil)
	var closed map[string]any
	waitFor(t, 30*time.Second, "the WHIP session's close line", func() bool {
		l := srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc closed" && m["proto"] == "whip" })
		if len(l) > 0 {
			closed = l[0]
		}
		return closed != nil
	})
	t.Logf("WHIP session closed: %v frames (%v keyframes), %v lost, %v packets reordered, %v given up, %v padding, %v PLIs and %v FIRs sent",
		closed["video_frames"], closed["keyframes"], closed["frames_lost"], closed["packets_reordered"], closed["packets_skipped"],
		closed["packets_padding"], closed["plis_sent"], closed["firs_sent"])
	if k, _ := closed["keyframes"].(float64); k < 2 {
		t.Errorf("the publisher's video had %v keyframes after %v PLIs; want its GOP renewed on request", closed["keyframes"], closed["plis_sent"])
	}
}

// decodeProblems is what ffmpeg said while decoding, less the null
// muxer's complaint about equal timestamps: it counts video time in
// units of the frame rate it guessed, and a browser's frames come at a
// varying rate, so two of them a few milliseconds apart can fall in one
// unit (checkMonotonic checks the file's own times).
func decodeProblems(stderr string) string {
	var keep []string
	for l := range strings.Lines(stderr) {
		if !strings.Contains(l, "non monotonically increasing dts to muxer") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// audioPeak is the loudest sample of path's first audio stream, in dB
// below full scale (ffmpeg's volumedetect); -91 when there is none.
func audioPeak(t testing.TB, path string) float64 {
	t.Helper()
	out, _ := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-i", path, "-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	i := strings.Index(string(out), "max_volume: ")
	if i < 0 {
		return -91
	}
	var db float64
	if _, err := fmt.Sscanf(string(out[i+len("max_volume: "):]), "%f", &db); err != nil {
		return -91
	}
	return db
}

// decodeVideo decodes the first video stream of path with ffmpeg and
// returns its frame count and size.
func decodeVideo(t testing.TB, path string) (frames, w, h int) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=nb_read_frames,width,height", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	_, _ = fmt.Sscanf(strings.TrimSpace(string(out)), "%d,%d,%d", &w, &h, &frames)
	return frames, w, h
}

// picture returns a coarse grey thumbnail (32x18) of what the page's
// <video> shows, to tell whether the picture changes.
func picture(t testing.TB, b *browser, page string) string {
	t.Helper()
	var s string
	b.eval(t, page, `const v = document.querySelector('video');
const c = new OffscreenCanvas(32, 18); const g = c.getContext('2d'); g.drawImage(v, 0, 0, 32, 18);
const px = g.getImageData(0, 0, 32, 18).data; let out = '';
for (let i = 0; i < px.length; i += 4) out += String.fromCharCode(65 + ((px[i] + px[i + 1] + px[i + 2]) >> 5));
return out;`, &s)
	return s
}

// ffmpeg publishes the Flash Player 6 to 10 codecs over RTMP: Sorenson
// H.263 with Nellymoser, and Sorenson H.263 with Speex. Chromium plays
// each over WebRTC (whep.html) with video and audio: the stream's one
// video converter makes H.264 of the Sorenson, its audio converter Opus
// of the Nellymoser or Speex; the picture is not black and changes, the
// audio is not silent.
func TestWebRTCChromiumPlaysFlashCodecs(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "flv", "nellymoser", "libspeex")
	srv := startServer(t, serverOpts{})
	b := startBrowser(t)
	for _, c := range flashCodecStreams {
		pub := startPublisher(t, srv.RTMPURL("live", c.stream), codecArgs{Video: sorenson, Audio: c.audio}, 0)
		waitFor(t, 30*time.Second, "the stream", func() bool { return pub.frames() > 10 })
		b.open(t, c.stream, srv.pageURL("/whep.html?autoplay=1&path=live/"+c.stream))
		b.wait(t, c.stream, "const s = window.openfcsWebRTC.last; return s && s.framesDecoded > 25 && s.audioEnergy > 0", time.Minute)
		s0 := readRTCPage(t, b, c.stream)
		p0 := picture(t, b, c.stream)
		start := time.Now()
		waitFor(t, 30*time.Second, "2 s of playback", func() bool { return time.Since(start) >= 2*time.Second })
		s1 := readRTCPage(t, b, c.stream)
		p1 := picture(t, b, c.stream)
		var luma float64
		b.eval(t, c.stream, "return window.openfcsWebRTC.luma()", &luma)
		t.Logf("%s: %+v, luma %.1f", c.stream, s1, luma)
		if s1.Mode != "webrtc" || s1.VideoCodec != "video/H264" || s1.AudioCodec != "audio/opus" || s1.Width != 320 || s1.Height != 240 {
			t.Errorf("%s: mode %q, %s %dx%d, %s; want WebRTC, H.264 320x240 and Opus", c.stream, s1.Mode, s1.VideoCodec, s1.Width, s1.Height, s1.AudioCodec)
		}
		if d := s1.FramesDecoded - s0.FramesDecoded; d < 25 {
			t.Errorf("%s: %d frames decoded in 2 s", c.stream, d)
		}
		if luma < 30 {
			t.Errorf("%s: mean luma %.1f: the picture is black", c.stream, luma)
		}
		if p0 == p1 {
			t.Errorf("%s: the picture did not change in 2 s", c.stream)
		}
		if s1.AudioEnergy <= s0.AudioEnergy {
			t.Errorf("%s: audio energy %v then %v: silent", c.stream, s0.AudioEnergy, s1.AudioEnergy)
		}
		checkFlashConverters(t, srv, c.stream, c.from)
		b.act(t, map[string]any{"op": "screenshot", "page": c.stream, "path": artifact(t, c.stream+".png")})
		b.noProblems(t, c.stream)
		pub.stop(t)
	}
}
