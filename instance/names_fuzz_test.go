package instance

import (
	"path/filepath"
	"strings"
	"testing"
)

// nameSeeds are connect "app" fields and stream names as clients send
// them, and the escapes hostile ones try.
var nameSeeds = []string{
	"live", "live/room1", "live/room1/sub", "live?key=x", "live/_definst_?a=1",
	"s1", "s1?token=1", "dir/s1", "mp3:song", "flv:dir/clip", "id3:song", "mp4:clip.f4v",
	"..", "live/..", "../x", "a/../../b", "/etc/passwd", `a\b`, "C:/x", "a\x00b", "%2e%2e/x",
	"room%2Fsub", "a//b", "./a", "a/.", "é/ü", strings.Repeat("a", MaxNameLen+1),
}

// inside reports whether rel, joined below a folder, stays in it.
func inside(rel string) bool {
	const root = "/root/streams"
	p := filepath.Join(root, filepath.FromSlash(rel))
	return p != root && strings.HasPrefix(p, root+"/")
}

// FuzzSplitApp: whatever a connect's app field holds, an accepted
// application is one folder name and an accepted instance stays below
// its folder; FolderName gives one segment.
func FuzzSplitApp(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		app, inst, query, err := SplitApp(field)
		if err != nil {
			return
		}
		if CheckName(app, false) != nil || CheckName(inst, true) != nil {
			t.Fatalf("SplitApp(%q) = %q %q: a name CheckName refuses", field, app, inst)
		}
		if strings.Contains(app, "/") || strings.Contains(app+inst, "?") {
			t.Fatalf("SplitApp(%q) = %q %q %q", field, app, inst, query)
		}
		if !inside(app) || !inside(inst) {
			t.Fatalf("SplitApp(%q) = %q %q: leaves its folder", field, app, inst)
		}
		fn := FolderName(inst)
		if strings.Contains(fn, "/") || fn == "." || fn == ".." || fn == "" {
			t.Fatalf("FolderName(%q) = %q: not one segment", inst, fn)
		}
	})
}

// FuzzFolderName: distinct instance names never share a folder.
func FuzzFolderName(f *testing.F) {
	f.Add("room", "room/sub")
	f.Add("room%2Fsub", "room/sub")
	f.Add("a%25", "a%")
	f.Fuzz(func(t *testing.T, a, b string) {
		if a != b && FolderName(a) == FolderName(b) {
			t.Fatalf("FolderName(%q) == FolderName(%q) == %q", a, b, FolderName(a))
		}
	})
}

// FuzzStreamName: an accepted stream name becomes a file that stays below
// the streams folder, with the extension of its container.
func FuzzStreamName(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, publish bool) {
		name, _, err := StreamName(raw)
		if err != nil {
			return
		}
		if strings.Contains(name, "?") {
			t.Fatalf("StreamName(%q) = %q keeps the query", raw, name)
		}
		c, rel, err := ParseStreamFile(name, publish)
		if err != nil {
			return
		}
		if !inside(rel) {
			t.Fatalf("ParseStreamFile(%q) = %q: leaves the streams folder", name, rel)
		}
		ext := ".flv"
		if c != ContainerFLV {
			ext = ".mp3"
		}
		if !strings.EqualFold(filepath.Ext(rel), ext) || (publish && c != ContainerFLV) {
			t.Fatalf("ParseStreamFile(%q, %v) = %v %q", name, publish, c, rel)
		}
	})
}
