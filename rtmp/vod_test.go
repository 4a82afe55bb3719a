package rtmp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/testutil/flvtest"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/status"
)

// streamsDir returns (and creates) live/_definst_'s streams folder.
func streamsDir(t testing.TB, ts *testServer) string {
	t.Helper()
	dir := filepath.Join(ts.eng.Config().AppsDir, "live", "streams", "_definst_")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// event is one thing a player saw, in order.
type event struct {
	code string // onStatus / onPlayStatus code, or "" for media
	kind media.Kind
	ts   uint32
	key  bool
	cfg  bool // a sequence header
}

// collector views a StreamLog as the events these tests compare.
type collector struct {
	log *StreamLog
}

func collect(s *ClientStream) *collector {
	return &collector{log: LogStream(s)}
}

func (c *collector) events() []event {
	var out []event
	for _, e := range c.log.Events() {
		ev := event{code: e.Code, kind: e.Kind, ts: e.Time}
		if e.Kind == media.Data && e.Code == "" {
			ev.code = "data:" + e.Handler
		}
		if e.Kind == media.Video {
			ev.key = flv.IsVideoKeyframe(e.Payload)
			ev.cfg = flv.IsVideoSequenceHeader(e.Payload)
		}
		out = append(out, ev)
	}
	return out
}

func (c *collector) codes() []string {
	var out []string
	for _, e := range c.events() {
		if e.code != "" && !strings.HasPrefix(e.code, "data:") {
			out = append(out, e.code)
		}
	}
	return out
}

func (c *collector) has(code string) bool { return slices.Contains(c.codes(), code) }

func (c *collector) media() []event {
	var out []event
	for _, e := range c.events() {
		if e.code == "" {
			out = append(out, e)
		}
	}
	return out
}

func playStream(t *testing.T, ts *testServer) (*Client, *ClientStream, *collector) {
	t.Helper()
	c := dial(t, ts, "live", ClientConfig{})
	s, err := c.CreateStream(testutil.Context(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	col := collect(s)
	if err := s.SetBufferLength(100); err != nil {
		t.Fatal(err)
	}
	return c, s, col
}

func waitCode(t *testing.T, col *collector, code string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !col.has(code) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; saw %v", code, d, col.codes())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestVODStatusSequenceAndMedia(t *testing.T) {
	ts := startServer(t, Config{})
	dir := streamsDir(t, ts)
	if err := os.WriteFile(filepath.Join(dir, "clip.flv"), flvtest.Synth(1200, 10, true), 0o644); err != nil {
		t.Fatal(err)
	}
	c, s, col := playStream(t, ts)
	if n, err := c.GetStreamLength(testutil.Context(t, 5*time.Second), "clip"); err != nil || n != 1.2 {
		t.Errorf("getStreamLength = %v, %v; want 1.2", n, err)
	}
	if err := s.PlayArgs("clip", 0, -1000, true); err != nil {
		t.Fatal(err)
	}
	waitCode(t, col, status.PlayStop, 10*time.Second)
	want := []string{status.PlayReset, status.PlayStart, status.PlayComplete, status.PlayStop}
	if got := col.codes(); !slices.Equal(got, want) {
		t.Errorf("status sequence %v, want %v", got, want)
	}
	ms := col.media()
	var video, audio int
	last := map[media.Kind]uint32{}
	for _, e := range ms {
		switch e.kind {
		case media.Video:
			video++
		case media.Audio:
			audio++
		}
		if e.ts < last[e.kind] {
			t.Errorf("%v timestamp went back: %d after %d", e.kind, e.ts, last[e.kind])
		}
		last[e.kind] = e.ts
	}
	// 30 frames + sequence header; 52 audio frames + sequence header.
	if video != 31 || audio != 53 {
		t.Errorf("got %d video and %d audio messages, want 31 and 53", video, audio)
	}
}

func TestVODSeekStartLenAndSingleFrame(t *testing.T) {
	ts := startServer(t, Config{})
	dir := streamsDir(t, ts)
	// Keyframes every 10 frames: 0, 400, 800, ... ms.
	if err := os.WriteFile(filepath.Join(dir, "clip.flv"), flvtest.Synth(2000, 10, false), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name               string
		start, length      float64
		firstKey, maxVideo uint32
		frames             int // video frames (not counting the sequence header), -1 any
	}{
		{"start 1000 from the keyframe before", 1000, -1000, 800, 1960, -1},
		{"len 500 from 0", 0, 500, 0, 500, 13},
		{"single frame at 1300", 1300, 0, 1200, 1200, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, s, col := playStream(t, ts)
			if err := s.PlayArgs("clip", tc.start, tc.length, true); err != nil {
				t.Fatal(err)
			}
			waitCode(t, col, status.PlayStop, 10*time.Second)
			var frames []event
			for _, e := range col.media() {
				if e.kind == media.Video && !e.cfg {
					frames = append(frames, e)
				}
			}
			if len(frames) == 0 {
				t.Fatal("no video")
			}
			if !frames[0].key || frames[0].ts != tc.firstKey {
				t.Errorf("first frame %+v, want keyframe at %d", frames[0], tc.firstKey)
			}
			if l := frames[len(frames)-1].ts; l > tc.maxVideo {
				t.Errorf("last frame at %d, want <= %d", l, tc.maxVideo)
			}
			if tc.frames >= 0 && len(frames) != tc.frames {
				t.Errorf("%d frames, want %d", len(frames), tc.frames)
			}
		})
	}

	t.Run("seek", func(t *testing.T) {
		_, s, col := playStream(t, ts)
		if err := s.PlayArgs("clip", 0, -1000, true); err != nil {
			t.Fatal(err)
		}
		waitCode(t, col, status.PlayStart, 5*time.Second)
		if err := s.Seek(1500); err != nil {
			t.Fatal(err)
		}
		waitCode(t, col, status.PlayStop, 10*time.Second)
		ev := col.events()
		i := slices.IndexFunc(ev, func(e event) bool { return e.code == status.SeekNotify })
		if i < 0 {
			t.Fatalf("no Seek.Notify in %v", col.codes())
		}
		if ev[i+1].code != status.PlayStart {
			t.Errorf("after Seek.Notify: %+v, want Play.Start", ev[i+1])
		}
		for _, e := range ev[i+1:] {
			if e.kind == media.Video && e.code == "" && !e.cfg {
				if !e.key || e.ts != 1200 {
					t.Errorf("first frame after seek(1500): %+v, want keyframe at 1200", e)
				}
				break
			}
		}
	})
}

func TestVODPlaylistContinuousTimestamps(t *testing.T) {
	ts := startServer(t, Config{})
	dir := streamsDir(t, ts)
	for _, n := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, n+".flv"), flvtest.Synth(600, 5, true), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, s, col := playStream(t, ts)
	if err := s.PlayArgs("a", 0, -1000, true); err != nil {
		t.Fatal(err)
	}
	if err := s.PlayArgs("b", 0, -1000, false); err != nil {
		t.Fatal(err)
	}
	waitCode(t, col, status.PlayStop, 10*time.Second)
	want := []string{status.PlayReset, status.PlayStart, "NetStream.Play.Switch", status.PlayStart,
		status.PlayComplete, status.PlayStop}
	if got := col.codes(); !slices.Equal(got, want) {
		t.Errorf("status sequence %v, want %v", got, want)
	}
	var vts []uint32
	for _, e := range col.media() {
		if e.kind == media.Video {
			vts = append(vts, e.ts)
		}
	}
	// Each file: sequence header at 0, video 0..560, audio 0..580. The
	// second starts one ms after the last timestamp of the first (580).
	if !slices.IsSorted(vts) {
		t.Errorf("video timestamps not continuous: %v", vts)
	}
	if len(vts) != 2*16 || vts[16] != 581 || vts[len(vts)-1] != 581+560 {
		t.Errorf("video timestamps %v, want two runs of 16 with the second from 581", vts)
	}
}

func TestVODPacing(t *testing.T) {
	ts := startServer(t, Config{})
	dir := streamsDir(t, ts)
	if err := os.WriteFile(filepath.Join(dir, "long.flv"), flvtest.Synth(3000, 25, true), 0o644); err != nil {
		t.Fatal(err)
	}
	_, s, col := playStream(t, ts)
	start := time.Now()
	if err := s.PlayArgs("long", 0, -1000, true); err != nil {
		t.Fatal(err)
	}
	// Buffer 100 ms + lead 500 ms: never more than ~0.6 s ahead of real time.
	for !col.has(status.PlayStop) {
		el := time.Since(start)
		var maxTS uint32
		for _, e := range col.media() {
			maxTS = max(maxTS, e.ts)
		}
		if ahead := time.Duration(maxTS)*time.Millisecond - el; ahead > 900*time.Millisecond {
			t.Fatalf("at %v received media up to %d ms: %v ahead", el, maxTS, ahead)
		}
		if el > 10*time.Second {
			t.Fatal("playback did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if el := time.Since(start); el < 2500*time.Millisecond {
		t.Errorf("3 s file played in %v: not paced", el)
	}
}

func TestVODPauseResume(t *testing.T) {
	ts := startServer(t, Config{})
	dir := streamsDir(t, ts)
	if err := os.WriteFile(filepath.Join(dir, "clip.flv"), flvtest.Synth(1500, 10, true), 0o644); err != nil {
		t.Fatal(err)
	}
	_, s, col := playStream(t, ts)
	if err := s.PlayArgs("clip", 0, -1000, true); err != nil {
		t.Fatal(err)
	}
	waitCode(t, col, status.PlayStart, 5*time.Second)
	if err := s.Pause(true, 0); err != nil {
		t.Fatal(err)
	}
	waitCode(t, col, status.PauseNotify, 5*time.Second)
	n := len(col.media())
	time.Sleep(300 * time.Millisecond) // nothing may arrive while paused
	if m := len(col.media()); m != n {
		t.Errorf("%d messages arrived while paused", m-n)
	}
	if err := s.Pause(false, 0); err != nil {
		t.Fatal(err)
	}
	waitCode(t, col, status.UnpauseNotify, 5*time.Second)
	waitCode(t, col, status.PlayStop, 10*time.Second)
	var video int
	for _, e := range col.media() {
		if e.kind == media.Video {
			video++
		}
	}
	if video != 38+1 {
		t.Errorf("%d video messages after pause/unpause, want 39 (none lost)", video)
	}
}

func TestVODHostileNames(t *testing.T) {
	ts := startServer(t, Config{})
	root := ts.eng.Config().AppsDir
	dir := streamsDir(t, ts)
	// A symlink that leads out of the streams folder.
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.flv"), flvtest.Synth(200, 5, true), 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{"../x", "../../../../tmp/x", "/etc/passwd", "a\\b", "a\x00b", "c:/x", "a//b", "./a", "escape/secret",
		"escape/new", "mp3:../x", "foo:bar", strings.Repeat("a", 300), "a/" + strings.Repeat("b", 1100)}
	c := dial(t, ts, "live", ClientConfig{})
	for _, name := range names {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			s, err := c.CreateStream(testutil.Context(t, 5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.PlayArgs(name, 0, -1000, true); err != nil {
				t.Fatal(err)
			}
			if _, err := s.WaitStatus(testutil.Context(t, 5*time.Second), status.PlayStreamNotFound); err != nil {
				t.Errorf("play: %v, want StreamNotFound", err)
			}
			if err := s.command("publish", amf.String(name), amf.String("record")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.WaitStatus(testutil.Context(t, 5*time.Second), status.PublishBadName); err != nil {
				t.Errorf("publish record: %v, want BadName", err)
			}
		})
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("files written outside the streams folder: %v", ents)
	}
	// Nothing but the streams folder and the symlink was created.
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("unexpected file %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecordThenAppendContinues(t *testing.T) {
	ts := startServer(t, Config{})
	c := dial(t, ts, "live", ClientConfig{})
	publish := func(typ string, frames int) {
		t.Helper()
		s, err := c.CreateStream(testutil.Context(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(testutil.Context(t, 5*time.Second), "sub/rec", typ); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WaitStatus(testutil.Context(t, 5*time.Second), status.RecordStart); err != nil {
			t.Fatal(err)
		}
		_ = s.WritePacket(media.Packet{Kind: media.Video, Payload: []byte{0x17, 0, 0, 0, 0, 1, 2}})
		_ = s.WritePacket(media.Packet{Kind: media.Audio, Payload: []byte{0xaf, 0, 0x12, 0x10}})
		// The publisher's clock starts at 5000: the file starts at 0.
		for i := range frames {
			_ = s.WritePacket(media.Packet{Kind: media.Video, Time: 5000 + uint32(i*40), Payload: keyframe(byte(i))})
			_ = s.WritePacket(media.Packet{Kind: media.Audio, Time: 5000 + uint32(i*40), Payload: []byte{0xaf, 1, byte(i)}})
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WaitStatus(testutil.Context(t, 5*time.Second), status.RecordStop); err != nil {
			t.Fatal(err)
		}
	}
	publish("record", 10)
	publish("append", 5)
	path := filepath.Join(streamsDir(t, ts), "sub", "rec.flv")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := flv.NewReader(bytesReaderAt(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var vts []uint32
	var meta *flv.Metadata
	for {
		tag, err := rd.Next(nil)
		if err != nil {
			break
		}
		switch tag.Type {
		case flv.TagVideo:
			if flv.IsVideoKeyframe(tag.Payload) {
				vts = append(vts, tag.Time)
			}
		case flv.TagScript:
			if meta == nil {
				meta, _ = flv.ParseMetadata(tag.Payload, amf.Limits{})
			}
		}
	}
	want := []uint32{0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 361, 401, 441, 481, 521}
	if !slices.Equal(vts, want) {
		t.Errorf("keyframe times %v, want %v", vts, want)
	}
	if meta == nil || meta.Duration != 0.521 {
		t.Errorf("metadata %+v, want duration 0.521 after append", meta)
	}
	if !flv.TailOK(bytesReaderAt(raw), int64(len(raw))) {
		t.Error("tail does not check")
	}
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, fmt.Errorf("EOF at %d", off)
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, fmt.Errorf("short read at %d", off)
	}
	return n, nil
}

// TestVODCorruptFiles: damaged files play up to the damage and end with
// Play.Complete and Play.Stop; files that are not of their format get
// StreamNotFound (docs/flv.md#broken-and-hostile-files). The server stays up for the next player.
func TestVODCorruptFiles(t *testing.T) {
	ts := startServer(t, Config{})
	dir := streamsDir(t, ts)
	good := flvtest.Synth(800, 5, true)
	hdr := flv.AppendHeader(nil, flv.FlagVideo)
	backwards := append([]byte(nil), hdr...)
	for i, tsv := range []uint32{0, 40, 80, 5000, 5040, 120, 160, 0, 40} {
		p := []byte{0x27, 1, 0, 0, 0, byte(i)}
		if i == 0 {
			p[0] = 0x17
		}
		backwards = flv.AppendTag(backwards, flv.TagVideo, tsv, p)
	}
	zero := flv.AppendTag(flv.AppendTag(append([]byte(nil), hdr...), flv.TagVideo, 0, nil), flv.TagAudio, 0, nil)
	zero = flv.AppendTag(zero, flv.TagVideo, 10, []byte{0x17, 1, 0, 0, 0, 1})
	zero = flv.AppendTag(zero, 7, 20, []byte("unknown type"))
	zero = flv.AppendTag(zero, flv.TagVideo|0x20, 30, []byte("encrypted"))
	oversize := append(append([]byte(nil), good[:len(good)/2]...), 9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3)
	garbageTail := append(append([]byte(nil), good...), bytes.Repeat([]byte{0xde, 0xad}, 100)...)
	for _, tc := range []struct {
		name     string
		data     []byte
		notFound bool
		minVideo int
	}{
		{"truncated", good[:len(good)*2/3], false, 5},
		{"size past the end", oversize, false, 3},
		{"garbage after the last tag", garbageTail, false, 21},
		{"timestamps going backwards", backwards, false, 9},
		{"zero-length, unknown and encrypted tags", zero, false, 1},
		{"not an FLV", []byte("this is not a video file at all"), true, 0},
		{"header only", hdr, false, 0},
		{"bad data offset", []byte("FLV\x01\x05\x00\x00\x00\x02\x00\x00\x00\x00"), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "_")
			if err := os.WriteFile(filepath.Join(dir, name+".flv"), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, s, col := playStream(t, ts)
			if err := s.PlayArgs(name, 0, -1000, true); err != nil {
				t.Fatal(err)
			}
			if tc.notFound {
				waitCode(t, col, status.PlayStreamNotFound, 5*time.Second)
				return
			}
			waitCode(t, col, status.PlayStop, 10*time.Second)
			if !col.has(status.PlayComplete) {
				t.Errorf("no Play.Complete: %v", col.codes())
			}
			var video int
			last := int64(-1)
			for _, e := range col.media() {
				if e.kind == media.Video {
					video++
					if int64(e.ts) < last {
						t.Errorf("video timestamp went back: %d after %d", e.ts, last)
					}
					last = int64(e.ts)
				}
			}
			if video < tc.minVideo {
				t.Errorf("%d video messages, want >= %d", video, tc.minVideo)
			}
		})
	}
	t.Run("mp3 garbage", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "junk.mp3"), bytes.Repeat([]byte{0xff, 0x00}, 40000), 0o644); err != nil {
			t.Fatal(err)
		}
		_, s, col := playStream(t, ts)
		if err := s.PlayArgs("mp3:junk", 0, -1000, true); err != nil {
			t.Fatal(err)
		}
		waitCode(t, col, status.PlayStreamNotFound, 5*time.Second)
	})
}

// TestVODMP3 plays a synthetic MP3 with an ID3 tag: onId3 first, then
// audio messages with flag byte 0x2f and frame-count timestamps.
func TestVODMP3(t *testing.T) {
	ts := startServer(t, Config{})
	dir := streamsDir(t, ts)
	id3 := []byte{'I', 'D', '3', 3, 0, 0, 0, 0, 0, 15, 'T', 'I', 'T', '2', 0, 0, 0, 5, 0, 0, 0, 'S', 'o', 'n', 'g'}
	data := append([]byte(nil), id3...)
	for i := range 40 {
		h := []byte{0xff, 0xfb, 0x90, 0x64}
		l := 417
		if i%3 == 1 {
			h[2] |= 2
			l++
		}
		data = append(data, h...)
		data = append(data, make([]byte, l-4)...)
	}
	if err := os.WriteFile(filepath.Join(dir, "song.mp3"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, s, col := playStream(t, ts)
	if n, err := c.GetStreamLength(testutil.Context(t, 5*time.Second), "mp3:song"); err != nil || n < 1.0 || n > 1.1 {
		t.Errorf("getStreamLength(mp3:song) = %v, %v; want about 1.045", n, err)
	}
	if err := s.PlayArgs("mp3:song", 0, -1000, true); err != nil {
		t.Fatal(err)
	}
	waitCode(t, col, status.PlayStop, 10*time.Second)
	ev := col.events()
	first := slices.IndexFunc(ev, func(e event) bool { return e.code == "data:onId3" })
	firstAudio := slices.IndexFunc(ev, func(e event) bool { return e.kind == media.Audio })
	if first < 0 || firstAudio < first {
		t.Errorf("onId3 at %d, first audio at %d: want onId3 first", first, firstAudio)
	}
	var ts2 []uint32
	for _, e := range col.media() {
		if e.kind == media.Audio {
			ts2 = append(ts2, e.ts)
		}
	}
	if len(ts2) != 40 || ts2[1] != 26 || ts2[5] != 130 || ts2[39] != 1018 {
		t.Errorf("audio timestamps %v", ts2)
	}
}

// The engine's rules apply to live plays too: play(live, -1000, 0) is a
// single frame, with the publisher's timestamps, then Complete and Stop;
// and a live stream appended to a recorded play (reset false) follows the
// file with its timestamps continuing after it.
func TestLiveThroughThePlayer(t *testing.T) {
	ts := startServer(t, Config{})
	dir := streamsDir(t, ts)
	if err := os.WriteFile(filepath.Join(dir, "a.flv"), flvtest.Synth(600, 5, true), 0o644); err != nil {
		t.Fatal(err)
	}
	pubC := dial(t, ts, "live", ClientConfig{})
	pub, err := pubC.CreateStream(testutil.Context(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(testutil.Context(t, 5*time.Second), "cam", "live"); err != nil {
		t.Fatal(err)
	}
	_ = pub.WritePacket(media.Packet{Kind: media.Video, Time: 5000, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e}})
	_ = pub.WritePacket(media.Packet{Kind: media.Video, Time: 5000, Payload: keyframe(1)})
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the camera keeps sending
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
			}
			_ = pub.WritePacket(media.Packet{Kind: media.Video, Time: 5000 + uint32(40*i), Payload: interframe(byte(i))})
		}
	}()

	t.Run("len 0", func(t *testing.T) {
		_, s, col := playStream(t, ts)
		if err := s.PlayArgs("cam", -1000, 0, true); err != nil {
			t.Fatal(err)
		}
		waitCode(t, col, status.PlayStop, 10*time.Second)
		want := []string{status.PlayReset, status.PlayStart, status.PlayComplete, status.PlayStop}
		if got := col.codes(); !slices.Equal(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		var frames []event
		for _, e := range col.media() {
			if e.kind == media.Video && !e.cfg {
				frames = append(frames, e)
			}
		}
		if len(frames) != 1 || !frames[0].key || frames[0].ts != 5000 {
			t.Errorf("pictures %+v, want the keyframe at 5000", frames)
		}
	})
	t.Run("appended after a file", func(t *testing.T) {
		_, s, col := playStream(t, ts)
		if err := s.PlayArgs("a", 0, -1000, true); err != nil {
			t.Fatal(err)
		}
		if err := s.PlayArgs("cam", -1000, 300, false); err != nil {
			t.Fatal(err)
		}
		waitCode(t, col, status.PlayStop, 10*time.Second)
		want := []string{status.PlayReset, status.PlayStart, status.PlaySwitch, status.PlayStart,
			status.PlayComplete, status.PlayStop}
		if got := col.codes(); !slices.Equal(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		var vts []uint32
		for _, e := range col.media() {
			if e.kind == media.Video {
				vts = append(vts, e.ts)
			}
		}
		// a: sequence header and 15 pictures 0..560, its last media at 580;
		// cam from 581 on, ascending.
		if len(vts) < 18 || vts[15] != 560 || vts[16] != 581 || !slices.IsSorted(vts) {
			t.Errorf("video timestamps %v: want a's, then cam's from 581", vts)
		}
	})
}
