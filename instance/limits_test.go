package instance

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openfcs/openfcs/amf"
)

// Instance limits: past MaxPerApp or MaxTotal a new instance takes the
// place of the one idle longest; with none idle the connect is refused.
func TestInstanceLimits(t *testing.T) {
	dir := t.TempDir()
	for _, app := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(dir, app), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := NewManager(Config{AppsDir: dir, IdleUnload: time.Hour, MaxPerApp: 2, MaxTotal: 3}, slog.New(slog.DiscardHandler))
	t.Cleanup(m.Close)
	connect := func(app, inst string) (*Instance, *Client, error) {
		t.Helper()
		return m.Connect(app, inst, ClientInfo{})
	}
	a1, ca1, err := connect("a", "1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := connect("a", "2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := connect("a", "3"); !errors.Is(err, ErrTooManyInstances) {
		t.Fatalf("third instance of a: err = %v, want ErrTooManyInstances", err)
	}
	if _, _, err := connect("a", "1"); err != nil { // an existing instance is no new one
		t.Fatalf("second client of a/1: %v", err)
	}
	if _, _, err := connect("b", "1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := connect("b", "2"); !errors.Is(err, ErrTooManyInstances) {
		t.Fatalf("fourth instance: err = %v, want ErrTooManyInstances", err)
	}
	// a/1 goes idle (both its clients leave): it makes room at once.
	for _, c := range a1.Clients() {
		a1.Disconnect(c)
	}
	_ = ca1
	in, _, err := connect("b", "2")
	if err != nil {
		t.Fatalf("with a/1 idle: %v", err)
	}
	if in.App != "b" || len(m.Instances()) != 3 {
		t.Fatalf("instances after eviction: %d", len(m.Instances()))
	}
	for _, x := range m.Instances() {
		if x == a1 {
			t.Fatal("the idle instance was kept")
		}
	}
	if _, ok := a1.idleSince(); ok {
		t.Fatal("the evicted instance was not unloaded")
	}
}

// rejectLoader makes scripts that refuse every client, like a main.asc
// whose onConnect returns false.
type rejectLoader struct {
	mu     sync.Mutex
	loaded int
}

func (l *rejectLoader) Load(in *Instance) (Script, error) {
	l.mu.Lock()
	l.loaded++
	l.mu.Unlock()
	return rejectScript{in}, nil
}

type rejectScript struct{ in *Instance }

func (s rejectScript) Connect(c *Client, _ []amf.Value) {
	go s.in.Reject(c, "Connection rejected.", amf.Undefined())
}
func (rejectScript) Disconnect(*Client)                                {}
func (rejectScript) Call(_ *Client, _ string, _ []amf.Value, r Result) { r(amf.Undefined(), false) }
func (rejectScript) Publish(*Client, string) error                     { return nil }
func (rejectScript) Unpublish(*Client, string)                         {}
func (rejectScript) Stop(string)                                       {}

// closingPeer tells the test when the client was refused, as a transport
// that then closes the connection.
type closingPeer struct{ rejected chan struct{} }

func (p closingPeer) Accept(*Client)                        {}
func (p closingPeer) Reject(*Client, amf.Value)             { close(p.rejected) }
func (p closingPeer) Call(string, []amf.Value, Result) bool { return false }
func (p closingPeer) Close(amf.Value)                       {}
func (p closingPeer) Ping() bool                            { return false }
func (p closingPeer) Stats() PeerStats                      { return PeerStats{} }

// An instance whose script refused its only client unloads as soon as
// the client is gone, not after IdleUnload: refused connects to distinct
// instance names cannot pile instances up.
func TestRefusedOnlyClientUnloadsInstance(t *testing.T) {
	m := newTestManager(t, time.Hour)
	m.SetScriptLoader(&rejectLoader{})
	for i := range 200 {
		p := closingPeer{rejected: make(chan struct{})}
		in, c, err := m.Connect("live", fmt.Sprint("room", i), ClientInfo{Peer: p})
		if err != nil {
			t.Fatal(err)
		}
		<-p.rejected
		in.Disconnect(c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(m.Instances()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d instances still loaded after their only clients were refused", len(m.Instances()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An accepted client keeps its instance for IdleUnload after it leaves.
func TestAcceptedClientKeepsIdleInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newTestManager(t, time.Minute)
		in, c, err := m.Connect("live", "room", ClientInfo{})
		if err != nil {
			t.Fatal(err)
		}
		in.Disconnect(c)
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if len(m.Instances()) != 1 {
			t.Fatal("an instance that had an accepted client was unloaded before IdleUnload")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if len(m.Instances()) != 0 {
			t.Fatal("the idle instance was not unloaded after IdleUnload")
		}
	})
}
