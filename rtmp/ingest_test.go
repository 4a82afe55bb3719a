package rtmp

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
)

// readCounter counts the reads of the connections it accepts.
type readCounter struct {
	net.Listener
	reads atomic.Int64
}

func (l *readCounter) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: nc, reads: &l.reads}, nil
}

type countedConn struct {
	net.Conn
	reads *atomic.Int64
}

// Socket makes a countedConn a DirectConn: a plain TCP socket, whose
// publishers read at the ticks.
func (c *countedConn) Socket() *net.TCPConn { return c.Conn.(*net.TCPConn) }

func (c *countedConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

// startCountingServer is startServer over a listener that counts the
// server's reads.
func startCountingServer(t *testing.T, cfg Config) (*testServer, *readCounter) {
	t.Helper()
	log, logs := testutil.Logger(t, 0)
	apps := testutil.Apps(t, "live")
	eng := instance.NewManager(instance.Config{AppsDir: apps}, log)
	t.Cleanup(eng.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &readCounter{Listener: ln}
	srv := &Server{Config: cfg, Logger: log, Engine: eng}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(rc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &testServer{srv: srv, eng: eng, addr: ln.Addr().String(), apps: apps, logs: logs}, rc
}

// A publisher sending a message every 10 ms is read at the ingest ticks
// (40 ms), several messages a read, and a player gets every one of them in
// order. Read as they arrive, each would cost a read of its own.
func TestPublisherReadsAtTheTicks(t *testing.T) {
	ts, rc := startCountingServer(t, Config{MergeWrite: 40 * time.Millisecond})
	ctx := testutil.Context(t, 30*time.Second)
	pubC := dial(t, ts, "live", ClientConfig{})
	pub := must(pubC.CreateStream(ctx))
	if err := pub.Publish(ctx, "s", "live"); err != nil {
		t.Fatal(err)
	}
	plC := dial(t, ts, "live", ClientConfig{})
	pl := must(plC.CreateStream(ctx))
	got := make(chan uint32, 1024)
	pl.OnPacket = func(p media.Packet) {
		if p.Kind == media.Audio {
			got <- p.Time
		}
	}
	if err := pl.Play(ctx, "s", -1000); err != nil {
		t.Fatal(err)
	}
	// The publisher's first media message makes it keep its read buffer.
	audio := []byte{0xaf, 0x01, 1, 2, 3, 4}
	if err := pub.WritePacket(media.Packet{Kind: media.Audio, Time: 0, Payload: audio}); err != nil {
		t.Fatal(err)
	}
	if ts := <-got; ts != 0 {
		t.Fatalf("first audio at %d", ts)
	}
	const n = 100
	before, start := rc.reads.Load(), time.Now()
	for i := 1; i <= n; i++ {
		if err := pub.WritePacket(media.Packet{Kind: media.Audio, Time: uint32(i * 10), Payload: audio}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := 1; i <= n; i++ {
		select {
		case ts := <-got:
			if ts != uint32(i*10) {
				t.Fatalf("audio %d at %d, want %d", i, ts, i*10)
			}
		case <-ctx.Done():
			t.Fatalf("the player got %d of %d messages", i-1, n)
		}
	}
	// Every read of the server counts here, the player's few included.
	// At the ticks: one a tick, plus a few; as messages arrive, one a
	// message. A loaded machine that stretches the 10 ms sleeps leaves
	// fewer messages per tick, and the bound grows with the ticks, so
	// that only a reader that does not wait for them fails.
	reads := rc.reads.Load() - before
	ticks := int64(time.Since(start) / (40 * time.Millisecond))
	t.Logf("%d reads for %d messages in %d ticks", reads, n, ticks)
	if reads > ticks+10 {
		t.Errorf("%d reads for %d messages sent 10 ms apart over %d ticks of 40 ms: not read at the ticks", reads, n, ticks)
	}
}
