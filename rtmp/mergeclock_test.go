package rtmp

import (
	"context"
	"testing"
	"time"
)

// Writers waiting for one deadline are woken by one fire, not before the
// deadline, and earlier deadlines come first.
func TestMergeClockWakesEachWaiterOnceDue(t *testing.T) {
	m := newMergeClock()
	now := m.now()
	grid := mergeGrid(40 * time.Millisecond)
	tests := []struct {
		name string
		at   time.Duration
	}{
		{"late a", now + 2*grid},
		{"early", now + grid},
		{"late b", now + 2*grid},
		{"past", now - grid},
	}
	chans := make([]chan struct{}, len(tests))
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
		chans[i] = make(chan struct{}, 1)
		m.wait(tt.at, chans[i])
	}
	deadline := time.After(10 * time.Second)
	for i, tt := range tests {
		select {
		case <-chans[i]:
		case <-deadline:
			t.Fatalf("%s: not woken", tt.name)
		}
		if got := m.now(); got < tt.at {
			t.Fatalf("%s: woken %v before its deadline", tt.name, tt.at-got)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.slots) != 0 {
		t.Fatalf("%d slots left after every deadline passed", len(m.slots))
	}
}

// Registering and firing reuse spent slots: a playing connection's merge
// wait allocates nothing per round.
func TestMergeClockDoesNotAllocate(t *testing.T) {
	m := newMergeClock()
	ch := make(chan struct{}, 1)
	round := func() {
		m.wait(m.now()-time.Millisecond, ch)
		m.fire()
		<-ch
	}
	for range 4 {
		round()
	}
	if a := testing.AllocsPerRun(100, round); a != 0 {
		t.Fatalf("%v allocs per merge wait, want 0", a)
	}
	m.mu.Lock()
	m.timer.Stop()
	m.mu.Unlock()
}

// TestMergeWaitRounds: a writer's next round is MergeWrite after its last
// flush, rounded up to the grid, and until returns once the clock is past it
// (or false when the connection ends first).
func TestMergeWaitRounds(t *testing.T) {
	clk := newMergeClock()
	mw := mergeWait{clk: clk, every: 40 * time.Millisecond, grid: mergeGrid(40 * time.Millisecond)}
	for _, tc := range []struct{ last, want time.Duration }{
		{0, 40 * time.Millisecond},
		{time.Millisecond, 45 * time.Millisecond},
		{5 * time.Millisecond, 45 * time.Millisecond},
		{5*time.Millisecond + 1, 50 * time.Millisecond},
	} {
		mw.lastFlush = tc.last
		if got := mw.next(); got != tc.want {
			t.Errorf("lastFlush %v: next %v, want %v", tc.last, got, tc.want)
		}
	}
	at := mw.ceil(clk.now() + 10*time.Millisecond)
	if !mw.until(context.Background(), at) || clk.now() < at {
		t.Fatalf("until(%v) returned at %v", at, clk.now())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if mw.until(ctx, clk.now()+time.Hour) {
		t.Fatal("until returned true for an ended connection")
	}
}
