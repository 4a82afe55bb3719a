package rtmp

import (
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
