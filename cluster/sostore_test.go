package cluster

import (
	"errors"
	"testing"

	"github.com/openfcs/openfcs/sharedobject"
)

// testSharedObjectStore: a snapshot saved by one node loads on another,
// per instance; a deleted or never saved one is ErrNotFound.
func testSharedObjectStore(t *testing.T, nodes []*Node) {
	t.Helper()
	a, b := nodes[0].SharedObjectStore("room", "one"), nodes[1].SharedObjectStore("room", "one")
	other := nodes[1].SharedObjectStore("room", "two")
	snap := &sharedobject.Snapshot{Name: "state/x", Version: 7, Horizon: 1,
		Slots: []sharedobject.SnapshotSlot{{Key: "count", Version: 7, Value: []byte{0, 0x40, 0x1c, 0, 0, 0, 0, 0, 0}}}}
	if err := a.Save(snap); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load("state/x")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 7 || len(got.Slots) != 1 || got.Slots[0].Key != "count" {
		t.Fatalf("loaded %+v", got)
	}
	if _, err := other.Load("state/x"); !errors.Is(err, sharedobject.ErrNotFound) {
		t.Fatalf("another instance's object: %v, want ErrNotFound", err)
	}
	if err := b.Delete("state/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Load("state/x"); !errors.Is(err, sharedobject.ErrNotFound) {
		t.Fatalf("after Delete: %v, want ErrNotFound", err)
	}
	if err := a.Delete("never"); err != nil {
		t.Fatalf("Delete of an object never saved: %v", err)
	}
}
