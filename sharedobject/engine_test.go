package sharedobject

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rec is a Subscriber that parses and keeps what it gets.
type rec struct {
	t    testing.TB
	mu   sync.Mutex
	msgs []wire.Message
	// local is the client's copy as a player keeps it: its own requests
	// apply at once, Change/Remove/Clear from the server overwrite.
	local map[string]amf.Value
}

func (r *rec) Deliver(o Outgoing) {
	if o.AMF3()[0] != 0 || &o.AMF3()[1] != &o.AMF0()[0] {
		r.t.Errorf("type-16 body is not 00 + the type-19 body")
	}
	var d amf.Decoder
	var m wire.Message
	if err := wire.Parse(o.Body(false), false, &d, &m); err != nil {
		r.t.Errorf("delivered body does not parse: %v", err)
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	if r.local == nil {
		r.local = map[string]amf.Value{}
	}
	for _, e := range m.Events {
		switch e.Type {
		case wire.EventChange:
			r.local[e.Key] = e.Value
		case wire.EventRemove:
			delete(r.local, e.Key)
		case wire.EventClear:
			clear(r.local)
		}
	}
	r.mu.Unlock()
}

// take returns and forgets the messages so far.
func (r *rec) take() []wire.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

// summary renders messages as "v3: success msg, change x=..." lines.
func summary(ms []wire.Message) []string {
	var out []string
	for _, m := range ms {
		s := fmt.Sprintf("v%d:", m.Version)
		for _, e := range m.Events {
			s += " " + e.Type.String()
			switch e.Type {
			case wire.EventChange:
				s += " " + e.Key + "=" + e.Value.String()
			case wire.EventSendMessage:
				s += " " + e.Key + fmt.Sprint(e.Args)
			case wire.EventStatus:
				s += " " + e.Key
			case wire.EventSuccess, wire.EventRemove:
				s += " " + e.Key
			}
		}
		out = append(out, s)
	}
	return out
}

func want(t *testing.T, who string, r *rec, lines ...string) {
	t.Helper()
	got := summary(r.take())
	if !slices.Equal(got, lines) {
		t.Fatalf("%s got:\n  %q\nwant:\n  %q", who, got, lines)
	}
}

type client struct {
	*rec
	s *Session
}

func newClient(t *testing.T, r *Registry) client {
	t.Helper()
	rc := &rec{t: t}
	return client{rec: rc, s: r.NewSession(rc)}
}

func (c client) send(t *testing.T, name string, persistent bool, version uint32, evs ...wire.Event) error {
	t.Helper()
	c.mu.Lock()
	if c.local == nil {
		c.local = map[string]amf.Value{}
	}
	for _, e := range evs {
		if e.Type == wire.EventRequestChange {
			c.local[e.Key] = e.Value
		}
	}
	c.mu.Unlock()
	m := wire.Message{Name: name, Version: version, Events: evs}
	if persistent {
		m.Flags = wire.FlagPersistent
	}
	return c.s.Handle(&m)
}

var (
	use     = wire.Event{Type: wire.EventUse}
	release = wire.Event{Type: wire.EventRelease}
)

func set(k string, v amf.Value) wire.Event {
	return wire.Event{Type: wire.EventRequestChange, Key: k, Value: v}
}

func del(k string) wire.Event { return wire.Event{Type: wire.EventRequestRemove, Key: k} }

func sendMsg(h string, args ...amf.Value) wire.Event {
	return wire.Event{Type: wire.EventSendMessage, Key: h, Args: args}
}

func newReg(t *testing.T, cfg Config, store Store) *Registry {
	t.Helper()
	r := NewRegistry(cfg, store, nil)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// TestChatScenario: acceptance 1 and 2 in the engine.
func TestChatScenario(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		a, b, c := newClient(t, r), newClient(t, r), newClient(t, r)
		for _, cl := range []client{a, b, c} {
			if err := cl.send(t, "chat", false, 0, use); err != nil {
				t.Fatal(err)
			}
			want(t, "use", cl.rec, "v1: use-success clear")
		}
		if err := a.send(t, "chat", false, 1, set("msg", amf.String("hi"))); err != nil {
			t.Fatal(err)
		}
		want(t, "A", a.rec, "v2: success msg")
		want(t, "B", b.rec, `v2: change msg="hi"`)
		want(t, "C", c.rec, `v2: change msg="hi"`)

		// send() reaches everyone, the sender included.
		time.Sleep(time.Second)
		if err := b.send(t, "chat", false, 2, sendMsg("newLine", amf.String("hi"), amf.Number(3))); err != nil {
			t.Fatal(err)
		}
		for _, cl := range []client{a, b, c} {
			want(t, "send", cl.rec, `v2: send-message newLine["hi" 3]`)
		}

		// A late joiner gets the state.
		d := newClient(t, r)
		_ = d.send(t, "chat", false, 0, use)
		want(t, "D", d.rec, `v2: use-success clear change msg="hi"`)

		// Remove goes to everyone, the requester included.
		time.Sleep(time.Second)
		_ = c.send(t, "chat", false, 2, del("msg"))
		for _, cl := range []client{a, b, c, d} {
			want(t, "remove", cl.rec, "v3: remove msg")
		}
		for _, cl := range []client{a, b, c, d} {
			cl.s.Close()
		}
		if r.Len() != 0 {
			t.Fatalf("temporary object survived its last subscriber")
		}
	})
}

// TestCoalescing: changes within one tick reach each subscriber as one
// message, last value per slot, in order, with one Success per write.
func TestCoalescing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{Coalesce: 50 * time.Millisecond}, nil)
		a, b, c := newClient(t, r), newClient(t, r), newClient(t, r)
		for _, cl := range []client{a, b, c} {
			_ = cl.send(t, "s", false, 0, use)
			cl.take()
		}
		// Leading edge: the first change goes out at once.
		_ = a.send(t, "s", false, 1, set("x", amf.Number(1)))
		want(t, "A first", a.rec, "v2: success x")
		want(t, "C first", c.rec, "v2: change x=1")
		want(t, "B first", b.rec, "v2: change x=1")
		// The next ones wait for the tick.
		_ = a.send(t, "s", false, 2, set("x", amf.Number(2)), set("y", amf.Number(1)))
		_ = b.send(t, "s", false, 3, set("x", amf.Number(3))) // saw v3 (A's x=2): not stale
		_ = a.send(t, "s", false, 3, sendMsg("ping"))
		_ = a.send(t, "s", false, 3, set("y", amf.Number(2)))
		want(t, "C before tick", c.rec)
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		want(t, "C", c.rec, `v5: change x=3 send-message ping[] change y=2`)
		want(t, "A", a.rec, `v5: success x success y success y change x=3 send-message ping[]`)
		want(t, "B", b.rec, `v5: success x send-message ping[] change y=2`)
	})
}

// TestStaleWrite: docs/shared-objects.md#conflicts, a client that did not see another's change to the
// slot is rejected with the current value; its own rapid writes are not.
func TestStaleWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		a, b := newClient(t, r), newClient(t, r)
		_ = a.send(t, "s", false, 0, use)
		_ = b.send(t, "s", false, 0, use)
		a.take()
		b.take()
		_ = a.send(t, "s", false, 1, set("x", amf.Number(1)))
		time.Sleep(time.Second)
		_ = a.send(t, "s", false, 1, set("x", amf.Number(2))) // own slot, not stale
		time.Sleep(time.Second)
		_ = b.send(t, "s", false, 1, set("x", amf.Number(9))) // stale
		time.Sleep(time.Second)
		want(t, "A", a.rec, "v2: success x", "v3: success x")
		want(t, "B", b.rec, "v2: change x=1", "v3: change x=2", "v3: change x=2")
		// Same scalar value: Success, no version.
		_ = b.send(t, "s", false, 3, set("x", amf.Number(2)))
		want(t, "B same", b.rec, "v3: success x")
		want(t, "A same", a.rec)
	})
}

// TestConcurrentWriters: acceptance 3 in the engine, with real goroutines.
func TestConcurrentWriters(t *testing.T) {
	r := newReg(t, Config{Coalesce: time.Millisecond}, nil)
	const n = 50
	cls := make([]client, n)
	for i := range cls {
		cls[i] = newClient(t, r)
		_ = cls[i].send(t, "race", false, 0, use)
	}
	var wg sync.WaitGroup
	for i := range cls {
		wg.Go(func() {
			if err := cls[i].send(t, "race", false, 1, set("slot", amf.Number(float64(i)))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Second round: clients claim to have seen either the version before or
	// after the first write of the round, so stale rejects and accepted
	// writes interleave within one tick (an e2e run found rejects that
	// carried a value older than the tick's last Change).
	v := r.Lookup("race", false).Version()
	for i := range cls {
		wg.Go(func() {
			if err := cls[i].send(t, "race", false, v+uint32(i%2), set("slot", amf.Number(float64(100+i)))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	so := r.Lookup("race", false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		so.mu.Lock()
		pending := len(so.entries) + len(so.writers)
		so.mu.Unlock()
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	final, ver := so.GetProperty("slot"), so.Version()
	for i, cl := range cls {
		var last uint32
		for _, m := range cl.take() {
			if m.Version < last {
				t.Fatalf("client %d: version went back from %d to %d", i, last, m.Version)
			}
			last = m.Version
		}
		cl.mu.Lock()
		val := cl.local["slot"]
		cl.mu.Unlock()
		if !amf.Equal(val, final) || last != ver {
			t.Fatalf("client %d ends with %v at v%d, server has %v at v%d", i, val, last, final, ver)
		}
	}
}

// TestDeltaResync: acceptance 5 in the engine.
func TestDeltaResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		a, b := newClient(t, r), newClient(t, r)
		_ = a.send(t, "s", true, 0, use)
		_ = a.send(t, "s", true, 1, set("keep", amf.Number(1)), set("gone", amf.Number(2)), set("chg", amf.Number(3)))
		_ = b.send(t, "s", true, 0, use)
		want(t, "B sync", b.rec, "v2: use-success clear change keep=1 change gone=2 change chg=3")
		b.s.Close()
		time.Sleep(time.Second)
		_ = a.send(t, "s", true, 2, set("chg", amf.Number(4)), del("gone"), set("new", amf.Bool(true)))
		b = newClient(t, r)
		_ = b.send(t, "s", true, 2, use)
		want(t, "B delta", b.rec, "v3: use-success change chg=4 change new=true remove gone")
		// Up to date: UseSuccess only. Unknown future version: full.
		_ = b.send(t, "s", true, 3, use)
		want(t, "B current", b.rec, "v3: use-success")
		_ = b.send(t, "s", true, 99, use)
		want(t, "B future", b.rec, "v3: use-success clear change keep=1 change chg=4 change new=true")
		// Tombstones purged: older clients get a full sync.
		r.Lookup("s", true).Purge(3)
		_ = b.send(t, "s", true, 2, use)
		want(t, "B purged", b.rec, "v3: use-success clear change keep=1 change chg=4 change new=true")
	})
}

// TestLockUnlock: script changes under lock commit as one version, client
// changes wait for the unlock.
func TestLockUnlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		so, err := r.Get("game", false)
		if err != nil {
			t.Fatal(err)
		}
		var synced [][]SyncItem
		so.SetOnSync(func(items []SyncItem) { synced = append(synced, items) })
		var sends []string
		so.SetOnMessage(func(h string, args []amf.Value) { sends = append(sends, h) })
		a := newClient(t, r)
		_ = a.send(t, "game", false, 0, use)
		a.take()
		if so.Lock() != 1 || so.Lock() != 2 {
			t.Fatal("lock count")
		}
		for i := range 100 {
			if err := so.SetProperty("p", amf.Number(float64(i))); err != nil {
				t.Fatal(err)
			}
		}
		_ = so.SetProperty("q", amf.String("x"))
		_ = a.send(t, "game", false, 1, set("c", amf.Number(1)))
		time.Sleep(time.Second)
		want(t, "locked", a.rec)
		if so.Unlock() != 1 {
			t.Fatal("unlock count")
		}
		time.Sleep(time.Second)
		want(t, "still locked", a.rec)
		so.Unlock()
		want(t, "A", a.rec, `v3: success c change p=99 change q="x"`)
		if so.Version() != 3 || so.Size() != 3 || !slices.Equal(so.PropertyNames(), []string{"p", "q", "c"}) {
			t.Fatalf("v%d size %d names %v", so.Version(), so.Size(), so.PropertyNames())
		}
		if len(synced) != 1 || synced[0][0].Name != "c" || synced[0][0].Code != "change" {
			t.Fatalf("onSync %v", synced)
		}
		_ = a.send(t, "game", false, 3, sendMsg("hello"))
		if !slices.Equal(sends, []string{"hello"}) {
			t.Fatalf("sends %v", sends)
		}
		// null deletes, Clear clears.
		time.Sleep(time.Second)
		a.take()
		_ = so.SetProperty("q", amf.Null())
		time.Sleep(time.Second)
		_ = so.Clear()
		want(t, "A clear", a.rec, "v4: remove q", "v5: clear")
		if so.Size() != 0 || !so.GetProperty("p").IsNull() {
			t.Fatal("clear")
		}
		if err := so.Flush(); !errors.Is(err, ErrNotPersistent) {
			t.Fatal(err)
		}
		a.s.Close()
		if r.Len() != 1 {
			t.Fatal("script reference did not keep the object")
		}
		so.Close()
		if r.Len() != 0 {
			t.Fatal("object survived its script reference")
		}
	})
}

func TestLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{MaxSlots: 2, MaxBytes: 200, MaxPerInstance: 3, MaxPerClient: 2}, nil)
		a := newClient(t, r)
		_ = a.send(t, "s", false, 0, use)
		a.take()
		_ = a.send(t, "s", false, 1, set("a", amf.Number(1)), set("b", amf.Number(1)), set("c", amf.Number(1)))
		want(t, "slots", a.rec, "v2: success a success b remove c status SharedObject.NoWriteAccess")
		time.Sleep(time.Second)
		_ = a.send(t, "s", false, 2, set("a", amf.String(string(make([]byte, 300)))))
		want(t, "bytes", a.rec, "v2: change a=1 status SharedObject.NoWriteAccess")
		_ = a.send(t, "t", false, 0, use)
		a.take()
		_ = a.send(t, "u", false, 0, use)
		want(t, "per client", a.rec, "v0: status SharedObject.ObjectCreationFailed")
		b := newClient(t, r)
		_ = b.send(t, "u", false, 0, use)
		b.take()
		_ = b.send(t, "v", false, 0, use)
		want(t, "per instance", b.rec, "v0: status SharedObject.ObjectCreationFailed")
		// Unknown event types close the connection; nothing is applied.
		err := a.send(t, "s", false, 2, set("a", amf.Number(5)), wire.Event{Type: 13})
		if !errors.Is(err, ErrUnknownEvent) {
			t.Fatal(err)
		}
		if r.Lookup("s", false).GetProperty("a").Num() != 1 {
			t.Fatal("message with an unknown event was applied")
		}
		// Requests for an object the client does not use are ignored.
		if err := b.send(t, "s", false, 0, set("a", amf.Number(7))); err != nil {
			t.Fatal(err)
		}
		want(t, "not used", b.rec)
	})
}

func TestHostileNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		a := newClient(t, r)
		for _, n := range hostileNames {
			_ = a.send(t, n, true, 0, use)
			want(t, n, a.rec, "v0: status SharedObject.ObjectCreationFailed")
		}
		if r.Len() != 0 {
			t.Fatal("hostile name created an object")
		}
	})
}

// hostileNames must all be refused (docs/shared-objects.md#limits).
var hostileNames = []string{
	"", "..", "../x", "a/../../x", "/abs", "a//b", "./a", "a/.", "a\\b", "..\\..\\x", "a\x00b", "c:x", "C:\\x",
	"a b", "x.", "a/b./c", "CON", "nul.txt", "com1", "LPT9/x", "x.fso", "x.FSO/y", "x.tmp", "a?b", "a#b", "a%2e%2e",
	"a/b/c/d/e/f/g/h/i", string(make([]byte, 256)), "\xff\xfe", "a\nb", "~user", "a:b", "a;b", "a\"b", "a'b", "a,b", "a<b>",
}

func TestCheckName(t *testing.T) {
	for _, n := range hostileNames {
		if CheckName(n, 255) == nil {
			t.Errorf("%q accepted", n)
		}
	}
	for _, n := range []string{"chat", "work/addresses", "a.b", "a-b_c$d", "Ünïcode", "con1", "a/b/c/d/e/f/g/h", "1"} {
		if err := CheckName(n, 255); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
}

// TestFlood: a client over its budget gets Status + its value restored,
// then is cut off; others are unaffected.
func TestFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{ChangeRate: 10, ChangeBurst: 5}, nil)
		a, b := newClient(t, r), newClient(t, r)
		_ = a.send(t, "s", false, 0, use)
		_ = b.send(t, "s", false, 0, use)
		a.take()
		b.take()
		evs := make([]wire.Event, 8)
		for i := range evs {
			evs[i] = set(fmt.Sprint("k", i), amf.Number(1))
		}
		if err := a.send(t, "s", false, 1, evs...); err != nil {
			t.Fatal(err)
		}
		want(t, "A", a.rec, "v2: success k0 success k1 success k2 success k3 success k4 remove k5 remove k6 remove k7 status SharedObject.NoWriteAccess")
		time.Sleep(100 * time.Millisecond) // one token back: 1 allowed, 3 more refused
		if err := a.send(t, "s", false, 2, evs[:4]...); !errors.Is(err, ErrFlood) {
			t.Fatalf("err %v, want ErrFlood", err)
		}
		if err := b.send(t, "s", false, 2, set("b", amf.Number(1))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSecondUseIsNotASecondSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		a, b := newClient(t, r), newClient(t, r)
		_ = a.send(t, "s", false, 0, use)
		_ = a.send(t, "s", false, 0, use)
		_ = b.send(t, "s", false, 0, use)
		a.take()
		_ = b.send(t, "s", false, 1, set("x", amf.Number(1)))
		want(t, "A", a.rec, "v2: change x=1")
		if n := r.Lookup("s", false).Subscribers(); n != 2 {
			t.Fatalf("%d subscribers", n)
		}
		_ = a.send(t, "s", false, 2, release)
		if n := r.Lookup("s", false).Subscribers(); n != 1 {
			t.Fatalf("%d subscribers after release", n)
		}
	})
}

// TestLargeSyncSplits: docs/shared-objects.md#client-pitfalls, an initial sync over 64 KiB is split.
func TestLargeSyncSplits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		so, _ := r.Get("big", false)
		defer so.Close()
		for i := range 10 {
			_ = so.SetProperty(fmt.Sprint(i), amf.String(string(make([]byte, 20000))))
		}
		a := newClient(t, r)
		_ = a.send(t, "big", false, 0, use)
		ms := a.take()
		if len(ms) < 3 || ms[0].Events[0].Type != wire.EventUseSuccess || ms[1].Events[0].Type != wire.EventChange {
			t.Fatalf("%d messages", len(ms))
		}
		n := 0
		for _, m := range ms {
			if m.Version != so.Version() {
				t.Fatal("version")
			}
			for _, e := range m.Events {
				if e.Type == wire.EventChange {
					n++
				}
			}
		}
		if n != 10 {
			t.Fatalf("%d changes", n)
		}
		a.s.Close()
	})
}

func TestAccess(t *testing.T) {
	for _, tt := range []struct {
		list, name string
		ok         bool
	}{
		{"/", "anything/at/all", true}, {"", "chat", false}, {"chat", "chat", true}, {"chat", "chatroom", false},
		{"rooms/", "rooms/1", true}, {"/rooms", "rooms/1/x", true}, {"a;b/c", "b/c/d", true}, {"a;b/c", "b", false},
	} {
		if AccessAllows(tt.list, tt.name) != tt.ok {
			t.Errorf("AccessAllows(%q, %q) != %v", tt.list, tt.name, tt.ok)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		a, b := newClient(t, r), newClient(t, r)
		a.s.SetAccess("public", "")
		_ = a.send(t, "secret", false, 0, use)
		want(t, "no read", a.rec, "v0: status SharedObject.NoReadAccess")
		_ = a.send(t, "public", false, 0, use)
		want(t, "cannot create", a.rec, "v0: status SharedObject.NoWriteAccess")
		_ = b.send(t, "public", false, 0, use, set("x", amf.Number(1)))
		b.take()
		_ = a.send(t, "public", false, 0, use)
		want(t, "read only", a.rec, "v2: use-success clear change x=1")
		_ = a.send(t, "public", false, 2, set("x", amf.Number(2)), sendMsg("hi"))
		time.Sleep(time.Second) // the tick
		want(t, "no write", a.rec, "v2: change x=1 status SharedObject.NoWriteAccess")
		want(t, "B untouched", b.rec)
		a.s.Close()
		b.s.Close()
	})
}

// TestClientWriteOff: an object the script owns (SetClientWrite(false))
// refuses a client's change, remove and send even with writeAccess "/",
// while the script's own changes still reach every subscriber.
func TestClientWriteOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		so, _ := r.Get("FCChat/main/history", false)
		defer so.Close()
		so.SetClientWrite(false)
		if so.ClientWrite() {
			t.Fatal("ClientWrite() after SetClientWrite(false)")
		}
		if err := so.SetProperty("m1", amf.String("hello")); err != nil {
			t.Fatal(err)
		}
		a, b := newClient(t, r), newClient(t, r)
		for _, c := range []client{a, b} {
			_ = c.send(t, "FCChat/main/history", false, 0, use)
		}
		time.Sleep(time.Second)
		want(t, "A joins", a.rec, "v2: use-success clear change m1=\"hello\"")
		want(t, "B joins", b.rec, "v2: use-success clear change m1=\"hello\"")
		_ = a.send(t, "FCChat/main/history", false, 2, set("m1", amf.String("forged")), del("m1"), sendMsg("newLine", amf.String("forged")))
		time.Sleep(time.Second)
		want(t, "A refused", a.rec, "v2: change m1=\"hello\" status SharedObject.NoWriteAccess")
		want(t, "B untouched", b.rec)
		if err := so.SetProperty("m2", amf.String("next")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		want(t, "A gets the script's change", a.rec, "v3: change m2=\"next\"")
		want(t, "B gets the script's change", b.rec, "v3: change m2=\"next\"")
		so.SetClientWrite(true)
		_ = b.send(t, "FCChat/main/history", false, 3, set("m3", amf.String("by b")))
		time.Sleep(time.Second)
		want(t, "A sees B's write once allowed", a.rec, "v4: change m3=\"by b\"")
		a.s.Close()
		b.s.Close()
	})
}

// sizeRec records the body size of every delivery, then parses it as rec.
type sizeRec struct {
	rec
	sizes []int
}

func (r *sizeRec) Deliver(o Outgoing) {
	r.mu.Lock()
	r.sizes = append(r.sizes, len(o.AMF3()))
	r.mu.Unlock()
	r.rec.Deliver(o)
}

// TestLargeTickSplits: a tick whose events add up to more than RTMP's
// 24-bit message length (300 sends of 60,000 bytes, 18 MB) reaches every
// subscriber, writer or not, as several messages of at most maxBody bytes
// of events, all at the tick's version, with every event once and in order.
// Before, it went as one 18 MB body, which the chunk writer refused.
func TestLargeTickSplits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{Coalesce: 50 * time.Millisecond}, nil)
		so, _ := r.Get("big", false)
		defer so.Close()
		var a, b sizeRec
		a.t, b.t = t, t
		sa, sb := r.NewSession(&a), r.NewSession(&b)
		for _, s := range []*Session{sa, sb} {
			m := wire.Message{Name: "big", Events: []wire.Event{use}}
			if err := s.Handle(&m); err != nil {
				t.Fatal(err)
			}
		}
		// Leading edge: this one leaves at once, the rest wait for the tick.
		_ = so.Send("warm")
		synctest.Wait()
		a.take()
		b.take()
		a.sizes, b.sizes = nil, nil

		const sends, argLen = 300, 60000
		arg := amf.String(string(make([]byte, argLen)))
		m := wire.Message{Name: "big", Version: so.Version(), Events: []wire.Event{set("k", amf.Number(1))}}
		if err := sa.Handle(&m); err != nil { // makes A a writer of the tick
			t.Fatal(err)
		}
		for i := range sends {
			if err := so.Send("h", amf.Number(float64(i)), arg); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()

		hdr := 1 + wire.HeaderSize(len("big"))
		for _, c := range []struct {
			who string
			r   *sizeRec
		}{{"writer", &a}, {"subscriber", &b}} {
			ms := c.r.take()
			if len(ms) < 2 {
				t.Fatalf("%s: %d messages for an 18 MB tick, want it split", c.who, len(ms))
			}
			total := 0
			for _, n := range c.r.sizes {
				total += n
				// One send is 60 KB, so two never share a message.
				if n > hdr+maxBody {
					t.Errorf("%s: a message of %d bytes, want at most %d", c.who, n, hdr+maxBody)
				}
			}
			if total <= 0xFFFFFF {
				t.Fatalf("%s: the tick was %d bytes, the test wants more than 16 MiB", c.who, total)
			}
			next := 0
			for _, m := range ms {
				if m.Version != so.Version() {
					t.Fatalf("%s: version %d, want %d", c.who, m.Version, so.Version())
				}
				for _, e := range m.Events {
					if e.Type != wire.EventSendMessage {
						continue
					}
					if len(e.Args) != 2 || e.Args[0].Num() != float64(next) {
						t.Fatalf("%s: send %v, want number %d", c.who, e.Args[:1], next)
					}
					next++
				}
			}
			if next != sends {
				t.Fatalf("%s: %d sends, want %d", c.who, next, sends)
			}
		}
		sa.Close()
		sb.Close()
	})
}

// TestSendExpansionBomb: a send whose argument is 2,000 AMF3 references to
// one 100 KB string (104 KB on the wire, 200 MB once written as AMF0 for
// the subscribers) is refused with a status to its sender; nothing is
// delivered, and the encoder stops at its 16 MiB bound (about 90 MB
// allocated in all while its buffer doubles) instead of writing 200 MB.
func TestSendExpansionBomb(t *testing.T) {
	big := amf.String(string(make([]byte, 100_000)))
	elems := make([]amf.Value, 2000)
	for i := range elems {
		elems[i] = big
	}
	bomb := amf.StrictArray(elems...)
	synctest.Test(t, func(t *testing.T) {
		r := newReg(t, Config{}, nil)
		a, b := newClient(t, r), newClient(t, r)
		_ = a.send(t, "s", false, 0, use)
		_ = b.send(t, "s", false, 0, use)
		a.take()
		b.take()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := a.send(t, "s", false, 1, sendMsg("h", bomb)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 150<<20 {
			t.Fatalf("refusing the send allocated %d MB", grew>>20)
		}
		want(t, "B", b.rec)
		got := summary(a.take())
		if len(got) != 1 || !strings.Contains(got[0], "status") {
			t.Fatalf("sender got %q, want a status", got)
		}
		a.s.Close()
		b.s.Close()
	})
}

// TestLargeSlotsHeldOnce: a slot larger than keepDecoded keeps its encoded
// Change event only; its value is decoded when read. A slot used to hold
// the client's decoded value too, twice what the budgets count (the
// persistent-SO flood of the hostile-clients suite held 64 MiB of slots in
// 128). Reading gives the value back whole, from a client's change and
// from a script's.
func TestLargeSlotsHeldOnce(t *testing.T) {
	r := newReg(t, Config{}, nil)
	c := newClient(t, r)
	const objects, size = 8, 1 << 20
	text := func(i int) string { return strings.Repeat(string(rune('a'+i)), size) }
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range objects {
		name := fmt.Sprint("big", i)
		if err := c.s.Handle(&wire.Message{Name: name, Events: []wire.Event{use}}); err != nil {
			t.Fatal(err)
		}
		// The value is built here and dropped: what stays is the object's.
		if err := c.s.Handle(&wire.Message{Name: name, Version: 1, Events: []wire.Event{set("v", amf.StrictArray(amf.String(text(i))))}}); err != nil {
			t.Fatal(err)
		}
	}
	c.take()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d slots of %d bytes: heap +%.1f MB", objects, size, float64(grew)/(1<<20))
	if limit := int64(objects * size * 3 / 2); grew > limit {
		t.Errorf("heap grew by %d bytes for %d bytes of slots, want under %d (one copy each)", grew, objects*size, limit)
	}
	for i := range objects {
		so, err := r.Get(fmt.Sprint("big", i), false)
		if err != nil {
			t.Fatal(err)
		}
		if got := so.GetProperty("v").Elems()[0].Str(); got != text(i) {
			t.Errorf("big%d: read back %d bytes, want %d of %q", i, len(got), size, text(i)[:1])
		}
		// A script's large value, changed by the script afterwards.
		v := amf.StrictArray(amf.String(text(i)), amf.Number(1))
		if err := so.SetProperty("w", v); err != nil {
			t.Fatal(err)
		}
		if got := so.GetProperty("w"); len(got.Elems()) != 2 || got.Elems()[0].Str() != text(i) || got.Elems()[1].Num() != 1 {
			t.Errorf("big%d: script value read back wrong", i)
		}
		so.Close()
	}
	c.s.Close()
}
