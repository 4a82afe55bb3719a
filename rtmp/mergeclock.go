package rtmp

import (
	"context"
	"sync"
	"time"
)

// mergeClock wakes connection writers whose merge wait (Config.MergeWrite)
// ends. Deadlines are rounded up to a grid, so the writers of players of
// one stream, which flush in step, share one deadline: one timer fires per
// grid point and wakes them all in a burst, as a frame ticker would. A
// timer per writer costs a timer fire and often an idle thread's wake-up
// (epoll, futex) per connection per tick, which profiles showed as the
// main cost above the bare write loop.
//
// Each Server owns one: the writers of one server are the ones that flush
// in step, and a clock per server keeps servers (and tests) independent.
type mergeClock struct {
	// epoch is the origin of mergeClock times: monotonic durations are
	// cheaper to compare and round than time.Time. Set once by
	// newMergeClock, read-only after.
	epoch time.Time

	mu    sync.Mutex
	slots []*mergeSlot // pending deadlines, ascending
	free  []*mergeSlot // spent slots, reused so steady state allocates nothing
	timer *time.Timer  // armed for slots[0]
}

// mergeSlot is one deadline and the writers waiting for it.
type mergeSlot struct {
	at      time.Duration // since the clock's epoch
	waiters []chan struct{}
}

// newMergeClock returns a clock whose times count from now.
func newMergeClock() *mergeClock { return &mergeClock{epoch: time.Now()} }

// now returns the current time of the clock.
func (m *mergeClock) now() time.Duration { return time.Since(m.epoch) }

// at converts a clock time to wall-clock time (for socket deadlines).
func (m *mergeClock) at(d time.Duration) time.Time { return m.epoch.Add(d) }

// mergeGrid is the rounding of merge deadlines: an eighth of MergeWrite,
// so the rounding adds at most 12.5 % to the wait.
func mergeGrid(merge time.Duration) time.Duration {
	return max(merge/8, time.Microsecond)
}

// wait registers ch to receive one non-blocking send at deadline at (a
// grid point) or soon after.
func (m *mergeClock) wait(at time.Duration, ch chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := 0
	for i < len(m.slots) && m.slots[i].at < at {
		i++
	}
	if i < len(m.slots) && m.slots[i].at == at {
		m.slots[i].waiters = append(m.slots[i].waiters, ch)
		return
	}
	var s *mergeSlot
	if n := len(m.free); n > 0 {
		s, m.free = m.free[n-1], m.free[:n-1]
	} else {
		s = &mergeSlot{}
	}
	s.at = at
	s.waiters = append(s.waiters, ch)
	m.slots = append(m.slots, nil)
	copy(m.slots[i+1:], m.slots[i:])
	m.slots[i] = s
	if i == 0 {
		m.armLocked()
	}
}

// armLocked points the timer at the earliest pending deadline.
func (m *mergeClock) armLocked() {
	if len(m.slots) == 0 {
		return
	}
	d := m.slots[0].at - m.now()
	if m.timer == nil {
		m.timer = time.AfterFunc(d, m.fire)
	} else {
		m.timer.Reset(d)
	}
}

// fire wakes the writers of every deadline that has come.
func (m *mergeClock) fire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	k := 0
	for ; k < len(m.slots) && m.slots[k].at <= now; k++ {
		s := m.slots[k]
		for i, ch := range s.waiters {
			select {
			case ch <- struct{}{}:
			default:
			}
			s.waiters[i] = nil
		}
		s.waiters = s.waiters[:0]
		m.free = append(m.free, s)
	}
	n := copy(m.slots, m.slots[k:])
	clear(m.slots[n:])
	m.slots = m.slots[:n]
	m.armLocked()
}

// mergeWait paces the rounds of one connection writer on its server's
// merge clock: with players attached, flushes are at least MergeWrite
// apart and fall on grid points shared with the other writers. Writer
// goroutine only.
type mergeWait struct {
	clk   *mergeClock
	every time.Duration // Config.MergeWrite; not positive: no merging
	grid  time.Duration // mergeGrid(every)
	// lastFlush is the clock time of the last flush; for a round woken by
	// the clock, its deadline, so writers in step stay on one grid point.
	lastFlush time.Duration
	ch        chan struct{} // the clock's wake-ups; made on the first wait
}

// ceil rounds at up to the grid.
func (m *mergeWait) ceil(at time.Duration) time.Duration {
	if r := at % m.grid; r != 0 {
		at += m.grid - r
	}
	return at
}

// next is the first grid point MergeWrite after the last flush.
func (m *mergeWait) next() time.Duration { return m.ceil(m.lastFlush + m.every) }

// until sleeps until the clock reaches at (a grid point); it reports
// false when ctx ended meanwhile.
func (m *mergeWait) until(ctx context.Context, at time.Duration) bool {
	if m.ch == nil {
		m.ch = make(chan struct{}, 1)
	}
	m.clk.wait(at, m.ch)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-m.ch:
		}
		if m.clk.now() >= at {
			return true
		}
		// Not expected (one wake-up per wait, sent once at is due); if it
		// happens, wait again rather than forever.
		m.clk.wait(at, m.ch)
	}
}
