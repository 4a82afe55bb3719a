package sharedobject

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/sharedobject/wire"
	"github.com/openfcs/openfcs/status"
)

// maxBody is where an initial sync is split into several messages (docs/shared-objects.md#client-pitfalls).
const maxBody = 64 << 10

// SyncItem is one entry of an onSync list (docs/shared-objects.md#server-side-api): Code is "change",
// "delete" or "clear"; OldValue is the slot's value before the change
// (undefined when it did not exist).
type SyncItem struct {
	Code     string
	Name     string
	OldValue amf.Value
}

// slot is one live slot.
type slot struct {
	// val is the decoded value, kept only for a small slot (see
	// keepDecoded); a larger one is decoded from ev when asked for
	// (valueLocked). A client's change arrives decoded and is encoded
	// into ev; holding both doubled what a slot costs, and the budgets
	// count ev.
	val    amf.Value
	hasVal bool
	ev     []byte   // the encoded Change event (type 4) of the value; immutable
	ver    uint32   // version that last changed it
	writer *Session // who changed it last (nil: the script or the store)
}

// value returns the encoded value inside ev.
func (s *slot) value(key string) []byte { return s.ev[5+2+len(key):] }

// keepDecoded is the largest Change event whose decoded value a slot
// keeps next to it: small values are read often (scripts, the equality
// check of a scalar change) and cost little twice; large ones are what
// fills memory.
const keepDecoded = 4 << 10

// set stores a value and its event. A large value whose objects are
// shared is kept decoded as well: its event spells every repeat out
// (docs/amf.md#amf0-references), so decoding it would hand a script
// copies where the writer had one object, and the graph itself is
// smaller than its event anyway.
func (s *slot) set(v amf.Value, ev []byte) {
	s.ev = ev
	s.val, s.hasVal = amf.Value{}, false
	if len(ev) <= keepDecoded || amf.SharesNodes(v) {
		s.val, s.hasVal = v, true
	}
}

// valueLocked returns a slot's value, decoding it from its event when the
// slot does not keep it. The decoded strings point into the event, which
// is never modified, so a decode costs the value's structure, not its
// bytes. The event was encoded here, within the encoder's bounds: the
// decoder's peer-facing limits do not apply.
func (so *SharedObject) valueLocked(key string, sl *slot) amf.Value {
	if sl.hasVal {
		return sl.val
	}
	d := amf.Decoder{AliasInput: true, Limits: amf.Limits{MaxDepth: -1, MaxRefs: -1, MaxStringLen: -1, MaxElems: -1, MaxBytes: -1}}
	v, _, err := d.DecodeAMF0(sl.value(key))
	if err != nil {
		// Not expected: the event was encoded by wire.AppendEvent.
		so.log.Error("shared object slot does not decode", "key", key, "err", err)
		return amf.Undefined()
	}
	return v
}

type tomb struct {
	ver    uint32
	writer *Session
}

// entry is one event of the current tick.
type entry struct {
	kind   wire.EventType // Change, Remove, SendMessage, Clear; 0 = superseded
	key    string
	ev     []byte
	writer *Session
}

// writerState is what one writer of the current tick gets on top of the
// shared events: a Success per accepted key and its rejects and statuses.
type writerState struct {
	success []string
	rejects []string // slots to restore to the server's state at flush time
	extra   []byte   // Status events
	status  bool
}

// queued is a client batch waiting for the script's unlock.
type queued struct {
	s       *Session
	version uint32
	events  []wire.Event
	allowed int
}

// SharedObject is one remote shared object of an instance.
type SharedObject struct {
	r          *Registry
	name       string
	persistent bool
	flags      uint32
	log        *slog.Logger
	// scriptOnly refuses clients' changes, removes and sends whatever
	// their writeAccess says: the script owns the object and clients
	// only read it (docs/shared-objects.md#access-control).
	scriptOnly atomic.Bool

	saveMu sync.Mutex // serializes saves; taken before mu

	mu        sync.Mutex
	version   uint32
	horizon   uint32 // oldest client version a delta resync can serve
	slots     map[string]*slot
	keys      []string // live slots in creation order
	tombs     map[string]tomb
	tombKeys  int   // bytes of the tombstones' keys
	size      int   // bytes of the live slots' Change events
	charged   Usage // what the registry's Budget counts for this object
	hasFile   bool  // a persistent object that is (or will be) in the store
	subs      []*Session
	subIdx    map[*Session]int
	refs      int // script references
	lock      int // script lock count
	lockDirty bool
	queue     []queued
	queuedEvs int
	entries   []entry
	live      map[string]int // key -> index of its entry in entries
	writers   map[*Session]*writerState
	lastFlush time.Time
	timer     *time.Timer // pending tick
	dirty     bool        // persistent state not yet saved
	saveTimer *time.Timer
	closed    bool
	onSync    func([]SyncItem)
	onMessage func(handler string, args []amf.Value)
	enc       amf.Encoder
	scratch   []byte
	items     []SyncItem // onSync items not yet handed to the hook
	sends     []sendCall // sends not yet handed to the hook
}

// sendCall is one send() for the onMessage hook.
type sendCall struct {
	handler string
	args    []amf.Value
}

func newObject(r *Registry, name string, persistent bool) *SharedObject {
	so := &SharedObject{r: r, name: name, persistent: persistent, version: 1, horizon: 1,
		slots: map[string]*slot{}, tombs: map[string]tomb{}, subIdx: map[*Session]int{},
		live: map[string]int{}, writers: map[*Session]*writerState{},
		log: r.log.With("so", name, "persistent", persistent)}
	if persistent {
		so.flags = wire.FlagPersistent
	}
	so.enc.Limits = amf.Limits{}
	return so
}

// Name returns the object's name.
func (so *SharedObject) Name() string { return so.name }

// Persistent reports whether the object is persistent on the server.
func (so *SharedObject) Persistent() bool { return so.persistent }

// SetClientWrite allows (true, the default) or refuses (false) clients'
// changes, removes and sends, on top of each client's writeAccess. A
// script that keeps state for its clients (a chat history written only
// through its methods) turns it off, since an access list can grant a
// path but not deny one below a grant. Requests already applied stay.
func (so *SharedObject) SetClientWrite(on bool) { so.scriptOnly.Store(!on) }

// ClientWrite reports whether clients may change the object (subject to
// their writeAccess).
func (so *SharedObject) ClientWrite() bool { return !so.scriptOnly.Load() }

// Version returns the current version.
func (so *SharedObject) Version() uint32 {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.version
}

// Subscribers returns the number of connections using the object.
func (so *SharedObject) Subscribers() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	return len(so.subs)
}

// SetOnSync sets the hook called after client changes with their list
// (codes "change", "delete", "clear"), after the object's lock is released.
func (so *SharedObject) SetOnSync(fn func([]SyncItem)) {
	so.mu.Lock()
	so.onSync = fn
	so.mu.Unlock()
}

// SetOnMessage sets the hook that receives client send() calls (the
// script's `so.handlerName = function(args)`).
func (so *SharedObject) SetOnMessage(fn func(handler string, args []amf.Value)) {
	so.mu.Lock()
	so.onMessage = fn
	so.mu.Unlock()
}

// restore loads a snapshot into a fresh object.
func (so *SharedObject) restore(s *Snapshot) error {
	var d amf.Decoder
	for _, sl := range s.Slots {
		v, n, err := d.DecodeAMF0(sl.Value)
		if err != nil || n != len(sl.Value) {
			return fmt.Errorf("%w: slot %q: value does not decode: %w", ErrCorrupt, sl.Key, err)
		}
		if _, dup := so.slots[sl.Key]; dup {
			return fmt.Errorf("%w: slot %q twice", ErrCorrupt, sl.Key)
		}
		ev := changeEvent(sl.Key, sl.Value)
		nsl := &slot{ver: sl.Version}
		nsl.set(v, ev)
		so.slots[sl.Key] = nsl
		so.keys = append(so.keys, sl.Key)
		so.size += len(ev)
	}
	for _, t := range s.Tombstones {
		so.addTombLocked(t.Key, tomb{ver: t.Version})
	}
	so.hasFile = true
	so.version, so.horizon = max(s.Version, 1), max(s.Horizon, 1)
	return nil
}

// changeEvent builds a Change event from a key and an encoded value.
func changeEvent(key string, val []byte) []byte {
	ev := make([]byte, 5, 5+2+len(key)+len(val))
	ev[0] = byte(wire.EventChange)
	binary.BigEndian.PutUint32(ev[1:], uint32(2+len(key)+len(val)))
	ev = binary.BigEndian.AppendUint16(ev, uint16(len(key)))
	ev = append(ev, key...)
	return append(ev, val...)
}

// keyEvent appends an event whose data is one key (Success, Remove).
func keyEvent(b []byte, t wire.EventType, key string) []byte {
	b = append(b, byte(t))
	b = binary.BigEndian.AppendUint32(b, uint32(2+len(key)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	return append(b, key...)
}

// snapshotLocked captures the persistent state (values shared, not copied:
// slot events are immutable).
func (so *SharedObject) snapshotLocked() *Snapshot {
	s := &Snapshot{Name: so.name, Version: so.version, Horizon: so.horizon,
		Slots: make([]SnapshotSlot, 0, len(so.keys))}
	for _, k := range so.keys {
		sl := so.slots[k]
		s.Slots = append(s.Slots, SnapshotSlot{Key: k, Version: sl.ver, Value: sl.value(k)})
	}
	for k, t := range so.tombs {
		s.Tombstones = append(s.Tombstones, Tombstone{Key: k, Version: t.ver})
	}
	slices.SortFunc(s.Tombstones, func(a, b Tombstone) int { return int(int64(a.Version) - int64(b.Version)) })
	return s
}

// save writes the object to the store if it changed since the last save.
func (so *SharedObject) save() error {
	so.saveMu.Lock()
	defer so.saveMu.Unlock()
	so.mu.Lock()
	if so.saveTimer != nil && so.saveTimer.Stop() {
		so.r.timers.Done()
	}
	so.saveTimer = nil
	if !so.dirty || !so.persistent || so.r.store == nil {
		so.mu.Unlock()
		return nil
	}
	snap := so.snapshotLocked()
	so.dirty = false
	so.mu.Unlock()
	start := time.Now()
	if err := so.r.store.Save(snap); err != nil {
		so.mu.Lock()
		so.dirty = true
		so.mu.Unlock()
		so.log.Error("shared object save failed", "version", snap.Version, "err", err)
		return err
	}
	so.r.saves.Add(1)
	so.log.Debug("shared object saved", "version", snap.Version, "slots", len(snap.Slots), "took", time.Since(start))
	return nil
}

// markDirtyLocked schedules a debounced save of a persistent object.
func (so *SharedObject) markDirtyLocked() {
	if !so.persistent {
		return
	}
	so.dirty = true
	if so.saveTimer != nil || so.closed || so.r.store == nil {
		return
	}
	so.r.timers.Add(1)
	so.saveTimer = time.AfterFunc(so.r.cfg.FlushDelay, func() {
		defer so.r.timers.Done()
		_ = so.save() // its Stop of this fired timer fails, so no second Done
	})
}

// closeLocked stops the timers; the object is dead.
func (so *SharedObject) closeLocked() {
	if !so.closed {
		so.releaseLocked()
	}
	so.closed = true
	if so.timer != nil && so.timer.Stop() {
		so.r.timers.Done()
	}
	so.timer = nil
	if so.saveTimer != nil && so.saveTimer.Stop() {
		so.r.timers.Done()
	}
	so.saveTimer = nil
	so.subs = nil
	clear(so.subIdx)
	so.queue = nil
}

// ---------------------------------------------------------------------------
// The tick

// addEntryLocked appends an event to the tick, superseding the earlier
// event for the same slot.
func (so *SharedObject) addEntryLocked(kind wire.EventType, key string, ev []byte, w *Session) {
	switch kind {
	case wire.EventChange, wire.EventRemove:
		if i, ok := so.live[key]; ok {
			so.entries[i].kind = 0
			so.entries[i].ev = nil
		}
		so.live[key] = len(so.entries)
	case wire.EventClear:
		for i := range so.entries {
			if so.entries[i].kind != wire.EventSendMessage {
				so.entries[i].kind, so.entries[i].ev = 0, nil
			}
		}
		clear(so.live)
	}
	so.entries = append(so.entries, entry{kind: kind, key: key, ev: ev, writer: w})
	if len(so.entries) > 64 && len(so.entries) > 4*len(so.live)+64 {
		so.compactLocked()
	}
}

// compactLocked drops superseded entries (a script looping under lock()
// would otherwise grow the tick without bound).
func (so *SharedObject) compactLocked() {
	out := so.entries[:0]
	for _, e := range so.entries {
		if e.kind != 0 {
			if e.kind == wire.EventChange || e.kind == wire.EventRemove {
				so.live[e.key] = len(out)
			}
			out = append(out, e)
		}
	}
	clear(so.entries[len(out):])
	so.entries = out
}

func (so *SharedObject) writerLocked(s *Session) *writerState {
	w := so.writers[s]
	if w == nil {
		w = &writerState{}
		so.writers[s] = w
	}
	return w
}

// kickLocked delivers the tick now if the last delivery is at least one
// coalescing interval old, else schedules it for the end of the interval.
func (so *SharedObject) kickLocked() {
	if so.lock > 0 || so.closed || so.timer != nil || (len(so.entries) == 0 && len(so.writers) == 0) {
		return
	}
	wait := so.r.cfg.Coalesce - time.Since(so.lastFlush)
	if wait <= 0 {
		so.flushLocked()
		return
	}
	so.r.timers.Add(1)
	so.timer = time.AfterFunc(wait, func() {
		defer so.r.timers.Done()
		so.mu.Lock()
		if so.timer != nil {
			so.timer = nil
			so.flushLocked()
		}
		so.mu.Unlock()
	})
}

// flushLocked delivers the tick: one shared body for every subscriber that
// did not write in it, one body per writer. A tick larger than maxBody goes
// as several messages (see tickBuilder).
func (so *SharedObject) flushLocked() {
	if so.lock > 0 || (len(so.entries) == 0 && len(so.writers) == 0) {
		return
	}
	if so.timer != nil && so.timer.Stop() {
		so.r.timers.Done()
	}
	so.timer = nil
	// The interval counts from the start of a delivery: handing a tick
	// to a thousand subscribers takes a while on a busy machine, and
	// counting from its end would stretch every tick, and the wait of
	// the changes in it, by that much.
	start := time.Now()
	hdr := 1 + wire.HeaderSize(len(so.name))
	n, live := hdr, 0
	for i := range so.entries {
		if so.entries[i].kind != 0 {
			n += len(so.entries[i].ev)
			live++
		}
	}
	if live > 0 {
		t := tickBuilder{so: so, hdr: hdr, size: n}
		for i := range so.entries {
			if so.entries[i].kind != 0 {
				t.add(so.entries[i].ev)
			}
		}
		t.done()
	}
	for s, w := range so.writers {
		if _, sub := so.subIdx[s]; !sub {
			continue
		}
		t := tickBuilder{so: so, hdr: hdr, size: n + len(w.extra) + len(w.success)*16, to: s}
		for _, k := range w.success {
			t.b = keyEvent(t.room(5+2+len(k)), wire.EventSuccess, k)
		}
		for i := range so.entries {
			e := &so.entries[i]
			if e.kind != 0 && (e.kind != wire.EventChange || e.writer != s) {
				t.add(e.ev)
			}
		}
		for _, k := range w.rejects {
			if _, ok := so.live[k]; ok {
				continue // the tick's own event for k brings the latest state
			}
			if sl := so.slots[k]; sl != nil {
				t.add(sl.ev)
			} else {
				t.b = keyEvent(t.room(5+2+len(k)), wire.EventRemove, k)
			}
		}
		t.add(w.extra)
		t.done()
	}
	clear(so.entries)
	so.entries = so.entries[:0]
	clear(so.live)
	clear(so.writers)
	so.lastFlush = start
}

// tickBuilder cuts the events of one tick into messages of at most maxBody
// bytes of events (one larger event gets a message of its own) and emits
// each as soon as it is complete. A tick can carry a thousand sends of a
// megabyte each: as one message it would exceed RTMP's 24-bit length field,
// and even below that it would hold up the connection's other messages and
// an RTMPT client's polls, as a full sync would (docs/shared-objects.md#client-pitfalls). Every message
// carries the tick's version; clients apply them in order.
type tickBuilder struct {
	so   *SharedObject
	hdr  int // header bytes of every message
	size int // bytes of the whole tick, to size the first buffer
	b    []byte
	// to receives the messages; nil: every subscriber that did not write
	// in the tick.
	to  *Session
	cut bool // a message was emitted: later ones are sized by their events
}

func (t *tickBuilder) emit(o Outgoing) {
	if t.to != nil {
		t.to.deliver(o)
		return
	}
	for _, s := range t.so.subs {
		if _, w := t.so.writers[s]; !w {
			s.deliver(o)
		}
	}
}

// room returns the message being built, first starting a new one if n
// more bytes would take the current one past maxBody.
func (t *tickBuilder) room(n int) []byte {
	if t.b != nil && len(t.b) > t.hdr && len(t.b)+n > t.hdr+maxBody {
		t.emit(Outgoing{t.b})
		t.b, t.cut = nil, true
	}
	if t.b == nil {
		// The usual tick fits one message: size it exactly.
		c := min(t.size, t.hdr+maxBody)
		if t.cut || n > maxBody {
			c = t.hdr + n
		}
		t.b, _ = wire.AppendHeader(make([]byte, 0, c), true, t.so.name, t.so.version, t.so.flags)
	}
	return t.b
}

// add appends one encoded event (or several, for a writer's extra bytes).
func (t *tickBuilder) add(ev []byte) {
	if len(ev) == 0 {
		return
	}
	t.b = append(t.room(len(ev)), ev...)
}

// done emits the last message, if any event went into it.
func (t *tickBuilder) done() {
	if len(t.b) > t.hdr {
		t.emit(Outgoing{t.b})
	}
	t.b = nil
}

// ---------------------------------------------------------------------------
// Subscribing

// subscribeLocked adds s (once) and sends it the initial or delta sync for
// its version v (docs/shared-objects.md#use, docs/shared-objects.md#versions-and-resync). Pending tick events go to the others first so
// that s does not get them twice.
func (so *SharedObject) subscribeLocked(s *Session, v uint32) {
	so.flushLocked()
	if _, ok := so.subIdx[s]; !ok {
		so.subIdx[s] = len(so.subs)
		so.subs = append(so.subs, s)
	}
	full := v == 0 || v > so.version || v < so.horizon
	b, _ := wire.AppendHeader(make([]byte, 0, 256), true, so.name, so.version, so.flags)
	hdr := len(b)
	b = append(b, byte(wire.EventUseSuccess), 0, 0, 0, 0)
	if full {
		b = append(b, byte(wire.EventClear), 0, 0, 0, 0)
	}
	if v == so.version && !full {
		s.deliver(Outgoing{b})
		return
	}
	add := func(ev []byte) {
		if len(b) > hdr && len(b)+len(ev) > maxBody {
			s.deliver(Outgoing{b})
			b, _ = wire.AppendHeader(make([]byte, 0, 256), true, so.name, so.version, so.flags)
		}
		b = append(b, ev...)
	}
	for _, k := range so.keys {
		if sl := so.slots[k]; full || sl.ver > v {
			add(sl.ev)
		}
	}
	if !full {
		for k, t := range so.tombs {
			if t.ver > v {
				add(keyEvent(nil, wire.EventRemove, k))
			}
		}
	}
	s.deliver(Outgoing{b})
}

// unsubscribeLocked removes s.
func (so *SharedObject) unsubscribeLocked(s *Session) {
	i, ok := so.subIdx[s]
	if !ok {
		return
	}
	last := len(so.subs) - 1
	so.subs[i] = so.subs[last]
	so.subIdx[so.subs[i]] = i
	so.subs[last] = nil
	so.subs = so.subs[:last]
	delete(so.subIdx, s)
	delete(so.writers, s)
}

// ---------------------------------------------------------------------------
// Client changes

// applyLocked processes one client batch (docs/shared-objects.md#requestchange): the first allowed
// request events are applied, the rest are refused as over budget. It
// returns the onSync items and the sends for the hooks.
func (so *SharedObject) applyLocked(s *Session, cv uint32, events []wire.Event, allowed int) {
	if _, ok := so.subIdx[s]; !ok {
		return // not (or no longer) a subscriber: nothing to answer
	}
	newVer := so.version + 1
	changed := false
	n := 0
	for i := range events {
		ev := &events[i]
		switch ev.Type {
		case wire.EventRequestChange, wire.EventRequestRemove, wire.EventSendMessage:
		default:
			continue
		}
		n++
		if n > allowed {
			if ev.Type != wire.EventSendMessage {
				so.rejectLocked(s, ev.Key, status.NoWriteAccess)
			}
			continue
		}
		switch ev.Type {
		case wire.EventRequestChange:
			if so.requestChangeLocked(s, cv, ev.Key, ev.Value, newVer) {
				changed = true
			}
		case wire.EventRequestRemove:
			if so.requestRemoveLocked(s, cv, ev.Key, newVer) {
				changed = true
			}
		case wire.EventSendMessage:
			so.sendLocked(s, ev.Key, ev.Args)
		}
	}
	if changed {
		so.version = newVer
		so.countChange()
		so.markDirtyLocked()
	}
}

// stale reports whether a client at version cv lost the race for key
// (docs/shared-objects.md#conflicts): another writer changed the slot after the version the client saw.
func (so *SharedObject) staleLocked(s *Session, cv uint32, key string) bool {
	if sl := so.slots[key]; sl != nil {
		return sl.ver > cv && sl.writer != s
	}
	if t, ok := so.tombs[key]; ok {
		return t.ver > cv && t.writer != s
	}
	return false
}

// rejectLocked restores a refused slot on the requester's copy: a Status
// (once per tick, when code is set) and, at flush time, the slot's state
// then (its value, or a Remove), unless the tick carries a later event for
// the slot anyway. Taking the state at flush time, not now, matters: a
// value captured now would arrive after the tick's newer Change and undo
// it on the requester's copy.
func (so *SharedObject) rejectLocked(s *Session, key, code string) {
	w := so.writerLocked(s)
	if code != "" && !w.status {
		w.status = true
		w.extra = appendStatus(w.extra, code, status.Level(code))
	}
	if !slices.Contains(w.rejects, key) {
		w.rejects = append(w.rejects, key)
	}
}

func isScalar(v amf.Value) bool {
	switch v.Kind() {
	case amf.KindNumber, amf.KindBoolean, amf.KindString, amf.KindNull, amf.KindUndefined, amf.KindDate:
		return true
	}
	return false
}

// requestChangeLocked applies one RequestChange; it reports whether the
// state changed.
func (so *SharedObject) requestChangeLocked(s *Session, cv uint32, key string, v amf.Value, newVer uint32) bool {
	if so.staleLocked(s, cv, key) {
		so.rejectLocked(s, key, "")
		return false
	}
	sl := so.slots[key]
	if sl != nil && isScalar(v) && amf.Equal(so.valueLocked(key, sl), v) {
		// docs/shared-objects.md#client-pitfalls: answer Success anyway, no broadcast, no version.
		w := so.writerLocked(s)
		w.success = append(w.success, key)
		return false
	}
	n, err := so.encodeChangeLocked(key, v)
	if err != nil {
		so.log.Warn("shared object change refused", "key", key, "err", err)
		so.rejectLocked(s, key, status.NoWriteAccess)
		so.dropScratchLocked()
		return false
	}
	if so.fitsLocked(key, sl, n) != nil {
		so.rejectLocked(s, key, status.NoWriteAccess)
		so.dropScratchLocked()
		return false
	}
	ev := so.takeScratchLocked()
	old := so.storeLocked(key, v, ev, newVer, s)
	w := so.writerLocked(s)
	w.success = append(w.success, key)
	so.addEntryLocked(wire.EventChange, key, ev, s)
	so.items = append(so.items, SyncItem{Code: "change", Name: key, OldValue: old})
	return true
}

// encodeChangeLocked encodes the Change event of key = v into the
// scratch buffer and returns its length, so that the limits are checked
// before the event is copied out (takeScratchLocked): a refused change
// allocates no copy.
func (so *SharedObject) encodeChangeLocked(key string, v amf.Value) (int, error) {
	var err error
	so.scratch, err = wire.AppendEvent(so.scratch[:0], &wire.Event{Type: wire.EventChange, Key: key, Value: v}, &so.enc)
	return len(so.scratch), err
}

// takeScratchLocked copies the encoded event out into an exactly sized
// slice (the one allocation per accepted change).
func (so *SharedObject) takeScratchLocked() []byte {
	ev := make([]byte, len(so.scratch))
	copy(ev, so.scratch)
	so.dropScratchLocked()
	return ev
}

// dropScratchLocked lets a huge value's scratch buffer go.
func (so *SharedObject) dropScratchLocked() {
	if cap(so.scratch) > maxBody {
		so.scratch = nil
	}
}

// fitsLocked checks the slot and byte limits, the object's own and its
// application's and server's budgets, for a new event of n bytes for key,
// and charges the budgets for it: storeLocked must follow. The error
// wraps ErrLimit (and ErrBudget for a budget).
func (so *SharedObject) fitsLocked(key string, old *slot, n int) error {
	if old == nil && len(so.keys) >= so.r.cfg.MaxSlots {
		so.log.Warn("shared object slot limit", "limit", so.r.cfg.MaxSlots, "key", key)
		return fmt.Errorf("%w: %d slots in %q", ErrLimit, so.r.cfg.MaxSlots, so.name)
	}
	size, slots, tombs, tombKeys := so.size+n, len(so.keys), len(so.tombs), so.tombKeys
	if old != nil {
		size -= len(old.ev)
	} else {
		slots++
		if _, ok := so.tombs[key]; ok {
			tombs--
			tombKeys -= len(key)
		}
	}
	if size+tombKeys > so.r.cfg.MaxBytes {
		so.log.Warn("shared object size limit", "limit", so.r.cfg.MaxBytes, "key", key)
		return fmt.Errorf("%w: %d bytes in %q", ErrLimit, so.r.cfg.MaxBytes, so.name)
	}
	want := so.usageOf(size, slots, tombs, tombKeys, so.persistent && so.r.store != nil)
	if err := so.r.budget.charge(want.sub(so.charged)); err != nil {
		so.log.Warn("shared object change refused", "key", key, "err", err)
		return err
	}
	so.charged = want
	so.hasFile = want.Files > 0
	return nil
}

// usageOf is what an object of that many slot bytes, slots and tombstones
// costs: itself and its bytes in memory and, with a file, that file
// exactly as AppendSnapshot writes it.
func (so *SharedObject) usageOf(size, slots, tombs, tombKeys int, file bool) Usage {
	u := Usage{Objects: 1, Bytes: int64(size + tombKeys)}
	if file {
		// magic, format, name, versions, counts and CRC; a slot is its
		// Change event (type, length, key, value) less 5 plus 8 (slot
		// version, value length); a tombstone is its key, 2 + 4.
		u.Files = 1
		u.Disk = int64(8+2+len(so.name)+8+4+4+4) + int64(size+3*slots) + int64(6*tombs+tombKeys)
	}
	return u
}

// rechargeLocked brings the budget's count for the object in line with
// its state after a change that shrank it (a delete, a clear, dropped
// tombstones). It never fails.
func (so *SharedObject) rechargeLocked() {
	if so.closed {
		return
	}
	want := so.usageOf(so.size, len(so.keys), len(so.tombs), so.tombKeys, so.hasFile)
	so.r.budget.force(want.sub(so.charged))
	so.charged = want
}

// releaseLocked gives back what a loaded object costs in memory when it
// is dropped; a stored file keeps counting.
func (so *SharedObject) releaseLocked() {
	so.r.budget.force(Usage{Objects: -so.charged.Objects, Bytes: -so.charged.Bytes})
	so.charged.Objects, so.charged.Bytes = 0, 0
}

// storeLocked sets a slot and returns its previous value.
func (so *SharedObject) storeLocked(key string, v amf.Value, ev []byte, ver uint32, w *Session) amf.Value {
	sl := so.slots[key]
	var old amf.Value
	if sl == nil {
		sl = &slot{}
		so.slots[key] = sl
		so.keys = append(so.keys, key)
		so.dropTombLocked(key)
	} else {
		old = so.valueLocked(key, sl)
		so.size -= len(sl.ev)
	}
	sl.set(v, ev)
	sl.ver, sl.writer = ver, w
	so.size += len(ev)
	return old
}

// deleteLocked removes a slot, leaving a tombstone; it reports whether the
// slot existed.
func (so *SharedObject) deleteLocked(key string, ver uint32, w *Session) (amf.Value, bool) {
	sl := so.slots[key]
	if sl == nil {
		return amf.Value{}, false
	}
	delete(so.slots, key)
	so.keys = slices.DeleteFunc(so.keys, func(k string) bool { return k == key })
	so.size -= len(sl.ev)
	so.dropTombLocked(key)
	so.addTombLocked(key, tomb{ver: ver, writer: w})
	if len(so.tombs) > so.r.cfg.MaxTombstones {
		so.dropOldestTombLocked()
	}
	so.rechargeLocked()
	return so.valueLocked(key, sl), true
}

func (so *SharedObject) addTombLocked(key string, t tomb) {
	if _, ok := so.tombs[key]; !ok {
		so.tombKeys += len(key)
	}
	so.tombs[key] = t
}

func (so *SharedObject) dropTombLocked(key string) {
	if _, ok := so.tombs[key]; ok {
		delete(so.tombs, key)
		so.tombKeys -= len(key)
	}
}

func (so *SharedObject) dropOldestTombLocked() {
	var oldest string
	first := true
	var ov uint32
	for k, t := range so.tombs {
		if first || t.ver < ov {
			oldest, ov, first = k, t.ver, false
		}
	}
	so.dropTombLocked(oldest)
	so.horizon = max(so.horizon, ov)
}

// requestRemoveLocked applies one RequestRemove (docs/shared-objects.md#requestremove).
func (so *SharedObject) requestRemoveLocked(s *Session, cv uint32, key string, newVer uint32) bool {
	if so.staleLocked(s, cv, key) {
		so.rejectLocked(s, key, "")
		return false
	}
	old, ok := so.deleteLocked(key, newVer, s)
	ev := keyEvent(nil, wire.EventRemove, key)
	if !ok {
		// Harmless: answer the requester (with the state at flush time)
		// so it leaves its pending state.
		so.rejectLocked(s, key, "")
		return false
	}
	so.addEntryLocked(wire.EventRemove, key, ev, s)
	so.items = append(so.items, SyncItem{Code: "delete", Name: key, OldValue: old})
	return true
}

// sendLocked relays a SendMessage to every subscriber, the sender
// included, in order (docs/shared-objects.md#sendmessage).
func (so *SharedObject) sendLocked(s *Session, handler string, args []amf.Value) {
	var err error
	so.scratch, err = wire.AppendEvent(so.scratch[:0], &wire.Event{Type: wire.EventSendMessage, Key: handler, Args: args}, &so.enc)
	if err != nil {
		so.log.Warn("shared object send refused", "handler", handler, "err", err)
		if s != nil {
			w := so.writerLocked(s)
			if !w.status {
				w.status = true
				w.extra = appendStatus(w.extra, status.NoWriteAccess, status.Level(status.NoWriteAccess))
			}
		}
		return
	}
	ev := slices.Clone(so.scratch)
	so.addEntryLocked(wire.EventSendMessage, handler, ev, s)
	so.sends = append(so.sends, sendCall{handler, args})
}

// hooksLocked takes what the hooks must see; run the result after
// unlocking.
func (so *SharedObject) hooksLocked() func() {
	items, sends := so.items, so.sends
	so.items, so.sends = nil, nil
	onSync, onMessage := so.onSync, so.onMessage
	if (onSync == nil || len(items) == 0) && (onMessage == nil || len(sends) == 0) {
		return func() {}
	}
	return func() {
		if onSync != nil && len(items) > 0 {
			onSync(items)
		}
		if onMessage != nil {
			for _, c := range sends {
				onMessage(c.handler, c.args)
			}
		}
	}
}
