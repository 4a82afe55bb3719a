package rtmp

import (
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// fakeSignaller answers every offer with a fixed answer, or refuses with
// err; it records what it was asked.
type fakeSignaller struct {
	err     error
	control playback.Control // what a play of a recorded stream returns
	stops   atomic.Int32

	mu      sync.Mutex
	client  *instance.Client
	app     string
	publish bool
	stream  string
	query   string
	offer   string
	ended   func(string)
}

func (f *fakeSignaller) Negotiate(in *instance.Instance, cl *instance.Client, publish bool, stream, query, offer string,
	ended func(string)) (string, func(), playback.Control, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.client, f.app, f.publish, f.stream, f.query, f.offer, f.ended = cl, in.App, publish, stream, query, offer, ended
	if f.err != nil {
		return "", nil, nil, f.err
	}
	return "v=0 answer", func() { f.stops.Add(1) }, f.control, nil
}

type codeErr int

func (e codeErr) Error() string   { return "the stream's H.264 has B-frames" }
func (e codeErr) StatusCode() int { return int(e) }

// startSignalServer is startServer with a Signaller set before serving.
func startSignalServer(t *testing.T, sig Signaller) *testServer {
	t.Helper()
	log, logs := testutil.Logger(t, slog.LevelDebug)
	apps := testutil.Apps(t, "live")
	eng := instance.NewManager(instance.Config{AppsDir: apps}, log)
	t.Cleanup(eng.Close)
	srv := &Server{Logger: log, Engine: eng, Signal: sig}
	addr, _ := testutil.Serve(t, srv, ErrServerClosed)
	return &testServer{srv: srv, eng: eng, addr: addr, apps: apps, logs: logs}
}

func offer(t *testing.T, c *Client, s *ClientStream, mode, name string) (*message.Command, error) {
	t.Helper()
	return c.call(testutil.Context(t, 5*time.Second), message.CSIDCommand, s.ID, "webrtcOffer", amf.Null(),
		amf.Object(amf.Prop{Key: "mode", Value: amf.String(mode)}, amf.Prop{Key: "name", Value: amf.String(name)},
			amf.Prop{Key: "sdp", Value: amf.String("v=0 offer")}))
}

// The bytes openfcs.js sends (web/test/rtc.test.js) decode to the command
// the session expects.
func TestWebRTCOfferVector(t *testing.T) {
	p, _ := hex.DecodeString(strings.ReplaceAll("02 00 0b 77 65 62 72 74 63 4f 66 66 65 72 00 40 14 00 00 00 00 00 00 05 03 00 04 6d 6f 64 65 02 00 04 70 6c 61 79 "+
		"00 04 6e 61 6d 65 02 00 01 73 00 03 73 64 70 02 00 03 76 3d 30 00 00 09", " ", ""))
	cmd, err := message.ParseCommand(p, message.TypeCommand, new(amf.Decoder), nil)
	if err != nil {
		t.Fatal(err)
	}
	o := cmd.Arg(0)
	if cmd.Name != "webrtcOffer" || cmd.Txn != 5 || o.Get("mode").Str() != "play" || o.Get("name").Str() != "s" || o.Get("sdp").Str() != "v=0" {
		t.Fatalf("decoded %+v", cmd)
	}
}

// A NetStream's offer reaches the Signaller with the connection's own
// client (the stream name's query apart); the answer is the _result, the
// stream reports Publish.Start with transport webrtc, and closing the
// stream stops the peer once.
func TestWebRTCOfferAnswered(t *testing.T) {
	sig := &fakeSignaller{}
	ts := startSignalServer(t, sig)
	c := dial(t, ts, "live", ClientConfig{})
	s, err := c.CreateStream(testutil.Context(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r, err := offer(t, c, s, "publish", "cam?key=1")
	if err != nil {
		t.Fatal(err)
	}
	info := r.Arg(0)
	if info.Get("code").Str() != status.WebRTCAnswer || info.Get("sdp").Str() != "v=0 answer" {
		t.Fatalf("_result %v", r.Args)
	}
	st, err := s.WaitStatus(testutil.Context(t, 5*time.Second), status.PublishStart)
	if err != nil || st.Get("transport").Str() != "webrtc" {
		t.Fatalf("status %v, %v; want Publish.Start over webrtc", st, err)
	}
	sig.mu.Lock()
	if sig.client == nil || sig.app != "live" || !sig.publish || sig.stream != "cam" || sig.query != "key=1" || sig.offer != "v=0 offer" {
		t.Errorf("signaller asked: client %v app %q publish %v stream %q query %q offer %q", sig.client, sig.app, sig.publish, sig.stream, sig.query, sig.offer)
	}
	ended := sig.ended
	sig.mu.Unlock()
	// The peer ending by itself is told on the stream.
	ended("peer_gone")
	st, err = s.WaitStatus(testutil.Context(t, 5*time.Second), status.WebRTCClosed)
	if err != nil || st.Get("reason").Str() != "peer_gone" {
		t.Fatalf("status %v, %v; want WebRTC.Closed", st, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); sig.stops.Load() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the peer stopped %d times, want once", sig.stops.Load())
		}
	}
}

// A refusal is the command's _error with the status of the equivalent
// WHIP or WHEP refusal; without a Signaller the answer is 503.
func TestWebRTCOfferRefused(t *testing.T) {
	for _, tc := range []struct {
		sig  Signaller
		mode string
		want int
	}{
		{nil, "play", http.StatusServiceUnavailable},
		{&fakeSignaller{err: codeErr(http.StatusUnprocessableEntity)}, "play", http.StatusUnprocessableEntity},
		{&fakeSignaller{err: errors.New("plain")}, "play", http.StatusBadRequest},
		{&fakeSignaller{}, "record", http.StatusBadRequest},
	} {
		ts := startSignalServer(t, tc.sig)
		c := dial(t, ts, "live", ClientConfig{})
		s, err := c.CreateStream(testutil.Context(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		r, err := offer(t, c, s, tc.mode, "cam")
		if _, ok := errors.AsType[*status.Error](err); !ok || r == nil {
			t.Fatalf("%d: err %v; want an _error", tc.want, err)
		}
		info := r.Arg(0)
		if info.Get("code").Str() != status.WebRTCFailed || int(info.Get("status").Num()) != tc.want {
			t.Errorf("_error %v; want %s with status %d", info, status.WebRTCFailed, tc.want)
		}
	}
}

// A recorded stream played out over WebRTC ends the play as over RTMP
// (Play.Stop), not as a failed peer the page would fall back from.
func TestWebRTCPlayCompleted(t *testing.T) {
	sig := &fakeSignaller{}
	ts := startSignalServer(t, sig)
	c := dial(t, ts, "live", ClientConfig{})
	s, err := c.CreateStream(testutil.Context(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := offer(t, c, s, "play", "clip"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitStatus(testutil.Context(t, 5*time.Second), status.PlayStart); err != nil {
		t.Fatal(err)
	}
	sig.mu.Lock()
	ended := sig.ended
	sig.mu.Unlock()
	ended("completed")
	st, err := s.WaitStatus(testutil.Context(t, 5*time.Second), status.PlayStop)
	if err != nil || st.Get("transport").Str() != "webrtc" || st.Get("details").Str() != "clip" {
		t.Fatalf("status %v, %v; want Play.Stop over webrtc", st, err)
	}
}

// fakeControl records what a NetStream asks of a recorded stream played
// over WebRTC.
type fakeControl struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeControl) Pause(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "pause "+strconv.FormatBool(on))
}

func (f *fakeControl) SeekTo(ms int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "seek "+strconv.FormatInt(ms, 10))
}

// A NetStream playing over WebRTC carries pause, resume and seek over
// the connection to the peer's player, with the statuses an RTMP play
// of a recorded stream gives; a live play over WebRTC refuses both.
func TestWebRTCPauseSeek(t *testing.T) {
	ctl := &fakeControl{}
	sig := &fakeSignaller{control: ctl}
	ts := startSignalServer(t, sig)
	c := dial(t, ts, "live", ClientConfig{})
	ctx := testutil.Context(t, 10*time.Second)
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := offer(t, c, s, "play", "clip"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitStatus(ctx, status.PlayStart); err != nil {
		t.Fatal(err)
	}
	step := func(send func() error, codes ...string) {
		t.Helper()
		if err := send(); err != nil {
			t.Fatal(err)
		}
		for _, code := range codes {
			st, err := s.WaitStatus(ctx, code)
			if err != nil {
				t.Fatalf("waiting for %s: %v", code, err)
			}
			if code == status.SeekNotify && st.Get("description").Str() != "Seeking 2500 (stream ID: 1)." {
				t.Errorf("Seek.Notify %v", st)
			}
		}
	}
	step(func() error { return s.Pause(true, 1000) }, status.PauseNotify)
	step(func() error { return s.Pause(true, 1000) })
	step(func() error { return s.Pause(false, 1000) }, status.UnpauseNotify)
	step(func() error { return s.Seek(2500) }, status.SeekNotify, status.PlayStart)
	testutil.WaitFor(t, 5*time.Second, "the control's calls", func() bool {
		ctl.mu.Lock()
		defer ctl.mu.Unlock()
		return len(ctl.calls) == 3
	})
	ctl.mu.Lock()
	if got := strings.Join(ctl.calls, ", "); got != "pause true, pause false, seek 2500" {
		t.Errorf("control calls: %s", got)
	}
	ctl.mu.Unlock()

	// A live stream over WebRTC: no control.
	sig.mu.Lock()
	sig.control = nil
	sig.mu.Unlock()
	live, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := offer(t, c, live, "play", "cam"); err != nil {
		t.Fatal(err)
	}
	if err := live.Seek(1000); err != nil {
		t.Fatal(err)
	}
	if _, err := live.WaitStatus(ctx, status.SeekFailed); err != nil {
		t.Fatal(err)
	}
	if err := live.Pause(true, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := live.WaitStatus(ctx, status.StreamFailed); err != nil {
		t.Fatal(err)
	}
}
