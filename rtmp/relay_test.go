package rtmp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/status"
)

// elsewhereEngine says every instance runs on node "owner".
type elsewhereEngine struct{}

func (elsewhereEngine) Connect(app, inst string, _ instance.ClientInfo) (*instance.Instance, *instance.Client, error) {
	return nil, nil, &instance.ElsewhereError{App: app, Instance: inst, Node: "owner"}
}

// pipeRelayer relays in process to the owner's server: what the cluster
// does over NATS, without it.
type pipeRelayer struct {
	owner *Server
	mu    sync.Mutex
	opens []RelayOpen
	fail  bool
}

type pipeLink struct {
	v    *Virtual
	once sync.Once
}

func (l *pipeLink) Send(m Message) error { return l.v.Write(m) }
func (l *pipeLink) Close()               { l.once.Do(func() { _ = l.v.Close() }) }

func (r *pipeRelayer) Relay(ctx context.Context, node string, open RelayOpen, deliver func(Message), end func(error)) (RelayLink, error) {
	r.mu.Lock()
	r.opens = append(r.opens, open)
	fail := r.fail
	r.mu.Unlock()
	if fail || node != "owner" {
		return nil, errors.New("no such node")
	}
	v, err := r.owner.ServeVirtual(context.Background(), open.Proto, open.IP)
	if err != nil {
		return nil, err
	}
	l := &pipeLink{v: v}
	go func() {
		for {
			m, err := v.Read()
			if err != nil {
				end(err)
				return
			}
			deliver(m)
		}
	}()
	if err := v.Write(open.Connect); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// TestRelayedSession: a client of a node whose engine says the instance
// runs elsewhere is relayed to the owner, which admits it as a client of
// its instance (with the client's address and protocol) and answers its
// commands; the client leaving ends the owner's session.
func TestRelayedSession(t *testing.T) {
	owner := startServer(t, Config{})
	log, _ := testutil.Logger(t, 0)
	relayer := &pipeRelayer{owner: owner.srv}
	edge := &Server{Logger: log, Engine: elsewhereEngine{}, Relay: relayer}
	addr, _ := testutil.Serve(t, edge, ErrServerClosed)
	ctx := testutil.Context(t, 10*time.Second)
	c, err := Dial(ctx, "rtmp://"+addr+"/live/shared", ClientConfig{})
	if err != nil {
		t.Fatalf("relayed connect: %v", err)
	}
	defer c.Close()
	in := owner.eng.Lookup("live", "shared")
	if in == nil {
		t.Fatal("the owner has no instance live/shared")
	}
	cls := in.Clients()
	if len(cls) != 1 || cls[0].IP != "127.0.0.1" || cls[0].Protocol != "rtmp" {
		t.Fatalf("owner's clients: %+v", cls)
	}
	if len(relayer.opens) != 1 || relayer.opens[0].App != "live" || relayer.opens[0].Instance != "shared" {
		t.Fatalf("relay opens: %+v", relayer.opens)
	}
	// A command after connect reaches the owner and its answer comes back.
	s, err := c.CreateStream(ctx)
	if err != nil || s.ID == 0 {
		t.Fatalf("createStream through the relay: %v, %v", s, err)
	}
	// So does a shared object.
	so := NewSharedObject("room", false)
	if err := so.Connect(ctx, c); err != nil {
		t.Fatalf("shared object through the relay: %v", err)
	}
	if err := so.SetProperty("k", amf.Number(1)); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(5*time.Second, func() bool { return so.Pending() == 0 }) {
		t.Fatal("the owner did not confirm the shared-object change")
	}
	_ = c.Close()
	if !pollUntil(5*time.Second, func() bool { return len(in.Clients()) == 0 }) {
		t.Fatal("the owner kept the relayed client after it left")
	}
}

// TestRelayRefused: a relay that cannot be opened fails the connect with
// NetConnection.Connect.Failed.
func TestRelayRefused(t *testing.T) {
	log, _ := testutil.Logger(t, 0)
	edge := &Server{Logger: log, Engine: elsewhereEngine{}, Relay: &pipeRelayer{fail: true}}
	addr, _ := testutil.Serve(t, edge, ErrServerClosed)
	_, err := Dial(testutil.Context(t, 10*time.Second), "rtmp://"+addr+"/live/x", ClientConfig{})
	se, ok := errors.AsType[*status.Error](err)
	if !ok || se.Code != status.ConnectFailed {
		t.Fatalf("err = %v, want %s", err, status.ConnectFailed)
	}
}

// pollUntil reports whether cond became true within d.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// TestRelayedQuietClient: a relayed client with nothing to say outlives
// several idle timeouts on both nodes: the owner's session pings it
// through the relay, and its answers keep both sides' deadlines.
func TestRelayedQuietClient(t *testing.T) {
	cfg := Config{IdleTimeout: 400 * time.Millisecond}
	owner := startServer(t, cfg)
	log, _ := testutil.Logger(t, 0)
	edge := &Server{Config: cfg, Logger: log, Engine: elsewhereEngine{}, Relay: &pipeRelayer{owner: owner.srv}}
	addr, _ := testutil.Serve(t, edge, ErrServerClosed)
	ctx := testutil.Context(t, 10*time.Second)
	c, err := Dial(ctx, "rtmp://"+addr+"/live/quiet", ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-c.Done():
		t.Fatalf("the quiet relayed client was closed: %v", c.Err())
	case <-time.After(5 * cfg.IdleTimeout):
	}
	if _, err := c.CreateStream(ctx); err != nil {
		t.Fatalf("after a quiet while: %v", err)
	}
	if in := owner.eng.Lookup("live", "quiet"); in == nil || len(in.Clients()) != 1 {
		t.Fatal("the owner lost the quiet relayed client")
	}
}

// TestRelayedReject: the owner's refusal reaches the relayed client as
// the owner answered it.
func TestRelayedReject(t *testing.T) {
	owner := startServer(t, Config{})
	log, _ := testutil.Logger(t, 0)
	edge := &Server{Logger: log, Engine: elsewhereEngine{}, Relay: &pipeRelayer{owner: owner.srv}}
	addr, _ := testutil.Serve(t, edge, ErrServerClosed)
	_, err := Dial(testutil.Context(t, 10*time.Second), "rtmp://"+addr+"/nosuchapp", ClientConfig{})
	se, ok := errors.AsType[*status.Error](err)
	if !ok || se.Code != status.ConnectInvalidApp {
		t.Fatalf("err = %v, want the owner's %s", err, status.ConnectInvalidApp)
	}
}
