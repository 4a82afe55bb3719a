package acceptretry

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestTemporary(t *testing.T) {
	wrap := func(e error) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", e)}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{wrap(syscall.EMFILE), true},
		{wrap(syscall.ENFILE), true},
		{wrap(syscall.ECONNABORTED), true},
		{fmt.Errorf("x: %w", wrap(syscall.ENOBUFS)), true},
		{os.ErrDeadlineExceeded, true},
		{net.ErrClosed, false},
		{wrap(syscall.EBADF), false},
		{errors.New("other"), false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%v) = %v", tc.err, got)
		}
	}
}

// TestBackoff: delays double from First to Max; done ends a sleep early;
// a permanent error is not retried.
func TestBackoff(t *testing.T) {
	r := Retry{Log: slog.New(slog.DiscardHandler), What: "test"}
	emfile := &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	var delays []time.Duration
	done := make(chan struct{})
	close(done)
	for range 10 {
		if !r.Failed(emfile, done) {
			t.Fatal("EMFILE not retried")
		}
		delays = append(delays, r.delay)
	}
	if delays[0] != First || delays[1] != 2*First || delays[9] != Max {
		t.Fatalf("delays %v", delays)
	}
	if !r.Failing() {
		t.Fatal("not failing")
	}
	r.Succeeded()
	if r.Failing() || r.delay != 0 {
		t.Fatal("Succeeded did not reset")
	}
	if r.Failed(net.ErrClosed, done) {
		t.Fatal("a closed listener retried")
	}
}
