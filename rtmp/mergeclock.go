package rtmp

import (
	"runtime"
	"slices"
	"sync"
	"time"
)

// mergeClock runs the writer rounds of playing connections
// (docs/architecture.md#egress). It ticks every MergeWrite (the ticks are
// multiples of MergeWrite since the clock's epoch), and a playing
// connection that has flushed is queued at its next tick, so every
// playing connection of the server, whenever it joined, is written at the
// same ticks. At each tick the clock's goroutine, with at most one helper
// per core, runs the rounds of every connection queued at it: take what
// the players' queues hold, encode chunk headers, write the socket
// without waiting. No goroutine of the connection is woken, which is what
// a frame tick costs a goroutine per connection (futex and scheduler work
// per player), and what profiles showed as the cost above the bare write
// loop.
//
// Each Server owns one: the writers of one server are the ones that flush
// in step, and a clock per server keeps servers (and tests) independent.
// Its goroutine runs while connections are queued and ends when none is.
type mergeClock struct {
	// epoch is the origin of mergeClock times: monotonic durations are
	// cheaper to compare and round than time.Time. grid is the tick.
	// Both set once by newMergeClock, read-only after.
	epoch time.Time
	grid  time.Duration

	mu      sync.Mutex
	asap    []rounder     // rounds to run at once, before any deadline (addNow)
	spare   []rounder     // asap's other buffer, swapped in while a batch runs
	slots   []*mergeSlot  // pending deadlines, ascending
	free    []*mergeSlot  // spent slots, reused so steady state allocates nothing
	running bool          // the loop goroutine runs
	poke    chan struct{} // tells the loop a deadline earlier than its wait was added
	// beforeTick, when set (before the first add), runs at each tick
	// before its rounds: publishers read then (ingest.go). ticked is the
	// last tick it ran for.
	beforeTick func(at time.Duration)
	ticked     time.Duration
	// preparing: beforeTick runs for the tick ticked, whose slot is
	// still queued (slotAfter).
	preparing bool
}

// mergeSlot is one deadline and the connections queued at it.
type mergeSlot struct {
	at    time.Duration // since the clock's epoch
	conns []rounder
}

// rounder is what the clock runs rounds of: *conn (clockRound), or a
// test's stand-in.
type rounder interface {
	clockRound(w *writer, at time.Duration)
}

// newMergeClock returns a clock whose times count from now, with the grid
// of MergeWrite merge.
func newMergeClock(merge time.Duration) *mergeClock {
	return &mergeClock{epoch: time.Now(), grid: mergeGrid(merge), poke: make(chan struct{}, 1)}
}

// now returns the current time of the clock.
func (m *mergeClock) now() time.Duration { return time.Since(m.epoch) }

// at converts a clock time to wall-clock time (for socket deadlines).
func (m *mergeClock) at(d time.Duration) time.Time { return m.epoch.Add(d) }

// mergeGrid is the rounding of merge deadlines: MergeWrite itself, so the
// clock ticks once per MergeWrite and every playing connection of the
// server is written at the same ticks, whenever it joined.
func mergeGrid(merge time.Duration) time.Duration {
	return max(merge, time.Microsecond)
}

// ceil rounds at up to the grid.
func (m *mergeClock) ceil(at time.Duration) time.Duration {
	if r := at % m.grid; r != 0 {
		at += m.grid - r
	}
	return at
}

// slotAfter returns the deadline of the next round of a connection that
// last flushed at last, kicked at now: the first grid point after both,
// or the tick whose publishers are being read (beforeTick) when that one
// is after last. Its rounds have not run yet, and what the publishers
// hand the players then is to leave at that tick, not at the next:
// without this a player that had nothing at its last round would carry
// the tick's media a whole tick late.
func (m *mergeClock) slotAfter(last, now time.Duration) time.Duration {
	at := m.ceil(max(last+1, now))
	m.mu.Lock()
	if m.preparing && m.ticked > last && m.ticked < at {
		at = m.ticked
	}
	m.mu.Unlock()
	return at
}

// add queues c for a round at deadline at (a grid point). The caller
// holds c.mu and has made the clock the owner of c's writing (wClock).
func (m *mergeClock) add(c rounder, at time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := 0
	for i < len(m.slots) && m.slots[i].at < at {
		i++
	}
	if i < len(m.slots) && m.slots[i].at == at {
		m.slots[i].conns = append(m.slots[i].conns, c)
		return
	}
	var s *mergeSlot
	if n := len(m.free); n > 0 {
		s, m.free = m.free[n-1], m.free[:n-1]
	} else {
		s = &mergeSlot{}
	}
	s.at = at
	s.conns = append(s.conns, c)
	m.slots = append(m.slots, nil)
	copy(m.slots[i+1:], m.slots[i:])
	m.slots[i] = s
	switch {
	case !m.running:
		m.running = true
		go m.loop()
	case i == 0:
		select {
		case m.poke <- struct{}{}:
		default:
		}
	}
}

// addNow queues c for a round as soon as the clock's goroutine gets to it,
// before any deadline: an idle connection's commands (results, statuses,
// shared-object updates). Queued together, the rounds of a burst of them
// (a shared object's tick reaching every subscriber) run in one pass,
// where a goroutine started per connection would cost a start and a
// wake-up each. The caller holds c.mu, as for add.
func (m *mergeClock) addNow(c rounder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asap = append(m.asap, c)
	if !m.running {
		m.running = true
		go m.loop()
		return
	}
	if len(m.asap) == 1 {
		select {
		case m.poke <- struct{}{}:
		default:
		}
	}
}

// remove takes c out of the slot of deadline at (asapAt: the addNow
// queue); false when it is not there (its round has been taken by the
// loop, and will run).
func (m *mergeClock) remove(c rounder, at time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if at == asapAt {
		i := slices.Index(m.asap, c)
		if i < 0 {
			return false
		}
		m.asap = slices.Delete(m.asap, i, i+1)
		return true
	}
	for k, s := range m.slots {
		if s.at != at {
			continue
		}
		i := slices.Index(s.conns, c)
		if i < 0 {
			return false
		}
		s.conns = slices.Delete(s.conns, i, i+1)
		if len(s.conns) == 0 {
			// An empty slot would keep the loop waiting for nothing.
			m.slots = slices.Delete(m.slots, k, k+1)
			m.free = append(m.free, s)
			select {
			case m.poke <- struct{}{}:
			default:
			}
		}
		return true
	}
	return false
}

// loop waits for each deadline and runs its rounds, until no connection
// is queued. Rounds queue their connections again (add), so the lock is
// not held while they run.
func (m *mergeClock) loop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		m.mu.Lock()
		if len(m.asap) > 0 {
			batch := m.asap
			m.asap, m.spare = m.spare[:0], nil
			m.mu.Unlock()
			now := m.now()
			m.run(batch, now, now)
			clear(batch)
			m.mu.Lock()
			m.spare = batch[:0]
			m.mu.Unlock()
			continue
		}
		if len(m.slots) == 0 {
			m.running = false
			m.mu.Unlock()
			return
		}
		now := m.now()
		s := m.slots[0]
		if s.at > now {
			m.mu.Unlock()
			t.Reset(s.at - now)
			select {
			case <-t.C:
			case <-m.poke:
			}
			continue
		}
		if m.beforeTick != nil && s.at > m.ticked {
			// What the publishers read now joins this tick's rounds:
			// the slot is still queued, and players kicked meanwhile
			// are added to it.
			m.ticked, m.preparing = s.at, true
			m.mu.Unlock()
			m.beforeTick(s.at)
			m.mu.Lock()
			m.preparing = false
			m.mu.Unlock()
			continue
		}
		n := copy(m.slots, m.slots[1:])
		m.slots[n] = nil
		m.slots = m.slots[:n]
		m.mu.Unlock()

		m.run(s.conns, s.at, now)

		m.mu.Lock()
		clear(s.conns)
		s.conns = s.conns[:0]
		m.free = append(m.free, s)
		m.mu.Unlock()
	}
}

// asapAt is the deadline that stands for the addNow queue.
const asapAt time.Duration = -1 << 62

// roundsPerHelper is the fewest rounds worth a helper goroutine: below it
// starting one costs more than the rounds it would take over.
const roundsPerHelper = 128

// run runs the rounds of one slot: on this goroutine, and spread over one
// goroutine per core when there are many, since each round is mostly a
// system call.
func (m *mergeClock) run(conns []rounder, at, now time.Duration) {
	parts := min(runtime.GOMAXPROCS(0), len(conns)/roundsPerHelper)
	if parts <= 1 {
		runRounds(conns, at, now)
		return
	}
	per := (len(conns) + parts - 1) / parts
	var wg sync.WaitGroup
	for i := 1; i < parts; i++ {
		part := conns[min(i*per, len(conns)):min((i+1)*per, len(conns))]
		wg.Go(func() { runRounds(part, at, now) })
	}
	runRounds(conns[:per], at, now)
	wg.Wait()
}

// runRounds runs the clock rounds of conns, due at at, with one set of
// writer buffers; now is the clock's time when the slot was taken.
func runRounds(conns []rounder, at, now time.Duration) {
	w := writers.Get().(*writer)
	w.now = now
	for _, c := range conns {
		c.clockRound(w, at)
	}
	w.now = -1
	writers.Put(w)
}
