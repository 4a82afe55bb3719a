package instance

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeOwner owns "live/mine" here, says "live/theirs" runs on node n2,
// and lets every other instance run anywhere.
type fakeOwner struct {
	mu    sync.Mutex
	holds []*fakeHold
}

type fakeHold struct {
	lost     chan struct{}
	released chan struct{}
}

func (h *fakeHold) Lost() <-chan struct{} { return h.lost }
func (h *fakeHold) Release()              { close(h.released) }

func (o *fakeOwner) Own(app, inst string) (Hold, error) {
	switch inst {
	case "theirs":
		return nil, &ElsewhereError{App: app, Instance: inst, Node: "n2"}
	case "mine":
		h := &fakeHold{lost: make(chan struct{}), released: make(chan struct{})}
		o.mu.Lock()
		o.holds = append(o.holds, h)
		o.mu.Unlock()
		return h, nil
	}
	return nil, nil
}

// TestOwnerDecidesWhereInstancesRun: an instance owned elsewhere does
// not load here (the connect fails with the owner's name); an owned one
// is asked about once, keeps its hold while loaded and releases it once
// unloaded; a lost hold stops the instance and closes its clients.
func TestOwnerDecidesWhereInstancesRun(t *testing.T) {
	m := newTestManager(t, 20*time.Millisecond)
	o := &fakeOwner{}
	m.SetOwner(o, nil)
	_, _, err := m.Connect("live", "theirs", ClientInfo{})
	var ee *ElsewhereError
	if !errors.As(err, &ee) || ee.Node != "n2" {
		t.Fatalf("Connect to an instance owned elsewhere: %v", err)
	}
	if m.Lookup("live", "theirs") != nil {
		t.Fatal("an instance owned elsewhere loaded here")
	}
	if _, _, err := m.Connect("live", "free", ClientInfo{}); err != nil {
		t.Fatalf("instance without an owner: %v", err)
	}

	in, c1, err := m.Connect("live", "mine", ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	_, c2, err := m.Connect("live", "mine", ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.holds) != 1 {
		t.Fatalf("the owner was asked %d times for one loaded instance", len(o.holds))
	}
	h := o.holds[0]
	in.Disconnect(c1)
	in.Disconnect(c2)
	select {
	case <-h.released:
	case <-time.After(5 * time.Second):
		t.Fatal("the hold was not released after the instance unloaded")
	}

	// Lost: the instance stops at once, although it has a client.
	in, _, err = m.Connect("live", "mine", ClientInfo{})
	if err != nil {
		t.Fatal(err)
	}
	h = o.holds[1]
	close(h.lost)
	select {
	case <-h.released:
	case <-time.After(5 * time.Second):
		t.Fatal("a lost hold did not stop its instance")
	}
	if m.Lookup("live", "mine") == in {
		t.Fatal("the instance whose hold was lost is still registered")
	}
}
