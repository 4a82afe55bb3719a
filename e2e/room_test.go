//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
)

// The room application's page (/room/<name>, the communication
// components' custom elements on openfcs.js) in Chromium with a fake
// camera and microphone, against the real binary: the acceptance of
// docs/components.md#tests.

// roomPeople, roomChat, roomShapes and roomTiles read a room page's
// elements through their public properties.
const (
	roomPeople = `return [...(window.openfcsRoom?.people.people ?? [])].sort();`
	roomChat   = `return (window.openfcsRoom?.chat.messages ?? []).map((m) => m.user + ': ' + m.text);`
	roomShapes = `return (window.openfcsRoom?.board.shapes ?? []).map((s) => s.kind + ' by ' + s.user);`
)

// roomTile is one entry of <fcs-video-conference>.tiles.
type roomTile struct {
	User          string
	Stream        string
	Self          bool
	External      bool
	DecodedFrames int
	FPS           float64
	Level         float64
}

// tileProbe samples a page's remote tiles for seconds: frames decoded,
// the highest sound level its speaking indicator measured (an
// AnalyserNode on the player's output), and how many pixels of each
// tile's picture changed between the first and the last look (the
// canvas scaled to 64x48; a pixel changed when its red, green and blue
// moved by more than 24 together; none when either look found the
// canvas still empty).
const tileProbe = `
const v = window.openfcsRoom.video;
const canvases = () => [...v.shadowRoot.querySelectorAll('.tile:not(.self) canvas')];
const shrink = (c) => {
  if (!c.width || !c.height) return null;
  const g = document.createElement('canvas');
  g.width = 64; g.height = 48;
  const x = g.getContext('2d');
  x.drawImage(c, 0, 0, 64, 48);
  const d = x.getImageData(0, 0, 64, 48).data;
  // A canvas nothing was drawn on yet is no picture to compare.
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return d;
  return null;
};
const changed = (a, b) => {
  if (!a || !b) return 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 24) n++;
  }
  return n;
};
const first = new Map(v.tiles.filter((t) => !t.self).map((t) => [t.stream, t]));
const pics0 = canvases().map(shrink);
const peak = new Map();
const spoke = new Set();
for (let i = 0; i < 40; i++) {
  for (const t of v.tiles) {
    if (t.self) continue;
    peak.set(t.stream, Math.max(peak.get(t.stream) ?? 0, t.level));
    if (t.speaking) spoke.add(t.stream);
  }
  await new Promise((r) => setTimeout(r, 100));
}
const pics1 = canvases().map(shrink);
return v.tiles.filter((t) => !t.self).map((t, i) => ({
  user: t.user, stream: t.stream, external: t.external,
  frames: t.decodedFrames - (first.get(t.stream)?.decodedFrames ?? 0),
  fps: t.fps, peak: peak.get(t.stream) ?? 0, spoke: spoke.has(t.stream),
  changed: changed(pics0[i], pics1[i]),
}));`

// minChanged is the fewest pixels of 64x48 (0.5%) a moving picture
// changes in the probe's 4 s; a frozen one changes none. Chromium's fake
// camera turns a pie and runs a clock (38 to 460 seen), ffmpeg's test
// pattern runs a counter.
const minChanged = 16

type tileSample struct {
	User     string
	Stream   string
	External bool
	Frames   int
	FPS      float64
	Peak     float64
	Spoke    bool // the speaking indicator lit
	Changed  int
}

func evalStrings(t testing.TB, b *browser, page, js string) []string {
	t.Helper()
	var out []string
	b.eval(t, page, js, &out)
	return out
}

// waitStrings waits until js evaluates in page to want.
func waitStrings(t testing.TB, b *browser, page, what, js string, want []string) {
	t.Helper()
	var got []string
	if !poll(60*time.Second, func() bool {
		got = evalStrings(t, b, page, js)
		return slices.Equal(got, want)
	}) {
		t.Fatalf("%s: %s: got %q, want %q", page, what, got, want)
	}
}

// say posts a chat line from a page through its form and waits for the
// server's copy to come back.
func say(t testing.TB, b *browser, page, text string) {
	t.Helper()
	b.act(t, map[string]any{"op": "fill", "page": page, "selector": "fcs-chat input", "value": text})
	b.act(t, map[string]any{"op": "click", "page": page, "selector": "fcs-chat button[type=submit]"})
	b.wait(t, page, fmt.Sprintf(`return window.openfcsRoom.chat.messages.some((m) => m.text === %q);`, text), 30*time.Second)
}

// inked counts the non-blank pixels of a page's whiteboard.
func inked(t testing.TB, b *browser, page string) int {
	t.Helper()
	var n int
	b.eval(t, page, `
const c = window.openfcsRoom.board.shadowRoot.querySelector('canvas');
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let n = 0;
for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
return n;`, &n)
	return n
}

// checkTiles samples the remote tiles of every page of want (page ->
// the users whose tiles it must show) at once, and requires each user's
// tile with moving pictures and sound; a page that is not there yet is
// sampled again until a generous deadline. A tile that passed in one
// 4 s sample stays passed: four pages decoding four tiles each on a
// loaded two-core machine starve in turns, and a page's tiles need not
// all be fed in the same 4 s.
func checkTiles(t testing.TB, b *browser, want map[string][]string) map[string][]tileSample {
	t.Helper()
	got := map[string][]tileSample{}
	passed := map[string]map[string]tileSample{}
	pending := slices.Sorted(maps.Keys(want))
	deadline := time.Now().Add(90 * time.Second)
	for len(pending) > 0 {
		// The probes run in the pages side by side: a page's 4 s of
		// sampling does not wait for another's.
		for _, page := range pending {
			b.eval(t, page, "window.tileProbe = (async () => {"+tileProbe+"})(); return true;", nil)
		}
		var again []string
		for _, page := range pending {
			var samples []tileSample
			b.eval(t, page, "return await window.tileProbe;", &samples)
			got[page] = samples
			if passed[page] == nil {
				passed[page] = map[string]tileSample{}
			}
			for _, s := range samples {
				if tileOK(s) {
					passed[page][s.User] = s
				}
			}
			if !tilesOK(samples, want[page]) && !allPassed(samples, passed[page], want[page]) {
				again = append(again, page)
				t.Logf("%s: not yet (sampled again): %+v", page, samples)
			}
		}
		pending = again
		if len(pending) > 0 && time.Now().After(deadline) {
			for _, page := range pending {
				// What the players did with the sound, to tell a
				// publisher's timestamps from a starved page.
				var dbg any
				b.eval(t, page, `return [...window.openfcsRoom.video.remote.values()].map((t) => {
  const p = t.ns.player, a = p?.audio;
  return { user: t.slot.user, played: a?.played, dropped: a?.dropped, queued: a?.queue.length,
    audioAhead: a ? a.newest - p.clock.now() : null, lead: p ? p.newest - p.clock.now() : null,
    clock: p?.clock.kind, held: p?.clock.held, ctx: t.ns.audioContext?.state };
});`, &dbg)
				t.Errorf("%s: remote tiles %+v, want %q each with moving pictures and sound; players: %v", page, got[page], want[page], dbg)
			}
			t.FailNow()
		}
	}
	for _, page := range slices.Sorted(maps.Keys(want)) {
		for i, s := range got[page] {
			if p, ok := passed[page][s.User]; ok && !tileOK(s) {
				s, got[page][i] = p, p // the sample in which it passed
			}
			t.Logf("%s sees %s: %d frames in 4 s, %v fps, sound peak %.3f (speaking %v), %d of 3072 pixels changed", page, s.User, s.Frames, s.FPS, s.Peak, s.Spoke, s.Changed)
		}
	}
	return got
}

// tilesOK: the tiles are those of users, each with at least 5 new
// frames, minChanged pixels changed, a sound level above silence and
// the speaking indicator lit (the fake microphone beeps).
func tilesOK(got []tileSample, users []string) bool {
	var names []string
	for _, s := range got {
		names = append(names, s.User)
	}
	sort.Strings(names)
	if !slices.Equal(names, slices.Sorted(slices.Values(users))) {
		return false
	}
	for _, s := range got {
		if !tileOK(s) {
			return false
		}
	}
	return true
}

// tileOK: a tile sample with moving pictures and sound.
func tileOK(s tileSample) bool {
	return s.Frames >= 5 && s.Changed >= minChanged && s.Peak >= 0.001 && s.Spoke
}

// allPassed: the page shows exactly the tiles of users, and each has
// passed in some sample.
func allPassed(got []tileSample, passed map[string]tileSample, users []string) bool {
	var names []string
	for _, s := range got {
		names = append(names, s.User)
	}
	sort.Strings(names)
	if !slices.Equal(names, slices.Sorted(slices.Values(users))) {
		return false
	}
	for _, u := range users {
		if _, ok := passed[u]; !ok {
			return false
		}
	}
	return true
}

// others is everyone of all but who.
func others(all []string, who string) []string {
	return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == who })
}

// TestRoomChromium: three pages join room r1 with their cameras and see
// each other in the people list; chat lines reach all in order, and a
// page joining later gets the history; a stroke on one whiteboard reaches
// the others and the late page; each page shows the two others' tiles
// with moving pictures, sound and the speaking indicator; a muted
// microphone goes quiet on the others' tiles; the project's RTMP client chats with
// the pages through the chat component; ffmpeg publishing into the room
// is a tile on every page; a page of room r2 sees nothing of r1; a closed
// page leaves the lists. Screenshots of the three-participant room go to
// e2e/out/room-*.png.
func TestRoomChromium(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"room"}})
	srv.copySampleApp(t, "room")
	b := startBrowser(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	began := time.Now()
	stage := func(what string) { t.Logf("%5.1f s: %s", time.Since(began).Seconds(), what) }
	three := []string{"ann", "ben", "cat"}
	// Small pictures at 15 frames a second: five pages encode and decode
	// in one Chromium on a shared machine.
	for _, who := range three {
		b.open(t, who, srv.pageURL("/room/r1?camera=1&resolution=320x240&fps=15&user="+who))
	}
	for _, who := range three {
		waitStrings(t, b, who, "people", roomPeople, three)
	}

	stage("three pages joined, each lists the three")

	// Chat in order: each line waits for the server's copy before the
	// next is sent, so the order is known.
	var lines []string
	for i, who := range []string{"ann", "ben", "cat", "ann", "cat"} {
		text := fmt.Sprintf("line %d from %s", i+1, who)
		say(t, b, who, text)
		lines = append(lines, who+": "+text)
	}
	for _, who := range three {
		waitStrings(t, b, who, "chat", roomChat, lines)
	}

	stage("chat in order on the three")

	// Whiteboard: a pen stroke and a rectangle.
	b.act(t, map[string]any{"op": "draw", "page": "ben", "selector": "fcs-whiteboard canvas", "points": [][]float64{{0.1, 0.2}, {0.2, 0.6}, {0.35, 0.3}, {0.5, 0.7}}})
	b.act(t, map[string]any{"op": "click", "page": "cat", "selector": "fcs-whiteboard button[data-tool=rect]"})
	b.act(t, map[string]any{"op": "click", "page": "cat", "selector": "fcs-whiteboard button[data-color='#1a73e8']"})
	b.act(t, map[string]any{"op": "draw", "page": "cat", "selector": "fcs-whiteboard canvas", "points": [][]float64{{0.6, 0.2}, {0.9, 0.8}}})
	shapes := []string{"stroke by ben", "rect by cat"}
	for _, who := range three {
		waitStrings(t, b, who, "whiteboard", roomShapes, shapes)
		if n := inked(t, b, who); n < 500 {
			t.Errorf("%s: the whiteboard shows %d inked pixels after a stroke and a rectangle", who, n)
		}
	}

	stage("whiteboard on the three")

	// Video: each page shows the other two, moving and sounding.
	checkTiles(t, b, map[string][]string{"ann": others(three, "ann"), "ben": others(three, "ben"), "cat": others(three, "cat")})
	for _, who := range three {
		b.act(t, map[string]any{"op": "screenshot", "page": who, "path": artifact(t, "room-"+who+".png")})
	}

	stage("tiles moving and sounding, screenshots")

	// Muting: ann's microphone off reaches ben's tile of ann (the slot
	// says so and the sound stops), and on again.
	b.act(t, map[string]any{"op": "click", "page": "ann", "selector": `fcs-video-conference button:has-text("Mute microphone")`})
	b.wait(t, "ben", `const a = window.openfcsRoom.video.tiles.find((t) => t.user === 'ann');
return a && !a.audio && a.level < 0.001;`, 30*time.Second)
	b.act(t, map[string]any{"op": "click", "page": "ann", "selector": `fcs-video-conference button:has-text("Unmute microphone")`})
	b.wait(t, "ben", `const a = window.openfcsRoom.video.tiles.find((t) => t.user === 'ann');
return a && a.audio && a.level > 0.001;`, 30*time.Second)

	stage("mute and unmute")

	// The project's RTMP client in the same room, through the chat
	// component's methods and shared object.
	gopher := joinRoom(t, ctx, srv, "rtmp", "room/r1", "gopher", 0)
	gopherChat := gopher.use(ctx, "FCChat.main", "history")
	waitEqual(t, "the Go client's history", lines, func() []string { return chatLines(gopherChat) })
	gopher.call(ctx, "FCChat.main.sendMessage", true, amf.String("hello pages, from Go"))
	lines = append(lines, "gopher: hello pages, from Go")
	say(t, b, "ben", "hello gopher")
	lines = append(lines, "ben: hello gopher")
	for _, who := range three {
		waitStrings(t, b, who, "chat with the Go client", roomChat, lines)
		waitStrings(t, b, who, "people with the Go client", roomPeople, []string{"ann", "ben", "cat", "gopher"})
	}
	waitEqual(t, "the Go client sees the pages' lines", lines, func() []string { return chatLines(gopherChat) })

	stage("the Go client chatted")

	// A late joiner without a camera, while ffmpeg starts publishing
	// into the room (its start-up overlaps the page's): the joiner gets
	// the history, the drawing and the three tiles, and ffmpeg is a tile
	// on every page.
	pub := startPublisher(t, srv.RTMPURL("room/r1", "cam"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	b.open(t, "dan", srv.pageURL("/room/r1?user=dan"))
	waitStrings(t, b, "dan", "late joiner's chat", roomChat, lines)
	waitStrings(t, b, "dan", "late joiner's whiteboard", roomShapes, shapes)
	if n := inked(t, b, "dan"); n < 500 {
		t.Errorf("dan: the whiteboard shows %d inked pixels", n)
	}
	withCam := append(slices.Clone(three), "cam")
	for _, who := range append(slices.Clone(three), "dan") {
		b.wait(t, who, `return window.openfcsRoom.video.tiles.some((t) => t.user === 'cam' && t.decodedFrames > 0);`, 60*time.Second)
	}
	stage("the late joiner's chat and board, ffmpeg's tile decoding on the four")
	for who, got := range checkTiles(t, b, map[string][]string{
		"ann": others(withCam, "ann"), "ben": others(withCam, "ben"), "cat": others(withCam, "cat"), "dan": withCam,
	}) {
		for _, s := range got {
			if s.User == "cam" && !s.External {
				t.Errorf("%s: ffmpeg's tile is not marked as a stream: %+v", who, s)
			}
		}
	}
	b.act(t, map[string]any{"op": "screenshot", "page": "ann", "path": artifact(t, "room-ann-with-ffmpeg.png")})
	pub.stop(t)
	b.wait(t, "ann", `return !window.openfcsRoom.video.tiles.some((t) => t.user === 'cam');`, 30*time.Second)

	stage("the late joiner's and ffmpeg's tiles moving and sounding, ffmpeg gone")

	// Another room sees nothing of this one, and this one not it.
	b.open(t, "eve", srv.pageURL("/room/r2?camera=1&resolution=320x240&fps=15&user=eve"))
	waitStrings(t, b, "eve", "other room's people", roomPeople, []string{"eve"})
	b.wait(t, "eve", `return window.openfcsRoom.video.tiles.length === 1 && window.openfcsRoom.video.tiles[0].self && window.openfcsRoom.video.tiles[0].publishing;`, 60*time.Second)
	if got := evalStrings(t, b, "eve", roomChat); len(got) != 0 {
		t.Errorf("room r2 shows room r1's chat: %q", got)
	}
	if got := evalStrings(t, b, "eve", roomShapes); len(got) != 0 {
		t.Errorf("room r2 shows room r1's drawing: %q", got)
	}
	waitStrings(t, b, "ann", "r1 without r2's people", roomPeople, []string{"ann", "ben", "cat", "dan", "gopher"})
	var annTiles []roomTile
	b.eval(t, "ann", `return window.openfcsRoom.video.tiles;`, &annTiles)
	for _, tile := range annTiles {
		if tile.User == "eve" {
			t.Errorf("room r1 shows room r2's camera: %+v", tile)
		}
	}

	stage("the other room")

	// A page that closes leaves the people list and the tiles at once (a
	// page that vanishes without closing: TestRoomQuietAndVanishedPages).
	closedAt := time.Now()
	problems := b.do(t, time.Minute, map[string]any{"op": "close", "page": "cat"})
	if s := string(problems); s != "[]" && s != "null" {
		t.Errorf("page cat had problems: %s", s)
	}
	for _, who := range []string{"ann", "ben", "dan"} {
		waitStrings(t, b, who, "people after cat left", roomPeople, []string{"ann", "ben", "dan", "gopher"})
		b.wait(t, who, `return !window.openfcsRoom.video.tiles.some((t) => t.user === 'cat');`, 30*time.Second)
	}
	t.Logf("the closed page left the lists and tiles of the three others within %v", time.Since(closedAt).Round(100*time.Millisecond))
	for _, who := range []string{"ann", "ben", "dan", "eve"} {
		b.noProblems(t, who)
	}
	if l := srv.findLogs(func(m map[string]any) bool {
		return m["level"] == "ERROR" || (m["msg"] == "trace" && strings.Contains(fmt.Sprint(m["text"]), "refused"))
	}); len(l) > 0 {
		t.Errorf("server errors or refused publishes: %v", l)
	}
}
