package rtmp

import (
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
)

// freezer is a TCP relay to addr that can stop passing bytes while it
// keeps both sockets open: a peer that vanished without closing (a
// sleeping laptop, a pulled cable, a frozen browser).
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startFreezer(t *testing.T, addr string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	f.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				_ = in.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, in, out)
			f.mu.Unlock()
			f.wg.Go(func() { f.pipe(out, in) })
			f.wg.Go(func() { f.pipe(in, out) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// pipe copies until frozen, then drops what it reads.
func (f *freezer) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !f.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A connection with nothing to say is pinged before its idle deadline
// and stays while it answers; one whose peer stopped answering is closed
// at the deadline.
func TestQuietConnectionIsPinged(t *testing.T) {
	const idle = 2 * time.Second
	ts := startServer(t, Config{IdleTimeout: idle})
	ctx := testutil.Context(t, 30*time.Second)

	quiet := dial(t, ts, "live", ClientConfig{})
	f := startFreezer(t, ts.addr)
	gone, err := Dial(ctx, "rtmp://"+f.ln.Addr().String()+"/live", ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	// Something read after connect arms the idle deadline, as every
	// client's first calls do.
	for _, c := range []*Client{quiet, gone} {
		if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
			t.Fatal(err)
		}
	}
	f.frozen.Store(true)
	frozenAt := time.Now()

	testutil.WaitFor(t, 20*time.Second, "the frozen peer closed", func() bool {
		return strings.Contains(ts.logs.String(), "reason=timeout")
	})
	took := time.Since(frozenAt)
	t.Logf("a frozen peer was closed %v after it stopped (idle timeout %v)", took.Round(time.Millisecond), idle)
	if took < idle/2 {
		t.Errorf("the frozen peer was closed after %v, before half the idle timeout %v", took, idle)
	}

	// The quiet one outlives several idle timeouts.
	for time.Since(frozenAt) < 3*idle {
		select {
		case <-quiet.Done():
			t.Fatalf("a quiet client that answers pings was closed: %v", quiet.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := quiet.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
		t.Fatalf("quiet client after %v: %v", 3*idle, err)
	}
	if n := strings.Count(ts.logs.String(), "reason=timeout"); n != 1 {
		t.Errorf("%d connections closed for idleness, want the frozen one only", n)
	}
}
