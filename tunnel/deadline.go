package tunnel

import (
	"sync"
	"time"
)

// deadline is one read or write deadline of a virtual conn: a channel that
// is closed when the deadline passes. Setting a new deadline re-arms it, so
// a blocked Read or Write sees the change (net.Conn contract).
type deadline struct {
	mu    sync.Mutex // guards timer and ch
	timer *time.Timer
	ch    chan struct{}
}

func newDeadline() deadline { return deadline{ch: make(chan struct{})} }

// set arms the deadline at t; the zero time disarms it. Waiters keep the
// same channel across re-arming until it is closed (as net.Pipe does).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.ch // the callback ran or is running; it closes ch without mu
	}
	d.timer = nil
	closed := isClosed(d.ch)
	if t.IsZero() {
		if closed {
			d.ch = make(chan struct{})
		}
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		if !closed {
			close(d.ch)
		}
		return
	}
	if closed {
		d.ch = make(chan struct{})
	}
	ch := d.ch
	d.timer = time.AfterFunc(dur, func() { close(ch) })
}

// wait returns the channel closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

// dropFired forgets the timer of a deadline that has passed, so that a
// conn waiting for nothing keeps no timer; the channel stays closed.
func (d *deadline) dropFired() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && isClosed(d.ch) {
		d.timer = nil
	}
}

// stop disarms the timer so that a closed conn leaves no pending timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
