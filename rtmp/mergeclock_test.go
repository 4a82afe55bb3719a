package rtmp

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
)

// fakeRound records the rounds the clock runs for it.
type fakeRound struct {
	clk    *mergeClock
	mu     sync.Mutex
	ranAt  []time.Duration // clock time of each round
	dueAt  []time.Duration // the deadline each round was run for
	rounds atomic.Int32
}

func (f *fakeRound) clockRound(w *writer, at time.Duration) {
	if w == nil || w.batch == nil || w.batch.Len() != 0 {
		panic("a round got no writer, or a writer that is not clean")
	}
	f.mu.Lock()
	f.ranAt = append(f.ranAt, f.clk.now())
	f.dueAt = append(f.dueAt, at)
	f.mu.Unlock()
	f.rounds.Add(1)
}

// Connections queued at one deadline share a slot and run once it has
// come, not before; earlier deadlines run first.
func TestMergeClockRunsEachRoundOnceDue(t *testing.T) {
	m := newMergeClock(40 * time.Millisecond)
	now := m.now()
	tests := []struct {
		name string
		at   time.Duration
	}{
		{"late a", m.ceil(now + 2*m.grid)},
		{"early", m.ceil(now + m.grid)},
		{"late b", m.ceil(now + 2*m.grid)},
		{"past", m.ceil(now - 2*m.grid)},
	}
	fakes := make([]*fakeRound, len(tests))
	for i, tt := range tests {
		if tt.name == "past" {
			// The future ones share two slots (checked before the past
			// deadline makes the clock fire at once).
			m.mu.Lock()
			n := len(m.slots)
			m.mu.Unlock()
			if n != 2 {
				t.Fatalf("%d slots for 2 distinct deadlines, want 2", n)
			}
		}
		fakes[i] = &fakeRound{clk: m}
		m.add(fakes[i], tt.at)
	}
	testutil.WaitFor(t, 10*time.Second, "every round", func() bool {
		for _, f := range fakes {
			if f.rounds.Load() == 0 {
				return false
			}
		}
		return true
	})
	for i, tt := range tests {
		f := fakes[i]
		f.mu.Lock()
		if len(f.ranAt) != 1 || f.dueAt[0] != tt.at || f.ranAt[0] < tt.at {
			t.Errorf("%s: rounds at %v for deadlines %v, want one at or after %v", tt.name, f.ranAt, f.dueAt, tt.at)
		}
		f.mu.Unlock()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.slots) != 0 {
		t.Fatalf("%d slots left after every deadline passed", len(m.slots))
	}
}

// A connection taken out of the clock (it closed) gets no round; one whose
// round has already been taken is not found.
func TestMergeClockRemove(t *testing.T) {
	m := newMergeClock(40 * time.Millisecond)
	at := m.ceil(m.now() + 2*m.grid)
	gone, stays := &fakeRound{clk: m}, &fakeRound{clk: m}
	m.add(gone, at)
	m.add(stays, at)
	if !m.remove(gone, at) {
		t.Fatal("remove did not find a queued connection")
	}
	if m.remove(gone, at) {
		t.Fatal("remove found a connection twice")
	}
	testutil.WaitFor(t, 10*time.Second, "the remaining round", func() bool { return stays.rounds.Load() == 1 })
	if m.remove(stays, at) {
		t.Fatal("remove found a connection whose round has run")
	}
	if n := gone.rounds.Load(); n != 0 {
		t.Fatalf("a removed connection had %d rounds", n)
	}
}

// Many connections at one deadline are spread over helpers and each gets
// exactly one round.
func TestMergeClockManyRounds(t *testing.T) {
	m := newMergeClock(40 * time.Millisecond)
	at := m.ceil(m.now() + m.grid)
	fakes := make([]*fakeRound, 10*roundsPerHelper+3)
	for i := range fakes {
		fakes[i] = &fakeRound{clk: m}
		m.add(fakes[i], at)
	}
	testutil.WaitFor(t, 10*time.Second, "every round", func() bool {
		for _, f := range fakes {
			if f.rounds.Load() == 0 {
				return false
			}
		}
		return true
	})
	for i, f := range fakes {
		if n := f.rounds.Load(); n != 1 {
			t.Fatalf("connection %d had %d rounds", i, n)
		}
	}
}

// Queueing and running reuse spent slots and writers: a playing
// connection's round costs the clock no allocation.
func TestMergeClockDoesNotAllocate(t *testing.T) {
	m := newMergeClock(40 * time.Millisecond)
	// A connection queued far ahead keeps the clock's goroutine running,
	// as playing connections do.
	keep := &fakeRound{clk: m}
	far := m.ceil(m.now() + time.Hour)
	m.add(keep, far)
	defer m.remove(keep, far)
	f := &fakeRound{clk: m, ranAt: make([]time.Duration, 0, 1000), dueAt: make([]time.Duration, 0, 1000)}
	round := func() {
		n := f.rounds.Load()
		m.add(f, m.ceil(m.now()-m.grid))
		for f.rounds.Load() == n {
			runtime.Gosched()
		}
	}
	for range 4 {
		round()
	}
	if a := testing.AllocsPerRun(100, round); a != 0 {
		t.Fatalf("%v allocs per round, want 0", a)
	}
}

// The ticks: deadlines round up to a multiple of MergeWrite.
func TestMergeClockGrid(t *testing.T) {
	m := newMergeClock(40 * time.Millisecond)
	for _, tc := range []struct{ at, want time.Duration }{
		{0, 0},
		{1, 40 * time.Millisecond},
		{40 * time.Millisecond, 40 * time.Millisecond},
		{41 * time.Millisecond, 80 * time.Millisecond},
		{80*time.Millisecond + 1, 120 * time.Millisecond},
	} {
		if got := m.ceil(tc.at); got != tc.want {
			t.Errorf("ceil(%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

// addNow runs a round before any deadline, with the clock's time as its
// deadline; one removed before its turn does not run.
func TestMergeClockAddNow(t *testing.T) {
	m := newMergeClock(40 * time.Millisecond)
	// A deadline far ahead: the rounds queued now must not wait for it.
	keep := &fakeRound{clk: m}
	far := m.ceil(m.now() + time.Hour)
	m.add(keep, far)
	defer m.remove(keep, far)
	now, gone := &fakeRound{clk: m}, &fakeRound{clk: m}
	m.mu.Lock() // hold the loop off while both are queued
	m.asap = append(m.asap, gone)
	m.mu.Unlock()
	if !m.remove(gone, asapAt) {
		t.Fatal("remove did not find a connection queued with addNow")
	}
	m.addNow(now)
	testutil.WaitFor(t, 10*time.Second, "the round queued now", func() bool { return now.rounds.Load() == 1 })
	now.mu.Lock()
	defer now.mu.Unlock()
	if now.dueAt[0] > now.ranAt[0] || now.ranAt[0] >= far {
		t.Fatalf("round due at %v ran at %v", now.dueAt[0], now.ranAt[0])
	}
	if n := gone.rounds.Load(); n != 0 {
		t.Fatalf("a removed connection had %d rounds", n)
	}
	if n := keep.rounds.Load(); n != 0 {
		t.Fatalf("the far deadline's round ran %d times", n)
	}
}

// A player kicked while the publishers of a tick are read (beforeTick)
// joins that tick's rounds, even after a round of its own that had
// nothing: the media read then leave at that tick, not a tick later. One
// that flushed at that tick already waits for the next.
func TestMergeClockKickDuringTickJoinsIt(t *testing.T) {
	m := newMergeClock(40 * time.Millisecond)
	kicked := &fakeRound{clk: m}
	var prepared atomic.Int64
	var once sync.Once
	m.beforeTick = func(at time.Duration) {
		once.Do(func() {
			prepared.Store(int64(at))
			if got := m.slotAfter(at, m.now()); got <= at {
				t.Errorf("flushed at the tick %v: next round at %v, want a later tick", at, got)
			}
			m.add(kicked, m.slotAfter(at-2*m.grid, m.now()))
		})
	}
	holder := &fakeRound{clk: m}
	m.add(holder, m.ceil(m.now()+m.grid))
	testutil.WaitFor(t, 10*time.Second, "the kicked round", func() bool { return kicked.rounds.Load() == 1 })
	kicked.mu.Lock()
	due := kicked.dueAt[0]
	kicked.mu.Unlock()
	if want := time.Duration(prepared.Load()); due != want {
		t.Fatalf("kicked during the tick %v: its round ran for %v", want, due)
	}
	// Outside a tick's preparation: the first grid point after both.
	now := m.now()
	if got, want := m.slotAfter(now-3*m.grid, now), m.ceil(now); got != want {
		t.Fatalf("kicked at %v: round at %v, want %v", now, got, want)
	}
}
