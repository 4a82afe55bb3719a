package ogg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// page builds one page holding segs (already laced) of body.
func page(flags byte, gran int64, serial uint32, segs []byte, body []byte) []byte {
	b := []byte("OggS")
	b = append(b, 0, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(gran))
	b = binary.LittleEndian.AppendUint32(b, serial)
	b = binary.LittleEndian.AppendUint32(b, 0) // sequence
	b = binary.LittleEndian.AppendUint32(b, 0) // checksum, not checked
	b = append(b, byte(len(segs)))
	b = append(b, segs...)
	return append(b, body...)
}

// lace returns the segment table of one whole packet of n bytes.
func lace(n int) []byte {
	var s []byte
	for n >= 255 {
		s = append(s, 255)
		n -= 255
	}
	return append(s, byte(n))
}

func TestReader(t *testing.T) {
	t.Parallel()
	head := []byte("OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00")
	p1 := bytes.Repeat([]byte{1}, 100)
	p2 := bytes.Repeat([]byte{2}, 255) // exactly one full segment: needs a 0 after it
	p3 := bytes.Repeat([]byte{3}, 600)
	var in []byte
	// ffmpeg 5.1 libopus with -page_duration 20000: headers alone, then
	// one packet per page.
	in = append(in, page(2, 0, 7, lace(len(head)), head)...)
	in = append(in, page(0, 960, 7, append(lace(len(p1)), lace(len(p2))...), append(append([]byte{}, p1...), p2...))...)
	in = append(in, page(0, 0, 9, lace(3), []byte{9, 9, 9})...) // another stream: skipped
	// p3 split over two pages: 255+255 on the first, the rest continued.
	in = append(in, page(0, -1, 7, []byte{255, 255}, p3[:510])...)
	in = append(in, page(1, 2880, 7, []byte{90}, p3[510:])...)
	rd := NewReader(bytes.NewReader(in), 4096)
	want := []struct {
		data []byte
		gran int64
	}{{head, 0}, {p1, -1}, {p2, 960}, {p3, 2880}}
	for i, w := range want {
		p, err := rd.Next()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(p.Data, w.data) || p.Granule != w.gran {
			t.Fatalf("packet %d: %d bytes granule %d, want %d bytes granule %d", i, len(p.Data), p.Granule, len(w.data), w.gran)
		}
	}
	if _, err := rd.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v", err)
	}
}

func TestReaderErrors(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte{1}, 600)
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"not Ogg":          {[]byte("RIFF0000000000000000000000000000"), ErrMalformed},
		"truncated header": {[]byte("OggS\x00"), ErrMalformed},
		"truncated body":   {page(0, 0, 1, lace(100), make([]byte, 50)), ErrMalformed},
		"packet too large": {page(0, 0, 1, lace(len(big)), big), ErrTooLarge},
	} {
		_, err := NewReader(bytes.NewReader(tc.in), 500).Next()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// A continued page without the packet's beginning (the reader started
// mid-stream) drops that packet only.
func TestReaderContinuationWithoutStart(t *testing.T) {
	t.Parallel()
	in := page(1, 0, 1, []byte{10, 5}, make([]byte, 15))
	rd := NewReader(bytes.NewReader(in), 100)
	p, err := rd.Next()
	if err != nil || len(p.Data) != 5 {
		t.Fatalf("got %d bytes, %v; want the 5-byte packet", len(p.Data), err)
	}
}

// FuzzReader: no panic, no packet over the limit.
func FuzzReader(f *testing.F) {
	f.Add(page(2, 0, 7, lace(19), []byte("OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00")))
	f.Add(append(page(0, -1, 7, []byte{255}, make([]byte, 255)), page(1, 100, 7, []byte{3}, []byte{1, 2, 3})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		rd := NewReader(bytes.NewReader(b), 1000)
		for range 1000 {
			p, err := rd.Next()
			if err != nil {
				return
			}
			if len(p.Data) > 1000 {
				t.Fatalf("packet of %d bytes", len(p.Data))
			}
		}
	})
}

func BenchmarkReader(b *testing.B) {
	pkt := make([]byte, 160)
	var in []byte
	for range 1000 {
		in = append(in, page(0, 960, 1, lace(len(pkt)), pkt)...)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		rd := NewReader(bytes.NewReader(in), 4096)
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}
