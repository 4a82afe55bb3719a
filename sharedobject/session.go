package sharedobject

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/sharedobject/wire"
	"github.com/openfcs/openfcs/status"
)

// Session is one connection's view of the registry: the objects it uses
// and its change budget. Handle and Close must be called from one
// goroutine (the connection's reader).
type Session struct {
	r   *Registry
	sub Subscriber
	id  uint64

	// Owner goroutine only.
	used    map[soKey]*SharedObject
	tokens  float64
	last    time.Time
	refused int

	closed atomic.Bool
	access atomic.Pointer[access] // nil: everything allowed
}

// access is a client's readAccess / writeAccess pair (docs/shared-objects.md#access-control).
type access struct{ read, write string }

// SetAccess sets the client's readAccess and writeAccess lists
// (";"-separated name prefixes matched at "/" boundaries; "/" allows
// everything, "" nothing), as SSAS Client.readAccess/writeAccess do. Until
// it is called everything is allowed. Safe to call from any goroutine.
func (s *Session) SetAccess(read, write string) {
	s.access.Store(&access{read: read, write: write})
}

func (s *Session) canRead(name string) bool {
	a := s.access.Load()
	return a == nil || AccessAllows(a.read, name)
}

func (s *Session) canWrite(name string) bool {
	a := s.access.Load()
	return a == nil || AccessAllows(a.write, name)
}

// AccessAllows reports whether an access list grants name (docs/shared-objects.md#access-control): the list
// holds ";"-separated prefixes, each matching the name itself or anything
// below it at a "/" boundary; "/" matches everything; an empty list
// matches nothing.
func AccessAllows(list, name string) bool {
	for p := range strings.SplitSeq(list, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if p == "/" {
			return true
		}
		p = strings.Trim(p, "/")
		if name == p || strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// ID returns the session's number (unique in its registry).
func (s *Session) ID() uint64 { return s.id }

func (s *Session) deliver(o Outgoing) {
	if !s.closed.Load() {
		s.sub.Deliver(o)
	}
}

// Used returns how many objects the session uses.
func (s *Session) Used() int { return len(s.used) }

// Handle processes one incoming message in order (docs/shared-objects.md#what-the-server-does-per-event): Use subscribes and
// syncs, Release unsubscribes, runs of RequestChange / RequestRemove /
// SendMessage are applied as one batch (one version at most), events the
// server sends are ignored. An unknown event type fails the whole message
// with ErrUnknownEvent before anything is applied; a client over its
// change budget for too long gets ErrFlood. Both mean: close the
// connection. Refusals (bad names, limits, stale writes) are answered on
// the wire and return nil.
func (s *Session) Handle(m *wire.Message) error {
	for i := range m.Events {
		if t := m.Events[i].Type; !t.Known() {
			return fmt.Errorf("%w %d in message for %q", ErrUnknownEvent, t, m.Name)
		}
	}
	k := soKey{m.Name, m.Persistent()}
	for i := 0; i < len(m.Events); {
		switch m.Events[i].Type {
		case wire.EventUse:
			if !s.use(k, m.Version) {
				return nil // docs/shared-objects.md#use: refused, stop
			}
			i++
		case wire.EventRelease:
			s.release(k)
			i++
		case wire.EventRequestChange, wire.EventRequestRemove, wire.EventSendMessage:
			j := i + 1
			for j < len(m.Events) && isRequest(m.Events[j].Type) {
				j++
			}
			if err := s.apply(k, m.Version, m.Events[i:j]); err != nil {
				return err
			}
			i = j
		default:
			i++ // server→client types from a client: ignore (docs/shared-objects.md#reading-events)
		}
	}
	return nil
}

func isRequest(t wire.EventType) bool {
	return t == wire.EventRequestChange || t == wire.EventRequestRemove || t == wire.EventSendMessage
}

func (s *Session) refuse(k soKey, code string) {
	var flags uint32
	if k.persistent {
		flags = wire.FlagPersistent
	}
	s.deliver(statusMessage(k.name, 0, flags, code, status.Level(code)))
}

// use subscribes to k; false when refused (a Status was sent).
func (s *Session) use(k soKey, v uint32) bool {
	if s.closed.Load() {
		return false
	}
	if so := s.used[k]; so != nil {
		// docs/shared-objects.md#client-pitfalls: a second Use is not a second subscription; resync.
		so.mu.Lock()
		if !so.closed {
			so.subscribeLocked(s, v)
		}
		so.mu.Unlock()
		return true
	}
	if !s.canRead(k.name) {
		s.refuse(k, status.NoReadAccess)
		return false
	}
	if len(s.used) >= s.r.cfg.MaxPerClient {
		s.r.log.Warn("shared object refused", "so", k.name, "err", fmt.Errorf("%w: %d objects per client", ErrLimit, len(s.used)))
		s.refuse(k, status.ObjectCreationFailed)
		return false
	}
	r := s.r
	r.mu.Lock()
	if r.sos[k] == nil && !s.canWrite(k.name) {
		// Creating an object needs write access (docs/shared-objects.md#access-control).
		r.mu.Unlock()
		s.refuse(k, status.NoWriteAccess)
		return false
	}
	so, err := r.getLocked(k.name, k.persistent, true)
	if err != nil {
		r.mu.Unlock()
		r.log.Info("shared object refused", "so", k.name, "err", err)
		s.refuse(k, status.ObjectCreationFailed)
		return false
	}
	so.mu.Lock()
	so.subscribeLocked(s, v)
	so.mu.Unlock()
	r.mu.Unlock()
	s.used[k] = so
	return true
}

// release unsubscribes from k (docs/shared-objects.md#release).
func (s *Session) release(k soKey) {
	so := s.used[k]
	if so == nil {
		return
	}
	delete(s.used, k)
	s.r.release(so, s)
}

func (r *Registry) release(so *SharedObject, s *Session) {
	r.mu.Lock()
	so.mu.Lock()
	so.unsubscribeLocked(s)
	r.dropIfUnusedLocked(so)
	idle := so.persistent && !so.closed && len(so.subs) == 0 && so.refs == 0 && so.dirty
	so.mu.Unlock()
	r.mu.Unlock()
	if idle {
		_ = so.save() // docs/shared-objects.md#persistence: written when the last subscriber leaves
	}
}

// budget takes n events from the token bucket and returns how many are
// allowed.
func (s *Session) budget(n int) (int, error) {
	now := time.Now()
	cfg := &s.r.cfg
	s.tokens = min(float64(cfg.ChangeBurst), s.tokens+now.Sub(s.last).Seconds()*cfg.ChangeRate)
	s.last = now
	allowed := min(n, int(s.tokens))
	s.tokens -= float64(allowed)
	if allowed == n {
		s.refused = 0
		return n, nil
	}
	s.refused += n - allowed
	if s.refused > cfg.ChangeBurst {
		return allowed, fmt.Errorf("%w: %d events refused in a row (rate %.0f/s, burst %d)", ErrFlood, s.refused, cfg.ChangeRate, cfg.ChangeBurst)
	}
	return allowed, nil
}

// apply hands a batch of requests to the object.
func (s *Session) apply(k soKey, v uint32, events []wire.Event) error {
	so := s.used[k]
	if so == nil {
		return nil // requests for an object the client does not use
	}
	allowed := 0
	if s.canWrite(k.name) && so.ClientWrite() {
		var err error
		if allowed, err = s.budget(len(events)); err != nil {
			return err
		}
	}
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return nil
	}
	if so.lock > 0 {
		if so.queuedEvs+len(events) > so.r.cfg.MaxLockedEvents {
			allowed = 0
		} else {
			// The events alias the connection's reused message: copy.
			so.queue = append(so.queue, queued{s: s, version: v, events: append([]wire.Event(nil), events...), allowed: allowed})
			so.queuedEvs += len(events)
			so.mu.Unlock()
			return nil
		}
	}
	so.applyLocked(s, v, events, allowed)
	so.kickLocked()
	run := so.hooksLocked()
	so.mu.Unlock()
	run()
	return nil
}

// Close releases every object the session uses. Deliver is not called
// after Close returns.
func (s *Session) Close() {
	s.closed.Store(true)
	for k := range s.used {
		s.release(k)
	}
}

// ---------------------------------------------------------------------------
// Script API (docs/shared-objects.md#server-side-api)

// GetProperty returns a slot's value, or null when absent.
func (so *SharedObject) GetProperty(key string) amf.Value {
	so.mu.Lock()
	defer so.mu.Unlock()
	if sl := so.slots[key]; sl != nil {
		return so.valueLocked(key, sl)
	}
	return amf.Null()
}

// PropertyNames returns the slot names in creation order.
func (so *SharedObject) PropertyNames() []string {
	so.mu.Lock()
	defer so.mu.Unlock()
	return append([]string(nil), so.keys...)
}

// Size returns the number of slots.
func (so *SharedObject) Size() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	return len(so.keys)
}

// SetProperty sets a slot (null or undefined deletes it). Script changes
// always succeed against other writers; they fail only on limits or values
// that cannot be encoded. Outside Lock they commit one version and are
// delivered with the current tick; inside they wait for Unlock. The value
// is cloned: later changes to v do not reach the object.
func (so *SharedObject) SetProperty(key string, v amf.Value) error {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return ErrClosed
	}
	newVer := so.version + 1
	changed := false
	if v.IsNull() || v.IsUndefined() {
		if _, ok := so.deleteLocked(key, newVer, nil); ok {
			so.addEntryLocked(wire.EventRemove, key, keyEvent(nil, wire.EventRemove, key), nil)
			changed = true
		}
	} else {
		n, err := so.encodeChangeLocked(key, v)
		if err == nil {
			err = so.fitsLocked(key, so.slots[key], n)
		}
		if err != nil {
			so.dropScratchLocked()
			so.mu.Unlock()
			return err
		}
		ev := so.takeScratchLocked()
		if len(ev) <= keepDecoded {
			v = amf.Clone(v) // kept: the script's later changes to v must not reach it
		}
		so.storeLocked(key, v, ev, newVer, nil)
		so.addEntryLocked(wire.EventChange, key, ev, nil)
		changed = true
	}
	so.commitLocked(changed)
	so.mu.Unlock()
	return nil
}

// commitLocked bumps the version for a script change (or defers it to the
// final Unlock) and delivers.
func (so *SharedObject) commitLocked(changed bool) {
	if !changed {
		return
	}
	if so.lock > 0 {
		so.lockDirty = true
		return
	}
	so.version++
	so.countChange()
	so.markDirtyLocked()
	so.kickLocked()
}

// countChange counts a version change for monitoring.
func (so *SharedObject) countChange() {
	if c := so.r.changes; c != nil {
		c.Add(1)
	}
}

// Send delivers handler(args...) to every subscriber (and to the
// onMessage hook).
func (so *SharedObject) Send(handler string, args ...amf.Value) error {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return ErrClosed
	}
	so.sendLocked(nil, handler, args)
	so.kickLocked()
	run := so.hooksLocked()
	so.mu.Unlock()
	run()
	return nil
}

// Lock increments the lock count and returns it. While locked, script
// changes accumulate and client changes wait; the final Unlock commits them
// as one version and one message per subscriber.
func (so *SharedObject) Lock() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	so.lock++
	return so.lock
}

// Unlock decrements the lock count and returns it; at zero it commits.
func (so *SharedObject) Unlock() int {
	so.mu.Lock()
	if so.lock == 0 {
		so.mu.Unlock()
		return 0
	}
	so.lock--
	n := so.lock
	if n == 0 {
		if so.lockDirty {
			so.lockDirty = false
			so.version++
			so.countChange()
			so.markDirtyLocked()
		}
		q := so.queue
		so.queue, so.queuedEvs = nil, 0
		for _, b := range q {
			so.applyLocked(b.s, b.version, b.events, b.allowed)
		}
		so.kickLocked()
	}
	run := so.hooksLocked()
	so.mu.Unlock()
	run()
	return n
}

// Flush writes a persistent object to its store now.
func (so *SharedObject) Flush() error {
	if !so.persistent {
		return ErrNotPersistent
	}
	return so.save()
}

// Clear deletes every slot; subscribers get Clear, clients older than this
// version get a full resync, and a persistent object's saved state is
// emptied at the next save.
func (so *SharedObject) Clear() error {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return ErrClosed
	}
	newVer := so.version + 1
	clear(so.slots)
	so.keys = so.keys[:0]
	clear(so.tombs)
	so.size, so.tombKeys = 0, 0
	so.hasFile = so.persistent && so.r.store != nil // the next save writes the empty state
	so.rechargeLocked()
	so.horizon = newVer
	so.addEntryLocked(wire.EventClear, "", []byte{byte(wire.EventClear), 0, 0, 0, 0}, nil)
	so.commitLocked(true)
	so.mu.Unlock()
	return nil
}

// Purge drops the tombstones of slots deleted before version; clients
// older than that get a full resync from then on.
func (so *SharedObject) Purge(version uint32) {
	so.mu.Lock()
	defer so.mu.Unlock()
	for k, t := range so.tombs {
		if t.ver < version {
			so.dropTombLocked(k)
		}
	}
	so.rechargeLocked()
	so.horizon = max(so.horizon, min(version, so.version))
	so.markDirtyLocked()
}

// Close drops the script's reference; a temporary object with no
// subscribers then goes away.
func (so *SharedObject) Close() {
	r := so.r
	r.mu.Lock()
	so.mu.Lock()
	if so.refs > 0 {
		so.refs--
	}
	if so.lock > 0 && so.refs == 0 {
		// A script that goes away cannot unlock.
		so.mu.Unlock()
		r.mu.Unlock()
		for so.Unlock() > 0 {
		}
		r.mu.Lock()
		so.mu.Lock()
	}
	r.dropIfUnusedLocked(so)
	so.mu.Unlock()
	r.mu.Unlock()
}
