package webrtc

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
)

// The RTP time of a recorded stream goes on forward across a seek back
// and a pause: the next packet is placed at the last one plus the wall
// time between them.
func TestVODTimeline(t *testing.T) {
	var tl vodTimeline
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []struct {
		in     uint32
		wall   int
		rebase bool
		want   uint32
	}{
		{0, 0, false, 0},
		{40, 40, false, 40},
		{80, 80, false, 80},
		{0, 110, true, 110},    // a seek back to 0, 30 ms after the last packet
		{40, 150, false, 150},  // the file's times go on from there
		{80, 2190, true, 2190}, // a 2 s pause: the time moves on with the wall clock
		{120, 2230, false, 2230},
		{5000, 2250, true, 2250}, // a seek forward
	}
	for i, s := range steps {
		tl.rebase = tl.rebase || s.rebase
		if got := tl.out(s.in, at(s.wall)); got != s.want {
			t.Errorf("step %d: in %d at %d ms: out %d, want %d", i, s.in, s.wall, got, s.want)
		}
	}
}

// A NetStream playing a recorded stream over WebRTC pauses, resumes and
// seeks it through the control Negotiate returns: no video while paused,
// more after, the file from its start again after a seek to 0 (the
// session lasts the file's length plus the pause plus what was played
// before the seek), and the RTP times never go back.
func TestNetStreamRecordedPauseSeek(t *testing.T) {
	st := startStack(t, Config{})
	dir := filepath.Join(st.apps, "live", "streams", "_definst_")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=6", "-f", "lavfi", "-i", "sine=f=440:r=44100:duration=6",
		"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac",
		"-f", "flv", filepath.Join(dir, "six.flv")).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg making six.flv: %v\n%s", err, out)
	}
	p := playNetStream(t, st, "six")
	w, control, ended := p.w, p.control, p.ended
	if control == nil {
		t.Fatal("no control for a recorded stream")
	}
	start := time.Now()
	units := func() int { n, _, _ := w.counts(); return n }
	testutil.WaitFor(t, waitLong, "1 s of video", func() bool { return units() >= 25 })

	control.Pause(true)
	time.Sleep(time.Second) // what the player had sent ahead (120 ms) arrives
	n1 := units()
	time.Sleep(2 * time.Second)
	// A receiver starved on a loaded machine may still be reading the
	// last frames sent before the pause: a few, never a second's worth.
	n2 := units()
	if n2-n1 > 3 {
		t.Errorf("%d access units arrived while paused", n2-n1)
	}
	control.Pause(false)
	testutil.WaitFor(t, waitLong, "1 s of video after the pause", func() bool { return units() >= n1+25 })

	control.SeekTo(0)
	select {
	case r := <-ended:
		if r != reasonCompleted {
			t.Errorf("ended(%q), want %q", r, reasonCompleted)
		}
	case <-time.After(waitLong):
		t.Fatal("the session did not end with the file")
	}
	// Played: about 2 s before the seek, 3 s paused, then the 6 s file
	// from its start; without the seek it would end after about 9 s.
	// The file has a keyframe a second, six in all: the seek back adds
	// those it replays.
	took := time.Since(start)
	n, idrs, opus := w.counts()
	t.Logf("%d access units (%d keyframes), %d Opus packets in %v", n, idrs, opus, took)
	if took < 9800*time.Millisecond {
		t.Errorf("the session ended after %v: the seek to 0 did not play the file again", took)
	}
	if idrs < 7 {
		t.Errorf("%d keyframes of a file that has 6: the seek to 0 did not play it again", idrs)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 1; i < len(w.unitTS); i++ {
		if d := int32(w.unitTS[i] - w.unitTS[i-1]); d < 0 {
			t.Fatalf("access unit %d: RTP time %d after %d: back by %d", i, w.unitTS[i], w.unitTS[i-1], -d)
		}
	}
}
