package media

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media/flv"
)

// recordedTags reads a file's tags.
func recordedTags(t testing.TB, path string) []flv.Tag {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := flv.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var tags []flv.Tag
	for {
		tag, err := rd.Next(nil)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("%s: %v", path, err)
			}
			return tags
		}
		tags = append(tags, tag)
	}
}

func TestRecorderRebasesAndFinalizes(t *testing.T) {
	reg := NewRegistry(Config{}, nil)
	defer reg.Close()
	pub, err := reg.Publish("s")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "s.flv")
	rec, err := pub.Record(path, RecordOptions{KeyframesIndex: 10})
	if err != nil {
		t.Fatal(err)
	}
	pub.SetMetadata(meta())
	pub.Write(avcSeq(1000))
	pub.Write(aacSeq(1000))
	pub.Write(inter(1000, 10)) // before the first keyframe: dropped
	pub.Write(aac(1000, 10))   // first media: time 0
	pub.Write(key(1010, 10))
	pub.Write(&Packet{Kind: Audio, Time: 1000}) // empty: skipped
	pub.Write(inter(1050, 10))
	pub.Write(aac(1030, 10))    // 20 ms older than the last: clamped to 50
	pub.Write(inter(90000, 10)) // the clock jumped: continues one frame later
	pub.Write(key(90040, 10))   // and keeps the new offset
	pub.Write(&Packet{Kind: Data, Time: 90040, Payload: []byte{2, 0, 2, 'h', 'i'}})
	pub.Close()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	tags := recordedTags(t, path)
	type tt struct {
		typ uint8
		ts  uint32
	}
	var got []tt
	for _, tag := range tags {
		got = append(got, tt{tag.Type, tag.Time})
	}
	want := []tt{{18, 0}, {9, 0}, {8, 0}, {8, 0}, {9, 10}, {9, 50}, {8, 50}, {9, 51}, {9, 91}, {18, 91}}
	if len(got) != len(want) {
		t.Fatalf("tags %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("tag %d = %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
	md, err := flv.ParseMetadata(tags[0].Payload, amf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if md.Duration != 0.091 || len(md.Keyframes) != 2 || md.Keyframes[1].Offset != tags[8].Offset {
		t.Errorf("metadata duration %v, keyframes %+v", md.Duration, md.Keyframes)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
}

func TestRepairTruncatedRecording(t *testing.T) {
	var b []byte
	b = flv.AppendHeader(b, flv.FlagVideo)
	for i := range 10 {
		b = flv.AppendTag(b, flv.TagVideo, uint32(i*40), []byte{0x17, 1, 0, 0, 0, byte(i)})
	}
	complete := len(b)
	dir := t.TempDir()
	for _, cut := range []int{complete - 1, complete - 4, complete - 5, complete - 12, 20, 11} {
		path := filepath.Join(dir, "x.flv")
		if err := os.WriteFile(path, b[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		size, err := RepairFLV(f, int64(cut))
		_ = f.Close()
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		data, _ := os.ReadFile(path)
		if int64(len(data)) != size || !flv.TailOK(bytes.NewReader(data), size) {
			t.Errorf("cut %d: repaired to %d bytes (file %d), tail ok %v", cut, size, len(data),
				flv.TailOK(bytes.NewReader(data), size))
		}
		if !bytes.Equal(data[:min(len(data), 13)], b[:min(len(data), 13)]) {
			t.Errorf("cut %d: header changed", cut)
		}
	}
	// Append after a crash continues after the last complete tag.
	path := filepath.Join(dir, "crash.flv")
	if err := os.WriteFile(path, b[:complete-7], 0o644); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry(Config{}, nil)
	defer reg.Close()
	pub, _ := reg.Publish("c")
	rec, err := pub.Record(path, RecordOptions{Mode: RecordAppend})
	if err != nil {
		t.Fatal(err)
	}
	pub.Write(key(0, 10))
	pub.Close()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	tags := recordedTags(t, path)
	if len(tags) != 10 || tags[9].Time != 8*40+1 {
		t.Errorf("%d tags, last at %d; want 10 with the appended one at 321", len(tags), tags[len(tags)-1].Time)
	}
}

func TestRecordFailsOnBadPath(t *testing.T) {
	reg := NewRegistry(Config{}, nil)
	defer reg.Close()
	pub, _ := reg.Publish("x")
	defer pub.Close()
	if _, err := pub.Record(filepath.Join(t.TempDir(), "missing", "x.flv"), RecordOptions{}); !errors.Is(err, ErrRecordFailed) {
		t.Errorf("err %v, want ErrRecordFailed", err)
	}
	// Append to something that is not an FLV refuses (docs/flv.md#broken-and-hostile-files).
	p := filepath.Join(t.TempDir(), "junk.flv")
	_ = os.WriteFile(p, []byte("junk junk junk junk"), 0o644)
	if _, err := pub.Record(p, RecordOptions{Mode: RecordAppend}); !errors.Is(err, ErrRecordFailed) {
		t.Errorf("append to junk: %v, want ErrRecordFailed", err)
	}
}

// vodFile writes an FLV of n video frames (keyframe every 25) with audio.
func writeVODFile(t testing.TB, n int, payload int) string {
	t.Helper()
	b := flv.AppendHeader(nil, flv.FlagAudio|flv.FlagVideo)
	b = flv.AppendTag(b, flv.TagVideo, 0, avcSeqPayload)
	b = flv.AppendTag(b, flv.TagAudio, 0, aacSeqPayload)
	for i := range n {
		v := key(uint32(i*40), payload)
		if i%25 != 0 {
			v = inter(uint32(i*40), payload)
		}
		b = flv.AppendTag(b, flv.TagVideo, v.Time, v.Payload)
		b = flv.AppendTag(b, flv.TagAudio, uint32(i*40+20), aac(0, 200).Payload)
	}
	path := filepath.Join(t.TempDir(), "v.flv")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVODSeekAndShare(t *testing.T) {
	path := writeVODFile(t, 250, 100)
	cache := NewFileCache(4)
	v1, err := OpenVOD(cache, path, VODFLV, VODLimits{})
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	v2, err := OpenVOD(cache, path, VODFLV, VODLimits{})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if v1.vf != v2.vf {
		t.Error("two players of one file do not share its parsed state")
	}
	if v1.Duration() != 249*40+20 {
		t.Errorf("duration %d", v1.Duration())
	}
	at, cfgs, err := v1.Seek(5500)
	if err != nil || at != 5000 || len(cfgs) != 2 {
		t.Fatalf("Seek(5500) = %d, %d configs, %v; want the keyframe at 5000 and 2 configs", at, len(cfgs), err)
	}
	p, err := v1.Next()
	if err != nil || p.Kind != Video || !p.Keyframe || p.Time != 5000 {
		t.Errorf("after seek: %+v, %v", p, err)
	}
	if v2.vf.index == nil {
		t.Error("the index built for one player is not shared")
	}
	// Seek past the end: the last keyframe.
	if at, _, _ := v2.Seek(1 << 30); at != 9000 {
		t.Errorf("Seek(end) = %d, want the last keyframe, 9000", at)
	}
	// A changed file is a new entry.
	time.Sleep(10 * time.Millisecond) // let the modification time differ
	if err := os.WriteFile(path, []byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	v3, err := OpenVOD(cache, path, VODFLV, VODLimits{})
	if err != nil {
		t.Fatal(err)
	}
	defer v3.Close()
	if v3.vf == v1.vf || v3.Duration() != 0 {
		t.Error("a replaced file reused the old entry")
	}
}

func TestPacer(t *testing.T) {
	var p Pacer
	p.SetBuffer(1000)
	t0 := time.Unix(1000, 0)
	if d := p.Wait(5000, t0); d != 0 {
		t.Errorf("first message waits %v", d)
	}
	if d := p.Wait(6500, t0); d != 0 {
		t.Errorf("within buffer+lead waits %v", d)
	}
	if d := p.Wait(7000, t0); d != 500*time.Millisecond {
		t.Errorf("2 s ahead waits %v, want 500ms", d)
	}
	if d := p.Wait(7000, t0.Add(time.Second)); d != 0 {
		t.Errorf("after a second waits %v", d)
	}
	if d := p.Wait(60000, t0.Add(time.Second)); d != 0 {
		t.Errorf("a jump of 53 s is waited for: %v", d)
	}
	p.SetBuffer(0)
	if p.allowance() != 600*time.Millisecond {
		t.Errorf("clamped allowance %v", p.allowance())
	}
}

// BenchmarkVODNext reads a 1 Mbit/s-like file (25 video frames of 4 KiB and
// 25 audio frames per second) from the page cache, as one player does.
func BenchmarkVODNext(b *testing.B) {
	path := writeVODFile(b, 1500, 4000)
	v, err := OpenVOD(nil, path, VODFLV, VODLimits{})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	if _, _, err := v.Seek(0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Next(); err != nil {
			_, _, _ = v.Seek(0)
		}
	}
}

// BenchmarkVODSeek1h seeks in a one-hour file (25 fps, keyframe every
// second) with and without a keyframes index in its metadata.
func BenchmarkVODSeek1h(b *testing.B) {
	const frames = 3600 * 25
	for _, withIndex := range []bool{false, true} {
		name := "scan"
		if withIndex {
			name = "metadata index"
		}
		b.Run(name, func(b *testing.B) {
			body := flv.AppendTag(nil, flv.TagVideo, 0, avcSeqPayload)
			off := int64(13)
			var pts []flv.SeekPoint
			var tags []byte
			for i := range frames {
				p := inter(uint32(i*40), 50).Payload
				if i%25 == 0 {
					p = key(uint32(i*40), 50).Payload
					pts = append(pts, flv.SeekPoint{Time: uint32(i * 40), Offset: int64(len(tags))})
				}
				tags = flv.AppendTag(tags, flv.TagVideo, uint32(i*40), p)
			}
			var metaTag []byte
			if withIndex {
				tmpl, _ := flv.NewMetaTemplate(nil, flv.ServerMeta{VideoCodecID: 7, AudioCodecID: -1}, len(pts))
				metaTag = flv.AppendTag(nil, flv.TagScript, 0, tmpl.Payload)
				base := off + int64(len(metaTag)) + int64(len(body))
				abs := make([]flv.SeekPoint, len(pts))
				for i, p := range pts {
					abs[i] = flv.SeekPoint{Time: p.Time, Offset: base + p.Offset}
				}
				pl := append([]byte(nil), tmpl.Payload...)
				for _, pa := range tmpl.Patches(flv.FinalMeta{Duration: 3600, Keyframes: abs}) {
					copy(pl[pa.Offset:], pa.Data)
				}
				metaTag = flv.AppendTag(nil, flv.TagScript, 0, pl)
			}
			file := flv.AppendHeader(nil, flv.FlagVideo)
			file = append(file, metaTag...)
			file = append(file, body...)
			file = append(file, tags...)
			path := filepath.Join(b.TempDir(), "1h.flv")
			if err := os.WriteFile(path, file, 0o644); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				// A fresh cache each time: the cost of the first seek.
				v, err := OpenVOD(NewFileCache(1), path, VODFLV, VODLimits{})
				if err != nil {
					b.Fatal(err)
				}
				if at, _, err := v.Seek(1800_500); err != nil || at != 1800_000 {
					b.Fatalf("seek: %d, %v", at, err)
				}
				v.Close()
			}
		})
	}
}

// TestVODDoesNotTrimARecordingInProgress: a player opening a file whose
// tail is still being written reads up to the last complete tag and leaves
// the file alone.
func TestVODDoesNotTrimARecordingInProgress(t *testing.T) {
	reg := NewRegistry(Config{}, nil)
	defer reg.Close()
	pub, _ := reg.Publish("live")
	path := filepath.Join(t.TempDir(), "live.flv")
	rec, err := pub.Record(path, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files := reg.Files()
	if !files.Recording(path) {
		t.Fatal("Recording(path) false while recording")
	}
	// A torn tail as a concurrent reader may see it.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.Write([]byte{9, 0, 0, 50, 0, 0})
	_ = f.Close()
	v, err := OpenVOD(files, path, VODFLV, VODLimits{})
	if err != nil {
		t.Fatal(err)
	}
	_ = v.Close()
	if fi, _ := os.Stat(path); fi.Size() != 13+6 {
		t.Errorf("a player changed the file being recorded: %d bytes", fi.Size())
	}
	pub.Close()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if files.Recording(path) {
		t.Error("Recording(path) true after Close")
	}
}

// A publisher that sends only sequence headers and data messages, never a
// frame, must not make the recorder hold every one of them.
func TestRecorderPendingBounded(t *testing.T) {
	w, err := openRecWriter(filepath.Join(t.TempDir(), "p.flv"), RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	for i := range 10000 {
		for _, p := range []*Packet{aacSeq(uint32(i)), avcSeq(uint32(i)), meta(),
			{Kind: Data, Time: uint32(i), Payload: []byte{2, 0, 2, 'h', 'i'}}} {
			classify(p)
			if err := w.write(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(w.pending); n > maxPendingData+4 {
		t.Fatalf("%d messages held before the first frame", n)
	}
	// The latest configuration and metadata are still written first.
	first := aac(20000, 10)
	classify(first)
	if err := w.write(first); err != nil {
		t.Fatal(err)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	tags := recordedTags(t, w.path)
	var cfgs int
	for _, tag := range tags {
		if (tag.Type == 8 || tag.Type == 9) && len(tag.Payload) > 1 && tag.Payload[1] == 0 {
			cfgs++
		}
	}
	if cfgs != 2 {
		t.Fatalf("%d configuration tags, want 2", cfgs)
	}
}

// Two publications whose names resolve to one file ("foo", "flv:foo")
// cannot both record it; the file is free again once the first stops.
func TestRecordOneWriterPerFile(t *testing.T) {
	reg := NewRegistry(Config{}, nil)
	defer reg.Close()
	a, err := reg.Publish("foo")
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.Publish("flv:foo")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "foo.flv")
	rec, err := a.Record(path, RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Record(path, RecordOptions{Mode: RecordAppend}); !errors.Is(err, ErrRecordFailed) {
		t.Fatalf("second recorder of one file: err = %v, want ErrRecordFailed", err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	rec2, err := b.Record(path, RecordOptions{Mode: RecordAppend})
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	if err := rec2.Close(); err != nil {
		t.Fatal(err)
	}
}

// One file reached by other paths (relative, through a symlinked folder)
// or from another registry sharing the server's FileCache is still one
// file: a second recorder is refused.
func TestRecordOneWriterPerResolvedFile(t *testing.T) {
	files := NewFileCache(0)
	regA := NewRegistry(Config{Files: files}, nil)
	defer regA.Close()
	regB := NewRegistry(Config{Files: files}, nil)
	defer regB.Close()
	a, _ := regA.Publish("foo")
	b, _ := regB.Publish("foo")
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	rec, err := a.Record(filepath.Join(real, "foo.flv"), RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{filepath.Join(link, "foo.flv"), filepath.Join("real", "foo.flv"), "link/./foo.flv"} {
		if !files.Recording(other) {
			t.Errorf("Recording(%q) false while real/foo.flv records", other)
		}
		if _, err := b.Record(other, RecordOptions{Mode: RecordAppend}); !errors.Is(err, ErrRecordFailed) {
			t.Errorf("second recorder through %q: err = %v, want ErrRecordFailed", other, err)
		}
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if files.Recording(filepath.Join(link, "foo.flv")) {
		t.Error("still recording after Close")
	}
}

// appendWithGap keeps the pause: the appended part starts the wall-clock
// time since the file was last written after its end (docs/flv.md#publish-modes).
func TestRecordAppendWithGap(t *testing.T) {
	var b []byte
	b = flv.AppendHeader(b, flv.FlagVideo)
	for i := range 3 {
		b = flv.AppendTag(b, flv.TagVideo, uint32(i*40), []byte{0x17, 1, 0, 0, 0, byte(i)})
	}
	for _, tc := range []struct {
		mode    RecordMode
		min     uint32
		max     uint32
		comment string
	}{
		{RecordAppend, 81, 81, "append: just after the end"},
		{RecordAppendWithGap, 80 + 1 + 5000, 80 + 1 + 5000 + 2000, "appendWithGap: plus the 5 s pause"},
	} {
		path := filepath.Join(t.TempDir(), "g.flv")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-5 * time.Second)
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
		reg := NewRegistry(Config{}, nil)
		pub, _ := reg.Publish("g")
		rec, err := pub.Record(path, RecordOptions{Mode: tc.mode})
		if err != nil {
			t.Fatal(err)
		}
		pub.Write(key(0, 10))
		pub.Close()
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		reg.Close()
		tags := recordedTags(t, path)
		if got := tags[len(tags)-1].Time; len(tags) != 4 || got < tc.min || got > tc.max {
			t.Errorf("%s: %d tags, appended at %d ms, want %d..%d", tc.comment, len(tags), got, tc.min, tc.max)
		}
	}
}
