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
	"github.com/openfcs/openfcs/sharedobject"
	"github.com/openfcs/openfcs/sharedobject/wire"
	"github.com/openfcs/openfcs/status"
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
func (rejectScript) Publish(*Client, PublishRequest) error             { return nil }
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

// soRec is a shared-object subscriber that keeps the status codes it gets.
type soRec struct {
	mu    sync.Mutex
	codes []string
}

func (r *soRec) Deliver(o sharedobject.Outgoing) {
	var d amf.Decoder
	var m wire.Message
	if err := wire.Parse(o.Body(false), false, &d, &m); err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range m.Events {
		switch e.Type {
		case wire.EventStatus:
			r.codes = append(r.codes, e.Key)
		case wire.EventUseSuccess:
			r.codes = append(r.codes, "use-success")
		}
	}
}

func (r *soRec) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.codes) == 0 {
		return ""
	}
	return r.codes[len(r.codes)-1]
}

// An application without a script refuses client-created persistent
// shared objects unless its application.yaml allows them; the stored
// objects of every application count against the server's budget from
// the start.
func TestSharedObjectPolicyAndBudget(t *testing.T) {
	dir := t.TempDir()
	for _, app := range []string{"plain", "open"} {
		if err := os.Mkdir(filepath.Join(dir, app), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "open", AppConfigFile), []byte("shared_objects:\n  client_persistent: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := NewManager(Config{AppsDir: dir}, slog.New(slog.DiscardHandler))
	use := func(app, inst string) string {
		t.Helper()
		in, c, err := m.Connect(app, inst, ClientInfo{})
		if err != nil {
			t.Fatal(err)
		}
		defer in.Disconnect(c)
		r := &soRec{}
		s := in.SharedObjects().NewSession(r)
		defer s.Close()
		msg := &wire.Message{Name: "p", Flags: wire.FlagPersistent, Events: []wire.Event{{Type: wire.EventUse},
			{Type: wire.EventRequestChange, Key: "k", Value: amf.String("v")}}}
		if err := s.Handle(msg); err != nil {
			t.Fatal(err)
		}
		return r.last()
	}
	if got := use("plain", "a"); got != status.ObjectCreationFailed {
		t.Fatalf("plain app: %q, want %s", got, status.ObjectCreationFailed)
	}
	for _, inst := range []string{"a", "b"} {
		if got := use("open", inst); got != "use-success" {
			t.Fatalf("open app, instance %s: %q", inst, got)
		}
	}
	m.Close() // saves both objects
	if u := m.SharedObjectUsage("open"); u.Files != 2 || u.Objects != 0 {
		t.Fatalf("open app after unload: %+v", u)
	}
	m2 := NewManager(Config{AppsDir: dir}, slog.New(slog.DiscardHandler))
	defer m2.Close()
	if u, want := m2.SharedObjectUsage(""), m.SharedObjectUsage(""); u.Files != 2 || u.Disk != want.Disk {
		t.Fatalf("restarted server counts %+v, want %+v", u, want)
	}
}
