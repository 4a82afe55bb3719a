package testutil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLogBufferConcurrentWrites(t *testing.T) {
	log, lb := Logger(t, slog.LevelInfo)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { log.Info("line", "n", i) })
	}
	wg.Wait()
	if n := strings.Count(lb.String(), "msg=line"); n != 8 {
		t.Fatalf("%d lines, want 8:\n%s", n, lb.String())
	}
}

func TestWaitForPolls(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	WaitFor(t, 10*time.Second, "three increments", func() bool { return n.Load() == 3 })
}

// fakeTB records a Fatalf instead of ending the test, so WaitFor's
// failure path can be checked.
type fakeTB struct {
	testing.TB
	msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func TestWaitForTimesOut(t *testing.T) {
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("recovered %v, want the Fatalf panic", r)
			}
		}()
		WaitFor(f, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !strings.Contains(f.msg, "waiting for never") {
		t.Fatalf("message %q", f.msg)
	}
}

var errClosed = errors.New("closed")

// echoServer accepts until Shutdown and answers each conn with "hi".
type echoServer struct {
	mu sync.Mutex
	ln net.Listener
}

func (s *echoServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return errClosed
		}
		_, _ = nc.Write([]byte("hi"))
		_ = nc.Close()
	}
}

func (s *echoServer) Shutdown(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln.Close()
}

func TestServeLoopback(t *testing.T) {
	addr, _ := Serve(t, &echoServer{}, errClosed)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("addr %q", addr)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 2)
	if _, err := nc.Read(b); err != nil || string(b) != "hi" {
		t.Fatalf("read %q, %v", b, err)
	}
}

func TestAppsFolders(t *testing.T) {
	dir := Apps(t, "live", "chat")
	for _, n := range []string{"live", "chat"} {
		if !dirExists(filepath.Join(dir, n)) {
			t.Errorf("no folder %s", n)
		}
	}
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

//go:noinline
func blockUntil(stop <-chan struct{}) { <-stop }

func TestGoroutinesCountsByFunction(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { blockUntil(stop) })
	}
	WaitFor(t, 10*time.Second, "three goroutines blocked", func() bool { return Goroutines(t, "testutil.blockUntil") == 3 })
	close(stop)
	wg.Wait()
	if n := Goroutines(t, "testutil.blockUntil"); n != 0 {
		t.Fatalf("%d goroutines counted after they ended", n)
	}
}
