package chunk

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// fuzzLimits are small so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxChunkSize: 1 << 16, MaxMessageSize: 1 << 16, MaxCSIDs: 8, MaxPendingBytes: 1 << 17}

// FuzzReader reads arbitrary bytes, whole and split at the points given by
// sizes. It must not panic, must respect the limits, must give the same
// result however the input is split, and what it decodes must re-encode
// and decode to the same messages.
func FuzzReader(f *testing.F) {
	for _, ex := range specExamples(f) {
		f.Add(ex.wire, []byte{1})
	}
	w := NewWriter()
	var mixed []byte
	mixed = must(w.AppendBytes(mixed, Header{CSID: 2, Type: 1}, []byte{0, 0, 0, 50}))
	w.SetChunkSize(50)
	for i := range 6 {
		mixed = must(w.AppendBytes(mixed, Header{CSID: 6 + uint32(i%2)*400, Timestamp: uint32(i) * 0x00900000, Type: 9, StreamID: 1}, seq(120)))
	}
	f.Add(mixed, []byte{3, 7, 1, 200})
	f.Add(hx(f, "04 00 03 e8 00 00 01 08 01 00 00 00 aa c4 bb 44 00 00 28 00 00 01 08 bb 84 00 00 14 cc"), []byte{2})
	f.Add(hx(f, "02 00 00 00 00 00 04 01 00 00 00 00 7f ff ff ff"), []byte{5})
	f.Add(hx(f, "04 00 00 00 00 01 2c 08 01 00 00 00 00 01 02 02 00 00 00 00 00 04 02 00 00 00 00 00 00 00 04"), []byte{1})

	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		want, wr, werr := readAll(bytes.NewReader(data), fuzzLimits)
		checkReaderInvariants(t, wr, want, len(data))
		split := make([]int, len(sizes))
		for i, s := range sizes {
			split[i] = int(s)
		}
		got, gr, gerr := readAll(&splitReader{data: data, sizes: split}, fuzzLimits)
		checkReaderInvariants(t, gr, got, len(data))
		if !equalMsgs(got, want) || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("split changes the result: %d vs %d messages, err %v vs %v", len(got), len(want), gerr, werr)
		}

		// Re-encode what was decoded and decode it again.
		w := NewWriter()
		var wire []byte
		for _, m := range want {
			wire = must(w.AppendBytes(wire, m.h, m.p))
			if m.h.Type == TypeSetChunkSize {
				w.SetChunkSize(u32(m.p))
			}
		}
		again, _, err := readAll(bytes.NewReader(wire), fuzzLimits)
		if err != nil || !equalMsgs(again, want) {
			t.Fatalf("re-encoded stream reads back differently: err %v, %d vs %d messages", err, len(again), len(want))
		}
	})
}

func checkReaderInvariants(t *testing.T, r *Reader, msgs []msg, n int) {
	t.Helper()
	if len(r.states) > r.lim.MaxCSIDs || r.pending < 0 || r.pending > r.lim.MaxPendingBytes {
		t.Fatalf("limits broken: %d csids, %d pending", len(r.states), r.pending)
	}
	if r.BytesRead() > uint64(n) {
		t.Fatalf("BytesRead %d > input %d", r.BytesRead(), n)
	}
	if r.chunkSize == 0 || r.chunkSize > r.lim.MaxChunkSize {
		t.Fatalf("chunk size %d", r.chunkSize)
	}
	for _, m := range msgs {
		if int(m.h.Length) != len(m.p) || m.h.Length > r.lim.MaxMessageSize || m.h.CSID < MinCSID || m.h.CSID > MaxCSID {
			t.Fatalf("bad message %+v with %d bytes", m.h, len(m.p))
		}
	}
}

// FuzzRoundTrip builds a message sequence from the input (6 bytes per
// message), writes it through Writer and Batch with chunk size changes,
// and reads it back.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 2, 8, 0, 10})
	f.Add([]byte{3, 0xff, 0xff, 9, 0x13, 0x88, 3, 0x10, 40, 9, 0x13, 0x88, 7, 0xf3, 0, 8, 1, 0})
	f.Add(bytes.Repeat([]byte{9, 0x81, 0xfe, 20, 0x02, 0x00}, 20))
	csids := []uint32{2, 3, 4, 6, 63, 64, 319, 320, 65599}
	sizes := []uint32{1, 2, 100, 128, 4096, 60000, 0xFFFFFF, 1 << 20}

	f.Fuzz(func(t *testing.T, data []byte) {
		w := NewWriter()
		var b Batch
		var wire bytes.Buffer
		var want []msg
		ts := map[uint32]uint32{}
		for len(data) >= 6 {
			c := csids[int(data[0])%len(csids)]
			op, v := data[1], uint32(data[2])
			switch op >> 6 {
			case 0:
				ts[c] += v
			case 1:
				ts[c] -= v
			case 2:
				ts[c] += v << 17 // reaches extended values
			case 3:
				ts[c] = 0xFFFFFF00 + v
			}
			h := Header{CSID: c, Timestamp: ts[c], Type: data[3], StreamID: uint32(op & 3)}
			p := make([]byte, int(data[4])<<8|int(data[5]))
			for i := range p {
				p[i] = byte(i) ^ data[3]
			}
			h.Length = uint32(len(p))
			if op&0x3c == 0x3c {
				cs := sizes[int(v)%len(sizes)]
				scs := []byte{byte(cs >> 24), byte(cs >> 16), byte(cs >> 8), byte(cs)}
				sh := Header{CSID: 2, Type: TypeSetChunkSize, Length: 4}
				check(w.Append(&b, sh, scs))
				w.SetChunkSize(cs)
				want = append(want, msg{sh, scs})
			}
			if h.Type == TypeSetChunkSize || h.Type == TypeAbort {
				h.Type = 8 // those are protocol control, built above
			}
			check(w.Append(&b, h, p))
			want = append(want, msg{h, p})
			data = data[6:]
			if op&1 == 1 {
				if _, err := b.WriteTo(&wire); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := b.WriteTo(&wire); err != nil {
			t.Fatal(err)
		}
		got, _, err := readAll(&splitReader{data: wire.Bytes(), sizes: []int{1, 5, 100, 7}}, Limits{})
		if err != nil || !equalMsgs(got, want) {
			t.Fatalf("round trip: err %v, %d vs %d messages", err, len(got), len(want))
		}
	})
}

// FuzzReadBuffered reads arbitrary bytes the way the ingest clock does:
// non-blocking Fills of the sizes given (0: nothing ready) parsed with
// ReadBuffered, and ReadMessage where that cannot go on. It must give the
// same messages and error as ReadMessage alone.
func FuzzReadBuffered(f *testing.F) {
	for _, ex := range specExamples(f) {
		f.Add(ex.wire, []byte{1, 0})
	}
	w := NewWriter()
	var mixed []byte
	mixed = must(w.AppendBytes(mixed, Header{CSID: 2, Type: 1}, []byte{0, 0, 0, 50}))
	w.SetChunkSize(50)
	for i := range 6 {
		mixed = must(w.AppendBytes(mixed, Header{CSID: 6 + uint32(i%2)*400, Timestamp: uint32(i) * 0x00900000, Type: 9, StreamID: 1}, seq(120)))
	}
	f.Add(mixed, []byte{3, 0, 7, 1, 200})
	f.Add(hx(f, "04 00 03 e8 00 00 01 08 01 00 00 00 aa c4 bb 44 00 00 28 00 00 01 08 bb 84 00 00 14 cc"), []byte{2})
	f.Add(hx(f, "02 00 00 00 00 00 04 01 00 00 00 00 7f ff ff ff"), []byte{5})

	f.Fuzz(func(t *testing.T, data, sizes []byte) {
		want, _, werr := readAll(bytes.NewReader(data), fuzzLimits)
		s := &tickStream{data: data, sizes: sizes}
		r := NewReader(s, fuzzLimits)
		r.KeepBuffer(true)
		var got []msg
		var gerr error
		for steps := 0; ; steps++ {
			if steps > 4*len(data)+64 {
				t.Fatalf("no progress after %d steps", steps)
			}
			h, p, st, err := r.ReadBuffered()
			if err == nil && st == Partial {
				n, ferr := r.Fill(nonBlocking{s})
				if n > 0 || errors.Is(ferr, ErrWouldBlock) {
					continue
				}
				st = Blocking // at the end, or no room: as a reader goroutine would
			}
			if err == nil && st == Blocking {
				h, p, err = r.ReadMessage()
				if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					break
				}
			}
			if err != nil {
				gerr = err
				break
			}
			got = append(got, msg{h, p})
		}
		checkReaderInvariants(t, r, got, len(data))
		if !equalMsgs(got, want) || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("ReadBuffered changes the result: %d vs %d messages, err %v vs %v", len(got), len(want), gerr, werr)
		}
	})
}

// tickStream is a stream read both ways: blocking, through Read (one
// byte at a time, the slowest a socket can be), and without waiting,
// through nonBlocking, in pieces whose sizes cycle through sizes, a 0
// meaning nothing is ready (once: the next piece has bytes).
type tickStream struct {
	data  []byte
	sizes []byte
	i     int
	dry   bool // the last non-blocking read found nothing
}

func (s *tickStream) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0], s.data = s.data[0], s.data[1:]
	return 1, nil
}

type nonBlocking struct{ s *tickStream }

func (nb nonBlocking) Read(p []byte) (int, error) {
	s := nb.s
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := 1 << 16
	if len(s.sizes) > 0 {
		n = int(s.sizes[s.i%len(s.sizes)])
		s.i++
	}
	if n == 0 && !s.dry {
		s.dry = true
		return 0, ErrWouldBlock
	}
	s.dry = false
	n = max(1, min(n, len(p), len(s.data)))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}
