package chunk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// specExamples are the byte examples of docs/rtmp.md#header-examples. Each is one message,
// written by a fresh Writer at chunk size 128.
func specExamples(tb testing.TB) []struct {
	name string
	h    Header
	p    []byte
	wire []byte
} {
	tb.Helper()
	video := seq(300)
	videoWire := append(hx(tb, "06 ff ff ff 00 01 2c 09 01 00 00 00 01 00 00 00"), video[:128]...)
	videoWire = append(append(videoWire, hx(tb, "c6 01 00 00 00")...), video[128:256]...)
	videoWire = append(append(videoWire, hx(tb, "c6 01 00 00 00")...), video[256:]...)
	return []struct {
		name string
		h    Header
		p    []byte
		wire []byte
	}{
		{"docs/rtmp.md#header-examples Set Chunk Size 4096", Header{CSID: 2, Type: 1},
			hx(tb, "00 00 10 00"), hx(tb, "02 00 00 00 00 00 04 01 00 00 00 00 00 00 10 00")},
		{"docs/rtmp.md#header-examples Window Ack Size 2500000", Header{CSID: 2, Type: 5},
			hx(tb, "00 26 25 a0"), hx(tb, "02 00 00 00 00 00 04 05 00 00 00 00 00 26 25 a0")},
		{"docs/rtmp.md#header-examples Set Peer Bandwidth dynamic", Header{CSID: 2, Type: 6},
			hx(tb, "00 26 25 a0 02"), hx(tb, "02 00 00 00 00 00 05 06 00 00 00 00 00 26 25 a0 02")},
		{"docs/rtmp.md#header-examples Acknowledgement 123456", Header{CSID: 2, Type: 3},
			hx(tb, "00 01 e2 40"), hx(tb, "02 00 00 00 00 00 04 03 00 00 00 00 00 01 e2 40")},
		{"docs/rtmp.md#header-examples StreamBegin 1", Header{CSID: 2, Type: 4},
			hx(tb, "00 00 00 00 00 01"), hx(tb, "02 00 00 00 00 00 06 04 00 00 00 00 00 00 00 00 00 01")},
		{"docs/rtmp.md#header-examples PingRequest 1000", Header{CSID: 2, Type: 4},
			hx(tb, "00 06 00 00 03 e8"), hx(tb, "02 00 00 00 00 00 06 04 00 00 00 00 00 06 00 00 03 e8")},
		{"docs/rtmp.md#header-examples _result createStream", Header{CSID: 3, Type: 20},
			hx(tb, "02 00 07 5f 72 65 73 75 6c 74 00 40 00 00 00 00 00 00 00 05 00 3f f0 00 00 00 00 00 00"),
			hx(tb, "03 00 00 00 00 00 1d 14 00 00 00 00 02 00 07 5f 72 65 73 75 6c 74 00 40 00 00 00 00 00 00 00 05 00 3f f0 00 00 00 00 00 00")},
		{"docs/rtmp.md#header-examples video extended ts 3 chunks", Header{CSID: 6, Timestamp: 0x01000000, Type: 9, StreamID: 1},
			video, videoWire},
	}
}

func TestSpecExamples(t *testing.T) {
	for _, tc := range specExamples(t) {
		t.Run(tc.name, func(t *testing.T) {
			got := must(NewWriter().AppendBytes(nil, tc.h, tc.p))
			if !bytes.Equal(got, tc.wire) {
				t.Fatalf("AppendBytes:\n got % x\nwant % x", got, tc.wire)
			}
			var b Batch
			check(NewWriter().Append(&b, tc.h, tc.p))
			var buf bytes.Buffer
			if _, err := b.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), tc.wire) {
				t.Fatalf("Append+WriteTo (%v):\n got % x\nwant % x", err, buf.Bytes(), tc.wire)
			}

			want := tc.h
			want.Length = uint32(len(tc.p))
			for _, split := range []struct {
				name string
				r    func() io.Reader
			}{
				{"whole", func() io.Reader { return bytes.NewReader(tc.wire) }},
				{"one byte", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(tc.wire)) }},
			} {
				msgs, cr, err := readAll(split.r(), Limits{})
				if err != nil || len(msgs) != 1 {
					t.Fatalf("%s: %d messages, err %v", split.name, len(msgs), err)
				}
				if msgs[0].h != want || !bytes.Equal(msgs[0].p, tc.p) {
					t.Fatalf("%s: read %+v % x, want %+v", split.name, msgs[0].h, msgs[0].p, want)
				}
				if cr.BytesRead() != uint64(len(tc.wire)) {
					t.Fatalf("%s: BytesRead %d, want %d", split.name, cr.BytesRead(), len(tc.wire))
				}
				if want.Type == TypeSetChunkSize && cr.ChunkSize() != 4096 {
					t.Fatalf("chunk size not applied: %d", cr.ChunkSize())
				}
			}
		})
	}
}

func TestCSIDEncodings(t *testing.T) {
	tests := []struct {
		csid  uint32
		basic string // fmt 0 basic header, docs/rtmp.md#basic-header
	}{
		{2, "02"}, {3, "03"}, {63, "3f"},
		{64, "00 00"}, {65, "00 01"}, {319, "00 ff"},
		{320, "01 00 01"}, {365, "01 2d 01"}, {65599, "01 ff ff"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("csid ", tc.csid), func(t *testing.T) {
			wire := must(NewWriter().AppendBytes(nil, Header{CSID: tc.csid, Type: 8, StreamID: 1}, []byte{0xaf, 1}))
			basic := hx(t, tc.basic)
			if !bytes.HasPrefix(wire, basic) || len(wire) != len(basic)+11+2 {
				t.Fatalf("wire % x, want basic header % x", wire, basic)
			}
			msgs, _, err := readAll(bytes.NewReader(wire), Limits{})
			if err != nil || len(msgs) != 1 || msgs[0].h.CSID != tc.csid {
				t.Fatalf("read %+v, err %v", msgs, err)
			}
		})
	}
}

// TestCSIDThreeByteForm checks that csids 64..319 are accepted in the
// 3-byte form and name the same chunk stream as the 2-byte form.
func TestCSIDThreeByteForm(t *testing.T) {
	for _, csid := range []uint32{64, 100, 319} {
		v := csid - 64
		var wire []byte
		// fmt 0 in the 2-byte form, then a fmt 2 (delta 10) in the 3-byte form.
		wire = append(wire, 0x00, byte(v))
		wire = append(wire, hx(t, "00 00 05 00 00 01 08 01 00 00 00")...)
		wire = append(wire, 0xaa)
		wire = append(wire, 0x80|1, byte(v), byte(v>>8))
		wire = append(wire, hx(t, "00 00 0a")...)
		wire = append(wire, 0xbb)
		msgs, _, err := readAll(bytes.NewReader(wire), Limits{})
		if err != nil || len(msgs) != 2 {
			t.Fatalf("csid %d: %d messages, err %v", csid, len(msgs), err)
		}
		want := Header{CSID: csid, Timestamp: 15, Length: 1, Type: 8, StreamID: 1}
		if msgs[1].h != want || msgs[1].p[0] != 0xbb {
			t.Fatalf("csid %d: second message %+v, want %+v", csid, msgs[1].h, want)
		}
	}
}

func TestExtendedTimestamp(t *testing.T) {
	tests := []struct {
		name    string
		prev    []uint32 // earlier messages on the csid (same type/msid)
		ts      uint32
		wantFmt byte
		wantExt bool
	}{
		{"fmt0 0xFFFFFE fits", nil, 0xFFFFFE, 0, false},
		{"fmt0 0xFFFFFF itself is extended", nil, 0xFFFFFF, 0, true},
		{"fmt0 2^24", nil, 0x01000000, 0, true},
		{"fmt0 max", nil, 0xFFFFFFFF, 0, true},
		{"fmt2 delta 0xFFFFFE fits", []uint32{1}, 0xFFFFFF, 2, false},
		{"fmt2 delta 0xFFFFFF extended", []uint32{1}, 0x01000000, 2, true},
		{"fmt2 small delta after extended fmt0", []uint32{0x01000000}, 0x01000028, 2, false},
	}
	for _, tc := range tests {
		for _, cs := range []uint32{128, 50} { // 50: the message spans 3 chunks
			t.Run(fmt.Sprintf("%s cs %d", tc.name, cs), func(t *testing.T) {
				w := NewWriter()
				var wire []byte
				setCS := []byte{0, 0, 0, byte(cs)}
				wire = must(w.AppendBytes(wire, Header{CSID: 2, Type: 1}, setCS))
				w.SetChunkSize(cs)
				for _, p := range tc.prev {
					wire = must(w.AppendBytes(wire, Header{CSID: 6, Timestamp: p, Type: 9, StreamID: 1}, seq(120)))
				}
				start := len(wire)
				wire = must(w.AppendBytes(wire, Header{CSID: 6, Timestamp: tc.ts, Type: 9, StreamID: 1}, seq(120)))
				last := wire[start:]
				if f := last[0] >> 6; f != tc.wantFmt {
					t.Fatalf("fmt %d, want %d", f, tc.wantFmt)
				}
				hl := 1 + msgHeaderLen[tc.wantFmt]
				ext := bytes.Equal(last[1:4], []byte{0xff, 0xff, 0xff})
				if ext != tc.wantExt {
					t.Fatalf("extended = %v, want %v (% x)", ext, tc.wantExt, last[:hl])
				}
				// Every continuation chunk repeats the 4 bytes (docs/rtmp.md#extended-timestamps).
				cont := 1
				if ext {
					hl += 4
					cont += 4
				}
				wantLen := hl + 120 + (120-1)/int(cs)*cont
				if len(last) != wantLen {
					t.Fatalf("message is %d bytes on the wire, want %d", len(last), wantLen)
				}
				msgs, _, err := readAll(iotest.OneByteReader(bytes.NewReader(wire)), Limits{})
				if err != nil {
					t.Fatal(err)
				}
				got := msgs[len(msgs)-1]
				if got.h.Timestamp != tc.ts || !bytes.Equal(got.p, seq(120)) {
					t.Fatalf("read ts %#x, want %#x", got.h.Timestamp, tc.ts)
				}
			})
		}
	}
}

// TestFmt3Quirk covers docs/rtmp.md#extended-timestamps: continuation chunks with (strict) and without
// (2009 draft) the repeated extended timestamp, and fmt 3 chunks that start
// a new message.
func TestFmt3Quirk(t *testing.T) {
	p := seq(300)
	head := hx(t, "06 ff ff ff 00 01 2c 09 01 00 00 00 01 00 00 00")
	build := func(withExt bool, first byte) []byte {
		q := append([]byte(nil), p...)
		q[128], q[256] = first, first
		w := append(append([]byte(nil), head...), q[:128]...)
		for _, part := range [][]byte{q[128:256], q[256:]} {
			w = append(w, 0xc6)
			if withExt {
				w = append(w, 1, 0, 0, 0)
			}
			w = append(w, part...)
		}
		return w
	}
	tests := []struct {
		name  string
		wire  []byte
		first byte // payload byte at each continuation start
	}{
		{"strict (Flash Player, ffmpeg, SRS)", build(true, 128), 128},
		{"draft 2009 without repeats", build(false, 128), 128},
		{"draft, payload starts like the ext value but differs", build(false, 1), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{bytes.NewReader(tc.wire), iotest.OneByteReader(bytes.NewReader(tc.wire))} {
				msgs, cr, err := readAll(r, Limits{})
				if err != nil || len(msgs) != 1 {
					t.Fatalf("%d messages, err %v", len(msgs), err)
				}
				want := append([]byte(nil), p...)
				want[128], want[256] = tc.first, tc.first
				if msgs[0].h.Timestamp != 0x01000000 || !bytes.Equal(msgs[0].p, want) {
					t.Fatalf("got ts %#x payload mismatch", msgs[0].h.Timestamp)
				}
				if cr.BytesRead() != uint64(len(tc.wire)) {
					t.Fatalf("BytesRead %d, want %d", cr.BytesRead(), len(tc.wire))
				}
			}
		})
	}

	t.Run("fmt3 new message always reads the extended field", func(t *testing.T) {
		wire := hx(t, "06 ff ff ff 00 00 02 09 01 00 00 00 01 00 00 00 aa bb")
		// New message by fmt 3: ext field read (even though it equals
		// nothing stored), delta = ext value.
		wire = append(wire, hx(t, "c6 01 00 00 00 cc dd")...)
		msgs, _, err := readAll(bytes.NewReader(wire), Limits{})
		if err != nil || len(msgs) != 2 {
			t.Fatalf("%d messages, err %v", len(msgs), err)
		}
		if msgs[1].h.Timestamp != 0x02000000 || !bytes.Equal(msgs[1].p, []byte{0xcc, 0xdd}) {
			t.Fatalf("second message %+v % x", msgs[1].h, msgs[1].p)
		}
	})
}

// TestTimestampArithmetic follows docs/rtmp.md#message-header on hand-made streams.
func TestTimestampArithmetic(t *testing.T) {
	tests := []struct {
		name string
		wire string
		want []uint32
	}{
		{"fmt0 then fmt3 new message adds the fmt0 value (spec rule)",
			"04 00 03 e8 00 00 01 08 01 00 00 00 aa  c4 bb", []uint32{1000, 2000}},
		{"fmt1 and fmt2 deltas, fmt3 repeats the last delta",
			"04 00 00 64 00 00 01 08 01 00 00 00 aa  44 00 00 28 00 00 01 08 bb  84 00 00 14 cc  c4 dd  c4 ee",
			[]uint32{100, 140, 160, 180, 200}},
		{"wrap at 2^32",
			"04 ff ff ff 00 00 01 08 01 00 00 00 ff ff ff f0 aa  84 00 00 20 bb", []uint32{0xfffffff0, 0x10}},
		{"fmt0 going backwards",
			"04 00 01 00 00 00 01 08 01 00 00 00 aa  04 00 00 10 00 00 01 08 01 00 00 00 bb", []uint32{256, 16}},
		{"fmt1 on a fresh csid starts from 0, msid 0",
			"45 00 00 07 00 00 01 12 aa", []uint32{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs, _, err := readAll(bytes.NewReader(hx(t, tc.wire)), Limits{})
			if err != nil || len(msgs) != len(tc.want) {
				t.Fatalf("%d messages, err %v", len(msgs), err)
			}
			for i, m := range msgs {
				if m.h.Timestamp != tc.want[i] {
					t.Fatalf("message %d ts %d, want %d", i, m.h.Timestamp, tc.want[i])
				}
			}
		})
	}
}

func TestChunkSizeChange(t *testing.T) {
	w := NewWriter()
	var wire []byte
	big := seq(10000)
	wire = must(w.AppendBytes(wire, Header{CSID: 6, Type: 9, StreamID: 1}, big[:500]))
	wire = must(w.AppendBytes(wire, Header{CSID: 2, Type: 1}, []byte{0, 0, 0x10, 0}))
	w.SetChunkSize(4096)
	wire = must(w.AppendBytes(wire, Header{CSID: 6, Timestamp: 40, Type: 9, StreamID: 1}, big))
	wire = must(w.AppendBytes(wire, Header{CSID: 2, Type: 1}, []byte{0, 0, 0, 1}))
	w.SetChunkSize(1)
	wire = must(w.AppendBytes(wire, Header{CSID: 6, Timestamp: 80, Type: 9, StreamID: 1}, big[:300]))

	// Count chunks to make sure the sizes were really used.
	if want := (12 + 500 + 3) + 16 + (8 + 10000 + 2) + 8 + (8 + 300 + 299); len(wire) != want {
		t.Fatalf("wire %d bytes, want %d", len(wire), want)
	}
	msgs, cr, err := readAll(iotest.OneByteReader(bytes.NewReader(wire)), Limits{})
	if err != nil || len(msgs) != 5 {
		t.Fatalf("%d messages, err %v", len(msgs), err)
	}
	if !bytes.Equal(msgs[2].p, big) || !bytes.Equal(msgs[4].p, big[:300]) || cr.ChunkSize() != 1 {
		t.Fatal("payload mismatch after chunk size change")
	}
}

func TestAbort(t *testing.T) {
	var wire []byte
	// 300-byte message on csid 4: first chunk only.
	wire = append(wire, hx(t, "04 00 00 00 00 01 2c 08 01 00 00 00")...)
	wire = append(wire, seq(128)...)
	// Abort csid 4 on csid 2.
	wire = append(wire, hx(t, "02 00 00 00 00 00 04 02 00 00 00 00 00 00 00 04")...)
	// A fresh 2-byte message on csid 4 with fmt 0.
	wire = append(wire, hx(t, "04 00 00 05 00 00 02 08 01 00 00 00 aa bb")...)
	msgs, cr, err := readAll(bytes.NewReader(wire), Limits{})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, err %v", len(msgs), err)
	}
	if msgs[0].h.Type != TypeAbort || msgs[1].h.Length != 2 || cr.pending != 0 {
		t.Fatalf("got %+v %+v, pending %d", msgs[0].h, msgs[1].h, cr.pending)
	}
	// And a fmt 3 after the abort starts a new message (nothing pending).
	wire = append(wire[:len(wire)-14], hx(t, "c4")...)
	wire = append(wire, seq(128)...)
	wire = append(wire, hx(t, "c4")...)
	wire = append(wire, seq(128)...)
	wire = append(wire, hx(t, "c4")...)
	wire = append(wire, seq(44)...)
	msgs, _, err = readAll(bytes.NewReader(wire), Limits{})
	if err != nil || len(msgs) != 2 || msgs[1].h.Length != 300 {
		t.Fatalf("after abort: %d messages, err %v", len(msgs), err)
	}
}

func TestInterleavedCSIDs(t *testing.T) {
	audio, video := seq(200), seq(300)
	for i := range video {
		video[i] ^= 0x55
	}
	var wire []byte
	wire = append(wire, hx(t, "06 00 00 28 00 01 2c 09 01 00 00 00")...)
	wire = append(wire, video[:128]...)
	wire = append(wire, hx(t, "04 00 00 2a 00 00 c8 08 01 00 00 00")...)
	wire = append(wire, audio[:128]...)
	wire = append(wire, 0xc6)
	wire = append(wire, video[128:256]...)
	wire = append(wire, 0xc4)
	wire = append(wire, audio[128:]...)
	wire = append(wire, 0xc6)
	wire = append(wire, video[256:]...)
	msgs, _, err := readAll(iotest.OneByteReader(bytes.NewReader(wire)), Limits{})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, err %v", len(msgs), err)
	}
	if msgs[0].h.CSID != 4 || !bytes.Equal(msgs[0].p, audio) || msgs[1].h.CSID != 6 || !bytes.Equal(msgs[1].p, video) {
		t.Fatalf("got %+v then %+v", msgs[0].h, msgs[1].h)
	}
}

func TestLenientDiscard(t *testing.T) {
	for _, next := range []string{
		"06 00 00 10 00 00 02 09 01 00 00 00 aa bb", // fmt 0
		"46 00 00 10 00 00 02 09 aa bb",             // fmt 1
	} {
		var wire []byte
		wire = append(wire, hx(t, "06 00 00 00 00 01 2c 09 01 00 00 00")...)
		wire = append(wire, seq(128)...)
		wire = append(wire, hx(t, next)...)
		msgs, cr, err := readAll(bytes.NewReader(wire), Limits{})
		if err != nil || len(msgs) != 1 || !bytes.Equal(msgs[0].p, []byte{0xaa, 0xbb}) || cr.pending != 0 {
			t.Fatalf("%s: %+v, err %v", next, msgs, err)
		}
	}
	// fmt 2 keeps length 300 and discards the partial too.
	wire := hx(t, "06 00 00 00 00 01 2c 09 01 00 00 00")
	wire = append(wire, seq(128)...)
	wire = append(wire, hx(t, "86 00 00 10")...)
	wire = append(wire, seq(128)...)
	wire = append(wire, 0xc6)
	wire = append(wire, seq(128)...)
	wire = append(wire, 0xc6)
	wire = append(wire, seq(44)...)
	msgs, _, err := readAll(bytes.NewReader(wire), Limits{})
	if err != nil || len(msgs) != 1 || msgs[0].h.Timestamp != 16 || msgs[0].h.Length != 300 {
		t.Fatalf("fmt 2: %+v, err %v", msgs, err)
	}
}

func TestLimits(t *testing.T) {
	setCS := func(v string) string { return "02 00 00 00 00 00 04 01 00 00 00 00 " + v }
	manyCSIDs := func(n int) []byte {
		var b []byte
		for i := range n {
			c := uint32(MinCSID + i)
			b = appendBasicHeader(b, 0, c)
			b = append(b, hx(t, "00 00 00 00 00 00 08 00 00 00 00")...) // empty messages
		}
		return b
	}
	tests := []struct {
		name string
		wire []byte
		lim  Limits
		want error
		msgs int // complete messages before the error
	}{
		{"chunk size 0x7fffffff (acceptance 5)", hx(t, setCS("7f ff ff ff")), Limits{}, ErrChunkSize, 0},
		{"chunk size 0", hx(t, setCS("00 00 00 00")), Limits{}, ErrChunkSize, 0},
		{"chunk size top bit", hx(t, setCS("80 00 10 00")), Limits{MaxChunkSize: 0xffffffff}, ErrChunkSize, 0},
		{"chunk size above configured limit", hx(t, setCS("00 01 00 01")), Limits{MaxChunkSize: 65536}, ErrChunkSize, 0},
		{"chunk size at configured limit", hx(t, setCS("00 01 00 00")), Limits{MaxChunkSize: 65536}, nil, 1},
		{"chunk size 0xFFFFFF default ok", hx(t, setCS("00 ff ff ff")), Limits{}, nil, 1},
		{"short set chunk size", hx(t, "02 00 00 00 00 00 02 01 00 00 00 00 00 10"), Limits{}, ErrShortControl, 0},
		{"short abort", hx(t, "02 00 00 00 00 00 01 02 00 00 00 00 00"), Limits{}, ErrShortControl, 0},
		{"message too large", hx(t, "04 00 00 00 00 10 00 08 01 00 00 00"), Limits{MaxMessageSize: 4095}, ErrMessageTooLarge, 0},
		{"message at limit", append(hx(t, "04 00 00 00 00 00 10 08 01 00 00 00"), seq(16)...), Limits{MaxMessageSize: 16}, nil, 1},
		{"too large via fmt 1", hx(t, "04 00 00 00 00 00 01 08 01 00 00 00 00 44 00 00 00 ff ff ff 08"), Limits{MaxMessageSize: 1 << 20}, ErrMessageTooLarge, 1},
		{"256 csids ok", manyCSIDs(256), Limits{}, nil, 256},
		{"257 csids", manyCSIDs(257), Limits{}, ErrTooManyCSIDs, 256},
		{"all 65599 csids (acceptance 5)", manyCSIDs(MaxCSID - 1), Limits{}, ErrTooManyCSIDs, 256},
		{"custom csid limit", manyCSIDs(4), Limits{MaxCSIDs: 3}, ErrTooManyCSIDs, 3},
		{"pending bytes", append(append(hx(t, "04 00 00 00 00 10 00 08 01 00 00 00"), seq(128)...), hx(t, "05 00 00 00 00 10 00 08 01 00 00 00")...), Limits{MaxPendingBytes: 6000}, ErrPendingBytes, 0},
		{"fmt 2 on unknown csid", hx(t, "84 00 00 00"), Limits{}, ErrNoPreviousHeader, 0},
		{"fmt 3 on unknown csid", hx(t, "c4"), Limits{}, ErrNoPreviousHeader, 0},
		{"truncated header", hx(t, "04 00 00"), Limits{}, io.ErrUnexpectedEOF, 0},
		{"truncated payload", hx(t, "04 00 00 00 00 00 10 08 01 00 00 00 01"), Limits{}, io.ErrUnexpectedEOF, 0},
		{"truncated extended ts", hx(t, "04 ff ff ff 00 00 10 08 01 00 00 00 01"), Limits{}, io.ErrUnexpectedEOF, 0},
		{"truncated 3-byte csid", hx(t, "01 00"), Limits{}, io.ErrUnexpectedEOF, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs, cr, err := readAll(bytes.NewReader(tc.wire), tc.lim)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(msgs) != tc.msgs {
				t.Fatalf("%d messages before the error, want %d", len(msgs), tc.msgs)
			}
			if lim := cr.lim; len(cr.states) > lim.MaxCSIDs || cr.pending > lim.MaxPendingBytes {
				t.Fatalf("limits exceeded: %d states, %d pending", len(cr.states), cr.pending)
			}
		})
	}
}

// TestLimitBeforeAllocation checks that a hostile length costs no
// allocation of its size: the reader fails before reading any payload.
func TestLimitBeforeAllocation(t *testing.T) {
	wire := hx(t, "04 00 00 00 ff ff ff 08 01 00 00 00")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		cr := NewReader(bytes.NewReader(wire), Limits{MaxMessageSize: 1 << 20})
		if _, _, err := cr.ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	// NewReader, its bufio, the csid state and the error: a few KB, not MBs.
	if d := after.TotalAlloc - before.TotalAlloc; d > 10*(readBufferSize+4096) {
		t.Fatalf("%d bytes allocated for 10 refused messages", d)
	}
	// A declared 16 MiB message whose bytes never come costs at most
	// allocStep, not 16 MiB.
	cr := NewReader(bytes.NewReader(append(hx(t, "04 00 00 00 ff ff ff 08 01 00 00 00"), 1, 2, 3)), Limits{})
	if _, _, err := cr.ReadMessage(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	if c := cap(cr.states[0].buf); c > allocStep {
		t.Fatalf("allocated %d bytes for 3 received", c)
	}
}

// TestEverySplit reads every test stream split into two reads at every
// byte boundary, and one byte at a time: results must not depend on it.
func TestEverySplit(t *testing.T) {
	streams := map[string][]byte{}
	for _, ex := range specExamples(t) {
		streams[ex.name] = ex.wire
	}
	w := NewWriter()
	var mixed []byte
	mixed = must(w.AppendBytes(mixed, Header{CSID: 2, Type: 1}, []byte{0, 0, 0, 100}))
	w.SetChunkSize(100)
	for i := range 12 {
		ts := uint32(i * 0x00800000) // crosses into extended timestamps
		mixed = must(w.AppendBytes(mixed, Header{CSID: 6, Timestamp: ts, Type: 9, StreamID: 1}, seq(250+i)))
		mixed = must(w.AppendBytes(mixed, Header{CSID: 320 + uint32(i%2), Timestamp: ts, Type: 8, StreamID: 1}, seq(30)))
	}
	streams["mixed writer stream"] = mixed

	for name, wire := range streams {
		t.Run(name, func(t *testing.T) {
			want, _, err := readAll(bytes.NewReader(wire), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := readAll(iotest.OneByteReader(bytes.NewReader(wire)), Limits{})
			if err != nil || !equalMsgs(got, want) {
				t.Fatalf("one-byte reads differ (err %v)", err)
			}
			for k := 1; k < len(wire); k++ {
				got, cr, err := readAll(&twoPiece{a: wire[:k], b: wire[k:]}, Limits{})
				if err != nil || !equalMsgs(got, want) || cr.BytesRead() != uint64(len(wire)) {
					t.Fatalf("split at %d differs (err %v)", k, err)
				}
			}
			// And through a caller-supplied *bufio.Reader of the minimum size.
			got, _, err = readAll(iotest.HalfReader(bytes.NewReader(wire)), Limits{})
			if err != nil || !equalMsgs(got, want) {
				t.Fatalf("half reads differ (err %v)", err)
			}
		})
	}
}

func TestReaderFreshPayloads(t *testing.T) {
	w := NewWriter()
	var wire []byte
	for i := range 3 {
		wire = must(w.AppendBytes(wire, Header{CSID: 4, Timestamp: uint32(i), Type: 8, StreamID: 1}, []byte{byte(i), 1, 2}))
	}
	msgs, _, err := readAll(bytes.NewReader(wire), Limits{})
	if err != nil || len(msgs) != 3 {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if m.p[0] != byte(i) || cap(m.p) != len(m.p) {
			t.Fatalf("message %d payload % x cap %d: reused or oversized", i, m.p, cap(m.p))
		}
	}
	// A large message grown in steps ends with no spare capacity either.
	w2 := NewWriter()
	big := seq(200000)
	wire = must(w2.AppendBytes(nil, Header{CSID: 2, Type: 1}, []byte{0, 0, 0x10, 0}))
	w2.SetChunkSize(4096)
	wire = must(w2.AppendBytes(wire, Header{CSID: 6, Type: 9, StreamID: 1}, big))
	msgs, _, err = readAll(bytes.NewReader(wire), Limits{})
	if err != nil || !bytes.Equal(msgs[1].p, big) || cap(msgs[1].p) != len(big) {
		t.Fatalf("big message: err %v, cap %d", err, cap(msgs[1].p))
	}
}

func TestBufioReaderIsUsed(t *testing.T) {
	wire := specExamples(t)[0].wire
	br := bufioReader(bytes.NewReader(append(wire, 0xff)))
	cr := NewReader(br, Limits{})
	if cr.br != br {
		t.Fatal("NewReader wrapped a *bufio.Reader again")
	}
	if _, _, err := cr.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if b, _ := br.Peek(1); len(b) != 1 || b[0] != 0xff {
		t.Fatal("trailing byte not left in the caller's bufio.Reader")
	}
}

// TestIdleHoldsNoBuffer: between messages, with nothing buffered, the
// Reader gives its read buffer back; with data still buffered it keeps it.
func TestIdleHoldsNoBuffer(t *testing.T) {
	w := NewWriter()
	one := must(w.AppendBytes(nil, Header{CSID: 4, Type: 8, StreamID: 1}, seq(300)))
	two := must(w.AppendBytes(append([]byte(nil), one...), Header{CSID: 4, Timestamp: 20, Type: 8, StreamID: 1}, seq(300)))

	cr := NewReader(bytes.NewReader(one), Limits{})
	if _, _, err := cr.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if cr.br != nil {
		t.Fatal("idle Reader still holds its read buffer")
	}
	cr = NewReader(bytes.NewReader(two), Limits{})
	if _, _, err := cr.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if cr.br == nil {
		t.Fatal("buffer released with a message still buffered")
	}
	if _, _, err := cr.ReadMessage(); err != nil || cr.br != nil {
		t.Fatalf("second message: err %v, buffer held %v", err, cr.br != nil)
	}
	if _, _, err := cr.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Fatalf("err %v, want EOF", err)
	}
}

// A Reader told to keep its buffer holds it between messages and reads
// no byte on its own to wait for the next; told to stop, it gives it back
// when nothing is buffered.
func TestKeepBuffer(t *testing.T) {
	w := NewWriter()
	var wire []byte
	for i := range 3 {
		wire = must(w.AppendBytes(wire, Header{CSID: 4, Timestamp: uint32(i * 20), Type: 8, StreamID: 1}, seq(300)))
	}
	src := &countingReader{r: iotest.OneByteReader(bytes.NewReader(wire))}
	cr := NewReader(src, Limits{})
	cr.KeepBuffer(true)
	if _, _, err := cr.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if cr.br == nil {
		t.Fatal("a Reader keeping its buffer gave it back between messages")
	}
	calls := src.calls
	if err := cr.Wait(); err != nil || src.calls != calls {
		t.Fatalf("Wait with the buffer kept: err %v, %d reads", err, src.calls-calls)
	}
	if _, _, err := cr.ReadMessage(); err != nil || cr.br == nil {
		t.Fatalf("second message: err %v, buffer held %v", err, cr.br != nil)
	}
	cr.KeepBuffer(false)
	if cr.br != nil {
		t.Fatal("buffer kept after KeepBuffer(false) with nothing buffered")
	}
	if _, _, err := cr.ReadMessage(); err != nil || cr.br != nil {
		t.Fatalf("third message: err %v, buffer held %v", err, cr.br != nil)
	}
	if _, _, err := cr.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Fatalf("err %v, want EOF", err)
	}
}

// countingReader counts the Read calls reaching r.
type countingReader struct {
	r     io.Reader
	calls int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.calls++
	return c.r.Read(p)
}

// TestWait: calling Wait before each ReadMessage changes nothing in the
// messages, the byte count or the end of stream, however the stream is
// split; Wait holds no buffer, reads nothing while data is buffered, and
// calling it twice reads once.
func TestWait(t *testing.T) {
	w := NewWriter()
	wire := must(w.AppendBytes(nil, Header{CSID: 2, Type: 1}, []byte{0, 0, 0, 100}))
	w.SetChunkSize(100)
	for i := range 6 {
		wire = must(w.AppendBytes(wire, Header{CSID: 6, Timestamp: uint32(i * 40), Type: 9, StreamID: 1}, seq(250+i)))
		wire = must(w.AppendBytes(wire, Header{CSID: 320, Timestamp: uint32(i * 40), Type: 8, StreamID: 1}, seq(30)))
	}
	want, _, err := readAll(bytes.NewReader(wire), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(wire) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(wire)) },
		"halves":   func() io.Reader { return iotest.HalfReader(bytes.NewReader(wire)) },
		"bufio":    func() io.Reader { return bufioReader(bytes.NewReader(wire)) },
		"split 7":  func() io.Reader { return &twoPiece{a: wire[:7], b: wire[7:]} },
		"split 1":  func() io.Reader { return &twoPiece{a: wire[:1], b: wire[1:]} },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			cr := NewReader(mk(), Limits{})
			var got []msg
			for {
				err := cr.Wait()
				if err == nil {
					if err = cr.Wait(); err != nil {
						t.Fatalf("second Wait: %v", err)
					}
					var h Header
					var p []byte
					if h, p, err = cr.ReadMessage(); err == nil {
						got = append(got, msg{h, p})
						continue
					}
				}
				if err != io.EOF { //nolint:errorlint // io.EOF is returned unwrapped
					t.Fatalf("after %d messages: %v, want io.EOF", len(got), err)
				}
				break
			}
			if !equalMsgs(got, want) || cr.BytesRead() != uint64(len(wire)) {
				t.Fatalf("got %d messages, %d bytes; want %d, %d", len(got), cr.BytesRead(), len(want), len(wire))
			}
		})
	}

	t.Run("buffered", func(t *testing.T) {
		two := must(w.AppendBytes(nil, Header{CSID: 4, Type: 8, StreamID: 1}, seq(10)))
		two = must(w.AppendBytes(two, Header{CSID: 4, Timestamp: 20, Type: 8, StreamID: 1}, seq(10)))
		src := &countingReader{r: bytes.NewReader(two)}
		cr := NewReader(src, Limits{})
		if err := cr.Wait(); err != nil || cr.br != nil || src.calls != 1 {
			t.Fatalf("Wait: err %v, buffer held %v, %d reads", err, cr.br != nil, src.calls)
		}
		if _, _, err := cr.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		calls := src.calls
		if err := cr.Wait(); err != nil || src.calls != calls {
			t.Fatalf("Wait with a message buffered: err %v, %d more reads", err, src.calls-calls)
		}
		if _, _, err := cr.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	})
}
