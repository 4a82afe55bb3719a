package rtmp

import (
	"fmt"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
)

// TestSharedObjectVersionAfterBurst: a client that changed many slots in a
// burst ends at the version its peers see, which a delta resync relies on
// (docs/shared-objects.md#versions-and-resync).
func TestSharedObjectVersionAfterBurst(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := testutil.Context(t, 5*time.Second)
	a, b := NewSharedObject("burst", false), NewSharedObject("burst", false)
	if err := a.Connect(ctx, dial(t, ts, "live", ClientConfig{})); err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(ctx, dial(t, ts, "live", ClientConfig{})); err != nil {
		t.Fatal(err)
	}
	for i := range 42 {
		if err := a.SetProperty(fmt.Sprint("k", i), amf.Number(float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "no pending", func() bool { return a.Pending() == 0 })
	testutil.WaitFor(t, 5*time.Second, "b has all", func() bool { return len(b.Data()) == 42 })
	if a.Version() != b.Version() {
		t.Fatalf("a at %d, b at %d", a.Version(), b.Version())
	}
}
