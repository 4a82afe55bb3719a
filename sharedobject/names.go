package sharedobject

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadName reports a shared-object name refused by CheckName.
var ErrBadName = errors.New("sharedobject: bad name")

// maxSegments bounds the "/"-separated segments of a name (docs/shared-objects.md#limits).
const maxSegments = 8

// reserved are Windows device names; as a file base name they address a
// device on Windows whatever the extension (docs/shared-objects.md#limits).
var reserved = map[string]bool{"con": true, "prn": true, "aux": true, "nul": true}

// CheckName reports whether name may name a shared object (docs/shared-objects.md#limits): at most
// maxBytes bytes of valid UTF-8; letters, digits, `_ - . $` and `/` as the
// segment separator; at most 8 segments, none empty, "." or "..", none
// ending in a dot, none a Windows device name (CON, NUL, COM1, ...), and
// none ending in ".fso" or ".tmp" (the store's own suffixes). The same rule
// applies to temporary objects, so a name never means one thing in memory
// and another on disk.
func CheckName(name string, maxBytes int) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(name) > maxBytes:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadName, len(name), maxBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: invalid UTF-8", ErrBadName)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.$/", r) {
			return fmt.Errorf("%w: character %q", ErrBadName, r)
		}
	}
	n := 0
	for seg := range strings.SplitSeq(name, "/") {
		n++
		low := strings.ToLower(seg)
		base, _, _ := strings.Cut(low, ".")
		switch {
		case n > maxSegments:
			return fmt.Errorf("%w: more than %d segments", ErrBadName, maxSegments)
		case seg == "" || seg == "." || seg == "..":
			return fmt.Errorf("%w: segment %q", ErrBadName, seg)
		case strings.HasSuffix(seg, "."):
			return fmt.Errorf("%w: segment %q ends with a dot", ErrBadName, seg)
		case strings.HasSuffix(low, ".fso") || strings.HasSuffix(low, ".tmp"):
			return fmt.Errorf("%w: segment %q has a reserved suffix", ErrBadName, seg)
		case reserved[base] || (len(base) == 4 && (strings.HasPrefix(base, "com") || strings.HasPrefix(base, "lpt")) && base[3] >= '0' && base[3] <= '9'):
			return fmt.Errorf("%w: segment %q is a device name", ErrBadName, seg)
		}
	}
	return nil
}

// filePath maps a checked name to dir/<segments>.fso and verifies that the
// result stays inside dir.
func filePath(dir, name string, maxBytes int) (string, error) {
	if err := CheckName(name, maxBytes); err != nil {
		return "", err
	}
	p := filepath.Join(dir, filepath.FromSlash(name)+".fso")
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: %q leaves the store", ErrBadName, name)
	}
	return p, nil
}
