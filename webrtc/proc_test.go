package webrtc

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeFFmpeg writes a shell script standing in for ffmpeg: it exits after
// lifetime seconds.
func fakeFFmpeg(t *testing.T, lifetime string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nsleep "+lifetime+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func runProc(t *testing.T, ffmpeg string) *proc {
	t.Helper()
	s := &Server{cfg: Config{FFmpeg: ffmpeg, MaxConverters: 1}, log: slog.New(slog.DiscardHandler)}
	p := &proc{log: s.log, preamble: func() [][]byte { return nil }, read: func(r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		if err == nil {
			err = io.EOF
		}
		return err
	}}
	if err := s.startProc(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// TestProcBacksOff: a converter that dies at once backs off instead of
// spinning (nextBackoff decides the pauses).
func TestProcBacksOff(t *testing.T) {
	quick := runProc(t, fakeFFmpeg(t, "0"))
	time.Sleep(3 * time.Second)
	// Backoffs of 0.2, 0.4, 0.8, 1.6 s: at most 5 restarts in 3 s
	// (without the backoff a shell that exits at once restarts hundreds of times).
	if n := quick.restarts.Load(); n < 1 || n > 5 {
		t.Errorf("a converter dying at once restarted %d times in 3 s, want 1 to 5", n)
	}

}

func TestNextBackoff(t *testing.T) {
	for _, c := range []struct{ ran, prev, want time.Duration }{
		{10 * time.Second, 0, 0},
		{10 * time.Second, procBackoffMax, 0},
		{procSteady, procBackoff, 0},
		{time.Second, 0, procBackoff},
		{0, procBackoff, 2 * procBackoff},
		{0, 4 * time.Second, procBackoffMax},
		{0, procBackoffMax, procBackoffMax},
	} {
		if got := nextBackoff(c.ran, c.prev); got != c.want {
			t.Errorf("nextBackoff(%v, %v) = %v, want %v", c.ran, c.prev, got, c.want)
		}
	}
}
