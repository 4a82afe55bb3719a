package rtmp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/sharedobject/wire"
	"github.com/openfcs/openfcs/status"
)

// ErrSharedObjectInUse is returned by SharedObject.Connect when the client
// already has a connected object of that name and persistence.
var ErrSharedObjectInUse = errors.New("rtmp: shared object already connected on this client")

// SyncItem is one entry of a client-side onSync list (docs/shared-objects.md
// docs/shared-objects.md#onsync-codes): Code is "clear", "change", "success", "reject" or "delete".
type SyncItem struct {
	Code     string
	Name     string
	OldValue amf.Value
}

type clientSOKey struct {
	name       string
	persistent bool
}

// SharedObject is the client side of a remote shared object, as
// SharedObject.getRemote in Flash: a local copy of the slots kept in sync
// with the server, setProperty, send and onSync. The local copy and its
// version survive Close, so connecting the same object again (on this or
// another Client) asks only for what changed meanwhile, as a Flash client
// with a locally persistent copy does. Safe for concurrent use.
type SharedObject struct {
	// Name and Persistent identify the object on the server.
	Name       string
	Persistent bool
	// OnSync, OnMessage and OnStatus are called on the client's reader
	// goroutine, once per received message (OnSync) or event; set them
	// before Connect. They must not block for long.
	OnSync    func(items []SyncItem)
	OnMessage func(handler string, args []amf.Value)
	OnStatus  func(code, level string)

	mu      sync.Mutex
	c       *Client
	data    map[string]amf.Value
	version uint32
	pending map[string]bool
	ready   chan error // Connect's wait; nil when not connecting
	msgs    int
}

// NewSharedObject returns an unconnected shared object with an empty local
// copy.
func NewSharedObject(name string, persistent bool) *SharedObject {
	return &SharedObject{Name: name, Persistent: persistent, data: map[string]amf.Value{}, pending: map[string]bool{}}
}

func (so *SharedObject) key() clientSOKey { return clientSOKey{so.Name, so.Persistent} }

func (so *SharedObject) flags() uint32 {
	if so.Persistent {
		return wire.FlagPersistent
	}
	return 0
}

// Connect sends Use with the version of the local copy and waits for the
// server's UseSuccess (the sync that follows it is applied as it arrives).
// A refusal returns a *status.Error with the server's code
// (SharedObject.ObjectCreationFailed, ...).
func (so *SharedObject) Connect(ctx context.Context, c *Client) error {
	c.mu.Lock()
	if c.sos == nil {
		c.sos = map[clientSOKey]*SharedObject{}
	}
	if old := c.sos[so.key()]; old != nil && old != so {
		c.mu.Unlock()
		return ErrSharedObjectInUse
	}
	c.sos[so.key()] = so
	c.mu.Unlock()
	ready := make(chan error, 1)
	so.mu.Lock()
	so.c = c
	so.ready = ready
	v := so.version
	so.mu.Unlock()
	if err := so.write(c, v, wire.Event{Type: wire.EventUse}); err != nil {
		so.detach(c)
		return err
	}
	select {
	case err := <-ready:
		if err != nil {
			so.detach(c)
		}
		return err
	case <-ctx.Done():
		so.detach(c)
		return ctx.Err()
	case <-c.done:
		so.detach(c)
		return c.Err()
	}
}

func (so *SharedObject) detach(c *Client) {
	c.mu.Lock()
	if c.sos[so.key()] == so {
		delete(c.sos, so.key())
	}
	c.mu.Unlock()
	so.mu.Lock()
	if so.c == c {
		so.c = nil
	}
	so.ready = nil
	so.mu.Unlock()
}

// write sends one message for this object: type 16 on an AMF3 client,
// else 19.
func (so *SharedObject) write(c *Client, version uint32, evs ...wire.Event) error {
	amf3 := c.cfg.ObjectEncoding == 3
	m := wire.Message{Name: so.Name, Version: version, Flags: so.flags(), Events: evs}
	var e amf.Encoder
	p, err := m.Append(nil, amf3, &e)
	if err != nil {
		return err
	}
	t := uint8(message.TypeSharedObject)
	if amf3 {
		t = message.TypeSharedObjectAMF3
	}
	return c.writeMsg(chunk.Header{CSID: message.CSIDCommand, Type: t}, p)
}

func (so *SharedObject) conn() (*Client, uint32, error) {
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.c == nil {
		return nil, 0, fmt.Errorf("rtmp: shared object %q is not connected", so.Name)
	}
	return so.c, so.version, nil
}

// SetProperty changes a slot (AS3 setProperty): the local copy changes at
// once and the slot stays pending until the server answers Success (or
// Change: "reject"). A null or undefined value deletes the slot.
func (so *SharedObject) SetProperty(key string, v amf.Value) error {
	return so.SetProperties(map[string]amf.Value{key: v})
}

// SetProperties changes several slots in one message (one version on the
// server), as the player does for the slots changed in one frame.
func (so *SharedObject) SetProperties(kv map[string]amf.Value) error {
	c, ver, err := so.conn()
	if err != nil {
		return err
	}
	evs := make([]wire.Event, 0, len(kv))
	so.mu.Lock()
	for k, v := range kv {
		if v.IsNull() || v.IsUndefined() {
			delete(so.data, k)
			evs = append(evs, wire.Event{Type: wire.EventRequestRemove, Key: k})
			continue
		}
		so.data[k] = v
		so.pending[k] = true
		evs = append(evs, wire.Event{Type: wire.EventRequestChange, Key: k, Value: v})
	}
	so.mu.Unlock()
	return so.write(c, ver, evs...)
}

// Send calls handler(args...) on every client of the object, this one
// included, and on the server script.
func (so *SharedObject) Send(handler string, args ...amf.Value) error {
	c, ver, err := so.conn()
	if err != nil {
		return err
	}
	return so.write(c, ver, wire.Event{Type: wire.EventSendMessage, Key: handler, Args: args})
}

// Close sends Release and detaches the object from its client; the local
// copy and version are kept for a later Connect.
func (so *SharedObject) Close() error {
	c, ver, err := so.conn()
	if err != nil {
		return nil
	}
	err = so.write(c, ver, wire.Event{Type: wire.EventRelease})
	so.detach(c)
	return err
}

// Get returns a slot of the local copy (undefined when absent).
func (so *SharedObject) Get(key string) amf.Value {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.data[key]
}

// Data returns a copy of the local slots.
func (so *SharedObject) Data() map[string]amf.Value {
	so.mu.Lock()
	defer so.mu.Unlock()
	return maps.Clone(so.data)
}

// Version returns the version of the local copy.
func (so *SharedObject) Version() uint32 {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.version
}

// Pending returns how many slots wait for the server's answer.
func (so *SharedObject) Pending() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	return len(so.pending)
}

// Messages returns how many messages the object received.
func (so *SharedObject) Messages() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.msgs
}

// handleSharedObject dispatches a type 19/16 message on the reader
// goroutine. Events the client does not know (12-14 from some servers) are
// skipped (docs/shared-objects.md#reading-events); a malformed message is dropped.
func (c *Client) handleSharedObject(h chunk.Header, p []byte) {
	var m wire.Message
	if err := wire.Parse(p, h.Type == message.TypeSharedObjectAMF3, &c.dec, &m); err != nil {
		c.log.Debug("bad shared object message", "err", err)
		return
	}
	flags := m.Flags & wire.FlagPersistent
	c.mu.Lock()
	so := c.sos[clientSOKey{m.Name, flags != 0}]
	c.mu.Unlock()
	if so != nil {
		so.apply(&m)
	}
}

// apply updates the local copy from one server message and runs the
// callbacks.
func (so *SharedObject) apply(m *wire.Message) {
	var items []SyncItem
	type soStatus struct{ code, level string }
	var statuses []soStatus
	var sends []wire.Event
	so.mu.Lock()
	so.msgs++
	if m.Version != 0 {
		so.version = m.Version
	}
	ready := so.ready
	var readyErr error
	readyDone := false
	for _, e := range m.Events {
		switch e.Type {
		case wire.EventUseSuccess:
			readyDone = true
		case wire.EventClear:
			clear(so.data)
			items = append(items, SyncItem{Code: "clear"})
		case wire.EventChange:
			code := "change"
			if so.pending[e.Key] {
				code = "reject"
				delete(so.pending, e.Key)
			}
			items = append(items, SyncItem{Code: code, Name: e.Key, OldValue: so.data[e.Key]})
			so.data[e.Key] = e.Value
		case wire.EventSuccess:
			delete(so.pending, e.Key)
			items = append(items, SyncItem{Code: "success", Name: e.Key, OldValue: so.data[e.Key]})
		case wire.EventRemove:
			items = append(items, SyncItem{Code: "delete", Name: e.Key, OldValue: so.data[e.Key]})
			delete(so.data, e.Key)
			delete(so.pending, e.Key)
		case wire.EventStatus:
			statuses = append(statuses, soStatus{e.Key, e.Level})
			if e.Level == status.LevelError && ready != nil && !readyDone {
				readyErr, readyDone = &status.Error{Code: e.Key, Description: e.Level}, true
			}
		case wire.EventSendMessage:
			sends = append(sends, e)
		}
	}
	if readyDone && ready != nil {
		so.ready = nil
	}
	onSync, onMessage, onStatus := so.OnSync, so.OnMessage, so.OnStatus
	so.mu.Unlock()
	if onSync != nil && (len(items) > 0 || readyDone) {
		onSync(items)
	}
	for _, s := range statuses {
		if onStatus != nil {
			onStatus(s.code, s.level)
		}
	}
	for _, e := range sends {
		if onMessage != nil {
			onMessage(e.Key, e.Args)
		}
	}
	if readyDone && ready != nil {
		ready <- readyErr
	}
}
