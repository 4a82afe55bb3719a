package chunk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"unsafe"
)

func TestWriterHeaderChoice(t *testing.T) {
	type step struct {
		h       Header
		n       int
		wantFmt byte
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first message fmt0, same type+length fmt2, new length fmt1", []step{
			{Header{CSID: 4, Timestamp: 0, Type: 8, StreamID: 1}, 10, 0},
			{Header{CSID: 4, Timestamp: 23, Type: 8, StreamID: 1}, 10, 2},
			{Header{CSID: 4, Timestamp: 46, Type: 8, StreamID: 1}, 11, 1},
			{Header{CSID: 4, Timestamp: 46, Type: 18, StreamID: 1}, 11, 1},
		}},
		{"msid change forces fmt0", []step{
			{Header{CSID: 3, Type: 20}, 10, 0},
			{Header{CSID: 3, Type: 20, StreamID: 1}, 10, 0},
		}},
		{"time going backwards forces fmt0", []step{
			{Header{CSID: 6, Timestamp: 1000, Type: 9, StreamID: 1}, 10, 0},
			{Header{CSID: 6, Timestamp: 999, Type: 9, StreamID: 1}, 10, 0},
			{Header{CSID: 6, Timestamp: 1040, Type: 9, StreamID: 1}, 10, 2},
		}},
		{"jump of 2^31 or more is treated as backwards", []step{
			{Header{CSID: 6, Timestamp: 0, Type: 9, StreamID: 1}, 10, 0},
			{Header{CSID: 6, Timestamp: 0x80000000, Type: 9, StreamID: 1}, 10, 0},
		}},
		{"wrap forward keeps deltas", []step{
			{Header{CSID: 6, Timestamp: 0xfffffff0, Type: 9, StreamID: 1}, 10, 0},
			{Header{CSID: 6, Timestamp: 0x10, Type: 9, StreamID: 1}, 10, 2},
		}},
		{"csids are independent", []step{
			{Header{CSID: 4, Type: 8, StreamID: 1}, 10, 0},
			{Header{CSID: 6, Type: 9, StreamID: 1}, 10, 0},
			{Header{CSID: 4, Timestamp: 5, Type: 8, StreamID: 1}, 10, 2},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter()
			var wire []byte
			var want []msg
			for i, s := range tc.steps {
				start := len(wire)
				p := seq(s.n)
				wire = must(w.AppendBytes(wire, s.h, p))
				if f := wire[start] >> 6; f != s.wantFmt {
					t.Fatalf("step %d: fmt %d, want %d", i, f, s.wantFmt)
				}
				h := s.h
				h.Length = uint32(s.n)
				want = append(want, msg{h, p})
			}
			got, _, err := readAll(bytes.NewReader(wire), Limits{})
			if err != nil || !equalMsgs(got, want) {
				t.Fatalf("read back %+v, err %v", got, err)
			}
		})
	}
}

func TestWriterPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"csid 1", func() { must(NewWriter().AppendBytes(nil, Header{CSID: 1}, nil)) }},
		{"csid 65600", func() { must(NewWriter().AppendBytes(nil, Header{CSID: MaxCSID + 1}, nil)) }},
		{"chunk size 0", func() { NewWriter().SetChunkSize(0) }},
		{"chunk size top bit", func() { NewWriter().SetChunkSize(0x80000000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
	}
}

// TestWriterTooLong: a message longer than the 24-bit length field is an
// error, not a panic (its size comes from peers and scripts), and leaves the
// Writer's state as it was: the next message still compresses against the
// last one that was written.
func TestWriterTooLong(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length int
		ok     bool
	}{
		{"length 2^24-1", MaxLength, true},
		{"length 2^24", MaxLength + 1, false},
		{"length 2^24+4096", MaxLength + 4096, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			big := make([]byte, tc.length)
			h := Header{CSID: 6, Timestamp: 40, Type: 9, StreamID: 1}

			w := NewWriter()
			first := must(w.AppendBytes(nil, Header{CSID: 6, Type: 9, StreamID: 1}, seq(10)))
			wire, err := w.AppendBytes(first, h, big)
			var b Batch
			errB := w.Append(&b, h, big)
			if tc.ok {
				if err != nil || errB != nil {
					t.Fatalf("AppendBytes: %v, Append: %v", err, errB)
				}
				return
			}
			if !errors.Is(err, ErrMessageTooLarge) || !errors.Is(errB, ErrMessageTooLarge) {
				t.Fatalf("AppendBytes: %v, Append: %v; want ErrMessageTooLarge", err, errB)
			}
			if len(wire) != len(first) || b.Len() != 0 {
				t.Fatalf("a refused message wrote %d bytes (AppendBytes) and %d (Append)", len(wire)-len(first), b.Len())
			}
			// The refused message did not change the csid state: the next
			// one is a fmt 2 (same length and type) against the first.
			next := must(w.AppendBytes(nil, Header{CSID: 6, Timestamp: 40, Type: 9, StreamID: 1}, seq(10)))
			if f := next[0] >> 6; f != 2 {
				t.Fatalf("next message fmt %d, want 2", f)
			}
			msgs, _, err := readAll(bytes.NewReader(append(first, next...)), Limits{})
			if err != nil || len(msgs) != 2 || msgs[1].h.Timestamp != 40 {
				t.Fatalf("read back %+v, err %v", msgs, err)
			}
		})
	}
}

func TestEmptyMessage(t *testing.T) {
	w := NewWriter()
	wire := must(w.AppendBytes(nil, Header{CSID: 3, Type: 20}, nil))
	if len(wire) != 12 {
		t.Fatalf("empty message is %d bytes", len(wire))
	}
	msgs, _, err := readAll(bytes.NewReader(wire), Limits{})
	if err != nil || len(msgs) != 1 || msgs[0].h.Length != 0 || msgs[0].p == nil {
		t.Fatalf("%+v, err %v", msgs, err)
	}
}

// TestBatch checks Batch against AppendBytes: same bytes, slab growth
// harmless, payloads referenced not copied, emptied after WriteTo.
func TestBatch(t *testing.T) {
	big := seq(9000)
	msgsIn := []struct {
		h Header
		p []byte
	}{
		{Header{CSID: 6, Type: 9, StreamID: 1}, big},
		{Header{CSID: 4, Timestamp: 5, Type: 8, StreamID: 1}, seq(10)}, // coalesced
		{Header{CSID: 4, Timestamp: 28, Type: 8, StreamID: 1}, seq(10)},
		{Header{CSID: 6, Timestamp: 0x01000000, Type: 9, StreamID: 1}, big[:700]},
		{Header{CSID: 3, Type: 20}, nil},
	}
	wa, wb := NewWriter(), NewWriter()
	wa.SetChunkSize(256)
	wb.SetChunkSize(256)
	var b Batch
	var want []byte
	for round := range 50 { // enough to grow the slab many times
		for _, m := range msgsIn {
			m.h.Timestamp += uint32(round * 40)
			want = must(wa.AppendBytes(want, m.h, m.p))
			check(wb.Append(&b, m.h, m.p))
		}
	}
	if b.Len() != len(want) {
		t.Fatalf("Len %d, want %d", b.Len(), len(want))
	}
	// big is referenced: every referenced segment aliases it.
	refs := 0
	for _, s := range b.segs {
		if s.ref != nil {
			refs++
			if !aliases(s.ref, big) {
				t.Fatal("payload chunk copied, not referenced")
			}
		}
	}
	if refs == 0 {
		t.Fatal("no referenced payloads")
	}
	var out bytes.Buffer
	n, err := b.WriteTo(&out)
	if err != nil || n != int64(len(want)) || !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("WriteTo n=%d err=%v, equal=%v", n, err, bytes.Equal(out.Bytes(), want))
	}
	if b.Len() != 0 || len(b.segs) != 0 || len(b.slab) != 0 {
		t.Fatal("batch not emptied")
	}
	if n, err := b.WriteTo(&out); n != 0 || err != nil {
		t.Fatal("empty WriteTo wrote")
	}
	// One iovec for a burst of tiny messages: headers and payloads coalesce.
	for i := range 10 {
		check(wb.Append(&b, Header{CSID: 2, Type: 3}, []byte{0, 0, 0, byte(i)}))
	}
	if len(b.segs) != 1 {
		t.Fatalf("%d segments for 10 tiny messages, want 1", len(b.segs))
	}
	b.Reset()
	if b.Len() != 0 || len(b.segs) != 0 {
		t.Fatal("Reset left data")
	}
}

// aliases reports whether sub lies inside whole's backing array.
func aliases(sub, whole []byte) bool {
	s, w := uintptr(unsafe.Pointer(unsafe.SliceData(sub))), uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	return s >= w && s+uintptr(len(sub)) <= w+uintptr(len(whole))
}

type errWriter struct{ n int }

func (e *errWriter) Write(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.ErrShortWrite
	}
	k := min(len(p), e.n)
	e.n -= k
	return k, nil
}

func TestBatchWriteError(t *testing.T) {
	var b Batch
	w := NewWriter()
	check(w.Append(&b, Header{CSID: 6, Type: 9, StreamID: 1}, seq(1000)))
	n, err := b.WriteTo(&errWriter{n: 300})
	if err == nil || n != 300 || b.Len() != 0 {
		t.Fatalf("n=%d err=%v len=%d", n, err, b.Len())
	}
}

// randomMessages makes a message sequence exercising every header form:
// several csids and msids, backwards and extended timestamps, repeats.
func randomMessages(rng *rand.Rand, n int) []msg {
	csids := []uint32{2, 3, 4, 6, 8, 63, 64, 319, 320, 65599}
	out := make([]msg, 0, n)
	ts := map[uint32]uint32{}
	for range n {
		c := csids[rng.IntN(len(csids))]
		h := Header{CSID: c, Type: uint8(8 + rng.IntN(2)), StreamID: uint32(rng.IntN(3))}
		switch rng.IntN(8) {
		case 0:
			ts[c] -= uint32(rng.IntN(100)) // backwards
		case 1:
			ts[c] += 0xFFFFFF + uint32(rng.IntN(3)) - 1 // around the extended boundary
		case 2:
			ts[c] = 0xFFFFFFFF - uint32(rng.IntN(50)) // near wrap
		default:
			ts[c] += uint32(rng.IntN(100))
		}
		h.Timestamp = ts[c]
		var p []byte
		switch rng.IntN(4) {
		case 0:
			p = make([]byte, rng.IntN(5))
		case 1:
			p = make([]byte, 100+rng.IntN(200))
		default:
			p = make([]byte, rng.IntN(3000))
		}
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		h.Length = uint32(len(p))
		out = append(out, msg{h, p})
	}
	return out
}

// TestRoundTrip writes random messages with random chunk size changes, via
// both Append+Batch and AppendBytes, and reads them back.
func TestRoundTrip(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			msgsIn := randomMessages(rng, 200)
			sizes := []uint32{1, 7, 128, 129, 1000, 4096, 60000, 65536}
			wa, wb := NewWriter(), NewWriter()
			var wire bytes.Buffer
			var b Batch
			var want []msg
			var contiguous []byte
			for i, m := range msgsIn {
				if rng.IntN(20) == 0 {
					cs := sizes[rng.IntN(len(sizes))]
					p := []byte{byte(cs >> 24), byte(cs >> 16), byte(cs >> 8), byte(cs)}
					h := Header{CSID: 2, Type: TypeSetChunkSize, Length: 4}
					contiguous = must(wa.AppendBytes(contiguous, h, p))
					check(wb.Append(&b, h, p))
					wa.SetChunkSize(cs)
					wb.SetChunkSize(cs)
					want = append(want, msg{h, p})
				}
				contiguous = must(wa.AppendBytes(contiguous, m.h, m.p))
				check(wb.Append(&b, m.h, m.p))
				want = append(want, m)
				if i%7 == 0 {
					if _, err := b.WriteTo(&wire); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := b.WriteTo(&wire); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(wire.Bytes(), contiguous) {
				t.Fatal("Append+Batch and AppendBytes differ")
			}
			got, cr, err := readAll(iotest.HalfReader(bytes.NewReader(contiguous)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !equalMsgs(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i].h != want[i].h || !bytes.Equal(got[i].p, want[i].p) {
						t.Fatalf("message %d: got %+v, want %+v", i, got[i].h, want[i].h)
					}
				}
				t.Fatalf("got %d messages, want %d", len(got), len(want))
			}
			if cr.BytesRead() != uint64(len(contiguous)) {
				t.Fatalf("BytesRead %d of %d", cr.BytesRead(), len(contiguous))
			}
		})
	}
}

// TestAppendAllocs: the fan-out path allocates nothing in steady state.
func TestAppendAllocs(t *testing.T) {
	video, audio := seq(5000), seq(300)
	tiny := seq(4)
	for _, cs := range []uint32{128, 4096, 60000} {
		w := NewWriter()
		w.SetChunkSize(cs)
		var b Batch
		ts := uint32(0)
		run := func() {
			ts += 40
			check(w.Append(&b, Header{CSID: 6, Timestamp: ts, Type: 9, StreamID: 1}, video))
			check(w.Append(&b, Header{CSID: 4, Timestamp: ts, Type: 8, StreamID: 1}, audio))
			check(w.Append(&b, Header{CSID: 2, Type: 3}, tiny))
			if _, err := b.WriteTo(io.Discard); err != nil {
				t.Fatal(err)
			}
		}
		run() // warm up: grow the slab, segments and csid states
		if a := testing.AllocsPerRun(200, run); a != 0 {
			t.Fatalf("chunk size %d: %v allocs per flush, want 0", cs, a)
		}
	}
}

// Consume drops exactly the written prefix, at any byte (inside a copied
// header run, inside a referenced payload, at a boundary), and what
// WriteTo sends next is the rest.
func TestBatchConsume(t *testing.T) {
	payload := make([]byte, 1000)
	for i := range payload {
		payload[i] = byte(i)
	}
	build := func() (*Batch, []byte) {
		w := NewWriter()
		var b Batch
		for i := range 3 {
			if err := w.Append(&b, Header{CSID: 6, Type: 9, StreamID: 1, Timestamp: uint32(40 * i)}, payload); err != nil {
				t.Fatal(err)
			}
			if err := w.Append(&b, Header{CSID: 4, Type: 8, StreamID: 1, Timestamp: uint32(40 * i)}, payload[:7]); err != nil {
				t.Fatal(err)
			}
		}
		var all []byte
		for _, p := range b.Buffers() {
			all = append(all, p...)
		}
		return &b, all
	}
	_, all := build()
	for n := 0; n <= len(all); n++ {
		b, _ := build()
		b.Consume(n)
		if b.Len() != len(all)-n {
			t.Fatalf("Consume(%d): Len %d, want %d", n, b.Len(), len(all)-n)
		}
		var out bytes.Buffer
		if _, err := b.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), all[n:]) {
			t.Fatalf("Consume(%d): the rest differs", n)
		}
	}
}
