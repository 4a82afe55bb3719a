//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/tlsutil"
)

// unreachableConfig makes every WebRTC candidate of the server name an
// address nothing answers on (TEST-NET-3, which routes nowhere), as a
// server with a wrong webrtc.public_ips would.
const unreachableConfig = "webrtc:\n  public_ips: [\"203.0.113.1\"]\n  include_loopback: false\n"

// udpBlockedNetNS makes a network namespace reached from the test's over
// a veth pair, whose UDP does not get out (a firewall that lets only the
// server's TCP ports through), and returns its name and the server's
// address in it. The candidates alone are not enough on one machine:
// the server's own connectivity checks reach the page's host addresses,
// and the page then connects to the peer-reflexive address it learns.
// It needs root and iproute2; without them the test fails.
func udpBlockedNetNS(t *testing.T) (ns, addr string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the test makes a network namespace: it must run as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is not installed: run scripts/deps.sh")
	}
	// Names and addresses from the process id, so that two suites on
	// one machine do not meet.
	pid := os.Getpid()
	ns = fmt.Sprintf("ofu%d", pid%100000)
	outer, inner := ns+"o", ns+"i"
	a, b := 100+pid%150, 4*((pid/150)%60)
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	ipCmd(t, "link", "add", outer, "type", "veth", "peer", "name", inner)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", outer).Run() })
	ipCmd(t, "link", "set", inner, "netns", ns)
	ipCmd(t, "addr", "add", fmt.Sprintf("198.19.%d.%d/30", a, b+1), "dev", outer)
	ipCmd(t, "link", "set", outer, "up")
	addr = fmt.Sprintf("198.19.%d.%d", a, b+2)
	ipCmd(t, "-n", ns, "addr", "add", addr+"/30", "dev", inner)
	ipCmd(t, "-n", ns, "link", "set", inner, "up")
	// Every UDP datagram to an address outside the namespace is refused
	// at the route lookup; what arrives is still delivered.
	ipCmd(t, "-n", ns, "rule", "add", "ipproto", "udp", "prohibit")
	return ns, addr
}

// nsSound attaches an AnalyserNode to the NetStream's sound once it
// plays over the WebSocket and keeps the loudest sample it has seen
// since, read every 40 ms (the fake microphone's beep is short).
const nsSound = `
const t = window.t; t.peak = 0;
const buf = new Float32Array(2048);
setInterval(() => {
  const ns = t.ns;
  if (!t.an && ns.audioContext && ns.audioNode) {
    t.an = ns.audioContext.createAnalyser(); t.an.fftSize = 2048; ns.audioNode.connect(t.an);
    ns.audioContext.resume();
  }
  if (!t.an) return;
  t.an.getFloatTimeDomainData(buf);
  for (const v of buf) t.peak = Math.max(t.peak, Math.abs(v));
}, 40);
return true;`

// TestWebRTCFallbackICE: the server's WebRTC candidates are unreachable
// from the page and its UDP does not get out (udpBlockedNetNS), so ICE
// never connects. A NetStream of openfcs.js with
// transport 'auto' falls back to the WebSocket path on its own, says why
// in NetStream.Transport (the reason names the connection that did not
// come up), and:
//   - play: decodes ffmpeg's H.264 and AAC, with a lit, changing canvas
//     and sound in an AnalyserNode;
//   - publish: publishes the fake camera and microphone over RTMP, which
//     ffmpeg decodes over RTMP.
//
// No media ever goes over WebRTC: the server logs no connected peer.
func TestWebRTCFallbackICE(t *testing.T) {
	requireEncoders(t, "libx264", "aac")
	ns, addr := udpBlockedNetNS(t)
	// The page is not on localhost: it needs HTTPS for WebCodecs and
	// getUserMedia.
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := tlsutil.WriteSelfSigned(cert, key, addr); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, serverOpts{NetNS: ns, Host: addr,
		Config: fmt.Sprintf("tls:\n  addr: %s:0\n  cert_file: %s\n  key_file: %s\n%s", addr, cert, key, unreachableConfig)})
	var tlsAddr string
	waitFor(t, 10*time.Second, "the rtmps listening line", func() bool {
		for _, l := range srv.findLogs(func(m map[string]any) bool { return m["msg"] == "listening" && m["proto"] == "rtmps" }) {
			tlsAddr, _ = l["addr"].(string)
		}
		return tlsAddr != ""
	})
	pageURL := "https://" + tlsAddr + "/whep.html"
	b := startBrowser(t)

	checkFallback := func(t *testing.T, page string) {
		t.Helper()
		mode, reason, events := transportOf(t, b, page)
		t.Logf("transport %q: %s", mode, reason)
		if mode != "websocket" || len(events) != 1 || events[0]["transport"] != "websocket" {
			t.Fatalf("transport %q (reason %q), events %v; want one fallback to the WebSocket", mode, reason, events)
		}
		// The reason is the connection's: ICE failed, or did not connect
		// in time; never a refusal of the offer.
		if !strings.Contains(reason, "WebRTC") || !strings.Contains(reason, "ICE") && !strings.Contains(reason, "no connection") {
			t.Errorf("reason %q; want ICE that did not connect", reason)
		}
		if !strings.Contains(fmt.Sprint(events[0]["reason"]), reason) {
			t.Errorf("NetStream.Transport %v does not carry the reason %q", events[0], reason)
		}
	}

	t.Run("play", func(t *testing.T) {
		pub := startPublisher(t, srv.RTMPURL("live", "base"), codecArgs{
			Video: h264Baseline,
			Audio: aacAudio,
		}, 0)
		defer pub.stop(t)
		waitFor(t, 30*time.Second, "the stream", func() bool { return pub.frames() > 10 })
		b.open(t, "play", pageURL)
		b.eval(t, "play", fmt.Sprintf(nsSetup, "auto")+"ns.play('base'); return true", nil)
		b.eval(t, "play", nsSound, nil)
		checkFallback(t, "play")
		b.wait(t, "play", "return window.t.ns.decodedFrames > 25", time.Minute)
		var d0, d1 int
		var l0, l1 float64
		b.eval(t, "play", "return window.t.ns.decodedFrames", &d0)
		b.eval(t, "play", "return window.t.luma()", &l0)
		// Judged on the stream's clock: 4 s of it played.
		var t0 float64
		b.eval(t, "play", "return window.t.ns.time", &t0)
		b.wait(t, "play", fmt.Sprintf("return window.t.ns.time >= %f", t0+4), time.Minute)
		b.eval(t, "play", "return window.t.ns.decodedFrames", &d1)
		b.eval(t, "play", "return window.t.luma()", &l1)
		var peak float64
		b.wait(t, "play", "return window.t.peak > 0.01", time.Minute)
		b.eval(t, "play", "return window.t.peak", &peak)
		t.Logf("over the WebSocket: %d frames decoded in 4 s of the stream, luma %.1f then %.1f, sound peak %.3f", d1-d0, l0, l1, peak)
		// 25 fps for 4 s is 100 frames; 40 of them say the picture
		// moves even where a loaded machine made the decoder skip to a
		// keyframe (every 2 s).
		if d1-d0 < 40 {
			t.Errorf("%d frames decoded in 4 s of the stream, want 40 or more", d1-d0)
		}
		if l1 < 30 {
			t.Errorf("canvas mean luma %.1f: black", l1)
		}
		b.noProblems(t, "play")
	})

	t.Run("publish", func(t *testing.T) {
		b.open(t, "pub", pageURL)
		b.eval(t, "pub", fmt.Sprintf(nsSetup, "auto")+`const m = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
ns.attachCamera(m.getVideoTracks()[0]); ns.attachAudio(m.getAudioTracks()[0], { codec: 'pcma' }); ns.publish('fromweb?key=k'); return true`, nil)
		checkFallback(t, "pub")
		waitFor(t, time.Minute, "the RTMP publish", func() bool {
			return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "publish start" && m["stream"] == "fromweb" })) > 0
		})
		checkCameraOverRTMP(t, srv, "fromweb", "pcm_alaw", "G.711 A-law")
		b.noProblems(t, "pub")
	})

	if lines := srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc connected" }); len(lines) > 0 {
		t.Errorf("a WebRTC peer connected although no candidate of the server is reachable: %v", lines)
	}
}
