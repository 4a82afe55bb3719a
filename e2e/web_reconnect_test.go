//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// reconnectScript traces each connect with its argument, so that the
// test sees the page come back with the same one.
const reconnectScript = `application.onConnect = function (client, user) { trace("connect user=" + user); return true; };`

// TestWebReconnectOnDrain: openfcs.js announces E-RTMP's Reconnect
// capability (capsEx) and acts on NetConnection.Connect.ReconnectRequest.
// A page connects with an argument, publishes its camera and G.711 on a
// NetStream, plays that stream on another, and uses a shared object. The
// server is stopped with SIGTERM (its drain sends the request, then
// AppShutdown) and a new one takes its HTTP port. Without anything from
// the page's code, the connection is made again with the same argument,
// the publish and the play start again on new streams, the shared object
// synchronizes again; ffmpeg decodes the republished stream from the new
// server, and the player decodes more frames.
func TestWebReconnectOnDrain(t *testing.T) {
	t.Parallel()
	apps := filepath.Join(t.TempDir(), "applications")
	if err := os.MkdirAll(filepath.Join(apps, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(apps, "live", "main.asc"), []byte(reconnectScript), 0o644); err != nil {
		t.Fatal(err)
	}
	// A port for both servers' HTTP: the page reconnects to the server
	// that served it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := l.Addr().String()
	_ = l.Close()
	cfg := "drain_timeout: 4s\n"
	srv1 := startServer(t, serverOpts{AppsDir: apps, HTTP: httpAddr, Config: cfg})
	b := startBrowser(t)
	b.open(t, "p", srv1.pageURL("/whep.html"))
	b.eval(t, "p", `const { NetConnection, NetStream, SharedObject } = await import('/openfcs.js');
const nc = new NetConnection();
const t = { nc, events: [], syncs: 0 }; window.t = t;
nc.addEventListener('netStatus', (e) => t.events.push(e.info.code));
await nc.connect('rtmp://' + location.host + '/live', 'alice');
const m = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: true });
const pub = new NetStream(nc);
pub.attachCamera(m.getVideoTracks()[0]); pub.attachAudio(m.getAudioTracks()[0], { codec: 'pcma' });
pub.publish('cam');
const play = new NetStream(nc);
const c = document.createElement('canvas'); document.body.append(c); play.attachView(c);
play.play('cam');
const so = SharedObject.getRemote('room', nc.uri, false);
so.addEventListener('sync', () => t.syncs++);
await so.connect(nc);
Object.assign(t, { pub, play, so });
return true`, nil)
	b.wait(t, "p", "return window.t.play.decodedFrames > 25", time.Minute)
	var before int
	b.eval(t, "p", "return window.t.play.decodedFrames", &before)
	srv1.waitTrace(t, "connect user=alice")

	srv1.proc.signal(syscall.SIGTERM)
	waitFor(t, 30*time.Second, "the drain to start", func() bool {
		return len(srv1.findLogs(func(m map[string]any) bool { return m["msg"] == "draining" })) == 1
	})
	// The draining server has closed its listeners: the new one binds
	// the same HTTP port.
	srv2 := startServer(t, serverOpts{AppsDir: apps, HTTP: httpAddr})
	if err := srv1.proc.wait(t, 30*time.Second); err != nil {
		t.Errorf("the first server's exit: %v", err)
	}
	if d := srv1.findLogs(func(m map[string]any) bool { return m["msg"] == "draining" }); d[0]["reconnect_requested"] != 1.0 {
		t.Errorf("draining line %v: want the page asked to reconnect", d[0])
	}

	b.wait(t, "p", "return window.t.events.filter((c) => c === 'NetConnection.Connect.Success').length === 2", time.Minute)
	srv2.waitTrace(t, "connect user=alice")
	waitFor(t, time.Minute, "the publish and the play on the new server", func() bool {
		return len(srv2.findLogs(func(m map[string]any) bool { return m["msg"] == "publish start" && m["stream"] == "cam" })) == 1 &&
			len(srv2.findLogs(func(m map[string]any) bool { return m["msg"] == "play start" && m["stream"] == "cam" })) == 1
	})
	b.wait(t, "p", fmt.Sprintf("return window.t.play.decodedFrames > %d", before+25), time.Minute)
	b.wait(t, "p", "return window.t.syncs >= 2", 30*time.Second)
	var events []string
	b.eval(t, "p", "return window.t.events", &events)
	t.Logf("the page's NetConnection events: %q", events)
	want := []string{"NetConnection.Connect.Success", "NetConnection.Connect.ReconnectRequest", "NetConnection.Connect.AppShutdown",
		"NetConnection.Connect.Success"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}

	out := filepath.Join(t.TempDir(), "cam.flv")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", srv2.RTMPURL("live", "cam"),
		"-t", "4", "-c", "copy", "-f", "flv", out)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, o)
	}
	n, w, h := decodeVideo(t, out)
	t.Logf("ffmpeg from the new server: %d H.264 frames %dx%d", n, w, h)
	if n < 25 || w != 320 || h != 240 {
		t.Errorf("decoded %d frames of %dx%d from the republished stream, want 25 or more of 320x240", n, w, h)
	}
	b.noProblems(t, "p")
}
