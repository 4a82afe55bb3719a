//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// An openfcs.js NetStream plays a recorded FLV (8 s, H.264 baseline and
// AAC, made by ffmpeg) over WebRTC in Chromium and pauses, resumes and
// seeks it: the commands go over the NetConnection, the media go on over
// the peer. The statuses are Flash's, in order (Play.Start,
// Pause.Notify, Unpause.Notify, Seek.Notify, Play.Start, Play.Stop),
// without a fallback; no frame is decoded while paused; the picture is
// lit after the resume and after the seek; the seek back to 0 plays the
// file again, so the play lasts longer than the file and the pause
// together.
func TestWebRTCNetStreamPauseSeek(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	apps := t.TempDir()
	recordedClip(t, apps, "clip", "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0")
	srv := startServer(t, serverOpts{AppsDir: apps})
	b := startBrowser(t)
	b.open(t, "ns", srv.pageURL("/whep.html"))
	b.eval(t, "ns", fmt.Sprintf(nsSetup, "webrtc")+`t.at = {}; ns.addEventListener('netStatus', (e) => { if (!(e.info.code in t.at)) t.at[e.info.code] = performance.now(); });
t.decoded = () => t.ns.rtcStats().then((s) => (s && s.inboundVideo ? s.inboundVideo.framesDecoded : 0));
ns.play('clip'); return true`, nil)
	if mode, reason, events := transportOf(t, b, "ns"); mode != "webrtc" || len(events) != 1 {
		t.Fatalf("transport %q (reason %q), events %v; want webrtc", mode, reason, events)
	}
	decoded := func() int {
		var n int
		b.eval(t, "ns", "return await window.t.decoded()", &n)
		return n
	}
	lit := func(when string) {
		var luma float64
		b.eval(t, "ns", "return window.t.luma()", &luma)
		if luma < 30 {
			t.Errorf("%s: canvas mean luma %.1f, black", when, luma)
		}
	}
	b.wait(t, "ns", "return (await window.t.decoded()) > 25", time.Minute)
	lit("playing")

	b.eval(t, "ns", "window.t.ns.pause(); return true", nil)
	b.wait(t, "ns", "return window.t.events.some((i) => i.code === 'NetStream.Pause.Notify')", 30*time.Second)
	time.Sleep(time.Second) // what was on its way arrives and decodes
	f1 := decoded()
	time.Sleep(2 * time.Second)
	f2 := decoded()
	t.Logf("paused: %d frames decoded, %d after 2 s", f1, f2)
	if f2-f1 > 2 {
		t.Errorf("%d frames decoded while paused", f2-f1)
	}

	b.eval(t, "ns", "window.t.ns.togglePause(); return true", nil) // resumes: the NetStream knows it is paused
	b.wait(t, "ns", "return window.t.events.some((i) => i.code === 'NetStream.Unpause.Notify')", 30*time.Second)
	b.wait(t, "ns", fmt.Sprintf("return (await window.t.decoded()) > %d", f2+25), time.Minute)
	lit("resumed")

	b.eval(t, "ns", "window.t.ns.seek(0); return true", nil)
	b.wait(t, "ns", "return window.t.events.filter((i) => i.code === 'NetStream.Play.Start').length >= 2", 30*time.Second)
	f3 := decoded()
	b.wait(t, "ns", fmt.Sprintf("return (await window.t.decoded()) > %d", f3+25), time.Minute)
	lit("after the seek")
	b.wait(t, "ns", "return window.t.events.some((i) => i.code === 'NetStream.Play.Stop')", 2*time.Minute)

	var codes []string
	b.eval(t, "ns", "return window.t.events.map((i) => i.code).filter((c) => c !== 'NetStream.Transport')", &codes)
	want := "NetStream.Play.Start NetStream.Pause.Notify NetStream.Unpause.Notify NetStream.Seek.Notify NetStream.Play.Start NetStream.Play.Stop"
	if got := strings.Join(codes, " "); got != want {
		t.Errorf("statuses %s, want %s", got, want)
	}
	// From the seek to the end: the 8 s file again from its start, paced
	// in real time (its player sends at most 120 ms ahead). Had the seek
	// not moved it, what was left after at least 2 s played would end
	// within 6 s.
	var took float64
	b.eval(t, "ns", "return window.t.at['NetStream.Play.Stop'] - window.t.at['NetStream.Seek.Notify']", &took)
	t.Logf("from Seek.Notify to Play.Stop: %.0f ms", took)
	if took < 7500 {
		t.Errorf("the play ended %.0f ms after the seek to 0: the file did not play again from its start", took)
	}
	b.noProblems(t, "ns")
}
