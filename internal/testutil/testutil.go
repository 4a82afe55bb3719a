// Package testutil holds the helpers the tests of several packages share:
// a log sink safe for servers' goroutines, a slog logger that prints its
// lines when a test fails, polling under a deadline, a context bounded by
// the test, a temporary applications folder, an in-process server on a
// loopback port, a TCP relay that can freeze (freezer.go), and a count of
// the goroutines running a function (goroutines.go).
//
// It imports no openfcs package, so that the tests of every package (rtmp,
// instance, media, ssas...) can use it without an import cycle; a package
// composes its own in-process server from these pieces (rtmp's startServer
// builds an instance.Manager and an rtmp.Server, then calls Serve).
package testutil

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// LogBuffer is an io.Writer that servers' goroutines write to while a test
// reads it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// NewLogBuffer returns a LogBuffer whose content is logged at tb's cleanup
// if tb has failed, so a failing test shows what the server said. Create
// it before starting servers that write to it: cleanups run
// last-registered first, so the log is printed after they stop.
func NewLogBuffer(tb testing.TB) *LogBuffer {
	tb.Helper()
	lb := &LogBuffer{}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("server log:\n%s", lb.String())
		}
	})
	return lb
}

// Logger returns a text logger at level writing to a NewLogBuffer.
func Logger(tb testing.TB, level slog.Level) (*slog.Logger, *LogBuffer) {
	tb.Helper()
	lb := NewLogBuffer(tb)
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: level})), lb
}

// WaitFor polls cond every 2 ms until it holds, failing tb after d (no
// sleeps standing for synchronization: poll a condition under a generous
// deadline, so a loaded machine is slower but not failing).
func WaitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Context returns a context that ends after d or when tb ends.
func Context(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// Apps returns a new temporary applications folder holding an empty
// folder per name (an application without a script).
func Apps(tb testing.TB, names ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// Server is what Serve runs: a server shaped as net/http's (*rtmp.Server).
type Server interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// Serve runs srv on a new listener on 127.0.0.1 (a port the system picks)
// and returns its address and a stop function, which is also registered
// as a cleanup and does its work once: it shuts srv down (at most 10 s) and
// fails tb unless Serve then returned an error matching closed (the
// server's ErrServerClosed).
func Serve(tb testing.TB, srv Server, closed error) (addr string, stop func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				tb.Errorf("shutdown: %v", err)
			}
			if err := <-done; !errors.Is(err, closed) {
				tb.Errorf("Serve returned %v, want %v", err, closed)
			}
		})
	}
	tb.Cleanup(stop)
	return ln.Addr().String(), stop
}
