package playback

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start makes a player of l, closed when the test ends.
func start(t testing.TB, l *lib, opts Options, first Item, reset bool) *Player {
	t.Helper()
	opts.Library = l
	p := New(opts, first, reset)
	t.Cleanup(p.Close)
	p.Start()
	return p
}

// The start rules decide between the live stream and the recorded file,
// one table for every adapter.
func TestResolve(t *testing.T) {
	l := newLib(t)
	l.write(t, "clip", 200, 5)
	l.write(t, "both", 200, 5)
	pub, err := l.reg.Publish("both")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pubLive, err := l.reg.Publish("live")
	if err != nil {
		t.Fatal(err)
	}
	defer pubLive.Close()
	const (
		file = "file"
		live = "live"
		none = "not found"
	)
	for _, tc := range []struct {
		name string
		it   Item
		self string
		want string
	}{
		{"-2000 prefers the live stream", Item{Name: "both", Start: StartAny}, "", live},
		{"-2000 plays the file when nothing is live", Item{Name: "clip", Start: StartAny}, "", file},
		{"-2000 waits for a publisher when there is neither", Item{Name: "nothing", Start: StartAny}, "", live},
		{"any other negative start is -2000", Item{Name: "clip", Start: -1}, "", file},
		{"-1000 is live only, file or not", Item{Name: "clip", Start: StartLive}, "", live},
		{"0 prefers the file", Item{Name: "both", Start: 0}, "", file},
		{"0 falls back to a published live stream", Item{Name: "live", Start: 0}, "", live},
		{"0 with neither is not found", Item{Name: "nothing", Start: 0}, "", none},
		{"explicit container never plays live", Item{Name: "flv:live", Start: StartAny}, "", none},
		{"explicit container plays its file", Item{Name: "flv:both", Start: StartAny}, "", file},
		{"a refused name is not found", Item{Name: "../x", Start: StartAny}, "", none},
		{"a refused name does not fall back to live at 0", Item{Name: "../x", Start: 0}, "", none},
		{"a Live player's own stream plays its file", Item{Name: "both", Start: StartAny}, "both", file},
		{"a Live player's own stream never waits for itself", Item{Name: "tv", Start: StartAny}, "tv", none},
		{"-1000 of a Live player's own stream", Item{Name: "tv", Start: StartLive}, "tv", none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Resolve(l, tc.it, tc.self)
			got := file
			switch {
			case errors.Is(err, ErrNotFound):
				got = none
			case err != nil:
				t.Fatalf("err %v does not wrap ErrNotFound", err)
			case src.Live:
				got = live
			}
			if got != tc.want {
				t.Errorf("Resolve(%+v) = %s (%v), want %s", tc.it, got, err, tc.want)
			}
		})
	}
}

// One recorded item: where it starts, how long it plays, the events
// around it. Keyframes every 400 ms (every 10th frame at 25 fps).
func TestRecordedItemRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		file     string
		it       Item
		firstKey int64 // first picture (a keyframe), -1: no video
		last     uint32
		pictures int
		audio    int // audio frames other than the sequence header, -1 any
	}{
		{"start 0 plays the whole file", "clip", Item{Name: "clip", Start: 0, Len: -1}, 0, 1960, 50, 87},
		{"start inside a file: from the keyframe at or before it", "clip", Item{Name: "clip", Start: 1000, Len: -1}, 800, 1960, 30, -1},
		{"start -2000 without a publisher plays the file", "clip", Item{Name: "clip", Start: StartAny, Len: -1}, 0, 1960, 50, 87},
		{"start after the end: the last keyframe", "clip", Item{Name: "clip", Start: 5000, Len: -1}, 1600, 1960, 10, -1},
		{"len 500 from 0", "clip", Item{Name: "clip", Start: 0, Len: 500}, 0, 480, 13, -1},
		{"len counts from start, not from the keyframe", "clip", Item{Name: "clip", Start: 1000, Len: 200}, 800, 1200, 11, -1},
		{"len 0 is a single frame: the keyframe", "clip", Item{Name: "clip", Start: 1300, Len: 0}, 1200, 1200, 1, -1},
		{"len 0 of an audio-only file is one audio frame", "song", Item{Name: "song", Start: 500, Len: 0}, -1, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLib(t)
				l.write(t, "clip", 2000, 10)
				l.write(t, "song", 2000, 0)
				p := start(t, l, Options{}, tc.it, true)
				evs := run(t, p, nil, has(EventEOF))
				name := tc.it.Name
				want := []string{"begin " + name, "reset " + name, "start " + name, "complete " + name, "stop " + name, "eof " + name}
				if got := statuses(evs); !slices.Equal(got, want) {
					t.Errorf("statuses %q, want %q", got, want)
				}
				pics := pictures(evs)
				if tc.firstKey < 0 {
					if len(pics) != 0 {
						t.Errorf("video from an audio-only file: %v", pics)
					}
				} else {
					if len(pics) == 0 || !pics[0].key || int64(pics[0].ts) != tc.firstKey {
						t.Fatalf("first pictures %v, want a keyframe at %d", pics[:min(3, len(pics))], tc.firstKey)
					}
					if l := pics[len(pics)-1].ts; l != tc.last {
						t.Errorf("last picture at %d, want %d", l, tc.last)
					}
					if len(pics) != tc.pictures {
						t.Errorf("%d pictures, want %d", len(pics), tc.pictures)
					}
				}
				var audio int
				for _, f := range frames(evs, media.Audio) {
					if !f.cfg {
						audio++
					}
				}
				if tc.audio >= 0 && audio != tc.audio {
					t.Errorf("%d audio frames, want %d", audio, tc.audio)
				}
				// Metadata first, then configuration, at the start point.
				if i := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventPacket }); i < 0 || evs[i].Packet.Kind != media.Data {
					t.Errorf("the first packet is not the onMetaData")
				}
			})
		})
	}
}

// reset=false queues items: a missing one is skipped with NotFound, the
// next one follows with Switch and timestamps that continue one ms after
// the last one sent; no Reset for appended items.
func TestPlaylistResetFalse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLib(t)
		l.write(t, "a", 600, 5)
		l.write(t, "b", 600, 5)
		p := New(Options{Library: l}, Item{Name: "a", Len: -1}, true)
		t.Cleanup(p.Close)
		for _, n := range []string{"missing", "b"} {
			if err := p.Append(Item{Name: n, Len: -1}); err != nil {
				t.Fatal(err)
			}
		}
		p.Start()
		evs := run(t, p, nil, has(EventEOF))
		want := []string{"begin a", "reset a", "start a", "not_found missing", "switch b", "begin b", "start b",
			"complete b", "stop b", "eof b"}
		if got := statuses(evs); !slices.Equal(got, want) {
			t.Errorf("statuses %q, want %q", got, want)
		}
		var starts []bool
		for _, e := range evs {
			if e.Kind == EventStart {
				starts = append(starts, e.Info.First)
			}
		}
		if !slices.Equal(starts, []bool{true, false}) {
			t.Errorf("Start.First %v, want [true false]: only the opening item opens the play", starts)
		}
		pics := pictures(evs)
		// a: pictures 0..560 (15); the last audio of a is at 580; b starts
		// at 581 with its keyframe.
		if len(pics) != 30 || pics[14].ts != 560 || pics[15].ts != 581 || !pics[15].key || pics[29].ts != 581+560 {
			t.Errorf("pictures %v, want 0..560 then 581..1141", pics)
		}
		var last uint32
		for _, f := range frames(evs, 0) {
			if f.kind == media.Video && f.ts < last {
				t.Errorf("video went back to %d after %d", f.ts, last)
			}
			last = max(last, f.ts)
		}
		if sw := evs[slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventSwitch })]; sw.Time != 580 {
			t.Errorf("Switch travels at %d, want 580 (the last timestamp of a)", sw.Time)
		}
	})
}

// A live item in a playlist: Switch and Start, no PublishNotify for a
// stream already live, its packets re-based to continue the timeline,
// and it ends after its len.
func TestPlaylistLiveItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLib(t)
		l.write(t, "a", 600, 5)
		pub, err := l.reg.Publish("cam")
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		pub.Write(&media.Packet{Kind: media.Video, Time: 5000, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x42}})
		for i := range 3 {
			p := []byte{0x27, 1, 0, 0, 0, byte(i)}
			if i == 0 {
				p[0] = 0x17
			}
			pub.Write(&media.Packet{Kind: media.Video, Time: 5000 + uint32(i*40), Payload: p})
		}
		p := start(t, l, Options{}, Item{Name: "a", Len: -1}, true)
		if err := p.Append(Item{Name: "cam", Start: StartLive, Len: 300}); err != nil {
			t.Fatal(err)
		}
		evs := run(t, p, nil, has(EventStart))
		evs = run(t, p, evs, func(evs []Event) bool { return len(statuses(evs)) >= 5 }) // switch, begin, start cam
		pub.Write(&media.Packet{Kind: media.Video, Time: 5120, Payload: []byte{0x27, 1, 0, 0, 0, 9}})
		evs = run(t, p, evs, has(EventEOF))
		want := []string{"begin a", "reset a", "start a", "switch cam", "begin cam", "start cam", "complete cam", "stop cam", "eof cam"}
		if got := statuses(evs); !slices.Equal(got, want) {
			t.Errorf("statuses %q, want %q", got, want)
		}
		i := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventBegin && e.Info.Name == "cam" })
		if evs[i].Info.Recorded {
			t.Error("Begin of a live item says recorded")
		}
		live := frames(evs[i:], media.Video)
		wantTS := []uint32{581, 581, 621, 661, 701}
		var got []uint32
		for _, f := range live {
			got = append(got, f.ts)
		}
		if !slices.Equal(got, wantTS) {
			t.Errorf("live video at %v, want %v (re-based after a's 580)", got, wantTS)
		}
	})
}

// A live item that opens a play keeps its publisher's timestamps (as a
// file keeps its own), and its len applies: 0 is a single frame, > 0 ends
// it after that long.
func TestLiveItemOpensAPlay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		len   int64
		want  []uint32 // video timestamps received
		after time.Duration
	}{
		{"len 0: the first keyframe", 0, []uint32{5000, 5000}, 0},
		{"len 300: what comes within 300 ms", 300, []uint32{5000, 5000, 5040, 5080, 5120}, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLib(t)
				pub, err := l.reg.Publish("cam")
				if err != nil {
					t.Fatal(err)
				}
				defer pub.Close()
				pub.Write(&media.Packet{Kind: media.Video, Time: 5000, Payload: []byte{0x17, 0, 0, 0, 0, 1, 0x42}})
				pub.Write(&media.Packet{Kind: media.Video, Time: 5000, Payload: []byte{0x17, 1, 0, 0, 0, 0}})
				p := start(t, l, Options{}, Item{Name: "cam", Start: StartAny, Len: tc.len}, true)
				evs := run(t, p, nil, has(EventStart))
				for i := 1; i <= 3; i++ {
					pub.Write(&media.Packet{Kind: media.Video, Time: 5000 + uint32(i*40), Payload: []byte{0x27, 1, 0, 0, 0, byte(i)}})
					time.Sleep(40 * time.Millisecond)
				}
				time.Sleep(tc.after)
				pub.Write(&media.Packet{Kind: media.Video, Time: 9000, Payload: []byte{0x17, 1, 0, 0, 0, 9}})
				evs = run(t, p, evs, has(EventEOF))
				want := []string{"begin cam", "reset cam", "start cam", "complete cam", "stop cam", "eof cam"}
				if got := statuses(evs); !slices.Equal(got, want) {
					t.Errorf("statuses %q, want %q", got, want)
				}
				var got []uint32
				for _, f := range frames(evs, media.Video) {
					got = append(got, f.ts)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("video at %v, want %v", got, tc.want)
				}
			})
		})
	}
}

// Seek past the end lands on the last keyframe; the item then completes.
func TestSeekPastEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLib(t)
		l.write(t, "clip", 2000, 10)
		p := start(t, l, Options{Buffer: 100}, Item{Name: "clip", Len: -1}, true)
		evs := run(t, p, nil, has(EventStart))
		p.SeekTo(10_000)
		evs = run(t, p, evs, count(EventEOF, 2))
		i := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventSeek })
		if i < 0 || evs[i].Info.Pos != 10_000 {
			t.Fatalf("no Seek to 10000 in %q", statuses(evs))
		}
		want := []string{"eof clip", "begin clip", "seek clip", "start clip", "complete clip", "stop clip", "eof clip"}
		if got := statuses(evs); !slices.Equal(got[3:], want) {
			t.Errorf("statuses %q, want begin, reset, start then %q", got, want)
		}
		after := pictures(evs[i:])
		if len(after) != 10 || after[0].ts != 1600 || !after[0].key {
			t.Errorf("after the seek: %v, want the 10 pictures from the keyframe at 1600", after)
		}
		if evs[i+1].Kind != EventStart || evs[i+1].Info.First {
			t.Errorf("after Seek: %v, want a Start that does not open a play", evs[i+1])
		}
	})
}

// Pause stops the output (nothing is lost or sent while paused), unpause
// resumes where it stopped.
func TestPauseResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLib(t)
		l.write(t, "clip", 1500, 10)
		p := start(t, l, Options{Buffer: 100}, Item{Name: "clip", Len: -1}, true)
		evs := run(t, p, nil, func(evs []Event) bool { return len(pictures(evs)) >= 5 })
		p.Pause(true)
		evs = run(t, p, evs, has(EventPause))
		n := len(evs)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		evs = p.Drain(evs)
		paused := slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventPause })
		for _, e := range evs[paused:] {
			if e.Kind == EventPacket {
				t.Fatalf("packet while paused: %d events after %d", len(evs), n)
			}
		}
		p.Pause(false)
		evs = run(t, p, evs, count(EventEOF, 2))
		want := []string{"begin clip", "reset clip", "start clip", "pause clip", "eof clip", "begin clip", "unpause clip",
			"complete clip", "stop clip", "eof clip"}
		if got := statuses(evs); !slices.Equal(got, want) {
			t.Errorf("statuses %q, want %q", got, want)
		}
		if pics := pictures(evs); len(pics) != 38 || pics[37].ts != 1480 {
			t.Errorf("%d pictures, the last at %v; want 38 (none lost)", len(pics), pics[len(pics)-1])
		}
	})
}

// Pacing: with a 100 ms buffer and 500 ms lead, a client never has more
// than 600 ms ahead of real time, and Complete waits until it played out.
func TestPacingByBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLib(t)
		l.write(t, "clip", 3000, 25)
		begin := time.Now()
		p := start(t, l, Options{Buffer: 100}, Item{Name: "clip", Len: -1}, true)
		var evs []Event
		for !has(EventComplete)(evs) {
			<-p.Ready()
			evs = p.Drain(evs)
			el := time.Since(begin)
			for _, f := range frames(evs, 0) {
				if ahead := time.Duration(f.ts)*time.Millisecond - el; ahead > 600*time.Millisecond {
					t.Fatalf("at %v: media at %d ms, %v ahead", el, f.ts, ahead)
				}
			}
		}
		if el := time.Since(begin); el < 2900*time.Millisecond {
			t.Errorf("Complete after %v, want after the 3 s file played out", el)
		}
	})
}

// A Live player (a server-side playlist) continues the stream's timeline,
// strips the file-only metadata, and ends for good with its playlist.
func TestLivePlayerFeedsAStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLib(t)
		l.write(t, "a", 600, 5)
		p := start(t, l, Options{Live: true, Self: "tv", After: 1000, Buffer: 100, Lead: time.Millisecond}, Item{Name: "a", Len: -1}, false)
		evs := run(t, p, nil, has(EventEOF))
		<-p.Done()
		evs = p.Drain(evs)
		want := []string{"begin a", "start a", "complete a", "stop a", "eof a"}
		if got := statuses(evs); !slices.Equal(got, want) {
			t.Errorf("statuses %q, want %q", got, want)
		}
		if pics := pictures(evs); len(pics) == 0 || pics[0].ts != 1001 {
			t.Errorf("first picture %v, want at 1001 (after the stream's 1000)", pics)
		}
		md := evs[slices.IndexFunc(evs, func(e Event) bool { return e.Kind == EventPacket })].Packet
		m, err := flv.ParseMetadata(md.Payload, amf.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if m.Duration != 0 || !slices.ContainsFunc(m.Props, func(p amf.Prop) bool { return p.Key == "width" }) {
			t.Errorf("metadata %+v: want width kept, duration removed", m.Props)
		}
		if err := p.Append(Item{Name: "a"}); !errors.Is(err, ErrEnded) {
			t.Errorf("Append after the end: %v, want ErrEnded", err)
		}
	})
}

// A player whose playlist completed (not Live) starts an appended item at
// once, as a new play on the file's own timeline.
func TestAppendAfterComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLib(t)
		l.write(t, "a", 400, 5)
		p := start(t, l, Options{}, Item{Name: "missing", Start: 0, Len: -1}, true)
		evs := run(t, p, nil, has(EventNotFound))
		if err := p.Append(Item{Name: "a", Len: -1}); err != nil {
			t.Fatal(err)
		}
		evs = run(t, p, evs, has(EventEOF))
		if err := p.Append(Item{Name: "a", Len: -1}); err != nil {
			t.Fatal(err)
		}
		evs = run(t, p, evs, func(evs []Event) bool { return len(statuses(evs)) >= 11 })
		want := []string{"not_found missing", "begin a", "start a", "complete a", "stop a", "eof a", "begin a", "start a",
			"complete a", "stop a", "eof a"}
		if got := statuses(evs); !slices.Equal(got, want) {
			t.Errorf("statuses %q, want %q", got, want)
		}
		if pics := pictures(evs); len(pics) != 20 || pics[10].ts != 0 {
			t.Errorf("pictures %v: want the file twice on its own timeline", pics)
		}
	})
}

// The playlist is bounded (Config.MaxItems).
func TestPlaylistBound(t *testing.T) {
	l := newLib(t)
	l.write(t, "a", 400, 5)
	p := New(Options{Library: l, Config: Config{MaxItems: 2}}, Item{Name: "a", Len: -1}, true)
	defer p.Close()
	for i := range 3 {
		err := p.Append(Item{Name: "a", Len: -1})
		if want := i == 2; errors.Is(err, ErrPlaylistFull) != want {
			t.Errorf("append %d: %v", i, err)
		}
	}
}
