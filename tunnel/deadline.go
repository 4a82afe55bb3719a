package tunnel

import (
	"sync"
	"time"
)

// deadline is one read or write deadline of a virtual conn: a channel that
// is closed when the deadline passes. Setting a new deadline re-arms it, so
// a blocked Read or Write sees the change (net.Conn contract).
//
// The channel and its timer exist only while somebody waits: setting a
// deadline records the time, and wait makes the channel and arms the timer.
// The RTMP session sets its write deadline before every write and leaves
// it, and its read deadline before every message, but a virtual conn's
// Write waits only when its output is full and an idle session's reader
// parks: a channel and a timer per deadline would stay with every idle
// session (docs/architecture.md#idle-connections). The zero value has no
// deadline.
type deadline struct {
	mu sync.Mutex // guards everything below
	// at is the deadline as a time since clockBase (monotonic, and 8
	// bytes instead of a time.Time's 24); 0: no deadline.
	at time.Duration
	// ch is what waiters wait on, made by wait and closed (then
	// forgotten) when at passes; nil when nobody has waited since.
	ch chan struct{}
	// timer closes ch at at; kept for re-arming while ch is open,
	// forgotten once it fired.
	timer *time.Timer
}

// clockBase is what deadlines are counted from.
var clockBase = time.Now()

// sinceBase returns t as a time since clockBase, never 0 (no deadline)
// for a non-zero t.
func sinceBase(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	if d := t.Sub(clockBase); d != 0 {
		return d
	}
	return 1
}

// closedChan is the channel of a deadline that has passed.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// set arms the deadline at t; the zero time disarms it. Waiters keep the
// same channel across re-arming until it is closed (as net.Pipe does).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.at = sinceBase(t)
	if d.ch == nil {
		return // nobody waits: wait arms the timer
	}
	if d.at == 0 {
		d.stopTimer()
		return
	}
	dur := d.at - time.Since(clockBase)
	if dur <= 0 {
		d.fire()
		return
	}
	d.arm(dur)
}

// wait returns the channel closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ch != nil {
		return d.ch
	}
	if d.at == 0 {
		d.ch = make(chan struct{})
		return d.ch
	}
	dur := d.at - time.Since(clockBase)
	if dur <= 0 {
		return closedChan
	}
	d.ch = make(chan struct{})
	d.arm(dur)
	return d.ch
}

// arm starts the timer for dur; d.mu held.
func (d *deadline) arm(dur time.Duration) {
	if d.timer == nil {
		d.timer = time.AfterFunc(dur, d.expire)
		return
	}
	// A run of expire for an earlier arming that is waiting for d.mu
	// finds at in the future and does nothing.
	d.timer.Reset(dur)
}

// expire runs on the timer.
func (d *deadline) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ch == nil || d.at == 0 || time.Since(clockBase) < d.at {
		return // re-armed or disarmed meanwhile
	}
	d.fire()
}

// fire closes the waiters' channel and forgets it and the timer: a conn
// whose deadline passed holds neither; d.mu held.
func (d *deadline) fire() {
	if d.ch != nil {
		close(d.ch)
		d.ch = nil
	}
	d.stopTimer()
}

func (d *deadline) stopTimer() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// stop disarms the timer so that a closed conn leaves no pending timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopTimer()
}
