//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/status"
	"github.com/openfcs/openfcs/tunnel"
)

// The communication components (components.asc, docs/components.md) against
// the real binary, driven by the project's RTMP client through the
// components' methods and shared objects, as any non-browser client would.

// member is one client of a room: its connection and the component shared
// objects it subscribed to.
type member struct {
	t    testing.TB
	name string
	c    *rtmp.Client

	mu       sync.Mutex
	statuses []string // SharedObject status codes received
}

// joinRoom connects user to app/inst over transport ("rtmp", "rtmpt" or
// "rtmpws") with AMF encoding enc, the user name as connect argument.
func joinRoom(t testing.TB, ctx context.Context, srv *server, transport, path, user string, enc int) *member {
	t.Helper()
	cfg := rtmp.ClientConfig{ObjectEncoding: enc}
	var url string
	switch transport {
	case "rtmp":
		url = "rtmp://" + srv.rtmpAddr + "/" + path
	case "rtmpt":
		dial, cleanup := tunnel.Dialer(tunnel.DialConfig{IdleInterval: 5 * time.Millisecond})
		t.Cleanup(cleanup)
		cfg.Dial = dial
		url = "rtmpt://" + srv.httpAddr + "/" + path
	case "rtmpws":
		cfg.Dial = bridge.DialFunc(bridge.DialConfig{})
		url = "rtmpws://" + srv.httpAddr + "/" + path
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	var args []amf.Value
	if user != "" {
		args = append(args, amf.String(user))
	}
	c, err := rtmp.Dial(ctx, url, cfg, args...)
	if err != nil {
		t.Fatalf("%s joins %s over %s: %v", user, path, transport, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &member{t: t, name: user, c: c}
}

// call calls a component method and returns its answer, which must be
// {ok: true, ...} when wantOK.
func (m *member) call(ctx context.Context, method string, wantOK bool, args ...amf.Value) amf.Value {
	m.t.Helper()
	v, ok, err := m.c.CallInfo(ctx, method, args...)
	if err != nil || !ok {
		m.t.Fatalf("%s: %s: ok=%v err=%v answer %v", m.name, method, ok, err, v)
	}
	if got := v.Get("ok").Bool(); got != wantOK {
		m.t.Fatalf("%s: %s answered %v, want ok=%v", m.name, method, v, wantOK)
	}
	return v
}

// use connects the component instance comp ("FCChat.main") and
// subscribes to its shared object part ("history").
func (m *member) use(ctx context.Context, comp, part string) *rtmp.SharedObject {
	m.t.Helper()
	info := m.call(ctx, comp+".connect", true)
	name := info.Get("so").Get(part).Get("name").Str()
	if name == "" {
		m.t.Fatalf("%s: %s.connect names no shared object %q: %v", m.name, comp, part, info)
	}
	so := rtmp.NewSharedObject(name, info.Get("so").Get(part).Get("persistent").Bool())
	so.OnStatus = func(code, _ string) {
		m.mu.Lock()
		m.statuses = append(m.statuses, code)
		m.mu.Unlock()
	}
	if err := so.Connect(ctx, m.c); err != nil {
		m.t.Fatalf("%s: subscribe %s: %v", m.name, name, err)
	}
	return so
}

func (m *member) sawStatus(code string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.statuses, code)
}

// chatLines returns the lines of a history shared object in order, as
// "user: text".
func chatLines(so *rtmp.SharedObject) []string {
	type line struct {
		seq  int
		text string
	}
	var ls []line
	for k, v := range so.Data() {
		seq, err := strconv.Atoi(strings.TrimPrefix(k, "m"))
		if err != nil || int(v.Get("seq").Num()) != seq {
			continue
		}
		ls = append(ls, line{seq, v.Get("user").Str() + ": " + v.Get("text").Str()})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].seq < ls[j].seq })
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.text
	}
	return out
}

// names returns the sorted user names of a people or streams shared object.
func soNames(so *rtmp.SharedObject, field string) []string {
	var out []string
	for _, v := range so.Data() {
		out = append(out, v.Get(field).Str())
	}
	sort.Strings(out)
	return out
}

func waitEqual(t testing.TB, what string, want []string, got func() []string) {
	t.Helper()
	if !poll(20*time.Second, func() bool { return slices.Equal(got(), want) }) {
		t.Fatalf("%s: got %q, want %q", what, got(), want)
	}
}

// TestComponentsRoomGoClient: the room application with the project's
// client over RTMP, RTMP over WebSocket (AMF3) and RTMPT: the people
// list, chat lines in order for everyone and as history for a late
// joiner, a client's forged writes to the script-owned history refused,
// a second room isolated, ffmpeg publishing into the room listed as a
// participant, and a client that leaves dropped from the list.
func TestComponentsRoomGoClient(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"room"}})
	srv.copySampleApp(t, "room")
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	ann := joinRoom(t, ctx, srv, "rtmp", "room/r1", "ann", 0)
	annChat := ann.use(ctx, "FCChat.main", "history")
	annPeople := ann.use(ctx, "FCPeopleList.main", "people")
	ben := joinRoom(t, ctx, srv, "rtmpws", "room/r1", "ben", 3)
	benChat := ben.use(ctx, "FCChat.main", "history")
	benPeople := ben.use(ctx, "FCPeopleList.main", "people")
	for _, so := range []*rtmp.SharedObject{annPeople, benPeople} {
		waitEqual(t, "people list", []string{"ann", "ben"}, func() []string { return soNames(so, "name") })
	}

	// Lines in the order the server took them, for every member.
	var want []string
	for i := range 4 {
		ann.call(ctx, "FCChat.main.sendMessage", true, amf.String(fmt.Sprintf("a%d", i)))
		want = append(want, fmt.Sprintf("ann: a%d", i))
		ben.call(ctx, "FCChat.main.sendMessage", true, amf.String(fmt.Sprintf("b%d", i)))
		want = append(want, fmt.Sprintf("ben: b%d", i))
	}
	for _, so := range []*rtmp.SharedObject{annChat, benChat} {
		waitEqual(t, "chat lines", want, func() []string { return chatLines(so) })
	}

	// The history is the script's: a client writing it directly, or
	// sending on it, is refused, and nobody else sees anything.
	if err := benChat.SetProperty("m1", amf.Object(amf.Prop{Key: "seq", Value: amf.Number(1)},
		amf.Prop{Key: "user", Value: amf.String("ann")}, amf.Prop{Key: "text", Value: amf.String("forged")})); err != nil {
		t.Fatal(err)
	}
	if err := benChat.Send("newLine", amf.String("forged")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "ben's forged write refused", func() bool { return ben.sawStatus(status.NoWriteAccess) })
	waitEqual(t, "ben's copy restored", want, func() []string { return chatLines(benChat) })
	ann.call(ctx, "FCChat.main.sendMessage", true, amf.String("after"))
	want = append(want, "ann: after")
	waitEqual(t, "ann's lines untouched", want, func() []string { return chatLines(annChat) })
	for _, l := range chatLines(annChat) {
		if strings.Contains(l, "forged") {
			t.Fatalf("a forged line reached ann: %q", l)
		}
	}

	// A late joiner over RTMPT gets the history and the list.
	cat := joinRoom(t, ctx, srv, "rtmpt", "room/r1", "cat", 0)
	catChat := cat.use(ctx, "FCChat.main", "history")
	catPeople := cat.use(ctx, "FCPeopleList.main", "people")
	waitEqual(t, "late joiner's history", want, func() []string { return chatLines(catChat) })
	waitEqual(t, "late joiner's people list", []string{"ann", "ben", "cat"}, func() []string { return soNames(catPeople, "name") })

	// Another room sees none of it.
	dan := joinRoom(t, ctx, srv, "rtmp", "room/r2", "dan", 0)
	danChat := dan.use(ctx, "FCChat.main", "history")
	danPeople := dan.use(ctx, "FCPeopleList.main", "people")
	waitEqual(t, "other room's people", []string{"dan"}, func() []string { return soNames(danPeople, "name") })
	if l := chatLines(danChat); len(l) != 0 {
		t.Fatalf("room r2 sees room r1's chat: %q", l)
	}

	// ffmpeg publishing into the room is a participant of the conference.
	annStreams := ann.use(ctx, "FCVideoConference.main", "streams")
	pub := startPublisher(t, srv.RTMPURL("room/r1", "cam"), codecArgs{Video: h264NoB, Audio: aacAudio}, 0)
	waitEqual(t, "ffmpeg listed as a participant", []string{"cam"}, func() []string { return soNames(annStreams, "stream") })
	for _, v := range annStreams.Data() {
		if !v.Get("external").Bool() {
			t.Fatalf("ffmpeg's entry is not marked external: %v", v)
		}
	}
	pub.stop(t)
	waitEqual(t, "ffmpeg gone from the participants", nil, func() []string { return soNames(annStreams, "stream") })

	// Leaving drops the member from every list.
	_ = ben.c.Close()
	for _, so := range []*rtmp.SharedObject{annPeople, catPeople} {
		waitEqual(t, "people after ben left", []string{"ann", "cat"}, func() []string { return soNames(so, "name") })
	}
}

// TestComponentsPersistentChat: a chat created with persistent: true keeps
// its history across a server restart, in order, and numbering continues.
func TestComponentsPersistentChat(t *testing.T) {
	t.Parallel()
	apps := filepath.Join(t.TempDir(), "applications")
	main := `load("components.asc");
FCChat.create("main", { persistent: true, historyLength: 3 });
`
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	srv := startServer(t, serverOpts{Apps: []string{"talk"}, AppsDir: apps})
	srv.writeApp(t, "talk", map[string]string{"main.asc": main})
	eve := joinRoom(t, ctx, srv, "rtmp", "talk/desk", "eve", 0)
	for _, s := range []string{"one", "two", "three", "four"} {
		eve.call(ctx, "FCChat.main.sendMessage", true, amf.String(s))
	}
	eveChat := eve.use(ctx, "FCChat.main", "history")
	want := []string{"eve: two", "eve: three", "eve: four"}
	waitEqual(t, "history before the restart", want, func() []string { return chatLines(eveChat) })
	_ = eve.c.Close()
	srv.stop()

	srv2 := startServer(t, serverOpts{Apps: []string{"talk"}, AppsDir: apps})
	fay := joinRoom(t, ctx, srv2, "rtmpws", "talk/desk", "fay", 3)
	fayChat := fay.use(ctx, "FCChat.main", "history")
	waitEqual(t, "history after the restart", want, func() []string { return chatLines(fayChat) })
	if v := fay.call(ctx, "FCChat.main.sendMessage", true, amf.String("five")); v.Get("seq").Num() != 5 {
		t.Fatalf("numbering restarted: %v", v)
	}
	waitEqual(t, "history after a new line", []string{"eve: three", "eve: four", "fay: five"}, func() []string { return chatLines(fayChat) })
}
