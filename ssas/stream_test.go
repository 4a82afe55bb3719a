package ssas

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
)

// mediaPackets returns dur ms of synthetic H.264+AAC messages starting at
// t0: the two sequence headers, 25 fps video with a keyframe every 10
// frames, one AAC frame every 23 ms, in timestamp order.
func mediaPackets(t0, dur uint32) []*media.Packet {
	out := []*media.Packet{
		{Kind: media.Video, Time: t0, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e}},
		{Kind: media.Audio, Time: t0, Payload: []byte{0xaf, 0, 0x12, 0x10}},
	}
	var av []*media.Packet
	for i := uint32(0); i*40 < dur; i++ {
		p := []byte{0x27, 1, 0, 0, 0, byte(i)}
		if i%10 == 0 {
			p[0] = 0x17
		}
		av = append(av, &media.Packet{Kind: media.Video, Time: t0 + i*40, Payload: p})
	}
	for i := uint32(0); i*23 < dur; i++ {
		av = append(av, &media.Packet{Kind: media.Audio, Time: t0 + i*23, Payload: []byte{0xaf, 1, byte(i)}})
	}
	slices.SortStableFunc(av, func(a, b *media.Packet) int { return int(a.Time) - int(b.Time) })
	return append(out, av...)
}

// writeFLV writes dur ms of media to path with the recorder the server
// uses, so the file is what a recording would be.
func writeFLV(t testing.TB, path string, dur uint32) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	reg := media.NewRegistry(media.Config{}, nil)
	defer reg.Close()
	pub, err := reg.Publish("fixture")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := pub.Record(path, media.RecordOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range mediaPackets(0, dur) {
		pub.Write(p)
	}
	pub.Close()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
}

// streamsDir is the streams folder of app/inst.
func (e *env) streamsDir(inst string) string {
	return filepath.Join(e.dir, "app", "streams", filepath.FromSlash(inst))
}

// livePublish plays the RTMP publish path for client cl: onPublish, the
// publication, Instance.Publishing. The caller writes and ends it with
// unpublish.
func (cl *client) livePublish(t testing.TB, name string) *media.Publication {
	t.Helper()
	if err := cl.in.CheckPublish(cl.c, instance.PublishRequest{Stream: name}); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	pub, err := cl.in.Streams().Publish(name)
	if err != nil {
		t.Fatal(err)
	}
	cl.in.Publishing(cl.c, pub)
	return pub
}

func (cl *client) unpublish(pub *media.Publication) {
	pub.Close()
	cl.in.Unpublished(cl.c, pub.Name())
}

// watcher is a subscriber of a stream of the instance that keeps what it
// receives.
type watcher struct {
	sub  *media.Subscriber
	mu   sync.Mutex
	pkts []media.Packet
	evs  []media.EventType
	done chan struct{}
}

func watch(t testing.TB, in *instance.Instance, name string) *watcher {
	t.Helper()
	w := &watcher{sub: in.Streams().Subscribe(name, media.SubscribeOptions{}), done: make(chan struct{})}
	stop := make(chan struct{})
	go func() {
		defer close(w.done)
		var evs []media.Event
		for w.sub.Err() == nil {
			select {
			case <-stop:
				return
			case <-w.sub.Ready():
			}
			evs = w.sub.Drain(evs[:0])
			w.mu.Lock()
			for _, ev := range evs {
				w.evs = append(w.evs, ev.Type)
				if ev.Packet != nil {
					w.pkts = append(w.pkts, *ev.Packet)
				}
			}
			w.mu.Unlock()
			clear(evs)
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-w.done
		w.sub.Close()
	})
	return w
}

func (w *watcher) packets() []media.Packet {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.pkts)
}

func (w *watcher) unpublished() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.evs, media.EventUnpublishNotify)
}

// waitCount waits until line was logged n times.
func (e *env) waitCount(line string, n int) {
	e.t.Helper()
	testutil.WaitFor(e.t, 10*time.Second, fmt.Sprintf("%d × %q", n, line), func() bool {
		c := 0
		for _, l := range e.lines() {
			if l == line {
				c++
			}
		}
		return c >= n
	})
}

// flvDuration reads the recorded duration (ms) of a file from its tags.
func flvDuration(t testing.TB, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r, err := flv.NewReader(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	var last uint32
	for {
		tag, err := r.Next(nil)
		if err != nil {
			return last
		}
		last = max(last, tag.Time)
	}
}

// Stream.record asked for in onPublish records the client's publish to
// streams/<instance>/<name>.flv; the recording stops with the publish;
// "append" continues the file; Stream.length reports the duration.
func TestStreamRecordClientPublish(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
mode = "record";
application.onPublish = function (c, s) {
    s.onStatus = function (info) { trace(s.name + " " + info.code); };
    trace("record " + s.record(mode));
};
Client.prototype.setMode = function (m) { mode = m; };
Client.prototype.len = function (n) { return Stream.length(n); };
`})
	a, err := e.connect("a", "room")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	path := filepath.Join(e.streamsDir("room"), "cam.flv")
	for i, mode := range []string{"record", "append"} {
		if _, ok := a.call("setMode", amf.String(mode)); !ok {
			t.Fatal("setMode failed")
		}
		pub := a.livePublish(t, "cam")
		e.waitCount("cam NetStream.Record.Start", i+1)
		for _, p := range mediaPackets(0, 2000) {
			pub.Write(p)
		}
		a.unpublish(pub)
		e.waitCount("cam NetStream.Record.Stop", i+1)
		got, _ := a.call("len", amf.String("cam"))
		want := float64(2 * (i + 1))
		if d := got.Num() - want; d < -0.1 || d > 0.1 {
			t.Errorf("%s: Stream.length = %v, want about %v", mode, got.Num(), want)
		}
		if d := flvDuration(t, path); d < uint32(want*1000)-100 || d > uint32(want*1000)+100 {
			t.Errorf("%s: file duration %d ms, want about %v s", mode, d, want)
		}
	}
	for _, n := range []string{"missing", "../../escape", "mp3:cam"} {
		if got, _ := a.call("len", amf.String(n)); got.Num() != 0 {
			t.Errorf("Stream.length(%q) = %v, want 0", n, got.Num())
		}
	}
}

// A server-side playlist of two recorded files (reset=false appends) plays
// into the script's stream at real time with continuous timestamps, with
// Play.Start/Switch/Stop on the Stream object and a missing item skipped
// with StreamNotFound; subscribers see the stream end; the script records
// the stream it plays.
func TestStreamPlaylistOfRecordedFiles(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
Client.prototype.tv = function () {
    var s = Stream.get("tv");
    s.onStatus = function (info) { trace("tv " + info.code + " " + info.details); };
    s.record();
    var r1 = s.play("a", 0, -1, true);
    var r2 = s.play("missing", 0, -1, false);
    var r3 = s.play("b", 0, -1, false);
    return r1 && r2 && r3;
};
`})
	writeFLV(t, filepath.Join(e.streamsDir("_definst_"), "a.flv"), 600)
	writeFLV(t, filepath.Join(e.streamsDir("_definst_"), "b.flv"), 600)
	a, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	w := watch(t, a.in, "tv")
	start := time.Now()
	if v, ok := a.call("tv"); !ok || !v.Bool() {
		t.Fatalf("tv() = %v %v", fmtAMF(v), ok)
	}
	e.waitLine("tv NetStream.Play.Stop")
	testutil.WaitFor(t, 10*time.Second, "subscribers to see the end", w.unpublished)
	e.waitLine("tv NetStream.Record.Stop")
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("1.2 s of playlist played in %v: not paced", el)
	}
	var trace []string
	for _, l := range e.lines() {
		if strings.HasPrefix(l, "tv ") {
			trace = append(trace, l)
		}
	}
	want := []string{
		"tv NetStream.Record.Start tv",
		"tv NetStream.Play.Reset a",
		"tv NetStream.Play.Start a",
		"tv NetStream.Play.StreamNotFound missing",
		"tv NetStream.Play.Switch b",
		"tv NetStream.Play.Start b",
		"tv NetStream.Play.Stop tv",
		"tv NetStream.Record.Stop tv",
	}
	if !slices.Equal(trace, want) {
		t.Errorf("statuses:\n%s\nwant:\n%s", strings.Join(trace, "\n"), strings.Join(want, "\n"))
	}
	var last [2]int64
	last[0], last[1] = -1, -1
	var video, keys int
	for _, p := range w.packets() {
		if p.Kind != media.Audio && p.Kind != media.Video {
			continue
		}
		i := 0
		if p.Kind == media.Video {
			i = 1
			video++
			if p.Keyframe && !p.Config {
				keys++
			}
		}
		if int64(p.Time) < last[i] {
			t.Errorf("%v timestamp went back: %d after %d", p.Kind, p.Time, last[i])
		}
		last[i] = int64(p.Time)
	}
	if video < 28 || last[1] < 1100 || last[1] > 1300 {
		t.Errorf("subscriber got %d video messages up to %d ms, want 2 × 15 frames over about 1.2 s", video, last[1])
	}
	if keys < 4 {
		t.Errorf("subscriber got %d keyframes, want 4", keys)
	}
	if d := flvDuration(t, filepath.Join(e.streamsDir("_definst_"), "tv.flv")); d < 1100 || d > 1300 {
		t.Errorf("recording of the playlist lasts %d ms, want about 1200", d)
	}
}

// Stream.send injects data messages into a stream published by a client,
// at the stream's current time; the client's publication is not taken
// over. On a stream nobody publishes the script becomes its publisher.
func TestStreamSendIntoClientPublish(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
Client.prototype.cue = function (n, v) { return Stream.get(n).send("onCue", v, {at: "x"}); };
`})
	a, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	pub := a.livePublish(t, "cam")
	w := watch(t, a.in, "cam")
	for _, p := range mediaPackets(5000, 400) {
		pub.Write(p)
	}
	if v, ok := a.call("cue", amf.String("cam"), amf.Number(7)); !ok || !v.Bool() {
		t.Fatalf("send = %v %v", fmtAMF(v), ok)
	}
	testutil.WaitFor(t, 10*time.Second, "the cue message", func() bool {
		for _, p := range w.packets() {
			if p.Kind == media.Data {
				return true
			}
		}
		return false
	})
	for _, p := range w.packets() {
		if p.Kind != media.Data {
			continue
		}
		if p.Time < 5300 {
			t.Errorf("cue at %d ms, want the stream's time (about 5380)", p.Time)
		}
		var dec amf.Decoder
		vals, err := dec.DecodeAMF0All(p.Payload, nil)
		if err != nil || len(vals) != 3 || vals[0].Str() != "onCue" || vals[1].Num() != 7 || vals[2].Get("at").Str() != "x" {
			t.Errorf("cue payload = %v %v", vals, err)
		}
	}
	// The client still publishes: more media flows through its publication.
	pub.Write(&media.Packet{Kind: media.Video, Time: 5400, Payload: []byte{0x27, 1, 0, 0, 0, 99}})
	testutil.WaitFor(t, 10*time.Second, "media after the cue", func() bool {
		p := w.packets()
		return p[len(p)-1].Time == 5400
	})
	a.unpublish(pub)

	// Nobody publishes "empty": the script does, and a second client
	// cannot publish it any more.
	if v, ok := a.call("cue", amf.String("empty"), amf.Number(1)); !ok || !v.Bool() {
		t.Fatalf("send on an unpublished stream = %v %v", fmtAMF(v), ok)
	}
	if _, err := a.in.Streams().Publish("empty"); err == nil {
		t.Error("a client could publish a stream the script publishes")
	}
}

// Stream.clear deletes the stream's recorded file once: Success, then
// Failed; application.clearStreams deletes matching files of the
// instance's streams folder only.
func TestStreamClearAndClearStreams(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
Client.prototype.clear = function (n) {
    var s = Stream.get(n);
    s.onStatus = function (info) { trace(n + " " + info.code); };
    return s.clear();
};
Client.prototype.clearStreams = function (p) { return application.clearStreams(p); };
`})
	dir := e.streamsDir("room")
	outside := filepath.Join(e.dir, "app", "streams", "secret.flv") // the parent of the instance's folder
	other := filepath.Join(e.streamsDir("other"), "a.flv")          // another instance
	for _, p := range []string{outside, other} {
		writeFLV(t, p, 100)
	}
	a, err := e.connect("a", "room")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()

	writeFLV(t, filepath.Join(dir, "one.flv"), 100)
	for _, want := range []bool{true, false} {
		if v, _ := a.call("clear", amf.String("one")); v.Bool() != want {
			t.Errorf("clear = %v, want %v", v.Bool(), want)
		}
	}
	e.waitLine("one NetStream.Clear.Failed")
	if l := e.lines(); !slices.Contains(l, "one NetStream.Clear.Success") {
		t.Errorf("no Clear.Success in %v", l)
	}

	files := []string{"a.flv", "b.flv", "sub/c.flv", "sub/deep/d.flv", "x.mp3", "keep.txt"}
	for _, tc := range []struct {
		pattern string
		ok      bool
		gone    []string
	}{
		{"../secret", false, nil},
		{"/../other/a", false, nil},
		{"sub/../../secret", false, nil},
		{"mp4:/", false, nil},
		{"a\\b", false, nil},
		{"[", false, nil},
		{"a", true, []string{"a.flv"}},
		{"/flv:/b.flv", true, []string{"b.flv"}},
		{"sub", true, []string{"sub/c.flv", "sub/deep/d.flv"}},
		{"sub/*", true, []string{"sub/c.flv", "sub/deep/d.flv"}},
		{"?", true, []string{"a.flv", "b.flv"}},
		{"mp3:/", true, []string{"x.mp3"}},
		{"/", true, []string{"a.flv", "b.flv", "sub/c.flv", "sub/deep/d.flv", "x.mp3"}},
	} {
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f))
			if strings.HasSuffix(f, ".txt") {
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			writeFLV(t, p, 40)
		}
		// A symlink to a file outside is neither followed nor deleted.
		link := filepath.Join(dir, "link.flv")
		_ = os.Remove(link)
		if err := os.Symlink(outside, link); err != nil {
			t.Fatal(err)
		}
		v, ok := a.call("clearStreams", amf.String(tc.pattern))
		if !ok || v.Bool() != tc.ok {
			t.Errorf("clearStreams(%q) = %v, want %v", tc.pattern, fmtAMF(v), tc.ok)
		}
		for _, f := range files {
			_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
			if gone := slices.Contains(tc.gone, f); gone != os.IsNotExist(err) {
				t.Errorf("clearStreams(%q): %s deleted = %v, want %v", tc.pattern, f, !gone, gone)
			}
		}
		for _, p := range []string{outside, other, link} {
			if _, err := os.Lstat(p); err != nil {
				t.Errorf("clearStreams(%q) deleted %s", tc.pattern, p)
			}
		}
	}
}

// Stream.record of a name that cannot be a file is refused with
// Record.NoAccess, an unknown mode with Record.Failed, a file already being
// recorded (under another stream name) with Record.Failed; record(mode)
// again restarts the recording; record(false) before the publish cancels
// the pending recording.
func TestStreamRecordRefusals(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
Client.prototype.rec = function (n, m) {
    var s = Stream.get(n);
    s.onStatus = function (info) { trace(n + " " + info.code); };
    return s.record(m);
};
Client.prototype.hello = function (n) { return Stream.get(n).send("hello"); };
`})
	a, err := e.connect("a", "_definst_")
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	if v, _ := a.call("rec", amf.String("mp3:song"), amf.String("record")); v.Bool() {
		t.Error("record of an mp3: name succeeded")
	}
	e.waitLine("mp3:song NetStream.Record.NoAccess")
	if v, _ := a.call("rec", amf.String("x"), amf.String("bogus")); v.Bool() {
		t.Error("record with mode bogus succeeded")
	}
	e.waitLine("x NetStream.Record.Failed")

	pub := a.livePublish(t, "dup")
	defer a.unpublish(pub)
	if v, _ := a.call("rec", amf.String("dup"), amf.String("record")); !v.Bool() {
		t.Fatal("record dup failed")
	}
	e.waitLine("dup NetStream.Record.Start")
	if v, _ := a.call("rec", amf.String("dup"), amf.String("append")); !v.Bool() {
		t.Error("restarting a recording in append mode failed")
	}
	e.waitLine("dup NetStream.Record.Stop")
	// "flv:dup" is another live stream but the same file.
	if v, _ := a.call("rec", amf.String("flv:dup"), amf.String("record")); !v.Bool() {
		t.Error("arming the recording of flv:dup failed")
	}
	if v, _ := a.call("hello", amf.String("flv:dup")); !v.Bool() {
		t.Error("send on flv:dup failed")
	}
	e.waitLine("flv:dup NetStream.Record.Failed")

	// record(false) before the publish: nothing is recorded.
	if v, _ := a.call("rec", amf.String("later"), amf.String("record")); !v.Bool() {
		t.Fatal("arming a recording failed")
	}
	if v, _ := a.call("rec", amf.String("later"), amf.Bool(false)); !v.Bool() {
		t.Fatal("record(false) failed")
	}
	p2 := a.livePublish(t, "later")
	for _, p := range mediaPackets(0, 200) {
		p2.Write(p)
	}
	a.unpublish(p2)
	e.barrier()
	if _, err := os.Stat(filepath.Join(e.streamsDir("_definst_"), "later.flv")); !os.IsNotExist(err) {
		t.Errorf("a canceled recording wrote a file: %v", err)
	}
}

// HasMethod (instance.ScriptHandles) sees methods on Client.prototype, on
// the client object and registered proxies, not __resolve, and nothing for
// a client that is not accepted.
func TestHasMethod(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.asc": `
Client.prototype.FCPublish = function (n) { return "script " + n; };
Client.prototype.__resolve = function (n) { return function () { return n; }; };
application.onConnect = function (c, own) {
    if (own) c.getStreamLength = function () { return 42; };
    if (own == "pending") return null;
    return true;
};
application.registerProxy("_checkbw", new NetConnection());
`})
	a, err := e.connect("a", "_definst_", amf.Bool(false))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.connect("b", "_definst_", amf.Bool(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.connect("p", "_definst_", amf.String("pending"))
	if err != nil {
		t.Fatal(err)
	}
	e.barrier()
	for _, tc := range []struct {
		cl   *client
		name string
		want bool
	}{
		{a, "FCPublish", true},
		{a, "getStreamLength", false},
		{b, "getStreamLength", true},
		{a, "_checkbw", true},
		{a, "releaseStream", false}, // only __resolve would answer it
		{p, "FCPublish", false},     // not accepted
	} {
		if got := tc.cl.in.ScriptHandles(tc.cl.c, tc.name); got != tc.want {
			t.Errorf("%s: ScriptHandles(%s) = %v, want %v", tc.cl.p.name, tc.name, got, tc.want)
		}
	}
}
