package mp3

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// Frame headers of docs/flv.md#test-vectors.
var headerCases = []struct {
	name     string
	in       []byte
	version  Version
	bitrate  int
	rate     int
	mono     bool
	crc      bool
	length   int
	flag     byte
	xingAt   int
	frameDur uint32 // FrameTime(1)
}{
	{"mpeg1 128k 44.1 joint", []byte{0xff, 0xfb, 0x90, 0x64}, MPEG1, 128000, 44100, false, false, 417, 0x2f, 36, 26},
	{"mpeg1 128k padded", []byte{0xff, 0xfb, 0x92, 0x64}, MPEG1, 128000, 44100, false, false, 418, 0x2f, 36, 26},
	{"mpeg1 128k crc", []byte{0xff, 0xfa, 0x90, 0x64}, MPEG1, 128000, 44100, false, true, 417, 0x2f, 38, 26},
	{"mpeg1 192k stereo", []byte{0xff, 0xfb, 0xb0, 0x00}, MPEG1, 192000, 44100, false, false, 626, 0x2f, 36, 26},
	{"mpeg1 320k mono", []byte{0xff, 0xfb, 0xe0, 0xc4}, MPEG1, 320000, 44100, true, false, 1044, 0x2e, 21, 26},
	{"mpeg2 64k 22.05 mono", []byte{0xff, 0xf3, 0x80, 0xc4}, MPEG2, 64000, 22050, true, false, 208, 0x2a, 13, 26},
	{"mpeg2.5 8k 8 kHz mono", []byte{0xff, 0xe3, 0x18, 0xc4}, MPEG25, 8000, 8000, true, false, 72, 0xe2, 13, 72},
}

func TestFrameHeaderVectors(t *testing.T) {
	for _, tc := range headerCases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseFrameHeader(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if h.Version != tc.version || h.Bitrate != tc.bitrate || h.SampleRate != tc.rate || h.Mono != tc.mono ||
				h.CRC != tc.crc || h.Length != tc.length {
				t.Errorf("got %+v", h)
			}
			if f := h.FlagByte(); f != tc.flag {
				t.Errorf("flag byte %02x, want %02x", f, tc.flag)
			}
			xing := 4 + h.SideInfo()
			if h.CRC {
				xing += 2
			}
			if xing != tc.xingAt {
				t.Errorf("Xing offset %d, want %d", xing, tc.xingAt)
			}
			if d := h.FrameTime(1); d != tc.frameDur {
				t.Errorf("frame duration %d, want %d", d, tc.frameDur)
			}
		})
	}
	// Timestamps from the frame count (docs/flv.md#mp3-frames-to-messages).
	h, _ := ParseFrameHeader([]byte{0xff, 0xfb, 0x90, 0x64})
	var got []uint32
	for n := range int64(6) {
		got = append(got, h.FrameTime(n))
	}
	if want := []uint32{0, 26, 52, 78, 104, 130}; !equalU32(got, want) {
		t.Errorf("frame times %v, want %v", got, want)
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFrameHeaderRejects(t *testing.T) {
	for _, in := range [][]byte{
		{0xff, 0xfb, 0x90},       // short
		{0xff, 0x7b, 0x90, 0x64}, // no sync
		{0xff, 0xeb, 0x90, 0x64}, // reserved version
		{0xff, 0xfd, 0x90, 0x64}, // layer II
		{0xff, 0xfb, 0x00, 0x64}, // free format
		{0xff, 0xfb, 0xf0, 0x64}, // bitrate 15
		{0xff, 0xfb, 0x9c, 0x64}, // rate 3
	} {
		if _, err := ParseFrameHeader(in); !errors.Is(err, ErrNotFrame) {
			t.Errorf("% x: err %v, want ErrNotFrame", in, err)
		}
	}
}

func TestID3v2Size(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want int
	}{
		{[]byte{0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 2, 1}, 267},
		{[]byte{0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 7, 0x7f}, 1033},
		{[]byte{0x49, 0x44, 0x33, 4, 0, 0x10, 0, 0, 7, 0x7f}, 1043},
		{[]byte{0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0x80, 0}, 0}, // not syncsafe
		{[]byte("TAG0000000"), 0},
	} {
		if got := ID3v2Size(tc.in); got != tc.want {
			t.Errorf("% x: %d, want %d", tc.in, got, tc.want)
		}
	}
}

// id3Tag builds an ID3v2.3 tag with text frames.
func id3Tag(frames map[string][]byte) []byte {
	var body []byte
	for _, id := range []string{"TIT2", "TPE1", "COMM", "APIC"} {
		d, ok := frames[id]
		if !ok {
			continue
		}
		body = append(body, id...)
		body = binary.BigEndian.AppendUint32(body, uint32(len(d)))
		body = append(body, 0, 0)
		body = append(body, d...)
	}
	body = append(body, make([]byte, 20)...) // padding
	n := len(body)
	h := []byte{'I', 'D', '3', 3, 0, 0, byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)}
	return append(h, body...)
}

// testMP3 builds: ID3v2, a Xing frame declaring frames, n frames of the
// 128k 44.1 kHz header (alternating padding), an ID3v1 tag.
func testMP3(n int, xingFrames uint32, garbageAt int) []byte {
	b := id3Tag(map[string][]byte{
		"TIT2": append([]byte{0}, "Song"...),
		"TPE1": {1, 0xff, 0xfe, 'A', 0, 'r', 0, 't', 0}, // UTF-16 with BOM
		"COMM": append([]byte{3, 'e', 'n', 'g', 0}, "hello"...),
		"APIC": make([]byte, 300),
	})
	frame := func(pad bool) []byte {
		h := []byte{0xff, 0xfb, 0x90, 0x64}
		l := 417
		if pad {
			h[2] |= 2
			l++
		}
		return append(h, make([]byte, l-4)...)
	}
	if xingFrames > 0 {
		f := frame(false)
		copy(f[36:], "Xing")
		binary.BigEndian.PutUint32(f[40:], 1)
		binary.BigEndian.PutUint32(f[44:], xingFrames)
		b = append(b, f...)
	}
	for i := range n {
		if i == garbageAt {
			b = append(b, "garbage!"...)
		}
		b = append(b, frame(i%3 == 1)...)
	}
	v1 := make([]byte, 128)
	copy(v1, "TAG")
	copy(v1[3:], "v1 title")
	return append(b, v1...)
}

func TestOpenAndRead(t *testing.T) {
	data := testMP3(100, 100, -1)
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.VBR == nil || f.VBR.Kind != "Xing" || f.VBR.Frames != 100 {
		t.Errorf("VBR %+v", f.VBR)
	}
	if d := f.Duration(); d != 2612 {
		t.Errorf("duration %d ms, want 2612 (100 × 1152 / 44100)", d)
	}
	if f.End != int64(len(data)-128) {
		t.Errorf("audio end %d, want before the ID3v1 tag", f.End)
	}
	tags := map[string]string{}
	for _, tf := range f.Tags {
		tags[tf.ID] = tf.Value
	}
	if tags["TIT2"] != "Song" || tags["TPE1"] != "Art" || tags["COMM"] != "hello" || len(f.Tags) != 3 {
		t.Errorf("tags %v", f.Tags)
	}
	r := f.NewReader()
	var n int64
	for {
		fr, err := r.Next(nil)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if fr.N != n || len(fr.Data) != fr.Header.Length {
			t.Fatalf("frame %d: %+v", n, fr.Header)
		}
		n++
	}
	if n != 100 {
		t.Errorf("read %d frames, want 100 (the Xing frame is not audio)", n)
	}
	ix := f.Scan()
	if ix.Frames != 100 || ix.Find(45).N != 40 {
		t.Errorf("index: %d frames, Find(45) = %+v", ix.Frames, ix.Find(45))
	}
}

func TestReaderSkipsGarbageAndCBRDuration(t *testing.T) {
	data := testMP3(50, 0, 20)
	f, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.VBR != nil {
		t.Errorf("VBR %+v in a CBR file", f.VBR)
	}
	// CBR estimate: audio bytes × 8 / bitrate.
	if d := f.Duration(); d < 1290 || d > 1320 {
		t.Errorf("CBR duration %d ms, want about 1306", d)
	}
	if ix := f.Scan(); ix.Frames != 50 {
		t.Errorf("scan found %d frames through the garbage, want 50", ix.Frames)
	}
}

func TestOpenRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":       nil,
		"garbage":     bytes.Repeat([]byte("not an mp3 "), 10000),
		"id3 only":    id3Tag(map[string][]byte{"TIT2": {0, 'x'}}),
		"huge id3":    {'I', 'D', '3', 3, 0, 0, 0x7f, 0x7f, 0x7f, 0x7f},
		"lone header": {0xff, 0xfb, 0x90, 0x64, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Open(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrNotMP3) {
				t.Errorf("err %v, want ErrNotMP3", err)
			}
		})
	}
}

func TestParseID3v1(t *testing.T) {
	b := make([]byte, 128)
	copy(b, "TAG")
	copy(b[3:], "Title")
	copy(b[33:], "Artist")
	b[126] = 7
	got := ParseID3v1(b)
	want := map[string]string{"TIT2": "Title", "TPE1": "Artist", "TRCK": "7"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for _, f := range got {
		if want[f.ID] != f.Value {
			t.Errorf("%s = %q, want %q", f.ID, f.Value, want[f.ID])
		}
	}
}

func BenchmarkReaderNext(b *testing.B) {
	data := testMP3(2000, 0, -1)
	f, _ := Open(bytes.NewReader(data), int64(len(data)))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		r := f.NewReader()
		for {
			fr, err := r.Next(buf[:0])
			if err != nil {
				break
			}
			buf = fr.Data
		}
	}
}
