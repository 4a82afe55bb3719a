package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
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
	// Another node's copy may apply the write a moment later
	// (docs/cluster.md#nats: reads are direct reads).
	var got *sharedobject.Snapshot
	var err error
	testutil.WaitFor(t, time.Second, "the save on the other node", func() bool {
		got, err = b.Load("state/x")
		return err == nil
	})
	if got.Version != 7 || len(got.Slots) != 1 || got.Slots[0].Key != "count" {
		t.Fatalf("loaded %+v", got)
	}
	if _, err := other.Load("state/x"); !errors.Is(err, sharedobject.ErrNotFound) {
		t.Fatalf("another instance's object: %v, want ErrNotFound", err)
	}
	if err := b.Delete("state/x"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Second, "the delete on the other node", func() bool {
		_, err := a.Load("state/x")
		return errors.Is(err, sharedobject.ErrNotFound)
	})
	if err := a.Delete("never"); err != nil {
		t.Fatalf("Delete of an object never saved: %v", err)
	}
}
