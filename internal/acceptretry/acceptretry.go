// Package acceptretry keeps an accept loop alive through the errors that
// pass: out of file descriptors (EMFILE, ENFILE), out of buffers or
// memory, a connection aborted before it was accepted, timeouts. Like
// net/http's Serve it sleeps 5 ms after the first such error, doubling to
// 1 s while they go on; unlike it, it logs one line when the trouble
// starts, one every LogEvery while it lasts and one when it ends, not one
// per retry.
package acceptretry

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// Delays of the back-off, and the interval of the "still failing" lines.
const (
	First    = 5 * time.Millisecond
	Max      = time.Second
	LogEvery = 10 * time.Second
)

// Retry is the back-off state of one accept loop (its goroutine only).
type Retry struct {
	// Log receives the start and end lines; What names the loop in them.
	Log  *slog.Logger
	What string

	delay   time.Duration
	since   time.Time
	logged  time.Time
	errs    int
	lastErr error
}

// Temporary reports whether an accept error is one that passes.
func Temporary(err error) bool {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Failed handles an accept error. For a temporary one it sleeps the next
// delay (returning early when done is closed) and reports true: accept
// again. Otherwise it reports false: the loop should end with err.
func (r *Retry) Failed(err error, done <-chan struct{}) bool {
	if !Temporary(err) {
		return false
	}
	now := time.Now()
	switch {
	case r.errs == 0:
		r.since, r.logged = now, now
		r.Log.Warn("accept failing: backing off until it passes", "listener", r.What, "err", err.Error())
	case now.Sub(r.logged) >= LogEvery:
		r.logged = now
		r.Log.Warn("accept still failing", "listener", r.What, "errors", r.errs,
			"for", now.Sub(r.since).Round(time.Millisecond), "err", err.Error())
	}
	r.errs++
	r.lastErr = err
	r.delay = min(max(2*r.delay, First), Max)
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
	return true
}

// Succeeded ends a failing spell, logging how long it lasted.
func (r *Retry) Succeeded() {
	if r.errs == 0 {
		return
	}
	r.Log.Warn("accept recovered", "listener", r.What, "errors", r.errs,
		"for", time.Since(r.since).Round(time.Millisecond), "last_err", r.lastErr.Error())
	r.errs, r.delay, r.lastErr = 0, 0, nil
}

// Failing reports whether the loop is in a failing spell.
func (r *Retry) Failing() bool { return r.errs > 0 }
