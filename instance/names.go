package instance

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultInstance is the instance name used when a URL names only the
// application (FCS semantics).
const DefaultInstance = "_definst_"

// MaxNameLen bounds application, instance and stream names so that a name
// can never make a path longer than common file systems allow.
const MaxNameLen = 255

// ErrBadName is returned for names that are empty, too long, or could
// escape their folder.
var ErrBadName = errors.New("instance: bad name")

// SplitApp parses the "app" field of a connect command ("live",
// "live/room1", "live?key=x", "live/room1/sub") into application and
// instance names. The query string is returned separately so scripts can
// read it; it never becomes part of a name.
func SplitApp(app string) (appName, inst, query string, err error) {
	if i := strings.IndexByte(app, '?'); i >= 0 {
		app, query = app[:i], app[i+1:]
	}
	app = strings.Trim(app, "/")
	appName, inst, _ = strings.Cut(app, "/")
	if inst == "" {
		inst = DefaultInstance
	}
	if err := CheckName(appName, false); err != nil {
		return "", "", "", fmt.Errorf("application %q: %w", appName, err)
	}
	if err := CheckName(inst, true); err != nil {
		return "", "", "", fmt.Errorf("instance %q: %w", inst, err)
	}
	return appName, inst, query, nil
}

// CheckName reports whether name is safe to use as a folder below its
// parent: not empty, no NUL or backslash, no drive letter, no "." or ".."
// segment, not absolute, and not longer than MaxNameLen. With nested, "/"
// separates sub-folders; without, it is refused.
func CheckName(name string, nested bool) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrBadName, MaxNameLen)
	case strings.ContainsAny(name, "\x00\\:"):
		return fmt.Errorf("%w: contains NUL, backslash or colon", ErrBadName)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%w: absolute", ErrBadName)
	case !nested && strings.Contains(name, "/"):
		return fmt.Errorf("%w: contains /", ErrBadName)
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: segment %q", ErrBadName, seg)
		}
	}
	return nil
}

// StreamName splits a NetStream name such as "s1?token=x" into the name
// used for lookup and its query string, and checks that the name cannot
// escape the instance's folder. Prefixes such as "flv:" and "mp3:" are kept
// for the caller.
func StreamName(raw string) (name, query string, err error) {
	name, query, _ = strings.Cut(raw, "?")
	bare := name
	for _, p := range streamPrefixes {
		if strings.HasPrefix(bare, p) {
			bare = bare[len(p):]
			break
		}
	}
	if err := CheckName(bare, true); err != nil {
		return "", "", fmt.Errorf("stream %q: %w", name, err)
	}
	return name, query, nil
}

// streamPrefixes are the NetStream name prefixes FMS understood
// (docs/rtmp.md#play); the part after one is checked like any name.
var streamPrefixes = []string{"flv:", "mp3:", "mp4:", "id3:", "raw:"}

// FolderName maps an instance name to the one folder segment that holds its
// recorded streams and shared objects. Nested instance names ("room/sub")
// are escaped rather than nested: otherwise instance "room" with stream
// "sub/x" and instance "room/sub" with stream "x" would share a file.
// The mapping is injective ("%" is escaped too) and readable.
func FolderName(inst string) string {
	if !strings.ContainsAny(inst, "/%") {
		return inst
	}
	return strings.NewReplacer("%", "%25", "/", "%2F").Replace(inst)
}
