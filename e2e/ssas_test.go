//go:build e2e

package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/status"
)

// Application scripts against the real binary.

// Acceptance 1: rtmpdump -C connect arguments reach the auth sample's
// onConnect with their types; right credentials play, wrong ones are
// rejected and rtmpdump shows the rejection with the script's message.
func TestSSASAuthRtmpdump(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Apps: []string{"live", "auth"}})
	srv.copySampleApp(t, "auth")
	url := "rtmp://" + srv.rtmpAddr + "/auth/cam"

	pub := startAuthPublisher(t, url, "S:alice S:secret")
	srv.waitTrace(t, "accepted alice")
	waitFor(t, 15*time.Second, "the publisher to go live", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "publish start" && m["stream"] == "cam" })) > 0
	})

	out := filepath.Join(t.TempDir(), "auth.flv")
	play := startProc(t, procOpts{}, "rtmpdump", "-v", "-r", url, "-o", out,
		"-C", "S:alice", "-C", "S:secret", "-C", "N:42", "-C", "B:1", "-C", "O:1", "-C", "NS:role:admin", "-C", "O:0")
	pl := &player{proc: play, out: out}
	waitFor(t, 20*time.Second, "rtmpdump to receive media", func() bool { return pl.size() > 100_000 })
	play.interrupt(t, 10*time.Second)
	if mi := probe(t, out); mi.frames("video") == 0 {
		t.Errorf("rtmpdump with the right credentials decoded no video")
	}
	srv.waitTrace(t, "onConnect args string:alice string:secret number:42 boolean:true object{role=admin}")

	bad := startProc(t, procOpts{Quiet: true}, "rtmpdump", "-V", "-r", url, "-o", filepath.Join(t.TempDir(), "bad.flv"),
		"-C", "S:alice", "-C", "S:wrong")
	if err := bad.wait(t, 20*time.Second); err == nil {
		t.Errorf("rtmpdump with wrong credentials exited 0")
	}
	se := bad.stderr.String()
	if !strings.Contains(se, "NetConnection.Connect.Rejected") || !strings.Contains(se, "Invalid credentials for alice") {
		t.Errorf("rtmpdump did not report the rejection with the script's message:\n%s", se)
	}
	srv.waitTrace(t, "rejected alice")
	pub.interrupt(t, 15*time.Second)
}

// Acceptance 2: ffmpeg publishing triggers onPublish/onUnpublish, the
// script refuses one name, and Stream.get + play republishes a live
// stream under another name that rtmpdump plays.
func TestSSASPublishHooksAndRepublish(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Apps: []string{"live", "hooks"}})
	srv.writeApp(t, "hooks", map[string]string{"main.asc": `
application.onPublish = function (client, stream) {
    trace("onPublish " + stream.name);
    if (stream.name == "forbidden") return false;
    if (stream.name == "src") {
        copy = Stream.get("copy");
        copy.onStatus = function (info) { trace("copy " + info.code); };
        copy.play("src", -1, -1, true);
    }
};
application.onUnpublish = function (client, stream) { trace("onUnpublish " + stream.name); };
`})
	base := "rtmp://" + srv.rtmpAddr + "/hooks/"

	refused := startAuthPublisher(t, base+"forbidden", "")
	if err := refused.wait(t, 30*time.Second); err == nil {
		t.Errorf("ffmpeg publishing a refused name exited 0")
	}
	srv.waitTrace(t, "onPublish forbidden")

	pub := startAuthPublisher(t, base+"src", "")
	srv.waitTrace(t, "onPublish src")
	srv.waitTrace(t, "copy NetStream.Play.Start")
	pl := startRtmpdumpPlayer(t, base+"copy")
	waitFor(t, 20*time.Second, "rtmpdump to receive the republished stream", func() bool { return pl.size() > 100_000 })
	pl.interrupt(t, 10*time.Second)
	mi := probe(t, pl.out)
	if mi.frames("video") == 0 || mi.frames("audio") == 0 {
		t.Errorf("republished stream: %d video, %d audio frames decoded", mi.frames("video"), mi.frames("audio"))
	}
	pub.interrupt(t, 15*time.Second)
	srv.waitTrace(t, "onUnpublish src")
}

// Acceptance 3: the project's client calls a Client.prototype method and
// gets its result, gets NetConnection.Call.Failed for a missing one, and
// answers a client.call from the server whose result reaches the script.
func TestSSASClientRPC(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"rpc"}})
	srv.copySampleApp(t, "rpc")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := srv.dialApp(t, ctx, "rpc/room")

	v, ok, err := c.CallInfo(ctx, "add", amf.Number(2), amf.Number(3))
	if err != nil || !ok || v.Num() != 5 {
		t.Fatalf("add(2, 3) = %v ok=%v err=%v, want 5", v, ok, err)
	}
	v, ok, err = c.CallInfo(ctx, "echo", amf.Object(amf.Prop{Key: "a", Value: amf.StrictArray(amf.String("x"), amf.Bool(true))}))
	if err != nil || !ok || v.Get("a").Len() != 2 {
		t.Fatalf("echo = %v ok=%v err=%v", v, ok, err)
	}
	v, ok, err = c.CallInfo(ctx, "noSuchMethod")
	if err != nil || ok || v.Get("code").Str() != status.CallFailed {
		t.Fatalf("noSuchMethod = %v ok=%v err=%v, want %s", v, ok, err, status.CallFailed)
	}

	if _, ok, err := c.CallInfo(ctx, "askClient", amf.String("meaning?")); err != nil || !ok {
		t.Fatalf("askClient: ok=%v err=%v", ok, err)
	}
	q := nextCall(t, ctx, c, "clientAnswer")
	if q.Txn == 0 || q.Arg(0).Str() != "meaning?" {
		t.Fatalf("clientAnswer call: txn %v args %v", q.Txn, q.Args)
	}
	if err := c.Reply(q.Txn, amf.Number(42), true); err != nil {
		t.Fatal(err)
	}
	got := nextCall(t, ctx, c, "gotAnswer")
	if got.Arg(0).Num() != 42 {
		t.Fatalf("gotAnswer(%v), want 42", got.Arg(0))
	}
	srv.waitTrace(t, "client answered 42")
}

// Acceptance 4: a connection left pending is accepted 500 ms later from a
// setInterval callback; another is rejected later and gets the script's
// info object in the _error's application field.
func TestSSASPendingConnect(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"pending"}})
	srv.writeApp(t, "pending", map[string]string{"main.asc": "" +
		"application.onConnect = function (client, mode) {\r" +
		"    if (mode == \"reject\") {\r" +
		"        setTimeout(function () { application.rejectConnection(client, {reason: \"room full\", code: 7}); }, 100);\r" +
		"        return null;\r" +
		"    }\r" +
		"    var id = setInterval(function () {\r" +
		"        clearInterval(id);\r" +
		"        trace(\"accepting \" + client.id);\r" +
		"        application.acceptConnection(client);\r" +
		"    }, 500);\r" +
		"};\r" +
		"Client.prototype.hello = function () { return \"hi\"; };\r"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	start := time.Now()
	c, info, ok := srv.connectInfo(t, ctx, "pending", amf.String("wait"))
	took := time.Since(start)
	if !ok || info.Get("code").Str() != status.ConnectSuccess {
		t.Fatalf("pending connect: ok=%v info=%v", ok, info)
	}
	if took < 450*time.Millisecond {
		t.Errorf("accepted after %v, want about 500ms", took)
	}
	t.Logf("pending connect accepted after %v", took.Round(time.Millisecond))
	if v, ok, err := c.CallInfo(ctx, "hello"); err != nil || !ok || v.Str() != "hi" {
		t.Errorf("hello after accept = %v %v %v", v, ok, err)
	}

	_, info, ok = srv.connectInfo(t, ctx, "pending", amf.String("reject"))
	if ok || info.Get("code").Str() != status.ConnectRejected {
		t.Fatalf("rejected connect: ok=%v info=%v", ok, info)
	}
	app := info.Get("application")
	if app.Get("reason").Str() != "room full" || app.Get("code").Num() != 7 {
		t.Errorf("info.application = %v, want {reason: room full, code: 7}", app)
	}
}

// Acceptance 5: a server-side NetConnection of instance rpc/front connects
// to instance rpc/backend of the same server, calls add there and gets
// the result.
func TestSSASServerSideNetConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"rpc"}})
	srv.copySampleApp(t, "rpc")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := srv.dialApp(t, ctx, "rpc/front")
	if v, ok, err := c.CallInfo(ctx, "remoteAdd", amf.Number(2), amf.Number(40)); err != nil || !ok || v.Str() != "connecting" {
		t.Fatalf("remoteAdd = %v %v %v", v, ok, err)
	}
	res := nextCall(t, ctx, c, "remoteResult")
	if res.Arg(0).Num() != 42 {
		t.Fatalf("remoteResult(%v), want 42", res.Arg(0))
	}
	srv.waitTrace(t, "backend: NetConnection.Connect.Success")
	srv.waitTrace(t, "server-side connect from rpc/front agent FlashCom/")
	srv.waitTrace(t, "backend sum 42")
}

// Acceptance 6: readAccess/writeAccess set by the script deny a play and
// a shared-object write outside the allowed prefixes.
func TestSSASAccessControl(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"acl"}})
	srv.writeApp(t, "acl", map[string]string{"main.asc": `
board = SharedObject.get("shared/board", false); // exists: Use is then a read
application.onConnect = function (client) {
    client.readAccess = "public;shared";
    client.writeAccess = "public";
    return true;
};
`})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := srv.dialApp(t, ctx, "acl")
	st, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Play(ctx, "private/cam", -2000)
	if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.PlayFailed {
		t.Errorf("play private/cam: %v, want %s", err, status.PlayFailed)
	}
	if err := st.Play(ctx, "public/cam", -2000); err != nil {
		t.Errorf("play public/cam: %v", err)
	}

	statuses := make(chan string, 8)
	so := rtmp.NewSharedObject("shared/board", false)
	so.OnStatus = func(code, _ string) { statuses <- code }
	if err := so.Connect(ctx, c); err != nil {
		t.Fatalf("use shared/board (read allowed): %v", err)
	}
	if err := so.SetProperty("x", amf.Number(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-statuses:
		if code != "SharedObject.NoWriteAccess" {
			t.Errorf("write to shared/board: status %s, want SharedObject.NoWriteAccess", code)
		}
	case <-ctx.Done():
		t.Fatal("no status for a write outside writeAccess")
	}
	pso := rtmp.NewSharedObject("public/board", false)
	if err := pso.Connect(ctx, c); err != nil {
		t.Fatalf("use public/board: %v", err)
	}
}

// Acceptance 8: a script that loops forever is interrupted after the time
// budget and its instance unloaded (its client gets AppShutdown), while a
// second instance of the same app and another app keep serving; the next
// connect loads the instance afresh.
func TestSSASRunawayScript(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"spin", "rpc"}, Config: "ssas:\n  max_script_time: 1s\n"})
	srv.copySampleApp(t, "rpc")
	srv.writeApp(t, "spin", map[string]string{"main.asc": `
Client.prototype.spin = function () { while (true) {} };
Client.prototype.ping = function () { return "pong " + application.name; };
`})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := srv.dialApp(t, ctx, "spin/x")
	b := srv.dialApp(t, ctx, "spin/y")
	other := srv.dialApp(t, ctx, "rpc")

	if err := a.Send("spin"); err != nil {
		t.Fatal(err)
	}
	// While x spins, y and the other app answer.
	if v, ok, err := b.CallInfo(ctx, "ping"); err != nil || !ok || v.Str() != "pong spin/y" {
		t.Errorf("spin/y ping during the loop = %v %v %v", v, ok, err)
	}
	if v, ok, err := other.CallInfo(ctx, "add", amf.Number(1), amf.Number(2)); err != nil || !ok || v.Num() != 3 {
		t.Errorf("rpc add during the loop = %v %v %v", v, ok, err)
	}
	shut := nextCall(t, ctx, a, "onStatus")
	if code := shut.Arg(0).Get("code").Str(); code != status.ConnectAppShutdown {
		t.Errorf("spinning instance's client got %s, want %s", code, status.ConnectAppShutdown)
	}
	select {
	case <-a.Done():
	case <-ctx.Done():
		t.Fatal("the spinning instance's client was not disconnected")
	}
	waitFor(t, 10*time.Second, "the instance failed log line", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool {
			return m["msg"] == "instance failed: unloading" && m["app"] == "spin" && m["instance"] == "x"
		})) > 0
	})
	if v, ok, err := b.CallInfo(ctx, "ping"); err != nil || !ok || v.Str() != "pong spin/y" {
		t.Errorf("spin/y ping after the unload = %v %v %v", v, ok, err)
	}
	again := srv.dialApp(t, ctx, "spin/x")
	if v, ok, err := again.CallInfo(ctx, "ping"); err != nil || !ok || v.Str() != "pong spin/x" {
		t.Errorf("restarted spin/x ping = %v %v %v", v, ok, err)
	}
}

// A syntax error in main.asc rejects connects with a clear description
// and nothing of the script's insides; a fixed file is picked up by the
// next connect.
func TestSSASSyntaxError(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"broken"}})
	srv.writeApp(t, "broken", map[string]string{"main.asc": "application.onConnect = function (c) {\n  return true\n;;; }}}\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, info, ok := srv.connectInfo(t, ctx, "broken")
	if ok || info.Get("code").Str() != status.ConnectRejected || info.Get("description").Str() != instance.ScriptErrorDescription {
		t.Fatalf("connect to a broken script: ok=%v info=%v", ok, info)
	}
	checkGenericRejection(t, info)
	waitFor(t, 10*time.Second, "the compile error logged with file and line", func() bool {
		return len(scriptErrorLogs(srv, "broken")) == 1 && scriptErrorLogs(srv, "broken")[0]["line"] == 3.0
	})
	srv.writeApp(t, "broken", map[string]string{"main.asc": "application.onConnect = function (c) { return true; };\n"})
	if _, info, ok := srv.connectInfo(t, ctx, "broken"); !ok {
		t.Fatalf("connect after the fix: %v", info)
	}
}

// checkGenericRejection fails unless the rejection's application field is
// the short generic message: no file name, path or Go error text.
func checkGenericRejection(t testing.TB, info amf.Value) {
	t.Helper()
	app := info.Get("application").Str()
	if app != instance.ScriptErrorApplication {
		t.Errorf("info.application = %q, want %q", app, instance.ScriptErrorApplication)
	}
	for _, leak := range []string{".asc", "/", "instance:", "Error:", "no such file"} {
		if strings.Contains(app+info.Get("description").Str(), leak) {
			t.Errorf("the rejection carries %q: %v", leak, info)
		}
	}
}

// scriptErrorLogs returns the server's `script error` lines of app.
func scriptErrorLogs(srv *server, app string) []map[string]any {
	return srv.findLogs(func(m map[string]any) bool { return m["msg"] == "script error" && m["app"] == app })
}

// An authentication application whose load() of its library fails must
// not come up without its onConnect: every connect is rejected (the
// project's client and rtmpdump), the rejection says only that the
// application failed, and the log names main.asc and the line once for
// all those connects. Adding the library makes the next connect load it.
func TestSSASLoadErrorRejectsEveryConnect(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"gate"}})
	srv.writeApp(t, "gate", map[string]string{"main.asc": "trace(\"gate loading\");\n" +
		"load(\"passwords.asc\");\n" +
		"application.onConnect = function (client, user, pass) {\n" +
		"    return passwords[user] === pass;\n" +
		"};\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for i := range 3 {
		_, info, ok := srv.connectInfo(t, ctx, "gate", amf.String("alice"), amf.String("anything"))
		if ok || info.Get("code").Str() != status.ConnectRejected {
			t.Fatalf("connect %d to an app whose load() failed: ok=%v info=%v", i, ok, info)
		}
		checkGenericRejection(t, info)
	}
	dump := startProc(t, procOpts{Quiet: true}, "rtmpdump", "-V", "-r", "rtmp://"+srv.rtmpAddr+"/gate/cam",
		"-o", filepath.Join(t.TempDir(), "gate.flv"), "-C", "S:alice", "-C", "S:anything")
	if err := dump.wait(t, 20*time.Second); err == nil {
		t.Errorf("rtmpdump connecting to an app whose load() failed exited 0")
	}
	if se := dump.stderr.String(); !strings.Contains(se, status.ConnectRejected) {
		t.Errorf("rtmpdump did not report %s:\n%s", status.ConnectRejected, se)
	}

	errs := scriptErrorLogs(srv, "gate")
	if len(errs) != 1 {
		t.Fatalf("%d `script error` lines for 4 connects, want 1 (once per load): %v", len(errs), errs)
	}
	if errs[0]["file"] != "main.asc" || errs[0]["line"] != 2.0 {
		t.Errorf("script error names %v:%v, want main.asc:2", errs[0]["file"], errs[0]["line"])
	}
	if st, _ := errs[0]["stack"].(string); strings.Contains(st, "github.com") || strings.Contains(st, "(native)") {
		t.Errorf("the script stack shows host frames: %q", st)
	}
	if n := strings.Count(strings.Join(srv.traces(), "\n"), "gate loading"); n != 1 {
		t.Errorf("the script ran %d times for 4 connects, want 1", n)
	}

	srv.writeApp(t, "gate", map[string]string{"passwords.asc": "var passwords = {alice: \"secret\"};\n"})
	if _, info, ok := srv.connectInfo(t, ctx, "gate", amf.String("alice"), amf.String("secret")); !ok {
		t.Fatalf("right password after the library was added: %v", info)
	}
	if _, info, ok := srv.connectInfo(t, ctx, "gate", amf.String("alice"), amf.String("guess")); ok {
		t.Fatalf("wrong password accepted after the library was added: %v", info)
	}
}

// A client accepted later, from a timer, is in application.clients and
// receives application.broadcastMsg, as is one accepted inside onConnect.
func TestSSASDeferredClientGetsBroadcast(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOpts{Apps: []string{"lobby"}})
	srv.writeApp(t, "lobby", map[string]string{"main.asc": `
function names() {
    var s = [];
    for (var i = 0; i < application.clients.length; i++) s.push(application.clients[i].nick);
    return s.join(",");
}
application.onConnect = function (client, nick) {
    client.nick = nick;
    if (nick == "late") {
        setTimeout(function () {
            application.acceptConnection(client);
            application.broadcastMsg("joined", nick, names());
        }, 300);
        return null;
    }
    application.acceptConnection(client);
    application.broadcastMsg("joined", nick, names());
};
Client.prototype.who = function () { return names(); };
Client.prototype.shout = function (text) { application.broadcastMsg("heard", this.nick, text); return true; };
`})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	early := srv.dialApp(t, ctx, "lobby", amf.String("early"))
	if got := nextCall(t, ctx, early, "joined"); got.Arg(0).Str() != "early" || got.Arg(1).Str() != "early" {
		t.Fatalf("early's own joined(%v), want early with clients early", got.Args)
	}
	late := srv.dialApp(t, ctx, "lobby", amf.String("late"))
	for who, c := range map[string]*rtmp.Client{"early": early, "late": late} {
		got := nextCall(t, ctx, c, "joined")
		if got.Arg(0).Str() != "late" || got.Arg(1).Str() != "early,late" {
			t.Errorf("%s got joined(%v), want late with clients early,late", who, got.Args)
		}
	}
	if v, ok, err := early.CallInfo(ctx, "who"); err != nil || !ok || v.Str() != "early,late" {
		t.Errorf("application.clients = %v %v %v, want early,late", v, ok, err)
	}
	if _, ok, err := early.CallInfo(ctx, "shout", amf.String("hello")); err != nil || !ok {
		t.Fatalf("shout: %v %v", ok, err)
	}
	for who, c := range map[string]*rtmp.Client{"early": early, "late": late} {
		if got := nextCall(t, ctx, c, "heard"); got.Arg(0).Str() != "early" || got.Arg(1).Str() != "hello" {
			t.Errorf("%s got heard(%v), want early hello", who, got.Args)
		}
	}
}
