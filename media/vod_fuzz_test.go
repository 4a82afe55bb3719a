package media

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzVOD plays arbitrary bytes as an FLV and as an MP3: opening, seeking
// and reading never panic or loop.
func FuzzVOD(f *testing.F) {
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), uint32(0))
	f.Add(append([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"), 9, 0, 0, 5, 0, 0, 10, 0, 0, 0, 0, 0x17, 0, 0, 0, 0, 0, 0, 0, 16), uint32(5))
	f.Add([]byte{0xff, 0xfb, 0x90, 0x64, 0, 0, 0, 0}, uint32(30))
	f.Add([]byte("ID3\x03\x00\x00\x00\x00\x00\x0fTIT2\x00\x00\x00\x05\x00\x00\x00Song\xff\xfb\x90\x64"), uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, ms uint32) {
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, format := range []VODFormat{VODFLV, VODMP3, VODID3} {
			v, err := OpenVOD(NewFileCache(0), path, format, VODLimits{})
			if err != nil {
				continue
			}
			_ = v.Metadata()
			_ = v.Duration()
			for _, at := range []uint32{ms, 0, ms / 2} {
				if _, _, err := v.Seek(at); err != nil {
					continue
				}
				for range 2 * len(data) {
					if _, err := v.Next(); err != nil {
						break
					}
				}
			}
			_ = v.Close()
		}
	})
}
