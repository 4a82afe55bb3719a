package rtmp

import (
	"sync"
	"time"
)

// ingestClock makes publishers read in bunches (Config.IngestTick,
// docs/architecture.md#ingest-and-shared-objects). A publishing
// connection that has handled everything its socket held does not wait
// in a read, woken by the network poller at every message (a wake-up and
// two reads: one finding nothing, one after the wake), but until the next
// tick; then it reads what its encoder sent meanwhile, a tick's audio and
// video, with one read and one wake-up.
//
// When the tick is the merge clock's, the clock wakes the waiting readers
// at each tick before it runs that tick's writer rounds, and waits (a
// quarter of a tick at most) until they have handled what they read: what
// arrived before the tick leaves at that tick, as it did when it was read
// on arrival, so players on the clock see no added delay. A goroutine of
// its own wakes them when the clock does not (nobody plays on the clock,
// or the ticks differ), an eighth of a tick late so as to leave the clock
// the first turn.
type ingestClock struct {
	clk  *mergeClock
	grid time.Duration
	// clocked: the merge clock wakes the readers at its ticks.
	clocked bool

	mu      sync.Mutex
	fired   time.Duration // the last tick whose readers were woken
	waiting []*conn       // readers waiting for the next tick
	spare   []*conn       // waiting's other buffer
	busy    int           // readers woken at fired, still handling what they read
	running bool          // the timer goroutine runs
	// through tells the clock that busy fell to zero.
	through chan struct{}
	// timer bounds the clock's wait; the clock's goroutine only.
	timer *time.Timer

	stats ingestCounters
}

// newIngestClock returns the ingest clock of a server, or nil when
// publishers read as bytes arrive (IngestTick negative).
func newIngestClock(cfg *Config, clk *mergeClock) *ingestClock {
	if cfg.IngestTick <= 0 {
		return nil
	}
	return &ingestClock{clk: clk, grid: cfg.IngestTick, clocked: cfg.IngestTick == cfg.MergeWrite,
		through: make(chan struct{}, 1)}
}

// beforeTick is the merge clock's hook: it wakes the readers waiting for
// the tick at (unless the ingest goroutine did, the clock being late) and
// waits, bounded, until they are through. A woken reader whose peer sent
// nothing since the last tick waits in its read, and holds the clock to
// the bound once. The merge clock's goroutine.
func (g *ingestClock) beforeTick(at time.Duration) {
	g.fire(at)
	armed := false
	for {
		g.mu.Lock()
		done := g.busy <= 0 || g.fired != at
		g.mu.Unlock()
		if done {
			if armed {
				g.timer.Stop()
			}
			return
		}
		if !armed {
			armed = true
			if g.timer == nil {
				g.timer = time.NewTimer(g.grid / 4)
			} else {
				g.timer.Reset(g.grid / 4)
			}
		}
		select {
		case <-g.through:
		case <-g.timer.C:
			return // a slow reader's data leaves at the next tick
		}
	}
}

// fire wakes the readers waiting, for the tick at, unless that tick has
// fired.
func (g *ingestClock) fire(at time.Duration) {
	g.mu.Lock()
	if at <= g.fired {
		g.mu.Unlock()
		return
	}
	if len(g.waiting) == 0 {
		g.fired, g.busy = at, 0
		g.mu.Unlock()
		return
	}
	g.fired = at
	woken := g.waiting
	g.waiting, g.spare = g.spare[:0], nil
	g.busy = len(woken)
	for _, c := range woken {
		c.ingestAt = at
	}
	g.mu.Unlock()
	g.readAt(woken)
	clear(woken)
	g.mu.Lock()
	g.spare = woken[:0]
	g.mu.Unlock()
}

// wait queues c's reader for the next tick; the caller then receives from
// c.ingestWake.
func (g *ingestClock) wait(c *conn) {
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	if !g.running {
		g.running = true
		go g.run()
	}
	g.mu.Unlock()
}

// requeue puts back c, which the clock read itself at the tick it was
// woken for (readAtTick), to wait for the next: as wait, and done.
func (g *ingestClock) requeue(c *conn) {
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	if !g.running {
		g.running = true
		go g.run()
	}
	g.settleLocked(c)
	g.mu.Unlock()
}

// settleLocked counts c's reader through the tick it was woken for, and
// lets the clock go on when it was the last one.
func (g *ingestClock) settleLocked(c *conn) {
	if c.ingestAt != g.fired {
		return
	}
	g.busy--
	if g.busy == 0 {
		select {
		case g.through <- struct{}{}:
		default:
		}
	}
}

// done tells the clock that c's reader has handled what it read at the
// tick it was woken for.
func (g *ingestClock) done(c *conn) {
	g.mu.Lock()
	g.settleLocked(c)
	g.mu.Unlock()
}

// run wakes the waiting readers at the ticks the merge clock has not
// fired. It ends after a tick at which none waited: readers woken at one
// tick wait for the next a moment later, and a goroutine started per tick
// would cost more than it saves.
func (g *ingestClock) run() {
	for {
		now := g.clk.now()
		at := now - now%g.grid + g.grid
		late := g.grid / 8
		if !g.clocked {
			late = 0
		}
		time.Sleep(at + late - now)
		g.mu.Lock()
		if len(g.waiting) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.fire(at)
	}
}

// awaitTick is the reader's side, after each message: once a woken
// reader has handled everything it read it tells the clock, and a
// publisher whose socket had nothing more waits for the next tick.
// Reader goroutine.
func (c *conn) awaitTick() {
	g := c.srv.ingest
	if g == nil {
		return
	}
	if c.ingestBusy && c.r.Buffered() == 0 {
		c.ingestBusy = false
		g.done(c)
	}
	if !c.keepRead || !c.tickRead || !c.r.Drained() {
		return
	}
	if c.ingestWake == nil {
		c.ingestWake = make(chan struct{}, 1)
	}
	g.wait(c)
	<-c.ingestWake
	c.ingestBusy = true
}
