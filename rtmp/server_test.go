package rtmp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testServer struct {
	srv  *Server
	eng  *instance.Manager
	addr string
	apps string // the applications folder
	logs *testutil.LogBuffer
}

// startServer runs a Server on a loopback port with an applications folder
// holding "live"; it is shut down at cleanup and its log printed on failure.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg, instance.Config{})
}

// startServerWith is startServer with an engine configuration (its
// AppsDir is replaced).
func startServerWith(t testing.TB, cfg Config, icfg instance.Config) *testServer {
	t.Helper()
	log, logs := testutil.Logger(t, slog.LevelDebug)
	icfg.AppsDir = testutil.Apps(t, "live")
	eng := instance.NewManager(icfg, log)
	t.Cleanup(eng.Close) // after the server's shutdown (cleanups run in reverse)
	srv := &Server{Config: cfg, Logger: log, Engine: eng}
	addr, _ := testutil.Serve(t, srv, ErrServerClosed)
	return &testServer{srv: srv, eng: eng, addr: addr, apps: icfg.AppsDir, logs: logs}
}

func (ts *testServer) url(path string) string { return "rtmp://" + ts.addr + "/" + path }

func dial(t testing.TB, ts *testServer, path string, cfg ClientConfig) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, ts.url(path), cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// publishStream connects a client to app and publishes name live on a new
// stream.
func publishStream(ctx context.Context, t testing.TB, ts *testServer, app, name string) *ClientStream {
	t.Helper()
	ns, err := dial(t, ts, app, ClientConfig{}).CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Publish(ctx, name, "live"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// playLive connects a client to app and plays name live on a new
// stream, its messages recorded by rec from Play.Start on.
func playLive(ctx context.Context, t testing.TB, ts *testServer, app, name string, rec *packetRecorder) *ClientStream {
	t.Helper()
	ns, err := dial(t, ts, app, ClientConfig{}).CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns.OnPacket = rec.add
	if err := ns.Play(ctx, name, -1000); err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestConnectInvalidApp(t *testing.T) {
	ts := startServer(t, Config{})
	_, err := Dial(testutil.Context(t, 5*time.Second), ts.url("nosuchapp"), ClientConfig{})
	se, ok := errors.AsType[*status.Error](err)
	if !ok || se.Code != status.ConnectInvalidApp {
		t.Fatalf("err = %v, want %s", err, status.ConnectInvalidApp)
	}
}

func TestConnectBothEncodingsAndHandshakes(t *testing.T) {
	ts := startServer(t, Config{})
	for _, tc := range []struct {
		name string
		cfg  ClientConfig
	}{
		{"flash player 9 digest amf3", ClientConfig{Digest: true, ObjectEncoding: 3}},
		{"librtmp simple amf0", ClientConfig{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testutil.Context(t, 5*time.Second)
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewClient(ctx, nc, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			info, err := c.Connect(ctx, "live/room1", ts.url("live/room1"))
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Get("code").Str(); got != status.ConnectSuccess {
				t.Errorf("code = %q", got)
			}
			if got := info.Get("objectEncoding").Num(); got != float64(tc.cfg.ObjectEncoding) {
				t.Errorf("objectEncoding echoed %v, want %d", got, tc.cfg.ObjectEncoding)
			}
			found := false
			for _, in := range ts.eng.Instances() {
				found = found || (in.App == "live" && in.Name == "room1")
			}
			if !found {
				t.Error("instance live/room1 not loaded")
			}
		})
	}
}

func TestPublishBadNameWhenBusy(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	a := dial(t, ts, "live", ClientConfig{})
	sa, err := a.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Publish(ctx, "s1", "live"); err != nil {
		t.Fatal(err)
	}
	b := dial(t, ts, "live", ClientConfig{})
	sb, err := b.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = sb.Publish(ctx, "s1", "live")
	if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.PublishBadName {
		t.Fatalf("second publish: %v, want %s", err, status.PublishBadName)
	}
	// Same name in another instance is a different stream.
	c := dial(t, ts, "live/other", ClientConfig{})
	sc, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Publish(ctx, "s1", "live"); err != nil {
		t.Fatalf("publish in other instance: %v", err)
	}
}

func TestPublishRefusesEscapingNames(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	c := dial(t, ts, "live", ClientConfig{})
	for _, name := range []string{"../x", "a/../../b", "/abs", `a\b`, "c:x", "a\x00b", ""} {
		s, err := c.CreateStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Publish(ctx, name, "live")
		if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.PublishBadName {
			t.Errorf("publish %q: %v, want BadName", name, err)
		}
	}
}

// packetRecorder collects what a ClientStream receives.
type packetRecorder struct {
	mu   sync.Mutex
	pkts []media.Packet
}

func (r *packetRecorder) add(p media.Packet) {
	r.mu.Lock()
	r.pkts = append(r.pkts, p)
	r.mu.Unlock()
}

func (r *packetRecorder) snapshot() []media.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]media.Packet(nil), r.pkts...)
}

var (
	avcConfig = []byte{0x17, 0x00, 0, 0, 0, 0x01, 0x64, 0x00, 0x1f}
	aacConfig = []byte{0xaf, 0x00, 0x12, 0x10}
)

func keyframe(i byte) []byte { return []byte{0x17, 0x01, 0, 0, 0, i} }
func interframe(i byte) []byte {
	return append([]byte{0x27, 0x01, 0, 0, 0x28, i}, bytes.Repeat([]byte{i}, 5000)...)
}

func TestLivePublishPlayAndLateJoiner(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)

	pubC := dial(t, ts, "live", ClientConfig{Digest: true})
	pub, err := pubC.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "s1", "live"); err != nil {
		t.Fatal(err)
	}

	early := &packetRecorder{}
	earlyC := dial(t, ts, "live", ClientConfig{})
	es, err := earlyC.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	es.OnPacket = early.add
	if err := es.Play(ctx, "s1", -1000); err != nil {
		t.Fatal(err)
	}

	meta, err := amf.AppendAMF0Values(nil, amf.String("@setDataFrame"), amf.String("onMetaData"),
		amf.ECMAArray(amf.Prop{Key: "width", Value: amf.Number(320)}))
	if err != nil {
		t.Fatal(err)
	}
	send := func(p media.Packet) {
		t.Helper()
		if err := pub.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	send(media.Packet{Kind: media.Data, Payload: meta})
	send(media.Packet{Kind: media.Video, Payload: avcConfig})
	send(media.Packet{Kind: media.Audio, Payload: aacConfig})
	send(media.Packet{Kind: media.Video, Time: 0, Payload: keyframe(1)})
	for i := range 10 {
		send(media.Packet{Kind: media.Video, Time: uint32(40 * (i + 1)), Payload: interframe(byte(i))})
		send(media.Packet{Kind: media.Audio, Time: uint32(40*(i+1) + 3), Payload: []byte{0xaf, 0x01, byte(i)}})
	}
	testutil.WaitFor(t, 5*time.Second, "early player gets 25 messages", func() bool { return len(early.snapshot()) >= 25 })
	got := early.snapshot()
	// Play.Start is followed by |RtmpSampleAccess and onStatus Data.Start,
	// then the stream's own messages.
	for _, want := range []string{"|RtmpSampleAccess", "onStatus", "onMetaData"} {
		if got[0].Kind != media.Data {
			t.Fatalf("want data %s, got %v", want, got[0].Kind)
		}
		if h, _, _ := message.Handler(got[0].Payload); h != want {
			t.Fatalf("data handler %q, want %q", h, want)
		}
		got = got[1:]
	}
	for i, p := range got[1:] {
		if p.Kind == media.Video && i+1 < len(got) && len(p.Payload) > 5000 && p.Time != uint32(40*(int(p.Payload[5])+1)) {
			t.Errorf("video %d time %d", p.Payload[5], p.Time)
		}
	}

	// A late joiner starts with metadata, configs and the cached GOP: its
	// first video message is the config, then the keyframe.
	late := &packetRecorder{}
	lateC := dial(t, ts, "live", ClientConfig{ObjectEncoding: 3})
	ls, err := lateC.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ls.OnPacket = late.add
	if err := ls.Play(ctx, "s1", -2000); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "late joiner gets the GOP", func() bool { return len(late.snapshot()) >= 14 })
	var videos []media.Packet
	for _, p := range late.snapshot() {
		if p.Kind == media.Video {
			videos = append(videos, p)
		}
	}
	if !bytes.Equal(videos[0].Payload, avcConfig) || !bytes.Equal(videos[1].Payload, keyframe(1)) {
		t.Fatalf("late joiner's first video messages = %x, %x; want config then keyframe", videos[0].Payload, videos[1].Payload[:6])
	}

	// Unpublish reaches players as UnpublishNotify.
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := es.WaitStatus(ctx, status.PlayUnpublishNotify); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	good := dial(t, ts, "live", ClientConfig{})

	cases := map[string][]byte{
		"random bytes":        bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 1000),
		"rtmpe version":       append([]byte{0x06}, make([]byte, 1536)...),
		"truncated handshake": append([]byte{0x03}, make([]byte, 100)...),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_, _ = nc.Write(in)
			if name == "truncated handshake" {
				_ = nc.(*net.TCPConn).CloseWrite()
			}
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			for {
				if _, err := nc.Read(buf); err != nil {
					break // closed by the server
				}
			}
		})
	}
	if _, err := good.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
		t.Fatalf("good connection disturbed: %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "closed lines", func() bool { return bytes.Count([]byte(ts.logs.String()), []byte("reason=handshake")) >= 3 })
}

func TestUnknownMethodGetsCallFailed(t *testing.T) {
	ts := startServer(t, Config{})
	c := dial(t, ts, "live", ClientConfig{})
	_, err := c.Call(testutil.Context(t, 5*time.Second), "noSuchMethod", amf.Number(1))
	if se, ok := errors.AsType[*status.Error](err); !ok || se.Code != status.CallFailed {
		t.Fatalf("err = %v, want %s", err, status.CallFailed)
	}
}

// TestPublishedAfterPlayStartReachesPlayer: what a publisher sends once
// the player has read Play.Start reaches the player whole, earlier GOPs
// included, however long the server takes between queuing the status and
// writing the play.
func TestPublishedAfterPlayStartReachesPlayer(t *testing.T) {
	ts := startServer(t, Config{})
	hold := func() { time.Sleep(300 * time.Millisecond) }
	ts.srv.playQueued.Store(&hold)
	ctx := testutil.Context(t, 10*time.Second)
	pub := publishStream(ctx, t, ts, "live", "s")
	rec := &packetRecorder{}
	playLive(ctx, t, ts, "live", "s", rec)
	send := func(p media.Packet) {
		t.Helper()
		if err := pub.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	send(media.Packet{Kind: media.Video, Payload: avcConfig})
	const n = 15 // three GOPs: only the last would be cached for a late subscription
	for i := range n {
		p := interframe(byte(i))
		if i%5 == 0 {
			p = keyframe(byte(i))
		}
		send(media.Packet{Kind: media.Video, Time: uint32(40 * i), Payload: p})
		send(media.Packet{Kind: media.Audio, Time: uint32(40 * i), Payload: []byte{0xaf, 0x01, byte(i)}})
	}
	testutil.WaitFor(t, 5*time.Second, "every message published after Play.Start", func() bool {
		var v, a int
		for _, p := range rec.snapshot() {
			switch p.Kind {
			case media.Video:
				v++
			case media.Audio:
				a++
			}
		}
		return v == n+1 && a == n
	})
}
