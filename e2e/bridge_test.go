//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/quic-go/quic-go/http3"

	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
)

// The browser bridge against the real binary: the pages at /, HTTP-FLV
// with ffprobe and flv.js in Chromium, RTMP over WebSocket with the
// project's client, bad input on the WebSocket.

// browserScript drives Debian's chromium through playwright-core; its npm
// project (package-lock.json) is installed by scripts/deps.sh.
const browserScript = "browser/run.mjs"

// runBrowser runs the browser script with args and decodes the JSON it
// prints into v. A missing node, chromium or npm install fails the test.
func runBrowser(t testing.TB, v any, args ...string) {
	t.Helper()
	for _, need := range []string{"browser/node_modules/playwright-core/package.json", "browser/node_modules/flv.js/package.json"} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%s missing: run scripts/deps.sh (npm ci in e2e/browser)", need)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node missing: run scripts/deps.sh")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("/usr/bin/chromium missing: run scripts/deps.sh (Debian package chromium)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{browserScript}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s %s: %v\n%s", browserScript, strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("browser script output %q: %v", out, err)
	}
}

// artifact returns the path of a file kept under e2e/out/ after the run
// (screenshots).
func artifact(t testing.TB, name string) string {
	t.Helper()
	dir, err := filepath.Abs("out")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// waitFLV waits until an HTTP-FLV URL answers 200 (the stream is
// published).
func waitFLV(t testing.TB, u string) {
	t.Helper()
	waitFor(t, 30*time.Second, "HTTP-FLV "+u, func() bool {
		resp, err := http.Head(u)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// TestWebIndexPage: Chromium loads / with no console error, failed
// request or exception; the page lists the applications from /api/apps,
// which names applications only, never a stream being published (and
// /api/instances is not on the public port). The screenshot is kept in e2e/out/index.png.
func TestWebIndexPage(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"live", "chat"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, srv.RTMPURL("live", ""), rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const key = "k3y-7d1c0a"
	if err := s.Publish(ctx, key, "live"); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get("http://" + srv.httpAddr + "/api/apps")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var list struct{ Apps []string }
	if err := json.Unmarshal(body, &list); err != nil || !slices.Equal(list.Apps, []string{"chat", "live"}) {
		t.Fatalf("/api/apps = %s (%v), want chat and live", body, err)
	}
	if bytes.Contains(body, []byte(key)) {
		t.Fatalf("/api/apps names the stream being published: %s", body)
	}
	resp, err = http.Get("http://" + srv.httpAddr + "/api/instances")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte(key)) {
		t.Fatalf("/api/instances on the public port = %d %q: want 404 (it is on the admin listener)", resp.StatusCode, body)
	}

	shot := artifact(t, "index.png")
	var res struct {
		Title    string
		Apps     []string
		Status   string
		Problems []string
	}
	runBrowser(t, &res, "page", "http://"+srv.httpAddr+"/", shot)
	if res.Title != "openfcs" || !slices.Equal(res.Apps, []string{"chat", "live"}) {
		t.Errorf("page: title %q, applications %q", res.Title, res.Apps)
	}
	if len(res.Problems) > 0 {
		t.Errorf("page problems: %q", res.Problems)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
	t.Logf("page: %q; screenshot %s", res.Status, shot)
}

// ffprobeStream is one stream of ffprobe's JSON.
type ffprobeStream struct {
	CodecName    string `json:"codec_name"`
	CodecType    string `json:"codec_type"`
	NbReadFrames string `json:"nb_read_frames"`
	Width        int    `json:"width"`
}

// TestHTTPFLVFFprobe: ffmpeg publishes H.264 with B-frames and AAC over
// RTMP; ffprobe reads the HTTP-FLV URL (both /app/stream.flv and
// /app/_definst_/stream.flv) and decodes frames of both tracks.
func TestHTTPFLVFFprobe(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	pub := startPublisher(t, srv.RTMPURL("live", "f1"), codecArgs{Video: h264BFrames, Audio: aacAudio}, 0)
	defer pub.stop(t)
	for _, path := range []string{"/live/f1.flv", "/live/_definst_/f1.flv"} {
		u := "http://" + srv.httpAddr + path
		waitFLV(t, u)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-read_intervals", "%+4", "-count_frames",
			"-show_entries", "stream=codec_name,codec_type,nb_read_frames,width", "-of", "json", u).Output()
		cancel()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", u, err)
		}
		var res struct{ Streams []ffprobeStream }
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		got := map[string]ffprobeStream{}
		for _, s := range res.Streams {
			got[s.CodecType] = s
		}
		v, a := got["video"], got["audio"]
		t.Logf("ffprobe %s: video %s %d px wide, %s frames; audio %s, %s frames", path, v.CodecName, v.Width, v.NbReadFrames, a.CodecName, a.NbReadFrames)
		if v.CodecName != "h264" || v.Width != 320 || a.CodecName != "aac" {
			t.Errorf("%s: streams %+v, want h264 320 wide and aac", path, res.Streams)
		}
		// 4 s of 25 fps video and 43 AAC frames a second: at least half.
		if n := atoi(v.NbReadFrames); n < 50 {
			t.Errorf("%s: %d video frames decoded in 4 s", path, n)
		}
		if n := atoi(a.NbReadFrames); n < 80 {
			t.Errorf("%s: %d audio frames decoded in 4 s", path, n)
		}
	}
	if n := len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "http-flv play start" && l["proto"] == "http-flv" })); n != 2 {
		t.Errorf("%d `http-flv play start` lines, want 2", n)
	}
}

func atoi(s string) int {
	var n int
	_, _ = fmt.Sscan(s, &n)
	return n
}

// TestHTTPFLVFlvjsChromium: flv.js (npm, pinned) in Chromium plays the
// HTTP-FLV stream of an ffmpeg publish (H.264 with B-frames, AAC) from a
// page of another origin: the video's currentTime advances and it decodes
// frames. The screenshot is kept in e2e/out/flvjs.png.
func TestHTTPFLVFlvjsChromium(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{})
	// +global_header: startPublisher's tee output does not ask the encoder
	// for one, so without it x264 sends Annex B with an empty AVC sequence
	// header, which ffmpeg tolerates and flv.js (like Flash Player)
	// cannot decode.
	video := append(slices.Clone(h264BFrames), "-flags", "+global_header")
	pub := startPublisher(t, srv.RTMPURL("live", "b1"), codecArgs{Video: video, Audio: aacAudio}, 0)
	defer pub.stop(t)
	_, port, _ := net.SplitHostPort(srv.httpAddr)
	flvURL := "http://127.0.0.1:" + port + "/live/b1.flv"
	waitFLV(t, flvURL)

	type sample struct {
		Time             float64
		Decoded, Dropped int
		Width, Height    int
	}
	var res struct {
		MSE         bool
		First, Last sample
		FlvErrors   []string
		FlvLog      []string
		Problems    []string
	}
	const seconds = 6
	// The page is http://localhost:port/, the stream http://127.0.0.1:
	// port/...: another origin, so flv.js's fetch needs the CORS header.
	runBrowser(t, &res, "flvjs", "http://localhost:"+port+"/", flvURL, fmt.Sprint(seconds), artifact(t, "flvjs.png"))
	t.Logf("flv.js: %+v", res)
	if !res.MSE {
		t.Fatal("this Chromium has no MSE support for H.264 + AAC")
	}
	if len(res.FlvErrors) > 0 || len(res.Problems) > 0 {
		t.Errorf("flv.js errors %q, page problems %q", res.FlvErrors, res.Problems)
	}
	if adv := res.Last.Time - res.First.Time; adv < seconds/2 {
		t.Errorf("currentTime advanced %.2f s in %d s", adv, seconds)
	}
	if n := res.Last.Decoded - res.First.Decoded; n < seconds*fps/2 {
		t.Errorf("%d frames decoded in %d s, want at least half of %d", n, seconds, seconds*fps)
	}
	if res.Last.Width != 320 || res.Last.Height != 240 {
		t.Errorf("video %dx%d, want 320x240", res.Last.Width, res.Last.Height)
	}
}

// guardScript admits HTTP-FLV players with key=good in their URL and lets
// them read only the stream "open"; RTMP clients (the publisher) pass.
const guardScript = `
application.onConnect = function (client) {
    trace("connect protocol=" + client.protocol + " secure=" + client.secure);
    if (client.protocol == "http-flv") {
        if (client.uri.indexOf("key=good") < 0) {
            application.rejectConnection(client, {message: "bad key"});
            return;
        }
        client.readAccess = "open";
    }
    application.acceptConnection(client);
};
`

// TestHTTPFLVThroughScript: HTTP-FLV players meet the application's
// script like any client: onConnect sees protocol http-flv, a rejection
// answers 403, readAccess applies, an admitted player plays. WebSocket
// clients are rtmpws and rtmpwss (secure) to the script.
func TestHTTPFLVThroughScript(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	tsrv := startTunnelServer(t, "")
	srv := tsrv.server
	srv.writeApp(t, "guard", map[string]string{"main.asc": guardScript})
	for _, u := range []string{"rtmpws://" + srv.httpAddr + "/guard", "rtmpwss://" + tsrv.tlsAddr + "/guard"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := rtmp.Dial(ctx, u, rtmp.ClientConfig{Dial: bridge.DialFunc(bridge.DialConfig{TLS: &tls.Config{InsecureSkipVerify: true}})})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		_ = c.Close()
	}
	srv.waitTrace(t, "connect protocol=rtmpws secure=false")
	srv.waitTrace(t, "connect protocol=rtmpwss secure=true")
	pub := startPublisher(t, srv.RTMPURL("guard", "open"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	defer pub.stop(t)
	base := "http://" + srv.httpAddr + "/guard/"
	waitFLV(t, base+"open.flv?key=good")
	srv.waitTrace(t, "connect protocol=http-flv secure=false")

	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"open.flv?key=bad", 403, "bad key"},
		{"open.flv", 403, "rejected"},
		{"secret.flv?key=good", 403, "No read access"},
		{"nothing.flv?key=good&x", 403, "No read access"},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s: %d %q, want %d with %q", tc.path, resp.StatusCode, b, tc.status, tc.body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-read_intervals", "%+2", "-count_frames",
		"-show_entries", "stream=codec_name,nb_read_frames", "-of", "json", base+"open.flv?key=good").Output()
	if err != nil {
		t.Fatalf("ffprobe of the admitted stream: %v", err)
	}
	if !bytes.Contains(out, []byte(`"h264"`)) || !bytes.Contains(out, []byte(`"aac"`)) {
		t.Errorf("ffprobe: %s", out)
	}
}

// TestRTMPWSPublishPlay: one scenario over RTMP over WebSocket against
// the real binary. The project's client publishes an ffmpeg-encoded file
// over rtmpws:// and rtmpdump plays it over rtmp://, decoding ≥ 90% of it;
// an ffmpeg publish over rtmp:// reaches the project's client over
// rtmpws:// and rtmpwss://. The server logs both protocols.
func TestRTMPWSPublishPlay(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startTunnelServer(t, "")

	// Publish over rtmpws, play with rtmpdump over rtmp.
	src := vcEncode(t, "testsrc=size=320x240:rate=25", 6)
	tags := vcMediaTags(t, src)
	play := startRtmpdumpPlayer(t, srv.RTMPURL("live", "w1"))
	waitPlaying(t, srv.server, "w1", 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmpws://"+srv.httpAddr+"/live", rtmp.ClientConfig{Dial: bridge.DialFunc(bridge.DialConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, "w1", "live"); err != nil {
		t.Fatal(err)
	}
	// Paced at real time, as a live encoder sends.
	start := time.Now()
	for _, tag := range tags {
		if d := time.Duration(tag.Time)*time.Millisecond - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		if err := s.WritePacket(media.Packet{Kind: media.Kind(tag.Type), Time: tag.Time, Payload: tag.Payload}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	play.end(t, 20*time.Second)
	checkReceived(t, "rtmpdump (published over rtmpws)", probe(t, play.out), probe(t, src), "h264", "aac")

	// ffmpeg publishes over rtmp; the project's client plays over ws and wss.
	pub := startPublisher(t, srv.RTMPURL("live", "w2"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	defer pub.stop(t)
	for _, u := range []string{"rtmpws://" + srv.httpAddr + "/live", "rtmpwss://" + srv.tlsAddr + "/live"} {
		dial := bridge.DialFunc(bridge.DialConfig{TLS: &tls.Config{InsecureSkipVerify: true}})
		cp, err := playWithClient(ctx, u, "w2", dial)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		defer cp.c.Close()
		waitFor(t, 30*time.Second, "2 s of video over "+u, func() bool { return cp.videos.Load() >= 2*fps })
	}
	for _, proto := range []string{"rtmpws", "rtmpwss"} {
		if !protoLogged(srv.server, proto) {
			t.Errorf("no connection logged with proto %q", proto)
		}
	}
}

// TestWebSocketBadInput: while ffmpeg publishes over RTMP and rtmpdump
// plays, WebSocket clients send a text message, a message over
// bridge.max_message_size, garbage instead of the RTMP handshake, and
// upgrade from a disallowed Origin. Each closes only its socket with one
// log line naming its address and the fault; rtmpdump decodes ≥ 90% of
// the stream and keeps receiving after the attacks.
func TestWebSocketBadInput(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Config: "bridge:\n  max_message_size: 65536\n  allowed_origins: [\"https://app.example\"]\n" +
		"session:\n  handshake_timeout: 3s\n"})
	url := srv.RTMPURL("live", "s1")
	play := startRtmpdumpPlayer(t, url)
	waitPlaying(t, srv, "s1", 1)
	pub := startPublisher(t, url, codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the player to receive data", func() bool { return play.size() > 10<<10 })

	wsURL := "ws://" + srv.httpAddr + bridge.Path
	// dial upgrades with the library, as a misbehaving page or tool
	// would, and reports the local address the server sees.
	dial := func(t *testing.T, origin string, writeBuf int) (*websocket.Conn, string, *http.Response, error) {
		t.Helper()
		var local string
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, WriteBufferSize: writeBuf,
			NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var nd net.Dialer
				c, err := nd.DialContext(ctx, network, addr)
				if err == nil {
					local = c.LocalAddr().String()
				}
				return c, err
			}}
		var hdr http.Header
		if origin != "" {
			hdr = http.Header{"Origin": {origin}}
		}
		ws, resp, err := d.Dial(wsURL, hdr)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if ws != nil {
			t.Cleanup(func() { _ = ws.Close() })
		}
		return ws, local, resp, err
	}
	// closeCode reads until the server's close frame.
	closeCode := func(ws *websocket.Conn) int {
		_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				if ce, ok := err.(*websocket.CloseError); ok { //nolint:errorlint // the library returns it unwrapped
					return ce.Code
				}
				return -1
			}
		}
	}
	attacks := []struct {
		name      string
		run       func(t *testing.T) string
		msg       string // the log line's msg
		reason    string
		errSubstr string
	}{
		{name: "text message", msg: "closed", reason: "handshake", errSubstr: "text message",
			run: func(t *testing.T) string {
				t.Helper()
				ws, local, _, err := dial(t, "", 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"hello":"server"}`)); err != nil {
					t.Fatal(err)
				}
				if code := closeCode(ws); code != websocket.CloseUnsupportedData {
					t.Errorf("close code %d, want 1003", code)
				}
				return local
			}},
		{name: "text message after connect", msg: "closed", reason: "protocol_error", errSubstr: "text message",
			run: func(t *testing.T) string {
				t.Helper()
				ws, local, _, err := dial(t, "", 0)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := rtmp.NewClient(ctx, &wsClientConn{Conn: ws}, rtmp.ClientConfig{})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Connect(ctx, "live", "rtmpws://"+srv.httpAddr+"/live"); err != nil {
					t.Fatal(err)
				}
				if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
					t.Fatal(err)
				}
				<-c.Done()
				return local
			}},
		{name: "frame over max_message_size", msg: "closed", reason: "handshake", errSubstr: "max_message_size",
			run: func(t *testing.T) string {
				t.Helper()
				ws, local, _, err := dial(t, "", 256<<10)
				if err != nil {
					t.Fatal(err)
				}
				_ = ws.WriteMessage(websocket.BinaryMessage, append([]byte{3}, make([]byte, 100<<10)...))
				if code := closeCode(ws); code != websocket.CloseMessageTooBig {
					t.Errorf("close code %d, want 1009", code)
				}
				return local
			}},
		{name: "message over max_message_size after connect", msg: "closed", reason: "limit", errSubstr: "max_message_size",
			run: func(t *testing.T) string {
				t.Helper()
				ws, local, _, err := dial(t, "", 256<<10)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := rtmp.NewClient(ctx, &wsClientConn{Conn: ws}, rtmp.ClientConfig{})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Connect(ctx, "live", "rtmpws://"+srv.httpAddr+"/live"); err != nil {
					t.Fatal(err)
				}
				// One 100 KiB frame: refused at its header, before any of
				// it reaches the RTMP reader.
				if err := ws.WriteMessage(websocket.BinaryMessage, make([]byte, 100<<10)); err != nil {
					t.Fatal(err)
				}
				<-c.Done()
				return local
			}},
		{name: "garbage instead of RTMP", msg: "closed", reason: "handshake", errSubstr: "not RTMP",
			run: func(t *testing.T) string {
				t.Helper()
				ws, local, _, err := dial(t, "", 0)
				if err != nil {
					t.Fatal(err)
				}
				b := make([]byte, 4096)
				rng := rand.New(rand.NewPCG(3, 4))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				b[0] = 0xff
				_ = ws.WriteMessage(websocket.BinaryMessage, b)
				closeCode(ws)
				return local
			}},
		{name: "origin not allowed", msg: "websocket refused", reason: "origin",
			run: func(t *testing.T) string {
				t.Helper()
				_, local, resp, err := dial(t, "https://evil.example", 0)
				if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("upgrade from another origin: %v, %v; want 403", resp, err)
				}
				return local
			}},
	}
	remotes := map[string]string{} // attack -> the address the server saw
	// One after the other, while rtmpdump plays.
	for _, a := range attacks {
		remote := a.run(t)
		remotes[a.name] = remote
		var lines []map[string]any
		waitFor(t, 30*time.Second, "the log line of "+a.name, func() bool {
			lines = srv.findLogs(func(l map[string]any) bool { return l["remote"] == remote && l["msg"] == a.msg })
			return len(lines) > 0
		})
		l := lines[0]
		errText, _ := l["err"].(string)
		t.Logf("%s: %s reason=%v err=%q", a.name, l["msg"], l["reason"], errText)
		if l["reason"] != a.reason || !strings.Contains(errText, a.errSubstr) {
			t.Errorf("%s: log line %v, want reason %s and an err naming %q", a.name, l, a.reason, a.errSubstr)
		}
	}
	sizeAfter := play.size()
	framesAfter := pub.frames()
	waitFor(t, 30*time.Second, "5 s more of publishing", func() bool { return pub.frames() >= framesAfter+5*fps })
	pub.stop(t)
	play.end(t, 10*time.Second)
	if play.size() <= sizeAfter {
		t.Errorf("rtmpdump's output did not grow after the attacks (%d bytes)", sizeAfter)
	}
	// Seconds later: each fault was logged once, as a warning.
	for name, remote := range remotes {
		warnings := srv.findLogs(func(l map[string]any) bool {
			return l["remote"] == remote && (l["level"] == "WARN" || l["level"] == "ERROR")
		})
		if len(warnings) != 1 {
			t.Errorf("%s: %d warnings for %s, want 1: %v", name, len(warnings), remote, warnings)
		}
	}
	got := probe(t, play.out)
	checkReceived(t, "rtmpdump", got, probe(t, pub.copyPath), "h264", "aac")
	// The stream's clock, not the wall's: on a loaded machine ffmpeg's -re
	// publishes slower than real time, so the attacks' end is the frame
	// ffmpeg had reached then.
	attacksDone := float64(framesAfter) / fps
	after := 0
	for _, p := range got.packetsOf("video") {
		if ts, err := parseSeconds(p.DTSTime); err == nil && ts >= attacksDone {
			after++
		}
	}
	if after == 0 {
		t.Errorf("rtmpdump received no video after the attacks")
	}
}

// wsClientConn is a client WebSocket as a net.Conn carrying RTMP in
// binary messages, for a client that then misbehaves on the socket.
type wsClientConn struct {
	*websocket.Conn
	r io.Reader
}

func (c *wsClientConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			_, r, err := c.NextReader()
			if err != nil {
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsClientConn) Write(p []byte) (int, error) {
	if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsClientConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// TestHTTPFLVOverTLSAndHTTP3: the TLS port serves HTTP-FLV (ffprobe reads
// https://) and so does its HTTP/3 twin (read with quic-go's client), both
// as https-flv.
func TestHTTPFLVOverTLSAndHTTP3(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startTunnelServer(t, "")
	pub := startPublisher(t, srv.RTMPURL("live", "t1"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	defer pub.stop(t)
	insecure := &tls.Config{InsecureSkipVerify: true}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure}}
	defer hc.CloseIdleConnections()
	u := "https://" + srv.tlsAddr + "/live/t1.flv"
	waitFor(t, 30*time.Second, "HTTP-FLV "+u, func() bool {
		resp, err := hc.Head(u)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-tls_verify", "0", "-read_intervals", "%+2", "-count_frames",
		"-show_entries", "stream=codec_name,nb_read_frames", "-of", "json", u).Output()
	if err != nil || !bytes.Contains(out, []byte(`"h264"`)) || !bytes.Contains(out, []byte(`"aac"`)) {
		t.Errorf("ffprobe %s: %v %s", u, err, out)
	}

	tr := &http3.Transport{TLSClientConfig: insecure}
	defer tr.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+srv.h3Addr+"/live/t1.flv", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/x-flv" {
		t.Fatalf("HTTP/3: %d %v", resp.StatusCode, resp.Header)
	}
	var head [13]byte
	if _, err := io.ReadFull(resp.Body, head[:]); err != nil || string(head[:3]) != "FLV" || head[4] != 5 {
		t.Fatalf("HTTP/3 body starts %x, %v; want an FLV header with audio and video", head, err)
	}
	// Half a second of the 300 kbit/s stream and more.
	if n, err := io.CopyN(io.Discard, resp.Body, 16<<10); err != nil {
		t.Fatalf("HTTP/3 body: %d bytes, %v", n, err)
	}
	n := len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "http-flv play start" && l["proto"] == "https-flv" }))
	if n < 2 {
		t.Errorf("%d https-flv players logged, want the TLS and the HTTP/3 one", n)
	}
}

// TestWebSocketFromChromium: a page's plain WebSocket (binaryType
// "arraybuffer") reaches the RTMP endpoint and runs the RTMP handshake
// (C0 and C1 out, S0 S1 S2 back, C2 out), as the browser library will; a
// page of another origin is refused by default (403, the page sees the
// socket fail) with one log line.
func TestWebSocketFromChromium(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{})
	_, port, _ := net.SplitHostPort(srv.httpAddr)
	type result struct {
		Outcome, Protocol string
		Messages, Bytes   int
		S0                int
		Types             []string
		Problems          []string
	}
	var same result
	runBrowser(t, &same, "ws", "http://127.0.0.1:"+port+"/", "ws://127.0.0.1:"+port+bridge.Path)
	t.Logf("same origin: %+v", same)
	if same.Outcome != "handshake" || same.S0 != 3 || same.Bytes < 3073 || same.Protocol != "rtmp" {
		t.Errorf("same-origin page: %+v; want the handshake answered (S0 = 3, 3073 bytes), subprotocol rtmp", same)
	}
	if !slices.Equal(same.Types, []string{"[object ArrayBuffer]"}) {
		t.Errorf("message types %q, want ArrayBuffer only", same.Types)
	}
	if len(same.Problems) > 0 {
		t.Errorf("page problems: %q", same.Problems)
	}
	// The handshake was real: the server logs the session as rtmpws.
	waitFor(t, 10*time.Second, "an rtmpws handshake in the log", func() bool {
		return len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "handshake" && l["proto"] == "rtmpws" })) > 0
	})

	var other result
	runBrowser(t, &other, "ws", "http://localhost:"+port+"/", "ws://127.0.0.1:"+port+bridge.Path)
	t.Logf("other origin: %+v", other)
	if other.Outcome == "handshake" || other.Bytes != 0 {
		t.Errorf("a page of http://localhost:%s opened the socket of 127.0.0.1: %+v", port, other)
	}
	refused := srv.findLogs(func(l map[string]any) bool {
		return l["msg"] == "websocket refused" && l["origin"] == "http://localhost:"+port
	})
	if len(refused) != 1 {
		t.Errorf("%d `websocket refused` lines for the other origin, want 1", len(refused))
	}
}
