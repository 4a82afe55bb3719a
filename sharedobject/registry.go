package sharedobject

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

// Errors callers branch on.
var (
	// ErrClosed is returned after Registry.Close.
	ErrClosed = errors.New("sharedobject: registry closed")
	// ErrLimit reports a limit of Config (objects per instance or per
	// client).
	ErrLimit = errors.New("sharedobject: limit reached")
	// ErrFlood is returned by Session.Handle for a client that keeps
	// sending past its change budget; the transport disconnects it.
	ErrFlood = errors.New("sharedobject: change flood")
	// ErrUnknownEvent is returned by Session.Handle for an event type that
	// does not exist (or only exists server→client is fine: those are
	// ignored); the transport closes that connection.
	ErrUnknownEvent = errors.New("sharedobject: unknown event type")
	// ErrNotPersistent is returned by Flush on a temporary object.
	ErrNotPersistent = errors.New("sharedobject: not persistent")
	// ErrNoClientCreate refuses a client's Use of a persistent object that
	// does not exist yet, in a registry that does not let clients create
	// them (SetClientPersistent).
	ErrNoClientCreate = errors.New("sharedobject: clients may not create persistent objects here")
)

// Subscriber receives the messages of the shared objects its session
// uses. Deliver is called with the object's lock held, possibly from
// another connection's goroutine or a timer: it must queue the message
// without blocking and must not call into this package. The message bytes
// are shared with other subscribers and must not be modified.
type Subscriber interface {
	Deliver(m Outgoing)
}

// Outgoing is one encoded shared-object message.
type Outgoing struct {
	b []byte // 00 + type-19 body
}

// AMF3 returns the type-16 body (leading format byte 00).
func (o Outgoing) AMF3() []byte { return o.b }

// AMF0 returns the type-19 body (the same bytes without the leading byte).
func (o Outgoing) AMF0() []byte { return o.b[1:] }

// Body returns the body for a message of type 16 (amf3) or 19.
func (o Outgoing) Body(amf3 bool) []byte {
	if amf3 {
		return o.b
	}
	return o.b[1:]
}

type soKey struct {
	name       string
	persistent bool
}

// Registry holds the shared objects of one application instance.
type Registry struct {
	cfg   Config
	store Store
	log   *slog.Logger

	// budget counts this registry's objects with those of the rest of the
	// application and server; nil: only Config's per-instance limits.
	budget *Budget
	// noClientCreate: a client's Use cannot create a persistent object.
	noClientCreate atomic.Bool
	// changes counts version changes of this registry's objects
	// (SetChangeCounter); nil: not counted.
	changes *atomic.Uint64
	// saves counts objects written to the store (Saves).
	saves atomic.Uint64

	mu     sync.Mutex
	sos    map[soKey]*SharedObject
	closed bool

	nextSession atomic.Uint64
	// timers counts AfterFunc callbacks scheduled and not yet finished, so
	// Close can wait for them.
	timers sync.WaitGroup
}

// NewRegistry returns an empty registry. store may be nil: persistent
// objects then live in memory only (as temporary objects that survive
// release).
func NewRegistry(cfg Config, store Store, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{cfg: cfg.WithDefaults(), store: store, log: log, sos: map[soKey]*SharedObject{}}
}

// Config returns the effective configuration.
func (r *Registry) Config() Config { return r.cfg }

// SetBudget makes the registry's objects count against b (an
// application's budget, child of the server's). Call it before the
// registry is used.
func (r *Registry) SetBudget(b *Budget) { r.budget = b }

// SetChangeCounter makes every version change of the registry's objects
// add one to c (monitoring: changes per second over the server). Call it
// before the registry is used.
func (r *Registry) SetChangeCounter(c *atomic.Uint64) { r.changes = c }

// SetClientPersistent sets whether a client's Use may create a persistent
// object that is not in the store yet (default true). Existing ones can
// always be used, and the application script can always create them.
func (r *Registry) SetClientPersistent(allow bool) { r.noClientCreate.Store(!allow) }

// Get returns the named object for the application script, creating it
// (persistent ones are loaded from the store), and takes a script
// reference that keeps a temporary object alive until
// SharedObject.Close (docs/shared-objects.md#server-side-api SharedObject.get).
func (r *Registry) Get(name string, persistent bool) (*SharedObject, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	so, err := r.getLocked(name, persistent, false)
	if err != nil {
		return nil, err
	}
	so.mu.Lock()
	so.refs++
	so.mu.Unlock()
	return so, nil
}

// Lookup returns a loaded object or nil, without creating it or taking a
// reference.
func (r *Registry) Lookup(name string, persistent bool) *SharedObject {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sos[soKey{name, persistent}]
}

// Objects returns the loaded objects, sorted by name (temporary before
// persistent for one name), without taking references: for monitoring.
func (r *Registry) Objects() []*SharedObject {
	r.mu.Lock()
	out := make([]*SharedObject, 0, len(r.sos))
	for _, so := range r.sos {
		out = append(out, so)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *SharedObject) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if a.persistent == b.persistent {
			return 0
		}
		if b.persistent {
			return -1
		}
		return 1
	})
	return out
}

// Len returns the number of loaded objects.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sos)
}

// getLocked returns the named object, creating (or loading) it; client
// tells whether a client's Use asks (SetClientPersistent applies).
func (r *Registry) getLocked(name string, persistent, client bool) (*SharedObject, error) {
	if r.closed {
		return nil, ErrClosed
	}
	k := soKey{name, persistent}
	if so := r.sos[k]; so != nil {
		return so, nil
	}
	if err := CheckName(name, r.cfg.MaxNameBytes); err != nil {
		return nil, err
	}
	if len(r.sos) >= r.cfg.MaxPerInstance {
		return nil, fmt.Errorf("%w: %d shared objects in this instance", ErrLimit, len(r.sos))
	}
	so := newObject(r, name, persistent)
	if persistent && r.store != nil {
		snap, err := r.store.Load(name)
		switch {
		case errors.Is(err, ErrNotFound):
			if client && r.noClientCreate.Load() {
				return nil, fmt.Errorf("%w: %q", ErrNoClientCreate, name)
			}
		case err != nil:
			r.log.Error("shared object load failed", "so", name, "err", err)
			return nil, err
		default:
			if err := so.restore(snap); err != nil {
				r.log.Error("shared object load failed", "so", name, "err", err)
				return nil, err
			}
			r.log.Debug("shared object loaded", "so", name, "version", so.version, "slots", len(so.keys))
		}
	} else if persistent && client && r.noClientCreate.Load() {
		return nil, fmt.Errorf("%w: %q", ErrNoClientCreate, name)
	}
	// A stored file is already counted (Budget.ChargeStored, or the
	// change that made it): only the memory of a loaded object is new.
	want := so.usageOf(so.size, len(so.keys), len(so.tombs), so.tombKeys, so.hasFile)
	if err := r.budget.charge(Usage{Objects: want.Objects, Bytes: want.Bytes}); err != nil {
		return nil, err
	}
	so.charged = want
	r.sos[k] = so
	return so, nil
}

// dropIfUnused removes a temporary object nobody uses any more. Called
// with r.mu and so.mu held.
func (r *Registry) dropIfUnusedLocked(so *SharedObject) {
	if so.persistent || len(so.subs) > 0 || so.refs > 0 || so.lock > 0 || so.closed {
		return
	}
	delete(r.sos, soKey{so.name, false})
	so.closeLocked()
}

// NewSession registers a connection. Close the session when the
// connection ends.
func (r *Registry) NewSession(sub Subscriber) *Session {
	return &Session{r: r, sub: sub, id: r.nextSession.Add(1), used: map[soKey]*SharedObject{},
		tokens: float64(r.cfg.ChangeBurst), last: time.Now()}
}

// Saves returns how many times an object of r was written to the store.
func (r *Registry) Saves() uint64 { return r.saves.Load() }

// Flush writes every changed persistent object to the store now.
func (r *Registry) Flush() error {
	r.mu.Lock()
	sos := make([]*SharedObject, 0, len(r.sos))
	for _, so := range r.sos {
		if so.persistent {
			sos = append(sos, so)
		}
	}
	r.mu.Unlock()
	var errs []error
	for _, so := range sos {
		if err := so.save(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close delivers pending changes, writes every changed persistent object,
// stops all timers and drops every object. Sessions still open get
// nothing more.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	sos := r.sos
	r.sos = map[soKey]*SharedObject{}
	r.mu.Unlock()
	var errs []error
	for _, so := range sos {
		so.mu.Lock()
		so.lock = 0
		so.flushLocked()
		so.mu.Unlock()
		if so.persistent {
			if err := so.save(); err != nil {
				errs = append(errs, err)
			}
		}
		so.mu.Lock()
		so.closeLocked()
		so.mu.Unlock()
	}
	r.timers.Wait()
	return errors.Join(errs...)
}

// statusMessage encodes a message carrying one Status event.
func statusMessage(name string, version, flags uint32, code, level string) Outgoing {
	b, _ := wire.AppendHeader(make([]byte, 0, 1+wire.HeaderSize(len(name))+9+len(code)+len(level)), true, name, version, flags)
	b = appendStatus(b, code, level)
	return Outgoing{b}
}

func appendStatus(b []byte, code, level string) []byte {
	var e amf.Encoder
	b, _ = wire.AppendEvent(b, &wire.Event{Type: wire.EventStatus, Key: code, Level: level}, &e)
	return b
}
