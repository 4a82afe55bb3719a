package media

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Two players of one MP3 share its parsed head: the first seek's scan
// corrects the CBR duration while another player reads it (run with -race).
func TestVODMP3DurationShared(t *testing.T) {
	var data []byte
	for range 40 {
		data = append(data, 0xff, 0xfb, 0x90, 0x64)
		data = append(data, make([]byte, 417-4)...)
	}
	path := filepath.Join(t.TempDir(), "a.mp3")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cache := NewFileCache(0)
	var vods [2]*VOD
	for i := range vods {
		v, err := OpenVOD(cache, path, VODMP3, VODLimits{})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		vods[i] = v
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, _, err := vods[0].Seek(500); err != nil {
			t.Error(err)
		}
	})
	wg.Go(func() {
		if d := vods[1].Duration(); d == 0 {
			t.Error("no duration")
		}
	})
	wg.Wait()
}
