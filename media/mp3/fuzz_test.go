package mp3

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzFrameHeader: no panic; a header that parses has a length that can
// hold itself and its side information, and a rate and bitrate from the
// tables.
func FuzzFrameHeader(f *testing.F) {
	for _, tc := range headerCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseFrameHeader(b)
		if err != nil {
			return
		}
		if h.Length < 4+h.SideInfo() || h.SampleRate < 8000 || h.Bitrate < 8000 || h.Samples() == 0 {
			t.Fatalf("implausible header %+v from % x", h, b[:4])
		}
		if v, ok := ParseVBR(b, h); ok && len(v.TOC) != 0 && len(v.TOC) != 100 {
			t.Fatalf("TOC of %d bytes", len(v.TOC))
		}
	})
}

// FuzzFile opens arbitrary bytes as an MP3 file and reads every frame: no
// panic, frames lie inside the audio, frame numbers and offsets increase,
// the scan agrees with the reader, and the tags stay under the cap.
func FuzzFile(f *testing.F) {
	f.Add(testMP3(5, 5, -1))
	f.Add(testMP3(5, 0, 2))
	f.Add(testMP3(3, 0, -1)[:700])
	f.Add([]byte{'I', 'D', '3', 4, 0, 0x50, 0, 0, 0, 20, 0xff, 0xfb, 0x90, 0x64})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrNotMP3) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		total := 0
		for _, tf := range file.Tags {
			total += len(tf.Value)
		}
		if total > MaxID3Text {
			t.Fatalf("tags hold %d bytes", total)
		}
		if file.Start < 0 || file.Start > file.End || file.End > int64(len(b)) {
			t.Fatalf("audio [%d, %d) outside the input of %d", file.Start, file.End, len(b))
		}
		r := file.NewReader()
		var n int64
		last := int64(-1)
		for {
			fr, err := r.Next(nil)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrNotFrame) {
					t.Fatalf("Next: %v", err)
				}
				break
			}
			if fr.N != n || fr.Offset <= last || fr.Offset+int64(len(fr.Data)) > file.End {
				t.Fatalf("frame %d at %d (last %d), %d bytes, audio end %d", fr.N, fr.Offset, last, len(fr.Data), file.End)
			}
			last = fr.Offset
			n++
		}
		if ix := file.Scan(); ix.Frames != n {
			t.Fatalf("scan counted %d frames, reader %d", ix.Frames, n)
		}
		_ = file.Duration()
	})
}
