package sharedobject

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCheckName: a name CheckName accepts is stored in one file below the
// store's folder, with the store's suffix, and no other accepted name
// (differing in more than letter case) maps to that file.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"chat", "work/addresses", "a.b", "$x-y_z", "..", "a/../b", "/abs", "a//b",
		"con", "COM1.txt", "x.fso", "x.tmp", "a.", "é", "a\\b", "a\x00", strings.Repeat("a/", 9) + "a"} {
		f.Add(s, "chat")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		const dir = "/store"
		pa, err := filePath(dir, a, 255)
		if err != nil {
			if CheckName(a, 255) == nil {
				t.Fatalf("%q: CheckName accepts what filePath refuses: %v", a, err)
			}
			return
		}
		rel, err := filepath.Rel(dir, pa)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) || !strings.HasSuffix(pa, ".fso") {
			t.Fatalf("%q stored at %q: outside the store or without the suffix", a, pa)
		}
		for seg := range strings.SplitSeq(filepath.ToSlash(rel), "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("%q stored at %q", a, pa)
			}
		}
		pb, err := filePath(dir, b, 255)
		if err == nil && a != b && strings.EqualFold(pa, pb) && !strings.EqualFold(a, b) {
			t.Fatalf("%q and %q share the file %q", a, b, pa)
		}
	})
}
