//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/status"
)

// Recording and VOD acceptance points that need the project's client
// against the real binary: playlists with
// reset=false, record then append, and the hostile-name corpus.

// vcCtx is a context for one client exchange.
func vcCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// vcEncode encodes dur seconds of H.264 (no B-frames, a keyframe a second)
// and AAC to an FLV file as fast as possible (not in real time) and
// returns its path. video is a lavfi video source.
func vcEncode(t testing.TB, video string, dur float64) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "src.flv")
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", video, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", fmt.Sprintf("%.3f", dur), "-map", "0:v", "-map", "1:a"}
	args = append(args, h264GOP1s...)
	args = append(args, aacAudio...)
	args = append(args, "-f", "flv", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("encoding %s: %v\n%s", video, err, b)
	}
	return out
}

// vcMediaTags returns the audio and video tags of an FLV file (script
// tags such as onMetaData left out).
func vcMediaTags(t testing.TB, path string) []flv.Tag {
	t.Helper()
	var out []flv.Tag
	for _, tag := range readFLVTags(t, path) {
		if tag.Type == flv.TagAudio || tag.Type == flv.TagVideo {
			out = append(out, tag)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no audio or video tags", path)
	}
	return out
}

// vcLastTS is the largest timestamp of tags.
func vcLastTS(tags []flv.Tag) uint32 {
	var m uint32
	for _, tag := range tags {
		m = max(m, tag.Time)
	}
	return m
}

// vcPublishTags publishes tags with the project's client as name with
// typ ("record" or "append"), the publisher's clock starting at clock
// (the recorder rebases it), and waits for Record.Stop after closing.
func vcPublishTags(t testing.TB, c *rtmp.Client, name, typ string, tags []flv.Tag, clock uint32) {
	t.Helper()
	s, err := c.CreateStream(vcCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(vcCtx(t), name, typ); err != nil {
		t.Fatalf("publish %q %q: %v", name, typ, err)
	}
	if _, err := s.WaitStatus(vcCtx(t), status.RecordStart); err != nil {
		t.Fatalf("publish %q %q: %v, want Record.Start", name, typ, err)
	}
	for _, tag := range tags {
		if err := s.WritePacket(media.Packet{Kind: media.Kind(tag.Type), Time: clock + tag.Time, Payload: tag.Payload}); err != nil {
			t.Fatalf("publishing %s: %v", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitStatus(vcCtx(t), status.RecordStop); err != nil {
		t.Fatalf("publish %q %q: %v, want Record.Stop", name, typ, err)
	}
}

// TestVODClientPlaylist: two recordings, one made by the project's client
// with publish "record", the other by ffmpeg publishing live to an app that
// records every live publish, played as a playlist (play a reset=true,
// play b reset=false) arrive in order, every video message of a then every
// one of b, with the status sequence of docs/flv.md#playback and b's timestamps
// continuing just after a's.
func TestVODClientPlaylist(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Apps: []string{"vod"}})
	apps := vodAppsDir(t, srv)
	if err := os.WriteFile(filepath.Join(apps, "vod", "application.yaml"), []byte("record:\n  live: record\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := vodStreams(apps, "vod")

	// a: the project's client, publish "record", 1.2 s at 160x120.
	c := dialVOD(t, srv.RTMPURL("vod", ""))
	vcPublishTags(t, c, "a", "record", vcMediaTags(t, vcEncode(t, "testsrc=size=160x120:rate=25", 1.2)), 3000)
	// b: ffmpeg, live to the recording app, 1.6 s at 320x240.
	pub := startPublisher(t, srv.RTMPURL("vod", "b"), codecArgs{Video: h264GOP1s, Audio: aacAudio, VideoSrc: "testsrc2=size=320x240:rate=25"},
		1600*time.Millisecond)
	pub.finish(t, 30*time.Second)
	waitFor(t, 20*time.Second, "two `record stop` log lines", func() bool {
		return len(srv.findLogs(func(l map[string]any) bool { return l["msg"] == "record stop" })) >= 2
	})
	fileA := vcMediaTags(t, filepath.Join(dir, "a.flv"))
	fileB := vcMediaTags(t, filepath.Join(dir, "b.flv"))

	s, err := c.CreateStream(vcCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	pr := recordPlay(s)
	if err := s.SetBufferLength(2000); err != nil {
		t.Fatal(err)
	}
	if err := s.PlayArgs("a", 0, -1000, true); err != nil {
		t.Fatal(err)
	}
	if err := s.PlayArgs("b", 0, -1000, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "NetStream.Play.Stop", func() bool { return slices.Contains(pr.codes(), status.PlayStop) })

	wantCodes := []string{status.PlayReset, status.PlayStart, "NetStream.Play.Switch", status.PlayStart,
		status.PlayComplete, status.PlayStop}
	if got := pr.codes(); !slices.Equal(got, wantCodes) {
		t.Errorf("status sequence %v, want %v", got, wantCodes)
	}

	// Order: the received video messages are a's video tags, then b's,
	// byte for byte.
	var want []flv.Tag
	for _, tag := range slices.Concat(fileA, fileB) {
		if tag.Type == flv.TagVideo {
			want = append(want, tag)
		}
	}
	nA := 0
	for _, tag := range fileA {
		if tag.Type == flv.TagVideo {
			nA++
		}
	}
	var got []playEvent
	var lastMedia uint32
	backwards := 0
	for _, e := range pr.events() {
		if e.code != "" || (e.kind != media.Video && e.kind != media.Audio) {
			continue
		}
		if e.ts < lastMedia {
			backwards++
		}
		lastMedia = max(lastMedia, e.ts)
		if e.kind == media.Video {
			got = append(got, e)
		}
	}
	t.Logf("playlist: a.flv %d video tags (last media at %d ms), b.flv %d; received %d video messages", nA, vcLastTS(fileA),
		len(want)-nA, len(got))
	if len(got) != len(want) {
		t.Fatalf("received %d video messages, want %d (a's %d then b's %d)", len(got), len(want), nA, len(want)-nA)
	}
	for i := range want {
		if !bytes.Equal(got[i].payload, want[i].Payload) {
			t.Fatalf("video message %d is not %s's video tag %d: out of order or altered", i,
				map[bool]string{true: "a", false: "b"}[i < nA], i%max(nA, 1))
		}
	}
	if backwards > 0 {
		t.Errorf("media timestamps went backwards %d times", backwards)
	}

	// Timestamps: a's as in its file; b's shifted by one constant offset
	// that puts its start just after a's last timestamp.
	for i := range nA {
		if got[i].ts != want[i].Time {
			t.Errorf("a's video message %d at %d ms, the file has %d", i, got[i].ts, want[i].Time)
			break
		}
	}
	off := int64(got[nA].ts) - int64(want[nA].Time)
	for i := nA; i < len(want); i++ {
		if d := int64(got[i].ts) - int64(want[i].Time); d != off {
			t.Errorf("b's video message %d at %d ms: offset %d from the file, the first one had %d", i-nA, got[i].ts, d, off)
			break
		}
	}
	lastA := int64(vcLastTS(fileA))
	t.Logf("playlist: b offset by %d ms, a's last timestamp %d ms", off, lastA)
	if off < lastA || off > lastA+50 {
		t.Errorf("b starts at +%d ms, want just after a's last timestamp %d ms (within 50 ms)", off, lastA)
	}
}

// TestVODClientRecordAppend: the project's client publishes a real H.264 +
// AAC clip with "record", then the same clip again with "append" (each
// time with its own clock, which the recorder rebases); ffprobe
// -show_packets on sub/rec.flv shows one file holding both, the second
// part's timestamps continuing just after the first's, and the file
// decodes without errors.
func TestVODClientRecordAppend(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Apps: []string{"vod"}})
	dir := vodStreams(vodAppsDir(t, srv), "vod")
	src := vcEncode(t, "testsrc=size=160x120:rate=25", 2)
	tags := vcMediaTags(t, src)
	ref := probe(t, src)

	c := dialVOD(t, srv.RTMPURL("vod", ""))
	vcPublishTags(t, c, "sub/rec", "record", tags, 5000)
	vcPublishTags(t, c, "sub/rec", "append", tags, 90000)

	path := filepath.Join(dir, "sub", "rec.flv")
	if ents, err := os.ReadDir(filepath.Dir(path)); err != nil || len(ents) != 1 {
		t.Errorf("%s holds %v (%v), want only rec.flv", filepath.Dir(path), ents, err)
	}
	got := probe(t, path)
	if got.decodeErrors != "" {
		t.Errorf("recording: decoder errors:\n%s", got.decodeErrors)
	}
	last := int64(vcLastTS(tags))
	for _, kind := range []string{"video", "audio"} {
		srcPk, recPk := ref.packetsOf(kind), got.packetsOf(kind)
		n := len(srcPk)
		t.Logf("%s: source %d packets, recording %d", kind, n, len(recPk))
		if n == 0 || len(recPk) != 2*n {
			t.Errorf("%s: the recording has %d packets, want twice the source's %d", kind, len(recPk), n)
			continue
		}
		checkMonotonic(t, got, kind)
		dts := func(p packetInfo) int64 {
			if p.DTS == nil {
				t.Fatalf("%s packet without dts", kind)
			}
			return *p.DTS
		}
		// Part 1 keeps the source's times (rebased to 0).
		for i := range n {
			if dts(recPk[i]) != dts(srcPk[i]) {
				t.Errorf("%s packet %d at %d ms, the source has %d", kind, i, dts(recPk[i]), dts(srcPk[i]))
				break
			}
		}
		// Part 2 is the source shifted by one base just after part 1's end.
		base := dts(recPk[n]) - dts(srcPk[0])
		for i := range n {
			if d := dts(recPk[n+i]) - dts(srcPk[i]); d != base {
				t.Errorf("appended %s packet %d at %d ms: offset %d, the first one had %d", kind, i, dts(recPk[n+i]), d, base)
				break
			}
		}
		t.Logf("%s: appended part at +%d ms, first part's last timestamp %d ms", kind, base, last)
		if base <= last || base > last+50 {
			t.Errorf("%s: appended part starts at +%d ms, want just after the first part's last timestamp %d ms (within 50 ms)",
				kind, base, last)
		}
	}
	d := ffprobeDuration(t, path)
	srcDur := float64(last) / 1000
	t.Logf("recording: ffprobe duration %.3f s (source clip: last timestamp %.3f s)", d, srcDur)
	if d < 2*srcDur || d > 2*srcDur+0.2 {
		t.Errorf("recording lasts %.3f s, want about twice the source's %.3f s", d, srcDur)
	}
}

// vcEntry is one path of a tree snapshot.
type vcEntry struct {
	mode fs.FileMode
	size int64
}

// vcSnapshot lists every path under roots (not following symlinks) with
// its type and size.
func vcSnapshot(t testing.TB, roots ...string) map[string]vcEntry {
	t.Helper()
	out := map[string]vcEntry{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			e := vcEntry{mode: fi.Mode().Type()}
			if fi.Mode().IsRegular() {
				e.size = fi.Size()
			}
			out[p] = e
			return nil
		})
		if err != nil {
			t.Fatalf("walking %s: %v", root, err)
		}
	}
	return out
}

// vcNoMedia fails the test when the FLV a player wrote holds audio or
// video.
func vcNoMedia(t testing.TB, who, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= flv.HeaderSize+flv.PrevSizeLen {
		return // nothing or just a header
	}
	for _, tag := range readFLVTags(t, path) {
		if tag.Type == flv.TagAudio || tag.Type == flv.TagVideo {
			t.Errorf("%s received media (%d bytes written)", who, fi.Size())
			return
		}
	}
}

// TestVODClientHostileNames: every name of the hostile corpus (.., absolute
// paths, backslash, NUL, drive letter, overlong names, a symlink out of the
// streams folder, an unknown prefix) gets Play.StreamNotFound for play and
// Publish.BadName for publish record, append and live (the app records
// live publishes) from the project's client; rtmpdump cannot play the
// file behind the symlink and ffmpeg cannot publish through it. Nothing is
// written anywhere in the server's folder or outside it.
func TestVODClientHostileNames(t *testing.T) { //nolint:tparallel // subtests run in turn between the two snapshots of one tree
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"vod"}})
	apps := vodAppsDir(t, srv)
	if err := os.WriteFile(filepath.Join(apps, "vod", "application.yaml"), []byte("record:\n  live: record\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := vodStreams(apps, "vod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A folder outside the streams folder, reachable by a symlink and by a
	// relative path, holding a playable file.
	outside := t.TempDir()
	secret := vcEncode(t, "testsrc=size=160x120:rate=25", 0.5)
	if err := os.Rename(secret, filepath.Join(outside, "secret.flv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, outside)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{
		"..", "../x", "../../../../../../../../tmp/openfcs-hostile", rel + "/secret", rel + "/new",
		"/etc/passwd", outside + "/secret", outside + "/new",
		"a\\b", "..\\..\\x", "a\x00b", "c:/x", "C:\\x", "c:x",
		"a//b", "./a", "a/./b", "a/../b",
		"escape/secret", "escape/new", "escape/sub/new", "flv:escape/secret", "mp3:escape/secret", "mp3:../x", "foo:bar",
		strings.Repeat("a", 300), "a/" + strings.Repeat("b", 1100), strings.Repeat("d/", 600) + "x",
	}
	// Everything in the server's temp folder (applications, config) and in
	// the outside folder, before and after.
	roots := []string{filepath.Dir(apps), outside}
	before := vcSnapshot(t, roots...)
	_, tmpBefore := os.Lstat("/tmp/openfcs-hostile")

	for _, name := range names {
		t.Run(fmt.Sprintf("%.60q", name), func(t *testing.T) {
			// A connection per name: four streams each, and the server
			// allows 64 on one connection.
			c := dialVOD(t, srv.RTMPURL("vod", ""))
			s, err := c.CreateStream(vcCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			pr := recordPlay(s)
			if err := s.PlayArgs(name, 0, -1000, true); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "a status for play", func() bool { return len(pr.codes()) > 0 })
			if got := pr.codes(); got[0] != status.PlayStreamNotFound {
				t.Errorf("play: statuses %v, want %s", got, status.PlayStreamNotFound)
			}
			for _, typ := range []string{"record", "append", "live"} {
				ps, err := c.CreateStream(vcCtx(t))
				if err != nil {
					t.Fatal(err)
				}
				err = ps.Publish(vcCtx(t), name, typ)
				if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.PublishBadName {
					t.Errorf("publish %s: %v, want %s", typ, err, status.PublishBadName)
				}
			}
			for _, e := range pr.events() {
				if e.kind == media.Audio || e.kind == media.Video {
					t.Errorf("play received media")
					break
				}
			}
		})
	}

	// Real clients: rtmpdump plays and ffmpeg publishes through the
	// symlink and the relative path out.
	for _, name := range []string{"escape/secret", rel + "/secret"} {
		out := filepath.Join(t.TempDir(), "hostile.flv")
		p := startProc(t, procOpts{}, "rtmpdump", "-q", "-r", srv.RTMPURL("vod", ""), "-y", name, "-o", out)
		if err := p.wait(t, 30*time.Second); err == nil {
			t.Errorf("rtmpdump -y %q exited 0, want a failure (StreamNotFound)", name)
		}
		vcNoMedia(t, "rtmpdump -y "+name, out)
	}
	for _, name := range []string{"escape/ffmpeg", rel + "/ffmpeg", "../ffmpeg"} {
		p := startProc(t, procOpts{}, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
			"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25", "-t", "2", "-c:v", "flv",
			"-rtmp_app", "vod", "-rtmp_playpath", name, "-f", "flv", srv.RTMPURL("vod", ""))
		if err := p.wait(t, 30*time.Second); err == nil {
			t.Errorf("ffmpeg publishing to %q exited 0, want a failure (BadName)", name)
		}
	}

	after := vcSnapshot(t, roots...)
	for p, e := range after {
		if b, ok := before[p]; !ok {
			t.Errorf("created %s (%v)", p, e.mode)
		} else if b != e {
			t.Errorf("changed %s: %+v, was %+v", p, e, b)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("removed %s", p)
		}
	}
	if _, err := os.Lstat("/tmp/openfcs-hostile"); err == nil && tmpBefore != nil {
		t.Errorf("created /tmp/openfcs-hostile")
	}
	t.Logf("hostile names: %d names, %d paths unchanged under %v", len(names), len(after), roots)
}
