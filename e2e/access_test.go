//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access control without scripting (docs/operations.md#access-control),
// each mode with ffmpeg publishing (the key or token in the stream name,
// as OBS users paste it) and rtmpdump playing.

// accessServer runs a server whose live application has the given
// application.yaml.
func accessServer(t *testing.T, appYAML string) *server {
	t.Helper()
	srv := startServer(t, serverOpts{})
	srv.writeApp(t, "live", map[string]string{"application.yaml": appYAML})
	return srv
}

// publishRefused runs ffmpeg publishing to url (straight, not through the
// tee muxer, which would carry on writing its other output) and wants it
// refused: it exits with an error that names desc ("": any error).
func publishRefused(t *testing.T, url, desc string) {
	t.Helper()
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
		"-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "20"}
	args = append(args, h264NoB...)
	args = append(args, "-f", "flv", url)
	p := startProc(t, procOpts{Quiet: true}, "ffmpeg", args...)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("ffmpeg still publishing to %s 30 s after a refusal was due", url)
	}
	if p.err == nil || !strings.Contains(p.stderr.String(), desc) {
		t.Errorf("ffmpeg publishing to %s: exit %v, stderr %q; want a failure naming %q", url, p.err, p.stderr.String(), desc)
	}
}

// playRefused runs rtmpdump -V on url and wants the server's refusal,
// code and description, in its output.
func playRefused(t *testing.T, url, code, desc string) {
	t.Helper()
	p := startProc(t, procOpts{Quiet: true}, "rtmpdump", "-V", "-r", url, "-o", filepath.Join(t.TempDir(), "refused.flv"))
	if err := p.wait(t, 30*time.Second); err == nil {
		t.Errorf("rtmpdump %s exited 0, want a failure", url)
	}
	out := p.stderr.String()
	if !strings.Contains(out, code) || !strings.Contains(out, desc) {
		t.Errorf("rtmpdump %s: want %s and %q in its output:\n%s", url, code, desc, out)
	}
}

// playsMedia runs rtmpdump on url until it has received media.
func playsMedia(t *testing.T, url string) {
	t.Helper()
	play := startRtmpdumpPlayer(t, url)
	waitFor(t, 30*time.Second, "rtmpdump to receive media from "+url, func() bool { return play.size() > 20000 })
	play.interrupt(t, 10*time.Second)
}

func TestAccessKeysFFmpegRtmpdump(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := accessServer(t, "access:\n  publish_keys: [pub-k3y]\n  play_keys: [view-k3y]\n")
	publishRefused(t, srv.RTMPURL("live", "cam"), "no valid key")
	publishRefused(t, srv.RTMPURL("live", "cam?key=wrong"), "no valid key")
	pub := startPublisher(t, srv.RTMPURL("live", "cam?key=pub-k3y"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the keyed publisher to start", func() bool { return pub.frames() >= 10 })
	playsMedia(t, srv.RTMPURL("live", "cam?key=view-k3y"))
	playRefused(t, srv.RTMPURL("live", "cam"), "NetStream.Play.Failed", "Playing cam refused: no valid key.")
	playRefused(t, srv.RTMPURL("live", "cam?key=pub-k3y"), "NetStream.Play.Failed", "no valid key")
	pub.stop(t)
}

func TestAccessJWTFFmpegRtmpdump(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	const secret = "e2e-secret-e2e-secret-e2e-secret-0123"
	srv := accessServer(t, "access:\n  jwt:\n    secret: "+secret+"\n    publish: true\n    play: true\n")
	sign := func(action string, ttl time.Duration) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"exp": time.Now().Add(ttl).Unix(), "app": "live", "stream": "cam", "action": action,
		}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	publishRefused(t, srv.RTMPURL("live", "cam?token="+sign("publish", -time.Hour)), "token expired")
	publishRefused(t, srv.RTMPURL("live", "cam?token="+sign("play", time.Hour)), "token for another action")
	pub := startPublisher(t, srv.RTMPURL("live", "cam?token="+sign("publish", time.Hour)), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the token publisher to start", func() bool { return pub.frames() >= 10 })
	playsMedia(t, srv.RTMPURL("live", "cam?token="+sign("play", time.Hour)))
	playRefused(t, srv.RTMPURL("live", "cam?token=not.a.token"), "NetStream.Play.Failed", "invalid token")
	pub.stop(t)
}

func TestAccessHookFFmpegRtmpdump(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	var mu sync.Mutex
	var seen []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Action, App, Stream, Query, ClientIP string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		seen = append(seen, req.Action+":"+req.Stream)
		mu.Unlock()
		if req.Stream == "banned" || strings.Contains(req.Query, "deny") {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(hook.Close)
	srv := accessServer(t, "access:\n  hook:\n    url: "+hook.URL+"/on_event\n    timeout: 3s\n")
	publishRefused(t, srv.RTMPURL("live", "banned"), "refused by the access hook (HTTP 403)")
	pub := startPublisher(t, srv.RTMPURL("live", "cam?key=anything"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the publisher to start", func() bool { return pub.frames() >= 10 })
	playsMedia(t, srv.RTMPURL("live", "cam"))
	playRefused(t, srv.RTMPURL("live", "cam?deny=1"), "NetStream.Play.Failed", "Playing cam refused by the access hook (HTTP 403).")
	pub.stop(t)
	waitFor(t, 10*time.Second, "the unpublish notice", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(strings.Join(seen, " "), "unpublish:cam")
	})
	mu.Lock()
	got := strings.Join(seen, " ")
	mu.Unlock()
	for _, want := range []string{"connect:", "publish:banned", "publish:cam", "play:cam", "unpublish:cam"} {
		if !strings.Contains(got, want) {
			t.Errorf("the hook saw %q, want %q in it", got, want)
		}
	}
}

func TestAccessAddressesFFmpegRtmpdump(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := accessServer(t, "access:\n  deny: [127.0.0.0/8]\n")
	// ffmpeg sends its next commands without waiting for connect's
	// answer, so the refusal's close may reach it as a broken pipe before
	// it reads the answer: here the server's log line is the proof, and
	// rtmpdump (which waits) shows the status.
	publishRefused(t, srv.RTMPURL("live", "cam"), "")
	if len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "connect refused: address not allowed" })) == 0 {
		t.Error("no refusal logged for ffmpeg's connect")
	}
	playRefused(t, srv.RTMPURL("live", "cam"), "NetConnection.Connect.Rejected", "Access denied for this address.")
	// Allowed range: the same clients get through once the file says so
	// (edits apply without a restart).
	srv.writeApp(t, "live", map[string]string{"application.yaml": "access:\n  allow: [127.0.0.1/32]\n  deny: [10.0.0.0/8]\n"})
	pub := startPublisher(t, srv.RTMPURL("live", "cam"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the publisher to start", func() bool { return pub.frames() >= 10 })
	playsMedia(t, srv.RTMPURL("live", "cam"))
	pub.stop(t)
}
