package playback

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil/flvtest"
	"github.com/openfcs/openfcs/media"
)

// lib is a Library over a folder: "name" is name.flv, "flv:name" the same
// file named explicitly, "mp3:name" name.mp3; names with ".." are refused.
type lib struct {
	dir string
	reg *media.Registry
}

func newLib(t testing.TB) *lib {
	t.Helper()
	l := &lib{dir: t.TempDir(), reg: media.NewRegistry(media.Config{}, nil)}
	t.Cleanup(l.reg.Close)
	return l
}

func (l *lib) Streams() *media.Registry { return l.reg }

func (l *lib) RecordedFile(name string) (File, bool, error) {
	bare, format, explicit, ext := name, media.VODFLV, false, ".flv"
	if rest, ok := strings.CutPrefix(name, "flv:"); ok {
		bare, explicit = rest, true
	} else if rest, ok := strings.CutPrefix(name, "mp3:"); ok {
		bare, explicit, format, ext = rest, true, media.VODMP3, ".mp3"
	}
	if strings.Contains(bare, "..") {
		return File{}, explicit, errors.New("outside the streams folder")
	}
	path := filepath.Join(l.dir, bare+ext)
	if _, err := os.Stat(path); err != nil {
		return File{}, explicit, fmt.Errorf("%w: %w", ErrNoFile, err)
	}
	return File{Path: path, Rel: bare + ext, Format: format}, explicit, nil
}

// write stores an FLV of dur ms as name.flv (flvtest.Synth, with
// onMetaData; audio only when gop is 0).
func (l *lib) write(t testing.TB, name string, dur uint32, gop int) {
	t.Helper()
	b := flvtest.Synth(dur, gop, true, amf.Prop{Key: "width", Value: amf.Number(320)})
	if err := os.WriteFile(filepath.Join(l.dir, name+".flv"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run drains p until stop returns true for what was received, or fails
// the test after a minute of (usually synthetic) time.
func run(t testing.TB, p *Player, got []Event, stop func([]Event) bool) []Event {
	t.Helper()
	deadline := time.After(time.Minute)
	for !stop(got) {
		select {
		case <-p.Ready():
		case <-deadline:
			t.Fatalf("gave up waiting; received %s", statuses(got))
		}
		got = p.Drain(got)
	}
	return got
}

// has reports whether evs holds an event of kind k.
func has(k EventKind) func([]Event) bool {
	return func(evs []Event) bool { return slices.ContainsFunc(evs, func(e Event) bool { return e.Kind == k }) }
}

// count reports whether evs holds at least n events of kind k.
func count(k EventKind, n int) func([]Event) bool {
	return func(evs []Event) bool {
		c := 0
		for _, e := range evs {
			if e.Kind == k {
				c++
			}
		}
		return c >= n
	}
}

// statuses lists the status events of evs as "kind name".
func statuses(evs []Event) []string {
	var out []string
	for _, e := range evs {
		if e.Kind != EventPacket {
			out = append(out, e.Kind.String()+" "+e.Info.Name)
		}
	}
	return out
}

// frame is a media packet as received: its kind, output time, and whether
// it is a keyframe or a sequence header.
type frame struct {
	kind media.Kind
	ts   uint32
	key  bool
	cfg  bool
}

func (f frame) String() string {
	return fmt.Sprintf("%v@%d%s%s", f.kind, f.ts, map[bool]string{true: "K"}[f.key], map[bool]string{true: "C"}[f.cfg])
}

// frames lists the packets of kind k (0: audio and video) in evs.
func frames(evs []Event, k media.Kind) []frame {
	var out []frame
	for _, e := range evs {
		if e.Kind != EventPacket || e.Packet.Kind == media.Data {
			continue
		}
		if k == 0 || e.Packet.Kind == k {
			out = append(out, frame{kind: e.Packet.Kind, ts: e.Time, key: e.Packet.Keyframe, cfg: e.Packet.Config})
		}
	}
	return out
}

// pictures lists the video frames other than sequence headers.
func pictures(evs []Event) []frame {
	var out []frame
	for _, f := range frames(evs, media.Video) {
		if !f.cfg {
			out = append(out, f)
		}
	}
	return out
}
