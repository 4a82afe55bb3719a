package webrtc

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
)

// recordFLV makes a recorded stream of the live application with
// Debian's ffmpeg: 2 s of H.264 (B-frames when bframes) and AAC.
func recordFLV(t *testing.T, st *stack, name string, bframes bool) {
	t.Helper()
	dir := filepath.Join(st.apps, "live", "streams", "_definst_")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	video := []string{"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0"}
	if bframes {
		video = []string{"-c:v", "libx264", "-profile:v", "high", "-bf", "2"}
	}
	args := append([]string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
		"-f", "lavfi", "-i", "sine=f=440:r=44100:duration=2"}, video...)
	args = append(args, "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-f", "flv", filepath.Join(dir, name+".flv"))
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg making %s.flv: %v\n%s", name, err, out)
	}
}

// TestWHEPRecorded plays a recorded FLV over WHEP: the engine's player
// reads it in real time, its H.264 arrives as RTP access units from the
// first keyframe, its AAC as Opus from the stream's converter, and the
// session closes once the file has been played out.
func TestWHEPRecorded(t *testing.T) {
	st := startStack(t, Config{})
	recordFLV(t, st, "clip", false)
	play, status, body := startWHEP(t, st.base+"/whep/live/clip", "")
	if status != http.StatusCreated {
		t.Fatalf("WHEP of a recorded stream: %d %s", status, body)
	}
	start := time.Now()
	testutil.WaitFor(t, waitLong, "the session closes at the file's end", func() bool {
		return strings.Contains(st.logs.String(), "reason=completed")
	})
	// Paced in real time: 2 s of file cannot be over sooner (a lower
	// bound only, which a loaded machine cannot break).
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Errorf("the 2 s file was played out in %v: not paced in real time", took)
	}
	units, idrs, opus := play.counts()
	t.Logf("received %d access units (%d keyframes), %d Opus packets", units, idrs, opus)
	// 2 s at 25 fps with a keyframe every second; the first picture must
	// be the file's first keyframe, and nearly all frames must arrive.
	if units < 40 || idrs < 2 {
		t.Errorf("%d access units, %d keyframes; want the file's 50 and 2", units, idrs)
	}
	// 20 ms Opus packets: most of the 2 s of audio.
	if opus < 50 {
		t.Errorf("%d Opus packets; want most of 2 s of 20 ms packets", opus)
	}
	play.mu.Lock()
	first := play.units[0]
	play.mu.Unlock()
	if !hasIDR(first) {
		t.Error("the first access unit is not the file's keyframe")
	}
}

func hasIDR(u [][]byte) bool {
	for _, n := range u {
		if len(n) > 0 && n[0]&0x1f == 5 {
			return true
		}
	}
	return false
}

// TestWHEPRecordedBFrames: a recorded file with B-frames answers 422 as a
// live one does, so a page plays it over the WebSocket.
func TestWHEPRecordedBFrames(t *testing.T) {
	st := startStack(t, Config{})
	recordFLV(t, st, "bclip", true)
	_, status, body := startWHEP(t, st.base+"/whep/live/bclip", "")
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("WHEP of a recorded stream with B-frames: %d %s; want 422", status, body)
	}
	_, status, _ = startWHEP(t, st.base+"/whep/live/nosuchclip", "")
	if status != http.StatusNotFound {
		t.Fatalf("WHEP of a missing file: %d; want 404", status)
	}
}

// playlistScript publishes "loop", a server-side playlist of the
// recorded clip twice.
const playlistScript = `
application.onAppStart = function () {
	var s = Stream.get("loop");
	s.play("clip", 0, -1);
	s.play("clip", 0, -1, false);
};
`

// TestWHEPServerPlaylist plays a server-side playlist (Stream.get and
// play in main.asc) over WHEP: the stream the script's player publishes
// reaches the viewer across the switch between items, and the session
// ends with the playlist.
func TestWHEPServerPlaylist(t *testing.T) {
	st := startStack(t, Config{})
	app := filepath.Join(st.apps, "pl")
	if err := os.MkdirAll(filepath.Join(app, "streams", "_definst_"), 0o755); err != nil {
		t.Fatal(err)
	}
	recordFLV(t, st, "clip", false)
	if err := os.Rename(filepath.Join(st.apps, "live", "streams", "_definst_", "clip.flv"),
		filepath.Join(app, "streams", "_definst_", "clip.flv")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "main.asc"), []byte(playlistScript), 0o644); err != nil {
		t.Fatal(err)
	}
	play, status, body := startWHEP(t, st.base+"/whep/pl/loop", "")
	if status != http.StatusCreated {
		t.Fatalf("WHEP of a server-side playlist: %d %s", status, body)
	}
	testutil.WaitFor(t, waitLong, "the session closes when the playlist ends", func() bool {
		return strings.Contains(st.logs.String(), "reason=unpublished")
	})
	units, idrs, opus := play.counts()
	t.Logf("received %d access units (%d keyframes), %d Opus packets", units, idrs, opus)
	// Two 2 s items at 25 fps, a keyframe every second: the viewer joins
	// the live stream at once, so it sees most of both.
	if units < 60 || idrs < 3 || opus < 50 {
		t.Errorf("%d access units, %d keyframes, %d Opus packets; want most of two 2 s items", units, idrs, opus)
	}
}

// TestNetStreamRecorded: a NetStream play with transport webrtc of a
// recorded stream gets the file from the engine's player, and the
// session tells the RTMP side it completed when the file is played out.
func TestNetStreamRecorded(t *testing.T) {
	st := startStack(t, Config{})
	recordFLV(t, st, "clip", false)
	p := playNetStream(t, st, "clip")
	select {
	case r := <-p.ended:
		if r != reasonCompleted {
			t.Errorf("ended(%q), want %q", r, reasonCompleted)
		}
	case <-time.After(waitLong):
		t.Fatal("the session did not end with the file")
	}
	units, idrs, opus := p.w.counts()
	t.Logf("received %d access units (%d keyframes), %d Opus packets", units, idrs, opus)
	if units < 40 || idrs < 2 || opus < 50 {
		t.Errorf("%d access units, %d keyframes, %d Opus packets; want most of the 2 s file", units, idrs, opus)
	}
	if !p.cl.Accepted() {
		t.Error("the session disconnected the client it borrowed")
	}
}
