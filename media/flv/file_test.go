package flv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/openfcs/openfcs/amf"
)

func unhexFile(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors of docs/flv.md#test-vectors.
func TestFileVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"header audio+video", AppendHeader(nil, FlagAudio|FlagVideo), "46 4c 56 01 05 00 00 00 09 00 00 00 00"},
		{"aac sequence header tag", AppendTag(nil, TagAudio, 0, []byte{0xaf, 0, 0x12, 0x10}),
			"08 00 00 04 00 00 00 00 00 00 00 af 00 12 10 00 00 00 0f"},
		{"extended timestamp header", AppendTagHeader(nil, TagAudio, 418, 0x01020304), "08 00 01 a2 02 03 04 01 00 00 00"},
		{"avc end of sequence", AppendTag(nil, TagVideo, 5000, []byte{0x17, 2, 0, 0, 0}),
			"09 00 00 05 00 13 88 00 00 00 00 17 02 00 00 00 00 00 00 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if want := unhexFile(t, tc.want); !bytes.Equal(tc.got, want) {
				t.Errorf("got % x\nwant % x", tc.got, want)
			}
		})
	}
	th, err := ParseTagHeader(unhexFile(t, "08 00 01 a2 02 03 04 01 00 00 00"))
	if err != nil || th != (TagHeader{Type: 8, Size: 418, Time: 0x01020304}) {
		t.Errorf("ParseTagHeader = %+v, %v", th, err)
	}
}

func TestParseHeaderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"short", "46 4c 56 01"},
		{"bad signature", "46 4c 57 01 05 00 00 00 09"},
		{"data offset below 9", "46 4c 56 01 05 00 00 00 08"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseHeader(unhexFile(t, tc.in)); !errors.Is(err, ErrNotFLV) {
				t.Errorf("err = %v, want ErrNotFLV", err)
			}
		})
	}
}

// file builds a small file: metadata, config, and n video frames with a
// keyframe every 3.
func testFile(n int) []byte {
	meta, _ := amf.AppendAMF0Values(nil, amf.String("onMetaData"),
		amf.ECMAArray(amf.Prop{Key: "duration", Value: amf.Number(1.5)}))
	b := AppendHeader(nil, FlagVideo)
	b = AppendTag(b, TagScript, 0, meta)
	b = AppendTag(b, TagVideo, 0, []byte{0x17, 0, 0, 0, 0, 1})
	for i := range n {
		p := []byte{0x27, 1, 0, 0, 0, byte(i)}
		if i%3 == 0 {
			p[0] = 0x17
		}
		b = AppendTag(b, TagVideo, uint32(i*40), p)
		b = AppendTag(b, TagAudio, uint32(i*40+5), []byte{0xaf, 1, byte(i)})
	}
	return b
}

func readAll(t testing.TB, b []byte) ([]Tag, error) {
	t.Helper()
	rd, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	var tags []Tag
	for {
		tag, err := rd.Next(nil)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return tags, nil
			}
			return tags, err
		}
		tags = append(tags, tag)
	}
}

func TestReaderAndTruncation(t *testing.T) {
	b := testFile(9)
	tags, err := readAll(t, b)
	if err != nil || len(tags) != 2+18 {
		t.Fatalf("read %d tags, %v; want 20", len(tags), err)
	}
	if !TailOK(bytes.NewReader(b), int64(len(b))) {
		t.Error("TailOK false on a complete file")
	}
	ix, err := Scan(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Points) != 3 || ix.Points[1].Time != 120 || ix.LastTime != 8*40+5 || ix.Truncated || ix.End != int64(len(b)) {
		t.Errorf("index %+v", ix)
	}
	if len(ix.Configs) != 1 || len(ix.ConfigsBefore(ix.Points[1].Offset)) != 1 {
		t.Errorf("configs %+v", ix.Configs)
	}
	if p, _ := ix.Find(200); p.Time != 120 {
		t.Errorf("Find(200) = %+v, want the keyframe at 120", p)
	}
	// Every cut point: the reader returns the complete tags and then
	// ErrTruncated (or EOF exactly at a tag boundary); Scan agrees on the end.
	for cut := 13; cut < len(b); cut++ {
		part := b[:cut]
		got, err := readAll(t, part)
		ix, serr := Scan(bytes.NewReader(part), int64(cut))
		if serr != nil {
			t.Fatalf("cut %d: scan: %v", cut, serr)
		}
		if ix.Tags != len(got) {
			t.Fatalf("cut %d: scan counted %d tags, reader %d", cut, ix.Tags, len(got))
		}
		ok := TailOK(bytes.NewReader(part), int64(cut))
		if ok != (err == nil && !ix.Truncated && !ix.NoPrevSize) {
			t.Fatalf("cut %d: TailOK %v, reader err %v, truncated %v", cut, ok, err, ix.Truncated)
		}
		if err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut %d: %v", cut, err)
		}
	}
}

func TestReaderSkipsOversizedTags(t *testing.T) {
	b := AppendHeader(nil, FlagAudio)
	b = AppendTag(b, TagAudio, 0, make([]byte, 100))
	b = AppendTag(b, TagAudio, 1, []byte{0x2f, 1})
	rd, _ := NewReader(bytes.NewReader(b), int64(len(b)))
	rd.MaxTagSize = 50
	tag, err := rd.Next(nil)
	if err != nil || tag.Time != 1 || rd.Skipped() != 1 {
		t.Errorf("Next = %+v, %v; skipped %d", tag, err, rd.Skipped())
	}
}

func TestMetaTemplatePatchesInPlace(t *testing.T) {
	pub := []amf.Prop{{Key: "width", Value: amf.Number(320)}, {Key: "duration", Value: amf.Number(99)}}
	tmpl, err := NewMetaTemplate(pub, ServerMeta{VideoCodecID: 7, AudioCodecID: 10}, 4)
	if err != nil {
		t.Fatal(err)
	}
	n := len(tmpl.Payload)
	pts := []SeekPoint{{0, 400}, {2000, 98765}}
	p := append([]byte(nil), tmpl.Payload...)
	for _, pa := range tmpl.Patches(FinalMeta{Duration: 12.5, FileSize: 123456, Keyframes: pts}) {
		copy(p[pa.Offset:], pa.Data)
	}
	if len(p) != n {
		t.Fatalf("patching changed the size")
	}
	md, err := ParseMetadata(p, amf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if md.Duration != 12.5 || len(md.Keyframes) != 2 || md.Keyframes[1] != (SeekPoint{2000, 98765}) {
		t.Errorf("metadata %+v", md)
	}
	var width, creator, size float64
	var hasCreator bool
	for _, pr := range md.Props {
		switch pr.Key {
		case "width":
			width = pr.Value.Num()
		case "metadatacreator":
			hasCreator = pr.Value.Str() == "openfcs"
		case "filesize":
			size = pr.Value.Num()
		case "videocodecid":
			creator = pr.Value.Num()
		}
	}
	if width != 320 || !hasCreator || size != 123456 || creator != 7 {
		t.Errorf("props %v", md.Props)
	}
	// Too many keyframes: the index is left empty, the rest still patched.
	for _, pa := range tmpl.Patches(FinalMeta{Duration: 1, Keyframes: make([]SeekPoint, 5)}) {
		if pa.Offset == tmpl.kfStart {
			t.Error("an index larger than the reserve was written")
		}
	}
	// An existing file's metadata: only the numbers it holds are patched.
	nt, err := NumberOffsets(p, amf.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pa := range nt.Patches(FinalMeta{Duration: 20}) {
		copy(p[pa.Offset:], pa.Data)
	}
	if md, _ := ParseMetadata(p, amf.Limits{}); md.Duration != 20 {
		t.Errorf("duration after NumberOffsets patch = %v", md.Duration)
	}
}

func TestParseMetadataHostile(t *testing.T) {
	enc := func(vs ...amf.Value) []byte { b, _ := amf.AppendAMF0Values(nil, vs...); return b }
	for _, tc := range []struct {
		name    string
		payload []byte
		err     bool
		dur     float64
	}{
		{"object form", enc(amf.String("onMetaData"), amf.Object(amf.Prop{Key: "duration", Value: amf.Number(3)})), false, 3},
		{"string value", enc(amf.String("onMetaData"), amf.String("x")), true, 0},
		{"other handler", enc(amf.String("onCuePoint"), amf.Object()), true, 0},
		{"NaN duration", enc(amf.String("onMetaData"), amf.ECMAArray(amf.Prop{Key: "duration", Value: amf.Number(math.NaN())})), false, 0},
		{"negative duration", enc(amf.String("onMetaData"), amf.ECMAArray(amf.Prop{Key: "duration", Value: amf.Number(-1)})), false, 0},
		{"garbage", []byte{2, 0, 10, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a', 0x08, 0xff}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md, err := ParseMetadata(tc.payload, amf.Limits{})
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err == nil && md.Duration != tc.dur {
				t.Errorf("duration %v, want %v", md.Duration, tc.dur)
			}
		})
	}
}

func TestValidateKeyframes(t *testing.T) {
	b := testFile(9)
	ix, _ := Scan(bytes.NewReader(b), int64(len(b)))
	rd, _ := NewReader(bytes.NewReader(b), int64(len(b)))
	if !ValidateKeyframes(rd, ix.Points, rd.FirstTag()) {
		t.Error("the scanned index does not validate")
	}
	bad := append([]SeekPoint(nil), ix.Points...)
	bad[1].Offset += 3
	if ValidateKeyframes(rd, bad, rd.FirstTag()) {
		t.Error("an index pointing into a tag validates")
	}
	if ValidateKeyframes(rd, []SeekPoint{{0, int64(len(b)) + 10}}, 0) {
		t.Error("an index past the end validates")
	}
}

func BenchmarkReaderNext(b *testing.B) {
	data := testFile(3000)
	r := bytes.NewReader(data)
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		rd, _ := NewReader(r, int64(len(data)))
		for {
			tag, err := rd.Next(buf[:0])
			if err != nil {
				break
			}
			buf = tag.Payload
		}
	}
}

func TestReaderNextAllocs(t *testing.T) {
	data := testFile(300)
	r := bytes.NewReader(data)
	rd, _ := NewReader(r, int64(len(data)))
	buf := make([]byte, 64)
	_, _ = rd.Next(buf) // warm the read-ahead buffer
	n := testing.AllocsPerRun(100, func() {
		if _, err := rd.Next(buf[:0]); err != nil {
			rd.SeekTo(rd.FirstTag())
		}
	})
	if n != 0 {
		t.Errorf("Next allocates %v times per tag", n)
	}
}
