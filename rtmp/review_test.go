package rtmp

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// An instance unloaded by its script (application.shutdown(), or a failed
// script) tells every client NetConnection.Connect.AppShutdown before
// closing it, also a client that is playing: the end of the instance's
// streams must not cut the connection before the status is flushed.
func TestInstanceShutdownReachesPlayer(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	c := dial(t, ts, "live", ClientConfig{})
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Play(ctx, "waiting", -1000); err != nil {
		t.Fatal(err)
	}
	ins := ts.eng.Instances()
	if len(ins) != 1 {
		t.Fatalf("%d instances", len(ins))
	}
	ins[0].Shutdown()
	isShutdown := func(cmd *message.Command) bool {
		return cmd.Name == "onStatus" && cmd.Arg(0).Get("code").Str() == status.ConnectAppShutdown
	}
	got := false
	for !got {
		select {
		case cmd := <-c.Calls:
			got = isShutdown(cmd)
		case <-c.Done():
			// Both may be ready at once (select picks at random): what the
			// client read before the end is still queued on Calls.
			for !got {
				select {
				case cmd := <-c.Calls:
					got = isShutdown(cmd)
				default:
					t.Fatalf("closed without %s: %v", status.ConnectAppShutdown, c.Err())
				}
			}
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	testutil.WaitFor(t, 5*time.Second, "closed line", func() bool { return strings.Contains(ts.logs.String(), "msg=closed") })
	if strings.Contains(ts.logs.String(), "reason=slow_consumer") {
		t.Errorf("closed as a slow consumer:\n%s", ts.logs.String())
	}
}

// gateConn is a net.Conn whose writes wait for the test: entered is
// signaled when a write begins, release lets it finish.
type gateConn struct {
	net.Conn
	entered chan struct{}
	release chan struct{}
}

func (g *gateConn) Write(p []byte) (int, error) {
	g.entered <- struct{}{}
	<-g.release
	return len(p), nil
}

// A close requested while the writer is flushing (Client.disconnect in a
// script: Peer.Close without a status, so nothing is queued) must not be
// lost when that writer then finds nothing left to write and goes idle.
func TestCloseRequestedDuringFlushIsNotLost(t *testing.T) {
	srv := &Server{}
	srv.init()
	defer srv.cancel()
	a, b := net.Pipe()
	defer b.Close()
	g := &gateConn{Conn: a, entered: make(chan struct{}), release: make(chan struct{})}
	c := newConn(srv, g, "rtmp", 1)
	defer func() {
		c.fail(errors.New("test over"))
		c.finish()
	}()

	c.sendUserControl(message.EventPingRequest, 1) // starts a writer
	<-g.entered
	(&peer{c: c}).Close(amf.Undefined()) // while the writer is inside the write
	close(g.release)
	select {
	case <-c.ctx.Done():
		if r := classify(c.failErr); r != ReasonDisconnected {
			t.Errorf("closed with reason %v, want %v", r, ReasonDisconnected)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close request lost: the connection stays open")
	}
}

// Flash Player stops a NetStream with publish(false) and play(false): a
// Boolean where the name would be (Red5 and FMS stop the stream). They are
// no request for a stream named "" that then fails with an error status.
func TestPublishFalseAndPlayFalseStop(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	c := dial(t, ts, "live", ClientConfig{})
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, "cam", "live"); err != nil {
		t.Fatal(err)
	}
	if err := s.command("publish", amf.Bool(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitStatus(ctx, status.UnpublishSuccess); err != nil {
		t.Fatalf("publish(false): %v", err)
	}
	testutil.WaitFor(t, 5*time.Second, "cam unpublished", func() bool { return len(ts.eng.Instances()[0].Streams().Names()) == 0 })

	if err := s.Play(ctx, "cam", -1000); err != nil {
		t.Fatal(err)
	}
	if err := s.command("play", amf.Bool(false)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitStatus(ctx, status.PlayStop); err != nil {
		t.Fatalf("play(false): %v", err)
	}
	// The stream is free again: the client can publish on it.
	if err := s.Publish(ctx, "cam", "live"); err != nil {
		t.Fatal(err)
	}
}

// errConn fails every write with err.
type errConn struct {
	net.Conn
	err error
}

func (e *errConn) Write([]byte) (int, error) { return 0, e.err }

// A failed write is the peer going away (broken pipe, reset) or an I/O
// error, never a protocol error: the closed line must say which.
func TestWriteErrorReasons(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Reason
	}{
		{"broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}, ReasonEOF},
		{"reset", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}, ReasonEOF},
		{"io error", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EIO)}, ReasonIOError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &Server{}
			srv.init()
			defer srv.cancel()
			a, b := net.Pipe()
			defer b.Close()
			c := newConn(srv, &errConn{Conn: a, err: tc.err}, "rtmp", 1)
			c.sendUserControl(message.EventPingRequest, 1)
			select {
			case <-c.ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("write error did not end the connection")
			}
			c.finish()
			if r := classify(c.failErr); r != tc.want {
				t.Errorf("reason %v, want %v (err %v)", r, tc.want, c.failErr)
			}
		})
	}
}

// A second publish on a NetStream that is publishing ends the first one
// with Unpublish.Success before the new one starts.
func TestRepublishOnOneStreamReportsUnpublish(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	c := dial(t, ts, "live", ClientConfig{})
	s, err := c.CreateStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, "one", "live"); err != nil {
		t.Fatal(err)
	}
	log := LogStream(s)
	if err := s.command("publish", amf.String("two"), amf.String("live")); err != nil {
		t.Fatal(err)
	}
	want := []string{status.UnpublishSuccess, status.PublishStart}
	testutil.WaitFor(t, 5*time.Second, "Unpublish.Success then Publish.Start", func() bool { return len(log.Codes()) >= 2 })
	if got := log.Codes(); got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("statuses %v, want %v", got, want)
	}
}
