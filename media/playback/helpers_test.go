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
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
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

// write stores an FLV of dur ms as name.flv: onMetaData (with duration),
// AVC and AAC sequence headers, 25 fps video with a keyframe every gop
// frames (none when gop is 0: audio only) and AAC frames every 1024/44.1
// ms.
func (l *lib) write(t testing.TB, name string, dur uint32, gop int) {
	t.Helper()
	flags := uint8(flv.FlagAudio)
	if gop > 0 {
		flags |= flv.FlagVideo
	}
	b := flv.AppendHeader(nil, flags)
	meta, err := amf.AppendAMF0Values(nil, amf.String("onMetaData"), amf.ECMAArray(
		amf.Prop{Key: "duration", Value: amf.Number(float64(dur) / 1000)},
		amf.Prop{Key: "width", Value: amf.Number(320)}))
	if err != nil {
		t.Fatal(err)
	}
	b = flv.AppendTag(b, flv.TagScript, 0, meta)
	if gop > 0 {
		b = flv.AppendTag(b, flv.TagVideo, 0, []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e})
	}
	b = flv.AppendTag(b, flv.TagAudio, 0, []byte{0xaf, 0, 0x12, 0x10})
	type tag struct {
		ts  uint32
		typ uint8
		p   []byte
	}
	var tags []tag
	for i := 0; gop > 0 && uint32(i*40) < dur; i++ {
		p := []byte{0x27, 1, 0, 0, 0, byte(i)}
		if i%gop == 0 {
			p[0] = 0x17
		}
		tags = append(tags, tag{uint32(i * 40), flv.TagVideo, p})
	}
	for i := 0; uint32(i*1024*1000/44100) < dur; i++ {
		tags = append(tags, tag{uint32(i * 1024 * 1000 / 44100), flv.TagAudio, []byte{0xaf, 1, byte(i)}})
	}
	slices.SortStableFunc(tags, func(a, b tag) int { return int(a.ts) - int(b.ts) })
	for _, tg := range tags {
		b = flv.AppendTag(b, tg.typ, tg.ts, tg.p)
	}
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
