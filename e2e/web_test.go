//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/tunnel"
)

// The browser library (web/openfcs.js) in Chromium against the real
// binary: calls both ways, shared objects with the project's client over
// RTMP and RTMPT, WebCodecs playback of an ffmpeg publisher, a browser
// publisher played by ffmpeg over RTMP and RTMPT, the demo pages.

// TestWebCalls: nc.call from a page reaches the rpc application's methods
// and resolves with their results (AMF0 and AMF3 connections), an unknown
// method rejects with NetConnection.Call.Failed, the script's client.call
// reaches the page's client object and gets its answer back, and a
// connect the chat script rejects rejects the Promise with the script's
// object as info.application.
func TestWebCalls(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"rpc", "chat"}})
	srv.copySampleApp(t, "rpc")
	srv.copySampleApp(t, "chat")
	b := startBrowser(t)
	b.open(t, "p", srv.pageURL("/"))
	for _, enc := range []int{0, 3} {
		var res struct {
			Sum  float64
			Echo struct {
				List []any
				When float64
			}
			Encoding float64
			Failed   map[string]any
			Ask      any
			Asked    []string
			Answers  []string
			Rejected struct {
				Code        string
				Level       string
				Application map[string]any
			}
			Closed []string
		}
		b.eval(t, "p", fmt.Sprintf(`
const { NetConnection } = await import('/openfcs.js');
const nc = new NetConnection();
nc.objectEncoding = %d;
const asked = [], answers = [], closed = [];
nc.client = {
  clientAnswer(q) { asked.push(q); return 'page answers ' + q; },
  gotAnswer(a) { answers.push(a); },
};
const info = await nc.connect('rtmp://' + location.host + '/rpc');
const sum = await nc.call('add', 2, 3);
const echo = await nc.call('echo', { list: [1, 'two', { three: 3 }], when: new Date(1136073600000) });
let failed = null;
try { await nc.call('noSuchMethod', 1); } catch (e) { failed = e; }
const ask = await nc.call('askClient', 'why?');
for (let i = 0; i < 200 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
nc.addEventListener('netStatus', (e) => closed.push(e.info.code));
nc.close();
const bad = new NetConnection();
let rejected = null;
try { await bad.connect('rtmp://' + location.host + '/chat'); } catch (e) { rejected = e; }
return { sum, echo: { list: echo.list, when: echo.when.getTime() }, encoding: info.objectEncoding, failed, ask, asked, answers, rejected, closed };
`, enc), &res)
		t.Logf("objectEncoding %d: %+v", enc, res)
		if res.Sum != 5 {
			t.Errorf("enc %d: add(2, 3) = %v, want 5", enc, res.Sum)
		}
		if int(res.Encoding) != enc {
			t.Errorf("enc %d: the connect info says objectEncoding %v", enc, res.Encoding)
		}
		if len(res.Echo.List) != 3 || res.Echo.List[1] != "two" || res.Echo.When != 1136073600000 {
			t.Errorf("enc %d: echo = %+v", enc, res.Echo)
		}
		if res.Failed["code"] != "NetConnection.Call.Failed" {
			t.Errorf("enc %d: an unknown method rejected with %v, want NetConnection.Call.Failed", enc, res.Failed)
		}
		if res.Ask != true || !slices.Equal(res.Asked, []string{"why?"}) || !slices.Equal(res.Answers, []string{"page answers why?"}) {
			t.Errorf("enc %d: askClient: returned %v, client asked %q, server sent back %q", enc, res.Ask, res.Asked, res.Answers)
		}
		if res.Rejected.Code != "NetConnection.Connect.Rejected" || res.Rejected.Level != "error" || res.Rejected.Application["message"] != "A name is required." {
			t.Errorf("enc %d: the rejected connect rejected with %+v", enc, res.Rejected)
		}
		if !slices.Equal(res.Closed, []string{"NetConnection.Connect.Closed"}) {
			t.Errorf("enc %d: close() gave statuses %q", enc, res.Closed)
		}
	}
	srv.waitTrace(t, "client answered page answers why?")
	b.noProblems(t, "p")
}

// TestWebSharedObjectChat: a page, the project's client over RTMP and one
// over RTMPT use the chat application's shared object "chat": each one's
// change reaches the others as "change" and comes back to it as
// "success", deletes are "delete" everywhere, a stale change is "reject"ed
// with the current value, and send() messages cross in every direction.
func TestWebSharedObjectChat(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"chat"}})
	srv.copySampleApp(t, "chat")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	b := startBrowser(t)
	b.open(t, "p", srv.pageURL("/"))
	b.eval(t, "p", `
const { NetConnection, SharedObject } = await import('/openfcs.js');
const nc = new NetConnection();
await nc.connect('rtmp://' + location.host + '/chat', 'page');
const so = SharedObject.getRemote('chat', nc.uri, false);
window.t = { nc, so, syncs: [], lines: [] };
so.addEventListener('sync', (e) => t.syncs.push(...e.changeList.map((c) => c.code + ':' + (c.name ?? ''))));
so.client = { newLine: (s) => t.lines.push(s) };
await so.connect(nc);
return true;`, nil)

	dialChat := func(url, name string, cfg rtmp.ClientConfig) *soWatch {
		t.Helper()
		c, err := rtmp.Dial(ctx, url, cfg, amf.String(name))
		if err != nil {
			t.Fatalf("connect %s: %v", url, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		w := watchSO("chat", false)
		if err := w.so.Connect(ctx, c); err != nil {
			t.Fatalf("%s: use chat: %v", name, err)
		}
		return w
	}
	viaRTMP := dialChat("rtmp://"+srv.rtmpAddr+"/chat", "go-rtmp", rtmp.ClientConfig{})
	dial, cleanup := tunnel.Dialer(tunnel.DialConfig{IdleInterval: 5 * time.Millisecond})
	t.Cleanup(cleanup)
	viaRTMPT := dialChat("rtmpt://"+srv.httpAddr+"/chat", "go-rtmpt", rtmp.ClientConfig{Dial: dial, ObjectEncoding: 3})

	pageHas := func(what string, items ...string) {
		t.Helper()
		js := fmt.Sprintf(`return %q.split(' ').every((i) => t.syncs.includes(i));`, strings.Join(items, " "))
		b.wait(t, "p", js, 20*time.Second)
	}
	goHas := func(w *soWatch, who, code, name string) {
		t.Helper()
		waitFor(t, 20*time.Second, who+" "+code+" "+name, func() bool { return w.has(code, name) })
	}
	pageHas("the page's first sync", "clear:")

	// The page changes a slot.
	b.eval(t, "p", `t.so.setProperty('fromPage', { by: 'page', n: 1 }); return true;`, nil)
	pageHas("the page's success", "success:fromPage")
	goHas(viaRTMP, "rtmp", "change", "fromPage")
	goHas(viaRTMPT, "rtmpt", "change", "fromPage")
	if got := viaRTMPT.so.Get("fromPage").Get("by").Str(); got != "page" {
		t.Errorf("rtmpt client sees fromPage.by = %q", got)
	}

	// The RTMP client changes one, then the RTMPT client.
	if err := viaRTMP.so.SetProperty("fromRTMP", amf.String("r")); err != nil {
		t.Fatal(err)
	}
	goHas(viaRTMP, "rtmp", "success", "fromRTMP")
	goHas(viaRTMPT, "rtmpt", "change", "fromRTMP")
	pageHas("the RTMP client's change", "change:fromRTMP")
	if err := viaRTMPT.so.SetProperty("fromRTMPT", amf.Number(7)); err != nil {
		t.Fatal(err)
	}
	goHas(viaRTMPT, "rtmpt", "success", "fromRTMPT")
	goHas(viaRTMP, "rtmp", "change", "fromRTMPT")
	pageHas("the RTMPT client's change", "change:fromRTMPT")
	var seen struct {
		R string  `json:"fromRTMP"`
		N float64 `json:"fromRTMPT"`
	}
	b.eval(t, "p", `return t.so.data;`, &seen)
	if seen.R != "r" || seen.N != 7 {
		t.Errorf("the page's data: %+v", seen)
	}

	// Deletes from the page and from a Go client.
	b.eval(t, "p", `t.so.setProperty('fromRTMPT', null); return true;`, nil)
	pageHas("the page's delete", "delete:fromRTMPT")
	goHas(viaRTMP, "rtmp", "delete", "fromRTMPT")
	goHas(viaRTMPT, "rtmpt", "delete", "fromRTMPT")
	if err := viaRTMP.so.SetProperty("fromPage", amf.Null()); err != nil {
		t.Fatal(err)
	}
	pageHas("the RTMP client's delete", "delete:fromPage")
	goHas(viaRTMPT, "rtmpt", "delete", "fromPage")

	// A stale change: a page that has not seen the version in which
	// fromRTMP was set (simulated by rewinding its version) is refused,
	// and gets the current value as "reject".
	var after string
	b.eval(t, "p", `t.so.version = 1; t.so.setProperty('fromRTMP', 'stale'); return true;`, nil)
	pageHas("the reject", "reject:fromRTMP")
	b.eval(t, "p", `return t.so.data.fromRTMP;`, &after)
	if after != "r" {
		t.Errorf("after the reject the page holds fromRTMP = %q, want the server's %q", after, "r")
	}
	if viaRTMP.so.Get("fromRTMP").Str() != "r" {
		t.Errorf("the stale change reached the RTMP client: %v", viaRTMP.so.Get("fromRTMP"))
	}

	// send() in every direction.
	b.eval(t, "p", `t.so.send('newLine', 'page line'); return true;`, nil)
	if err := viaRTMP.so.Send("newLine", amf.String("rtmp line")); err != nil {
		t.Fatal(err)
	}
	if err := viaRTMPT.so.Send("newLine", amf.String("rtmpt line")); err != nil {
		t.Fatal(err)
	}
	b.wait(t, "p", `return ['page line', 'rtmp line', 'rtmpt line'].every((l) => t.lines.includes(l));`, 20*time.Second)
	for _, w := range []struct {
		who string
		w   *soWatch
	}{{"rtmp", viaRTMP}, {"rtmpt", viaRTMPT}} {
		waitFor(t, 20*time.Second, w.who+" receives every line", func() bool {
			w.w.mu.Lock()
			defer w.w.mu.Unlock()
			got := map[string]bool{}
			for _, s := range w.w.sends {
				if len(s) == 2 && s[0].Str() == "newLine" {
					got[s[1].Str()] = true
				}
			}
			return got["page line"] && got["rtmp line"] && got["rtmpt line"]
		})
	}
	b.noProblems(t, "p")
}

// canvasProbe is injected into the play page: it samples a grid of the
// canvas's pixels and the AnalyserNode's level four times a second.
const canvasProbe = `
window.probe = { frames: [], peaks: [], statuses: [] };
const page = window.openfcsPage;
const grab = document.createElement('canvas');
grab.width = 32; grab.height = 18;
const g = grab.getContext('2d', { willReadFrequently: true });
const buf = new Float32Array(2048);
setInterval(() => {
  const ns = page.ns;
  if (!ns) return;
  g.drawImage(document.getElementById('view'), 0, 0, 32, 18);
  const px = g.getImageData(0, 0, 32, 18).data;
  let sum = 0, hash = 0;
  for (let i = 0; i < px.length; i += 4) { sum += px[i] + px[i + 1] + px[i + 2]; hash = (hash * 31 + px[i] + 7 * px[i + 1] + 13 * px[i + 2]) >>> 0; }
  probe.frames.push({ mean: sum / (px.length / 4) / 3, hash, decoded: ns.decodedFrames, peaks: probe.peaks.length });
}, 250);
// The analyser holds the last 43 ms of sound: read it every 40 ms so a
// short beep of the fake microphone is not missed between samples.
setInterval(() => {
  if (!page.ns || !page.analyser) return;
  page.analyser.getFloatTimeDomainData(buf);
  let peak = 0;
  for (const v of buf) peak = Math.max(peak, Math.abs(v));
  probe.peaks.push(peak);
}, 40);
return true;`

type playProbe struct {
	Decoded  int
	Frames   []struct{ Mean, Hash, Decoded, Peaks float64 } // Peaks: len(Peaks) when the frame was sampled
	Peaks    []float64
	Statuses []string
	Info     map[string]any
}

// readPlayProbe collects the play page's figures.
func readPlayProbe(t testing.TB, b *browser, page string) playProbe {
	t.Helper()
	var p playProbe
	b.eval(t, page, `
const ns = window.openfcsPage.ns;
return { decoded: ns.decodedFrames, frames: probe.frames, peaks: probe.peaks, info: ns.info,
  statuses: Array.from(document.querySelectorAll('#log li')).map((l) => l.textContent.replace(/^\S+ \S+ /, '')) };`, &p)
	return p
}

// checkPicture fails unless the sampled canvas was not black and changed
// from sample to sample while frames were decoded.
func checkPicture(t testing.TB, who string, p playProbe) {
	t.Helper()
	lit, changes, n := 0, 0, 0
	for i, f := range p.Frames {
		if f.Decoded == 0 {
			continue
		}
		n++
		if f.Mean > 10 {
			lit++
		}
		if i > 0 && f.Hash != p.Frames[i-1].Hash {
			changes++
		}
	}
	t.Logf("%s: %d canvas samples while playing, %d not black, %d changed from the one before", who, n, lit, changes)
	if n < 8 || lit < n*3/4 || changes < n/2 {
		t.Errorf("%s: the canvas is black or frozen: %d samples, %d lit, %d changes", who, n, lit, changes)
	}
}

// TestWebPlayFFmpeg (acceptance 1): ffmpeg publishes H.264 with B-frames
// and AAC over RTMP; the play page, waiting on the stream before it
// starts, decodes at least 90% of the published video frames with
// WebCodecs; its canvas is lit and changes; an AnalyserNode on its sound
// sees the 440 Hz sine.
func TestWebPlayFFmpeg(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	b := startBrowser(t)
	b.open(t, "play", srv.pageURL("/play.html?autoplay=1&stream=s1"))
	b.eval(t, "play", canvasProbe, nil)
	// A second page renders into a <video> element.
	b.open(t, "video", srv.pageURL("/"))
	b.eval(t, "video", `
const { NetConnection, NetStream } = await import('/openfcs.js');
const v = document.createElement('video');
document.body.prepend(v);
const nc = new NetConnection();
await nc.connect('rtmp://' + location.host + '/live');
const ns = new NetStream(nc);
ns.attachView(v);
ns.play('s1');
window.vt = { ns, v };
return true;`, nil)
	waitPlaying(t, srv, "s1", 2)
	pub := startPublisher(t, srv.RTMPURL("live", "s1"), codecArgs{Video: h264BFrames, Audio: aacAudio}, 12*time.Second)
	pub.finish(t, 90*time.Second)
	b.wait(t, "play", `return Array.from(document.querySelectorAll('#log li')).some((l) => l.textContent.includes('NetStream.Play.UnpublishNotify'));`, 30*time.Second)
	// The decoder has drained when the count stops moving.
	b.wait(t, "play", `const f = probe.frames; return f.length > 4 && f[f.length - 1].decoded === f[f.length - 4].decoded;`, 30*time.Second)
	p := readPlayProbe(t, b, "play")
	b.act(t, map[string]any{"op": "screenshot", "page": "play", "path": artifact(t, "play-ffmpeg.png")})

	published := probe(t, pub.copyPath)
	if n := bFrames(t, pub.copyPath); n == 0 {
		t.Fatal("the publisher produced no B-frames; the test would not exercise composition times")
	}
	want := published.frames("video")
	t.Logf("published %d video frames (%d B-frames), %d audio frames; the page decoded %d video frames (%.1f%%); info %v",
		want, bFrames(t, pub.copyPath), published.frames("audio"), p.Decoded, 100*float64(p.Decoded)/float64(want), p.Info)
	if float64(p.Decoded) < 0.9*float64(want) {
		t.Errorf("the page decoded %d video frames, want >= 90%% of %d", p.Decoded, want)
	}
	checkPicture(t, "play page", p)
	if p.Info["decoderThread"] != "worker" {
		t.Errorf("decoding ran on %v, want the worker", p.Info["decoderThread"])
	}
	peak := 0.0
	for _, v := range p.Peaks {
		peak = math.Max(peak, v)
	}
	t.Logf("audio: %d analyser samples, peak %.3f", len(p.Peaks), peak)
	if peak < 0.05 {
		t.Errorf("the AnalyserNode saw silence (peak %.4f)", peak)
	}
	for _, s := range p.Statuses {
		if strings.Contains(s, "Play.Failed") {
			t.Errorf("status %s", s)
		}
	}
	var v struct {
		Width, Height, Shown, Decoded int
	}
	b.eval(t, "video", `return { width: vt.v.videoWidth, height: vt.v.videoHeight, shown: vt.v.getVideoPlaybackQuality().totalVideoFrames, decoded: vt.ns.decodedFrames };`, &v)
	t.Logf("<video> page: %+v", v)
	if v.Width != 320 || v.Height != 240 || float64(v.Decoded) < 0.9*float64(want) || v.Shown < want/2 {
		t.Errorf("the <video> page: %dx%d, %d frames shown, %d decoded of %d", v.Width, v.Height, v.Shown, v.Decoded, want)
	}
	b.noProblems(t, "play")
	b.noProblems(t, "video")
}

// TestWebPlayUnsupported: with conversion off (webrtc.ffmpeg: off) a
// Sorenson H.263 and Nellymoser stream, which WebCodecs cannot decode,
// reaches the page as published and makes the player report
// NetStream.Play.Failed naming each codec, once, and nothing else goes
// wrong in the page.
func TestWebPlayUnsupported(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "flv", "nellymoser")
	srv := startServer(t, serverOpts{Config: "webrtc:\n  ffmpeg: \"off\"\n"})
	b := startBrowser(t)
	b.open(t, "play", srv.pageURL("/play.html?autoplay=1&stream=old"))
	b.eval(t, "play", canvasProbe, nil)
	waitPlaying(t, srv, "old", 1)
	pub := startPublisher(t, srv.RTMPURL("live", "old"), codecArgs{Video: sorenson, Audio: nellyAudio}, 6*time.Second)
	pub.finish(t, 60*time.Second)
	b.wait(t, "play", `return Array.from(document.querySelectorAll('#log li')).some((l) => l.textContent.includes('NetStream.Play.UnpublishNotify'));`, 30*time.Second)
	p := readPlayProbe(t, b, "play")
	var failed []string
	for _, s := range p.Statuses {
		if strings.HasPrefix(s, "NetStream.Play.Failed") {
			failed = append(failed, s)
		}
	}
	t.Logf("statuses: %q", failed)
	if len(failed) != 2 || !slices.ContainsFunc(failed, func(s string) bool { return strings.Contains(s, "Sorenson H.263") }) ||
		!slices.ContainsFunc(failed, func(s string) bool { return strings.Contains(s, "Nellymoser") }) {
		t.Errorf("want one NetStream.Play.Failed for Sorenson H.263 and one for Nellymoser, got %q", failed)
	}
	if p.Decoded != 0 {
		t.Errorf("decoded %d frames of a codec the browser has no decoder for", p.Decoded)
	}
	b.noProblems(t, "play")
}

// publishPage opens the publish page publishing the fake camera and
// microphone as live/<stream> with an audio codec, and waits for
// NetStream.Publish.Start.
func publishPage(t testing.TB, b *browser, srv *server, page, stream, codec string) {
	t.Helper()
	b.open(t, page, srv.pageURL(fmt.Sprintf("/publish.html?autostart=1&stream=%s&codec=%s", stream, codec)))
	b.wait(t, page, `return window.openfcsPage.started === true;`, 30*time.Second)
}

type publishStats struct {
	VideoFrames, KeyFrames, DroppedFrames, AudioFrames int
	VideoCodec, AudioCodec                             string
}

func readPublishStats(t testing.TB, b *browser, page string) publishStats {
	t.Helper()
	var s publishStats
	b.eval(t, page, `return window.openfcsPage.ns.info.publish;`, &s)
	return s
}

// TestWebPublishToFFmpeg (acceptance 2): the publish page publishes its
// fake camera (H.264) and microphone (G.711 A-law, which Debian's ffmpeg
// 5.1 decodes; this Chromium encodes no AAC) while ffmpeg plays the
// stream over RTMP and over RTMPT, and rtmpdump over RTMP; what each
// received decodes to at least 90% of the video frames and of the audio
// packets the page sent.
func TestWebPublishToFFmpeg(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	players := map[string]*player{
		"ffmpeg rtmp":  startFFmpegPlayerOpts(t, "ffmpeg-rtmp", srv.RTMPURL("live", "cam")),
		"ffmpeg rtmpt": startFFmpegPlayerOpts(t, "ffmpeg-rtmpt", tunnelURL("rtmpt", srv.httpAddr, "live", "cam")),
		"rtmpdump":     startRtmpdumpPlayer(t, srv.RTMPURL("live", "cam")),
	}
	waitPlaying(t, srv, "cam", len(players))
	b := startBrowser(t)
	publishPage(t, b, srv, "pub", "cam", "pcma")
	waitFor(t, 60*time.Second, "12 s of publishing", func() bool {
		var sec float64
		b.eval(t, "pub", `return window.openfcsPage.ns.time;`, &sec)
		return sec >= 12
	})
	b.act(t, map[string]any{"op": "screenshot", "page": "pub", "path": artifact(t, "publish.png")})
	b.act(t, map[string]any{"op": "click", "page": "pub", "selector": "#stop"})
	sent := readPublishStats(t, b, "pub")
	t.Logf("the page sent %+v", sent)
	if sent.VideoCodec == "" || sent.AudioCodec != "pcma" || sent.VideoFrames < 100 || sent.AudioFrames < 300 {
		t.Fatalf("the page published too little to judge: %+v", sent)
	}
	for _, p := range players {
		p.end(t, 15*time.Second)
	}
	for who, p := range players {
		got := probe(t, p.out)
		if e := decodeProblems(got.decodeErrors); e != "" {
			t.Errorf("%s: decoder errors:\n%s", who, e)
		}
		checkMonotonic(t, got, "video")
		checkMonotonic(t, got, "audio")
		v, a := got.stream("video"), got.stream("audio")
		if v == nil || a == nil || v.CodecName != "h264" || a.CodecName != "pcm_alaw" {
			t.Fatalf("%s: streams %+v, want h264 and pcm_alaw", who, got.streams)
		}
		t.Logf("%s: decoded %d of %d video frames (%.1f%%), %d of %d audio packets (%.1f%%)", who,
			v.Frames, sent.VideoFrames, 100*float64(v.Frames)/float64(sent.VideoFrames),
			a.Frames, sent.AudioFrames, 100*float64(a.Frames)/float64(sent.AudioFrames))
		if float64(v.Frames) < 0.9*float64(sent.VideoFrames) {
			t.Errorf("%s: decoded %d video frames, want >= 90%% of %d", who, v.Frames, sent.VideoFrames)
		}
		if float64(a.Frames) < 0.9*float64(sent.AudioFrames) {
			t.Errorf("%s: decoded %d audio packets, want >= 90%% of %d", who, a.Frames, sent.AudioFrames)
		}
		checkMonotonic(t, got, "video")
		checkMonotonic(t, got, "audio")
	}
	b.noProblems(t, "pub")
}

// TestWebPublishToPage: the browser's default audio (AAC where it
// encodes it, else Opus in Enhanced RTMP) published by one page and
// played by another over the WebSocket; the player decodes the video and
// hears the sound. The play page's latency figure (publish-to-present,
// from the publisher's onPublishTime data messages presented with the
// media) is the benchmark of docs/browser.md#latency, logged and written
// to e2e/out/latency.txt; it is not asserted.
func TestWebPublishToPage(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	b := startBrowser(t)
	publishPage(t, b, srv, "pub", "cam", "auto")
	// The player joins late, as on a loaded machine: the configurations it
	// gets were published seconds before the GOP that follows them.
	waitFor(t, 30*time.Second, "2 s of video sent", func() bool { return readPublishStats(t, b, "pub").VideoFrames >= 60 })
	b.open(t, "play", srv.pageURL("/play.html?autoplay=1&stream=cam"))
	b.eval(t, "play", canvasProbe, nil)
	waitFor(t, 60*time.Second, "15 s of playing", func() bool {
		var n int
		b.eval(t, "play", `return probe.frames.length;`, &n)
		return n >= 60
	})
	p := readPlayProbe(t, b, "play")
	var lat []float64
	b.eval(t, "play", `return window.openfcsPage.latencies;`, &lat)
	sent := readPublishStats(t, b, "pub")
	b.act(t, map[string]any{"op": "screenshot", "page": "play", "path": artifact(t, "play-browser.png")})
	t.Logf("the page sent %+v; the player decoded %d frames, info %v", sent, p.Decoded, p.Info)
	checkPicture(t, "play page", p)
	peak := 0.0
	for _, v := range p.Peaks {
		peak = math.Max(peak, v)
	}
	t.Logf("audio: %d analyser samples, peak %.3f", len(p.Peaks), peak)
	if peak < 0.01 {
		t.Errorf("the player heard silence from the %s publisher (peak %.4f)", sent.AudioCodec, peak)
	}
	if len(lat) < 10 {
		t.Fatalf("only %d latency samples", len(lat))
	}
	// The first seconds include the start-up burst; judge the steady state.
	steady := slices.Clone(lat[len(lat)/3:])
	sort.Float64s(steady)
	med, p95 := steady[len(steady)/2], steady[len(steady)*95/100]
	line := fmt.Sprintf("publish-to-present latency over RTMP on WebSocket, loopback, %s + %s, bufferTime 0.1 s: median %.0f ms, p95 %.0f ms, max %.0f ms (%d samples)\n",
		sent.VideoCodec, sent.AudioCodec, med, p95, steady[len(steady)-1], len(steady))
	t.Log(line)
	if err := os.WriteFile(artifact(t, "latency.txt"), []byte(line), 0o644); err != nil {
		t.Error(err)
	}
	for _, s := range p.Statuses {
		if strings.Contains(s, "Play.Failed") || strings.Contains(s, "NetStream.Failed") {
			t.Errorf("status %s", s)
		}
	}
	b.noProblems(t, "pub")
	b.noProblems(t, "play")
}

// TestWebPages (acceptance 5): every page at / loads in Chromium without
// a console error, an exception or a failed request; two chat pages see
// each other in the people list, exchange lines and share a drawing,
// which one of them clears. Screenshots are kept in e2e/out/.
func TestWebPages(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"live", "chat"}})
	srv.copySampleApp(t, "chat")
	b := startBrowser(t)
	for _, p := range []string{"/", "/play.html", "/publish.html", "/chat.html"} {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "/"), ".html")
		if name == "" {
			name = "index"
		}
		b.open(t, name, srv.pageURL(p))
		b.wait(t, name, `return document.readyState === 'complete';`, 20*time.Second)
		var res struct {
			Title string
			H1    string
			Lang  string
		}
		b.eval(t, name, `return { title: document.title, h1: document.querySelector('h1')?.textContent, lang: document.documentElement.lang };`, &res)
		if res.Title == "" || res.H1 == "" || res.Lang != "en" {
			t.Errorf("%s: title %q, h1 %q, lang %q", p, res.Title, res.H1, res.Lang)
		}
		b.act(t, map[string]any{"op": "screenshot", "page": name, "path": artifact(t, "page-"+name+".png")})
		b.noProblems(t, name)
	}

	for _, who := range []string{"ann", "bob"} {
		b.open(t, who, srv.pageURL("/chat.html?autojoin=1&name="+who))
		b.wait(t, who, `return document.getElementById('state').textContent.startsWith('Connected');`, 30*time.Second)
	}
	for _, who := range []string{"ann", "bob"} {
		b.wait(t, who, `return window.openfcsPage.people.join() === 'ann,bob';`, 20*time.Second)
	}
	b.act(t, map[string]any{"op": "fill", "page": "ann", "selector": "#text", "value": "hello from ann"})
	b.act(t, map[string]any{"op": "click", "page": "ann", "selector": "#send"})
	b.act(t, map[string]any{"op": "fill", "page": "bob", "selector": "#text", "value": "hi ann"})
	b.act(t, map[string]any{"op": "click", "page": "bob", "selector": "#send"})
	b.act(t, map[string]any{"op": "draw", "page": "bob", "selector": "#board", "points": [][]float64{{0.1, 0.2}, {0.3, 0.5}, {0.6, 0.3}}})
	b.act(t, map[string]any{"op": "click", "page": "ann", "selector": "button[data-color='#c0392b']"})
	b.act(t, map[string]any{"op": "draw", "page": "ann", "selector": "#board", "points": [][]float64{{0.2, 0.8}, {0.8, 0.7}}})
	for _, who := range []string{"ann", "bob"} {
		b.wait(t, who, `const l = window.openfcsPage.lines; return l.includes('ann: hello from ann') && l.includes('bob: hi ann');`, 20*time.Second)
		b.wait(t, who, `return window.openfcsPage.strokes === 2;`, 20*time.Second)
		var ink int
		b.eval(t, who, `
const c = document.getElementById('board');
const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let n = 0;
for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
return n;`, &ink)
		if ink < 200 {
			t.Errorf("%s: the whiteboard shows %d inked pixels after two strokes", who, ink)
		}
		b.act(t, map[string]any{"op": "screenshot", "page": who, "path": artifact(t, "chat-"+who+".png")})
	}
	b.act(t, map[string]any{"op": "click", "page": "ann", "selector": "#clear"})
	b.wait(t, "bob", `return window.openfcsPage.strokes === 0 && window.openfcsPage.lines.includes('ann cleared the board');`, 20*time.Second)
	for _, who := range []string{"ann", "bob"} {
		b.noProblems(t, who)
	}
}

// TestWebPlayAudioCodecs: the player decodes and sounds every legacy FLV
// audio format ffmpeg publishes besides AAC: MP3, G.711 A-law and µ-law,
// and linear PCM (converted by the player itself), each with H.264.
func TestWebPlayAudioCodecs(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	b := startBrowser(t)
	for _, tc := range []struct {
		name  string
		audio []string
	}{
		{"mp3", []string{"-c:a", "libmp3lame", "-ar", "44100", "-ac", "1", "-b:a", "64k"}},
		{"alaw", []string{"-c:a", "pcm_alaw", "-ar", "8000", "-ac", "1"}},
		{"mulaw", []string{"-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1"}},
		{"pcm", []string{"-c:a", "pcm_s16le", "-ar", "22050", "-ac", "1"}},
	} {
		b.open(t, tc.name, srv.pageURL("/play.html?autoplay=1&stream="+tc.name))
		b.eval(t, tc.name, canvasProbe, nil)
		waitPlaying(t, srv, tc.name, 1)
		pub := startPublisher(t, srv.RTMPURL("live", tc.name), codecArgs{Video: h264NoB, Audio: tc.audio}, 5*time.Second)
		pub.finish(t, 60*time.Second)
		b.wait(t, tc.name, `return Array.from(document.querySelectorAll('#log li')).some((l) => l.textContent.includes('NetStream.Play.UnpublishNotify'));`, 30*time.Second)
		p := readPlayProbe(t, b, tc.name)
		peak := 0.0
		for _, v := range p.Peaks {
			peak = math.Max(peak, v)
		}
		t.Logf("%s: %d video frames decoded, audio peak %.3f, %d audio buffers dropped", tc.name, p.Decoded, peak, int(p.Info["audioDropped"].(float64)))
		if peak < 0.05 || p.Decoded == 0 {
			t.Errorf("%s: audio peak %.4f, %d video frames", tc.name, peak, p.Decoded)
		}
		for _, s := range p.Statuses {
			if strings.Contains(s, "Failed") {
				t.Errorf("%s: status %s", tc.name, s)
			}
		}
		b.noProblems(t, tc.name)
		b.do(t, time.Minute, map[string]any{"op": "close", "page": tc.name})
	}
}

// TestWebCodecSupport records what the installed Chromium's WebCodecs
// encode and decode (e2e/out/webcodecs.txt, the table of
// docs/browser.md#publishing) and fails when the library's minimum is
// missing: H.264 encoding and decoding, AAC and Opus decoding, and at
// least one audio encoder the publisher uses.
func TestWebCodecSupport(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	b := startBrowser(t)
	b.open(t, "p", srv.pageURL("/"))
	var res map[string]bool
	b.eval(t, "p", `
const out = {};
const v = { width: 640, height: 480, bitrate: 1000000, framerate: 30 };
for (const c of ['avc1.42e01f', 'avc1.640028', 'hvc1.1.6.L93.B0', 'vp8', 'vp09.00.10.08', 'av01.0.04M.08']) {
  out['encode ' + c] = (await VideoEncoder.isConfigSupported({ ...v, codec: c, avc: { format: 'avc' } })).supported;
  out['decode ' + c] = (await VideoDecoder.isConfigSupported({ codec: c })).supported;
}
for (const c of ['mp4a.40.2', 'opus', 'mp3', 'alaw', 'ulaw', 'flac']) {
  const a = { codec: c, sampleRate: c === 'alaw' || c === 'ulaw' ? 8000 : 48000, numberOfChannels: 1, bitrate: 64000 };
  out['encode ' + c] = (await AudioEncoder.isConfigSupported(a)).supported;
  out['decode ' + c] = (await AudioDecoder.isConfigSupported(a)).supported;
}
out.MediaStreamTrackProcessor = typeof MediaStreamTrackProcessor === 'function';
out.MediaStreamTrackGenerator = typeof MediaStreamTrackGenerator === 'function';
return out;`, &res)
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	fmt.Fprintf(&sb, "WebCodecs of %s (isConfigSupported, headless, no GPU)\n", chromiumVersion(t))
	for _, k := range keys {
		fmt.Fprintf(&sb, "%-36s %v\n", k, res[k])
	}
	t.Log(sb.String())
	if err := os.WriteFile(artifact(t, "webcodecs.txt"), []byte(sb.String()), 0o644); err != nil {
		t.Error(err)
	}
	for _, need := range []string{"encode avc1.42e01f", "decode avc1.42e01f", "decode avc1.640028", "decode mp4a.40.2", "decode opus", "MediaStreamTrackProcessor"} {
		if !res[need] {
			t.Errorf("this Chromium lacks %s, which the library needs", need)
		}
	}
	if !res["encode mp4a.40.2"] && !res["encode opus"] {
		t.Error("this Chromium encodes neither AAC nor Opus: the publisher's automatic audio has nothing to use")
	}
	b.noProblems(t, "p")
}

// chromiumVersion is `chromium --version`.
func chromiumVersion(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("/usr/bin/chromium", "--version").Output()
	if err != nil {
		t.Fatalf("chromium --version: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestWebTypes type-checks the documented uses of the library
// (e2e/browser/types/usage.ts) against the hand-written web/openfcs.d.ts
// with TypeScript's compiler in strict mode (npm, pinned in
// e2e/browser/package-lock.json).
func TestWebTypes(t *testing.T) {
	t.Parallel()
	tsc := "browser/node_modules/typescript/bin/tsc"
	if _, err := os.Stat(tsc); err != nil {
		t.Fatalf("%s missing: run scripts/deps.sh (npm ci in e2e/browser)", tsc)
	}
	out, err := exec.Command("node", tsc, "-p", "browser/types/tsconfig.json").CombinedOutput()
	if err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}

// TestWebPlayRecorded: a recorded FLV file (H.264 with B-frames and AAC,
// made by ffmpeg) plays in the page from start to end, paced by the
// server against the page's bufferTime: at least 90% of its frames are
// decoded, the sound is heard, NetStream.Play.Stop ends it; a seek then
// answers NetStream.Seek.Notify and plays again from there.
func TestWebPlayRecorded(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"vod"}})
	dir := filepath.Join(srv.appsDir(t), "vod", "streams", "_definst_")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(dir, "clip.flv")
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "6", "-map", "0:v", "-map", "1:a"}
	args = append(append(append(args, h264BFrames...), aacAudio...), "-f", "flv", clip)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	want := probe(t, clip).frames("video")

	b := startBrowser(t)
	b.open(t, "play", srv.pageURL("/play.html?autoplay=1&buffer=1&uri="+url.QueryEscape("rtmp://"+srv.httpAddr+"/vod")+"&stream=clip"))
	b.eval(t, "play", canvasProbe, nil)
	hasStatus := func(code string) string {
		return fmt.Sprintf(`return Array.from(document.querySelectorAll('#log li')).some((l) => l.textContent.includes(%q));`, code)
	}
	b.wait(t, "play", hasStatus("NetStream.Play.Stop"), 60*time.Second)
	b.wait(t, "play", `const f = probe.frames; return f.length > 4 && f[f.length - 1].decoded === f[f.length - 4].decoded;`, 30*time.Second)
	p := readPlayProbe(t, b, "play")
	peak := 0.0
	for _, v := range p.Peaks {
		peak = math.Max(peak, v)
	}
	t.Logf("recorded clip of %d frames: decoded %d, audio peak %.3f; statuses %q", want, p.Decoded, peak, p.Statuses)
	if float64(p.Decoded) < 0.9*float64(want) {
		t.Errorf("decoded %d frames of the %d in the file", p.Decoded, want)
	}
	if peak < 0.05 {
		t.Errorf("the recorded sound was not heard (peak %.4f)", peak)
	}
	checkPicture(t, "recorded playback", p)

	b.eval(t, "play", `window.openfcsPage.ns.seek(2); return true;`, nil)
	b.wait(t, "play", hasStatus("NetStream.Seek.Notify"), 30*time.Second)
	before := p.Decoded
	b.wait(t, "play", fmt.Sprintf(`return window.openfcsPage.ns.decodedFrames > %d;`, before+25), 30*time.Second)
	b.noProblems(t, "play")
}

// TestWebSecurePage: a page served over HTTPS connects with an rtmp://
// URI through wss:// on its own port (the server logs rtmpwss, the
// library reports it), calls the application, and publishes its camera
// there (getUserMedia needs a secure page on any host but localhost).
func TestWebSecurePage(t *testing.T) {
	t.Parallel()
	srv := startTunnelServer(t, "")
	b := startBrowser(t)
	b.open(t, "p", "https://"+srv.tlsAddr+"/")
	var res struct {
		Protocol string
		Secure   bool
		Started  bool
	}
	b.eval(t, "p", `
const { NetConnection, NetStream } = await import('/openfcs.js');
const nc = new NetConnection();
await nc.connect('rtmp://' + location.host + '/live');
const ns = new NetStream(nc);
const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
ns.attachCamera(media.getVideoTracks()[0]);
ns.attachAudio(media.getAudioTracks()[0], { codec: 'pcma' });
let started = false;
ns.addEventListener('netStatus', (e) => { if (e.info.code === 'NetStream.Publish.Start') started = true; });
ns.publish('secure');
for (let i = 0; i < 200 && !started; i++) await new Promise((r) => setTimeout(r, 50));
return { protocol: nc.protocol, secure: isSecureContext, started };`, &res)
	if res.Protocol != "rtmpwss" || !res.Secure || !res.Started {
		t.Errorf("https page: %+v, want rtmpwss, a secure context and a started publish", res)
	}
	if !protoLogged(srv.server, "rtmpwss") {
		t.Error("the server logged no rtmpwss connection")
	}
	b.noProblems(t, "p")
}
