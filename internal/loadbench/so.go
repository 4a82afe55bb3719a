package loadbench

import (
	"context"
	encbin "encoding/binary" // binary is the tests' build helper
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/sharedobject/wire"
)

// Shared-object load (ModeSO): N subscribers of one remote shared object
// and one writer that changes it at a steady rate. The writer sets slot
// "k<i mod 100>" to change number i; each subscriber is a raw RTMP
// connection (handshake, connect, Use, then a chunk reader, nothing
// decoded but the change numbers in each shared-object message), read by
// the fleet's few readers (pollGroup) rather than a goroutine of its own,
// so that a thousand of them cost the tool little. A change counts as delivered
// when the last subscriber has read it, in a Change event of its own: a
// change the server refused, or lost, is never counted. Its latency is
// from the writer's SetProperty to that read (both in this process, one
// clock); the time to the first subscriber's read is kept beside it, so
// that the spread of one fan-out shows.

// soName is the shared object the fleet uses.
const soName = "bench"

// soRing is how many changes are tracked at once: a change not delivered
// everywhere within soRing changes of the writer is counted as lost.
const soRing = 1 << 16

// soTracker counts, per change number, the subscribers that have read it.
type soTracker struct {
	n     atomic.Int32 // subscribers that count
	start time.Time
	sent  [soRing]atomic.Int64 // change i: nanoseconds since start when written
	got   [soRing]atomic.Int32 // change i: subscribers that have read it
	lat   latencyHist          // change sent → read by the last subscriber
	first latencyHist          // change sent → read by the first subscriber
	done  atomic.Int64         // changes read by every subscriber
	last  atomic.Int64         // the last change written
}

// wrote records that change id was just written.
func (t *soTracker) wrote(id int) {
	t.got[id%soRing].Store(0)
	t.sent[id%soRing].Store(time.Since(t.start).Nanoseconds())
	t.last.Store(int64(id))
}

// read records that one subscriber has read change id at now
// (nanoseconds since start).
func (t *soTracker) read(id int, now int64) {
	t.arrive(id, time.Duration(now-t.sent[id%soRing].Load()))
}

// arrive records that one subscriber has read change id, d after it was
// made.
func (t *soTracker) arrive(id int, d time.Duration) {
	got := t.got[id%soRing].Add(1)
	if got == 1 {
		t.first.add(d)
	}
	if got == t.n.Load() {
		// Counted before its latency: a snapshot, which reads the
		// latencies first, never holds a latency of an uncounted change.
		t.done.Add(1)
		t.lat.add(d)
	}
}

// soChanges calls fn with the change number of every Change event of a
// shared-object message body p (type 19) whose value is a number, in
// order. It reads only the framing it needs and stops at the first event
// that does not fit.
func soChanges(p []byte, fn func(id int)) {
	if len(p) < 2 {
		return
	}
	i := wire.HeaderSize(int(encbin.BigEndian.Uint16(p)))
	for i+5 <= len(p) {
		t, n := wire.EventType(p[i]), int(encbin.BigEndian.Uint32(p[i+1:]))
		i += 5
		if n > len(p)-i {
			return
		}
		// A Change: key (u16 length, bytes), then an AMF0 number
		// (marker 0, 8 bytes) for the writer's changes.
		if d := p[i : i+n]; t == wire.EventChange && n >= 2+9 && n == 2+int(encbin.BigEndian.Uint16(d))+9 && d[n-9] == 0 {
			fn(int(math.Float64frombits(encbin.BigEndian.Uint64(d[n-8:]))))
		}
		i += n
	}
}

// openSOSubscriber connects m to the shared object and starts reading;
// the tracker hears every change it reads.
func (f *fleet) openSOSubscriber(ctx context.Context, m *member) error {
	u, err := url.Parse(f.connURL)
	if err != nil {
		return err
	}
	nc, err := m.dialRTMP(ctx, u)
	if err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	fail := func(err error) error {
		_ = nc.Close()
		return err
	}
	if _, err := handshake.Client(nc, handshake.ClientOptions{}); err != nil {
		return fail(fmt.Errorf("handshake: %w", err))
	}
	var e amf.Encoder
	w := chunk.NewWriter()
	app := strings.TrimPrefix(u.Path, "/")
	cmd := message.Command{Name: "connect", Txn: 1, Object: amf.Object(
		amf.Prop{Key: "app", Value: amf.String(app)}, amf.Prop{Key: "tcUrl", Value: amf.String(f.connURL)})}
	p, err := cmd.Append(nil, &e)
	if err != nil {
		return fail(err)
	}
	b, err := w.AppendBytes(nil, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeCommand}, p)
	if err != nil {
		return fail(err)
	}
	use := wire.Message{Name: soName, Events: []wire.Event{{Type: wire.EventUse}}}
	e.Reset()
	if p, err = use.Append(nil, false, &e); err != nil {
		return fail(err)
	}
	if b, err = w.AppendBytes(b, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeSharedObject}, p); err != nil {
		return fail(err)
	}
	if _, err := nc.Write(b); err != nil {
		return fail(err)
	}
	// Read what comes back up to the object's first message (the
	// answer to Use), then hand the socket to the fleet's readers.
	rd := chunk.NewReader(nc, chunk.Limits{})
	rd.KeepBuffer(true)
	for {
		h, p, err := rd.ReadMessage()
		if err != nil {
			return fail(fmt.Errorf("waiting for the shared object: %w", err))
		}
		m.messages.Add(1)
		if h.Type == message.TypeSharedObject && len(p) >= 2 && string(p[2:min(len(p), 2+len(soName))]) == soName {
			break
		}
	}
	_ = nc.SetDeadline(time.Time{})
	sub := &soSubscriber{f: f, m: m, rd: rd}
	if err := f.polls.watch(nc, m, sub.ready); err != nil {
		return fail(err)
	}
	return nil
}

// soSubscriber is one subscriber's reading state, used by the fleet's
// readers (pollGroup).
type soSubscriber struct {
	f    *fleet
	m    *member
	rd   *chunk.Reader
	seen soSeen
}

// ready reads what src has (until it would block, or a read comes back
// short) and counts the changes of every complete message.
func (s *soSubscriber) ready(src io.Reader) error {
	for {
		if err := s.parse(); err != nil {
			return err
		}
		n, err := s.rd.Fill(src)
		switch {
		case errors.Is(err, chunk.ErrWouldBlock):
			return nil
		case err != nil:
			return err
		case n == 0:
			return errors.New("so subscriber: no room to read into")
		}
		if !s.rd.MayHaveMore() {
			return s.parse()
		}
	}
}

// parse handles the messages buffered whole.
func (s *soSubscriber) parse() error {
	for {
		h, p, st, err := s.rd.ReadBuffered()
		switch {
		case err != nil:
			return err
		case st == chunk.Blocking:
			return errors.New("so subscriber: a chunk larger than the read buffer")
		case st == chunk.Partial:
			return nil
		}
		s.m.messages.Add(1)
		// A change message: version past the initial sync's 1. A
		// resync would repeat changes already read: only numbers
		// past the last one count.
		if h.Type != message.TypeSharedObject || len(p) < wire.HeaderSize(len(soName)) ||
			encbin.BigEndian.Uint32(p[2+len(soName):]) < 2 {
			continue
		}
		now := time.Since(s.f.so.start).Nanoseconds()
		s.seen.message(p, func(id int) { s.f.so.read(id, now) })
	}
}

// soSlots is how many slots the writer cycles through: change i sets
// slot "k<i mod soSlots>".
const soSlots = 100

// soSeen is what one subscriber has counted.
type soSeen struct {
	last int          // the highest change counted
	ids  []int        // the new changes of the message being read
	top  [soSlots]int // per slot, the highest change of that message
}

// message counts the changes one message delivers: each one it carries
// past the last counted, and each one before its highest that a later
// change of the same slot in it replaced (a tick keeps only a slot's last
// value: a tick longer than soSlots changes, on a stalled machine,
// delivers the earlier ones that way). A change that is otherwise missing
// (refused, lost) is never counted. A resync repeats changes already
// counted: only those past the last count.
func (v *soSeen) message(p []byte, count func(id int)) {
	v.ids = v.ids[:0]
	soChanges(p, func(id int) {
		if id > v.last {
			v.ids = append(v.ids, id)
		}
	})
	if len(v.ids) == 0 {
		return
	}
	hi := 0
	for _, id := range v.ids {
		v.top[id%soSlots] = max(v.top[id%soSlots], id)
		hi = max(hi, id)
	}
	for id := v.last + 1; id <= hi; id++ {
		if v.top[id%soSlots] >= id {
			count(id)
		}
	}
	for _, id := range v.ids {
		v.top[id%soSlots] = 0
	}
	v.last = hi
}

// runSOWriter changes the shared object rate times a second until ctx
// ends.
func (f *fleet) runSOWriter(ctx context.Context) error {
	c, err := rtmp.Dial(ctx, f.connURL, rtmp.ClientConfig{})
	if err != nil {
		return fmt.Errorf("so writer: %w", err)
	}
	defer func() { _ = c.Close() }()
	so := rtmp.NewSharedObject(soName, false)
	if err := so.Connect(ctx, c); err != nil {
		return fmt.Errorf("so writer: %w", err)
	}
	// A ticker drops the ticks a late receiver misses: the writer
	// instead sends every change that is due at each tick, so the rate
	// holds on a loaded machine.
	t := time.NewTicker(time.Second / time.Duration(f.o.Rate))
	defer t.Stop()
	start := time.Now()
	for id := 1; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return fmt.Errorf("so writer: connection ended: %w", c.Err())
		case <-t.C:
		}
		due := int(time.Since(start)*time.Duration(f.o.Rate)/time.Second) + 1
		for ; id <= due; id++ {
			f.so.wrote(id)
			if err := so.SetProperty("k"+strconv.Itoa(id%soSlots), amf.Number(float64(id))); err != nil {
				return fmt.Errorf("so writer: %w", err)
			}
		}
	}
}

// The shared-object floor (BenchmarkSharedObjectsFloor): a bare Go loop
// that, at every delivery tick, writes one record naming the changes made
// since the last tick to every connection (openfcs-load sink -so-floor),
// as the server writes one message per subscriber per tick. The record is
// as long as the server's message for the same changes, give or take, and
// carries what the reader needs to time them: change id was made at
// start + id*period.
const (
	soFloorRecord = 256 // bytes of one record
	soFloorMagic  = 0x534f464c
)

// appendSOFloorRecord appends the record of changes from..to.
func appendSOFloorRecord(b []byte, start time.Time, period time.Duration, from, to int) []byte {
	n := len(b)
	b = encbin.BigEndian.AppendUint32(b, soFloorMagic)
	b = encbin.BigEndian.AppendUint64(b, uint64(start.UnixNano()))
	b = encbin.BigEndian.AppendUint64(b, uint64(period))
	b = encbin.BigEndian.AppendUint64(b, uint64(from))
	b = encbin.BigEndian.AppendUint64(b, uint64(to))
	return append(b, make([]byte, soFloorRecord-(len(b)-n))...)
}

// parseSOFloorRecord reads a record; ok is false when it is not one.
func parseSOFloorRecord(p []byte) (start time.Time, period time.Duration, from, to int, ok bool) {
	if len(p) < 36 || encbin.BigEndian.Uint32(p) != soFloorMagic {
		return time.Time{}, 0, 0, 0, false
	}
	start = time.Unix(0, int64(encbin.BigEndian.Uint64(p[4:])))
	period = time.Duration(encbin.BigEndian.Uint64(p[12:]))
	f, l := encbin.BigEndian.Uint64(p[20:]), encbin.BigEndian.Uint64(p[28:])
	if period <= 0 || f < 1 || l < f || l-f >= soRing/2 || l >= math.MaxInt32 {
		return time.Time{}, 0, 0, 0, false
	}
	return start, period, int(f), int(l), true
}

// soFloorReader reads the floor's records of one connection, timing
// every change each names as ModeSO times a shared object's change; used
// by the fleet's readers (pollGroup), as the subscribers are, so that the
// floor and the server are measured through the same reading path.
type soFloorReader struct {
	f    *fleet
	m    *member
	buf  [16 * soFloorRecord]byte
	n    int // bytes of buf holding a record not yet read whole
	seen int
}

// ready reads what src has (until it would block, or a read comes back
// short) and times the changes of every whole record.
func (r *soFloorReader) ready(src io.Reader) error {
	for {
		n, err := src.Read(r.buf[r.n:])
		switch {
		case errors.Is(err, chunk.ErrWouldBlock):
			return nil
		case err != nil:
			return err
		}
		room := len(r.buf) - r.n
		r.n += n
		now := time.Now()
		i := 0
		for ; i+soFloorRecord <= r.n; i += soFloorRecord {
			if err := r.record(r.buf[i:i+soFloorRecord], now); err != nil {
				return err
			}
		}
		r.n = copy(r.buf[:], r.buf[i:r.n])
		if n < room {
			return nil
		}
	}
}

// record times the changes one record names.
func (r *soFloorReader) record(rec []byte, now time.Time) error {
	r.m.messages.Add(1)
	start, period, from, to, ok := parseSOFloorRecord(rec)
	if !ok {
		r.f.errs.add(errors.New("so floor: not a floor record"))
		return errors.New("so floor: not a floor record")
	}
	so := r.f.so
	for id := max(from, r.seen+1); id <= to; id++ {
		// No writer here to clear a slot of the ring before its
		// change: every reader clears the slot half a ring ahead.
		so.got[(id+soRing/2)%soRing].Store(0)
		so.arrive(id, now.Sub(start.Add(time.Duration(id)*period)))
	}
	r.seen = max(r.seen, to)
	for last := so.last.Load(); int64(to) > last && !so.last.CompareAndSwap(last, int64(to)); last = so.last.Load() {
	}
	return nil
}
