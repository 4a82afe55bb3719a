package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// catcher is a ConnServer that hands each session's conn to the test and
// holds it open until the tunnel server closes.
type catcher struct{ ch chan net.Conn }

func (c catcher) ServeConn(ctx context.Context, nc net.Conn, proto string) {
	c.ch <- nc
	<-ctx.Done()
}

// newUnitServer returns a tunnel Server whose sessions are caught for the
// test; it is closed at cleanup.
func newUnitServer(t testing.TB, cfg Config) (*Server, catcher) {
	t.Helper()
	c := catcher{ch: make(chan net.Conn, 16)}
	s := &Server{Config: cfg, Sessions: c}
	s.init()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, c
}

// do runs one request through the core handler.
func do(s *Server, kind Kind, id string, seq uint64, body []byte) (int, []byte) {
	var out sliceBody
	st := s.serve(Request{Kind: kind, ID: id, Seq: seq}, body, "rtmpt", nil, nil, &out)
	return st, out.b
}

// openSession opens a session and returns its id and conn.
func openSession(t testing.TB, s *Server, c catcher) (string, net.Conn) {
	t.Helper()
	st, b := do(s, KindOpen, "", 0, []byte{0})
	if st != 200 {
		t.Fatalf("open: %d", st)
	}
	return string(bytes.TrimSuffix(b, []byte("\n"))), <-c.ch
}

// readAvailable reads what the conn has buffered without blocking.
func readAvailable(t testing.TB, nc net.Conn) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	for {
		_ = nc.SetReadDeadline(time.Now().Add(-time.Second))
		n, err := nc.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read: %v", err)
			}
			_ = nc.SetReadDeadline(time.Time{})
			return out
		}
	}
}

type step struct {
	kind Kind
	seq  uint64
	body string
}

// TestSequenceNumbers: bodies reach the RTMP session in sequence order
// whatever order the requests arrive in (docs/rtmpt.md#sessions-and-sequence-numbers).
func TestSequenceNumbers(t *testing.T) {
	cases := []struct {
		name      string
		maxParked int
		steps     []step
		want      string
	}{
		{name: "ffmpeg, librtmp: from 0", steps: []step{{KindSend, 0, "a"}, {KindIdle, 1, ""}, {KindSend, 2, "b"}}, want: "ab"},
		{name: "Red5 client: from 1", steps: []step{{KindSend, 1, "a"}, {KindSend, 2, "b"}}, want: "ab"},
		{name: "duplicate dropped", steps: []step{{KindSend, 0, "a"}, {KindSend, 1, "b"}, {KindSend, 1, "b"}, {KindSend, 2, "c"}}, want: "abc"},
		{name: "Flash Player, two connections: out of order", steps: []step{{KindSend, 0, "a"}, {KindSend, 2, "c"}, {KindSend, 1, "b"}}, want: "abc"},
		{name: "an idle fills a gap", steps: []step{{KindSend, 0, "a"}, {KindSend, 2, "c"}, {KindIdle, 1, ""}}, want: "ac"},
		{name: "gap skipped past max_parked", maxParked: 2,
			steps: []step{{KindSend, 0, "a"}, {KindSend, 2, "c"}, {KindSend, 3, "d"}, {KindSend, 4, "e"}, {KindSend, 1, "late"}}, want: "acde"},
		{name: "parked duplicate kept once", steps: []step{{KindSend, 0, "a"}, {KindSend, 2, "c"}, {KindSend, 2, "c"}, {KindSend, 1, "b"}}, want: "abc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newUnitServer(t, Config{MaxParked: tc.maxParked})
			id, nc := openSession(t, s, c)
			for _, st := range tc.steps {
				body := []byte(st.body)
				if st.kind == KindIdle {
					body = []byte{0}
				}
				if code, resp := do(s, st.kind, id, st.seq, body); code != 200 || len(resp) != 1 {
					t.Fatalf("%v %d: %d %x", st.kind, st.seq, code, resp)
				}
			}
			if got := string(readAvailable(t, nc)); got != tc.want {
				t.Fatalf("session read %q, want %q", got, tc.want)
			}
		})
	}
}

// TestResponsesCarryAllPendingOutput: everything queued goes out in
// order, at most MaxResponseSize per response, many writes per body; the
// polling byte is 0x01 while data flows.
func TestResponsesCarryAllPendingOutput(t *testing.T) {
	s, c := newUnitServer(t, Config{MaxResponseSize: 32 << 10})
	id, nc := openSession(t, s, c)
	var want []byte
	for i := range 1000 {
		p := bytes.Repeat([]byte{byte(i)}, 100+i%7)
		want = append(want, p...)
		if _, err := nc.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	var sizes []int
	for seq := uint64(0); len(got) < len(want); seq++ {
		code, resp := do(s, KindIdle, id, seq, []byte{0})
		if code != 200 || resp[0] != 0x01 {
			t.Fatalf("idle %d: %d, polling byte %x", seq, code, resp[:1])
		}
		got = append(got, resp[1:]...)
		sizes = append(sizes, len(resp)-1)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("output reordered or corrupted")
	}
	for i, n := range sizes[:len(sizes)-1] {
		if n != 32<<10 {
			t.Errorf("response %d carried %d bytes, want the full 32 KiB", i, n)
		}
	}
}

// TestWriteBoundAndDeadline: a write blocks only past MaxPendingOutput,
// and then times out by the write deadline with a net.Error timeout (the
// RTMP layer's slow-consumer signal); a poll lets it continue.
func TestWriteBoundAndDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{MaxPendingOutput: 1000})
		id, nc := openSession(t, s, c)
		if n, err := nc.Write(make([]byte, 600)); n != 600 || err != nil {
			t.Fatalf("write under the bound: %d %v", n, err)
		}
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := nc.Write(make([]byte, 600))
		var ne net.Error
		if n != 400 || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("write past the bound: %d, %v; want 400 and a timeout", n, err)
		}
		_ = nc.SetWriteDeadline(time.Time{})
		done := make(chan error)
		go func() {
			_, err := nc.Write(make([]byte, 1500))
			done <- err
		}()
		synctest.Wait() // the writer is blocked on the full queue
		total := 0
		for seq := uint64(0); total < 2500; seq++ {
			_, resp := do(s, KindIdle, id, seq, []byte{0})
			total += len(resp) - 1
			synctest.Wait()
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestTryWriteBuffers: a batch that fits is queued whole at once; one that
// does not fit, or that would pass a writer already waiting, is not
// queued at all, and nothing waits; a closed session is an error.
func TestTryWriteBuffers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{MaxPendingOutput: 1000})
		id, nc := openSession(t, s, c)
		tw, ok := nc.(interface {
			TryWriteBuffers([][]byte) (bool, error)
		})
		if !ok {
			t.Fatal("a session has no TryWriteBuffers")
		}
		if ok, err := tw.TryWriteBuffers([][]byte{make([]byte, 300), make([]byte, 300)}); !ok || err != nil {
			t.Fatalf("batch under the bound: %v %v", ok, err)
		}
		if ok, err := tw.TryWriteBuffers([][]byte{make([]byte, 300), make([]byte, 300)}); ok || err != nil {
			t.Fatalf("batch past the bound: %v %v; want not written, no error", ok, err)
		}
		// A blocked Write holds the write side: a try must not pass it.
		done := make(chan error)
		go func() {
			_, err := nc.Write(make([]byte, 600))
			done <- err
		}()
		synctest.Wait()
		if ok, err := tw.TryWriteBuffers([][]byte{make([]byte, 1)}); ok || err != nil {
			t.Fatalf("try while a writer waits: %v %v; want not written", ok, err)
		}
		total := 0
		for seq := uint64(0); total < 1200; seq++ {
			_, resp := do(s, KindIdle, id, seq, []byte{0})
			total += len(resp) - 1
			synctest.Wait()
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if total != 1200 {
			t.Fatalf("polls carried %d bytes, want 1200", total)
		}
		_ = nc.Close()
		if ok, err := tw.TryWriteBuffers([][]byte{make([]byte, 1)}); ok || err == nil {
			t.Fatalf("try on a closed session: %v %v; want an error", ok, err)
		}
	})
}

// TestReadDeadline: Read honors its deadline, and a deadline moved while
// Read is blocked takes effect.
func TestReadDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{SessionTimeout: time.Hour})
		id, nc := openSession(t, s, c)
		start := time.Now()
		_ = nc.SetReadDeadline(start.Add(time.Second))
		errc := make(chan error)
		go func() {
			_, err := nc.Read(make([]byte, 10))
			errc <- err
		}()
		synctest.Wait()
		_ = nc.SetReadDeadline(start.Add(3 * time.Second)) // extended while blocked
		err := <-errc
		if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != 3*time.Second {
			t.Fatalf("read: %v after %v, want a timeout after 3s", err, time.Since(start))
		}
		_ = nc.SetReadDeadline(time.Time{})
		go func() {
			b := make([]byte, 10)
			n, err := nc.Read(b)
			if err == nil && string(b[:n]) != "hi" {
				err = errors.New("read " + strconv.Quote(string(b[:n])))
			}
			errc <- err
		}()
		synctest.Wait()
		do(s, KindSend, id, 0, []byte("hi"))
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

// TestExpiry: requests keep a session alive; without them it expires
// after SessionTimeout: Read fails with ErrSessionExpired (a timeout),
// the id answers 404.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{SessionTimeout: 10 * time.Second})
		id, nc := openSession(t, s, c)
		for seq := range uint64(10) {
			time.Sleep(5 * time.Second)
			if code, _ := do(s, KindIdle, id, seq, []byte{0}); code != 200 {
				t.Fatalf("idle at %v: %d", seq, code)
			}
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		_, err := nc.Read(make([]byte, 1))
		var ne net.Error
		if !errors.Is(err, ErrSessionExpired) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read after expiry: %v", err)
		}
		if code, _ := do(s, KindIdle, id, 11, []byte{0}); code != 404 {
			t.Fatalf("idle after expiry: %d, want 404", code)
		}
		if st := s.Stats(); st.Sessions != 0 || st.Expired != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestExpiryWaitsForRequestInProgress: a request held longer than the
// session timeout (a held /idle here; a /send waiting for room or a slow
// server do the same) keeps its session alive, and the timeout counts
// from the end of the answer, not from the start of the request.
func TestExpiryWaitsForRequestInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{SessionTimeout: 10 * time.Second, HoldIdle: 30 * time.Second})
		id, _ := openSession(t, s, c)
		codes := make(chan int, 1)
		go func() {
			code, _ := do(s, KindIdle, id, 0, []byte{0})
			codes <- code
		}()
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if st := s.Stats(); st.Sessions != 1 || st.Expired != 0 {
			t.Fatalf("29 s into a held request: %+v, want the session alive", st)
		}
		if code := <-codes; code != 200 {
			t.Fatalf("held idle: %d", code)
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if st := s.Stats(); st.Sessions != 1 || st.Expired != 0 {
			t.Fatalf("9 s after the answer: %+v, want the session alive", st)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if st := s.Stats(); st.Sessions != 0 || st.Expired != 1 {
			t.Fatalf("11 s after the answer: %+v, want it expired", st)
		}
	})
}

// TestServerSideCloseDeliversPendingOutput: when the RTMP session ends
// with output queued (a rejection's _error), the next polls deliver it,
// then answer 0x00 (session ending), then the id is gone. The polls after
// the close still count in the sequence: before, a session closed after
// its first request answered every later one with a polling byte only,
// so the _error never left and a client still sending (a flooder cut off
// by the server) kept the session alive for as long as it polled.
func TestServerSideCloseDeliversPendingOutput(t *testing.T) {
	type poll struct {
		kind Kind
		body string
		code int
		want string
	}
	for _, tc := range []struct {
		name   string
		before []step // requests applied before the RTMP session ends
		polls  []poll
	}{
		{name: "closed before the first poll",
			polls: []poll{{KindIdle, "\x00", 200, "\x01_error"}, {KindIdle, "\x00", 200, "\x00"}, {KindIdle, "\x00", 404, ""}}},
		{name: "rejected after its connect's send",
			before: []step{{KindSend, 0, "connect"}},
			polls:  []poll{{KindIdle, "\x00", 200, "\x01_error"}, {KindIdle, "\x00", 200, "\x00"}, {KindIdle, "\x00", 404, ""}}},
		{name: "cut off while still sending",
			before: []step{{KindSend, 0, "connect"}, {KindSend, 1, "flood"}},
			polls:  []poll{{KindSend, "more", 200, "\x01_error"}, {KindSend, "more", 200, "\x00"}, {KindSend, "more", 404, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newUnitServer(t, Config{})
			id, nc := openSession(t, s, c)
			seq := uint64(0)
			for _, st := range tc.before {
				if code, _ := do(s, st.kind, id, st.seq, []byte(st.body)); code != 200 {
					t.Fatalf("%v %d: %d", st.kind, st.seq, code)
				}
				seq = st.seq + 1
			}
			_ = readAvailable(t, nc)
			_, _ = nc.Write([]byte("_error"))
			_ = nc.Close()
			if _, err := nc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write after close: %v", err)
			}
			for i, p := range tc.polls {
				code, b := do(s, p.kind, id, seq+uint64(i), []byte(p.body))
				if code != p.code || string(b) != p.want {
					t.Fatalf("poll %d: %d %q, want %d %q", i, code, b, p.code, p.want)
				}
			}
		})
	}
}

// TestClientClose: /close answers 0x00, the session reads EOF after its
// pending input, writes fail, the id is gone.
func TestClientClose(t *testing.T) {
	s, c := newUnitServer(t, Config{})
	id, nc := openSession(t, s, c)
	do(s, KindSend, id, 0, []byte("last"))
	if code, b := do(s, KindClose, id, 1, []byte{0}); code != 200 || !bytes.Equal(b, []byte{0}) {
		t.Fatalf("close: %d %x", code, b)
	}
	b, err := io.ReadAll(nc)
	if string(b) != "last" || err != nil {
		t.Fatalf("read %q, %v; want the pending input then EOF", b, err)
	}
	if _, err := nc.Write([]byte("x")); err == nil {
		t.Fatal("write after the client closed succeeded")
	}
	if code, _ := do(s, KindIdle, id, 2, []byte{0}); code != 404 {
		t.Fatalf("idle after close: %d", code)
	}
}

// TestHeldIdle: with HoldIdle an empty /idle waits for output and answers
// as soon as some is queued; without output it answers after HoldIdle.
func TestHeldIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{HoldIdle: 500 * time.Millisecond})
		id, nc := openSession(t, s, c)
		start := time.Now()
		if _, b := do(s, KindIdle, id, 0, []byte{0}); len(b) != 1 || time.Since(start) != 500*time.Millisecond {
			t.Fatalf("empty held idle: %x after %v", b, time.Since(start))
		}
		go func() {
			time.Sleep(100 * time.Millisecond)
			_, _ = nc.Write([]byte("media"))
		}()
		start = time.Now()
		if _, b := do(s, KindIdle, id, 1, []byte{0}); string(b) != "\x01media" || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("held idle: %q after %v, want the media after 100ms", b, time.Since(start))
		}
	})
}

// TestInputBound: a /send that would push unread input past
// MaxPendingInput waits for the session to read, then answers 503 after
// RequestTimeout.
func TestInputBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{MaxPendingInput: 100, RequestTimeout: time.Second})
		id, nc := openSession(t, s, c)
		if code, _ := do(s, KindSend, id, 0, make([]byte, 80)); code != 200 {
			t.Fatal(code)
		}
		start := time.Now()
		if code, _ := do(s, KindSend, id, 1, make([]byte, 80)); code != 503 || time.Since(start) != time.Second {
			t.Fatalf("send over the input bound: %d after %v", code, time.Since(start))
		}
		go func() {
			time.Sleep(100 * time.Millisecond)
			_, _ = nc.Read(make([]byte, 80))
		}()
		if code, _ := do(s, KindSend, id, 1, make([]byte, 80)); code != 200 {
			t.Fatalf("send after the session read: %d", code)
		}
	})
}

// TestSessionLimitAndIDs: MaxSessions, then 503; ids are distinct and
// carry the node tag.
func TestSessionLimitAndIDs(t *testing.T) {
	s, c := newUnitServer(t, Config{MaxSessions: 3, NodeTag: "x9"})
	seen := map[string]bool{}
	for range 3 {
		id, _ := openSession(t, s, c)
		if NodeOf(id) != "x9" || seen[id] {
			t.Fatalf("id %q", id)
		}
		seen[id] = true
	}
	if code, b := do(s, KindOpen, "", 0, []byte{0}); code != 503 || len(b) != 0 {
		t.Fatalf("open past the limit: %d %q", code, b)
	}
}

// TestSteadyStateAllocs: queueing output and answering a poll allocate
// nothing once the buffers have grown (the hot path of every delivery).
func TestSteadyStateAllocs(t *testing.T) {
	s, c := newUnitServer(t, Config{})
	id, nc := openSession(t, s, c)
	ss := s.lookup(id)
	p := make([]byte, 1400)
	out := &sliceBody{b: make([]byte, 0, 64<<10)}
	allocs := testing.AllocsPerRun(200, func() {
		for range 10 {
			_, _ = nc.Write(p)
		}
		out.b = out.b[:0]
		ss.begin(0)
		ss.respond(out, 1<<20, 0)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per poll, want 0", allocs)
	}
}

// TestAnswersInRequestOrder: output goes to the oldest request in flight,
// never to one parked ahead of a gap or overtaking an older held one, so
// a client with two requests in flight (Flash Player) reads its bytes in
// order (docs/rtmpt.md#sessions-and-sequence-numbers).
func TestAnswersInRequestOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{HoldIdle: time.Second, SessionTimeout: time.Hour})
		id, nc := openSession(t, s, c)
		_, _ = nc.Write([]byte("abc"))
		if _, b := do(s, KindIdle, id, 0, []byte{0}); string(b) != "\x01abc" {
			t.Fatalf("idle 0: %q", b)
		}
		_, _ = nc.Write([]byte("def"))
		if _, b := do(s, KindSend, id, 2, []byte("x")); string(b) != "\x01" {
			t.Fatalf("send 2, parked ahead of 1: %q, want the polling byte only", b)
		}
		if _, b := do(s, KindIdle, id, 1, []byte{0}); string(b) != "\x01def" {
			t.Fatalf("idle 1, filling the gap: %q", b)
		}

		// Two held idles; the newer one wakes the older, which answers
		// first; output queued then goes to the one still held.
		older := make(chan string)
		go func() {
			_, b := do(s, KindIdle, id, 3, []byte{0})
			older <- string(b)
		}()
		synctest.Wait()
		newer := make(chan string)
		go func() {
			_, b := do(s, KindIdle, id, 4, []byte{0})
			newer <- string(b)
		}()
		if b := <-older; len(b) != 1 {
			t.Fatalf("older idle: %q, want an empty answer when the newer arrived", b)
		}
		synctest.Wait()
		_, _ = nc.Write([]byte("ghi"))
		if b := <-newer; b != "\x01ghi" {
			t.Fatalf("newer idle: %q", b)
		}
		if got := string(readAvailable(t, nc)); got != "x" {
			t.Fatalf("session read %q", got)
		}
	})
}

// TestRequestPathAllocs: the whole request core (lookup, sequence, wait,
// answer) of an /idle and of a /send allocates nothing in steady state.
func TestRequestPathAllocs(t *testing.T) {
	s, c := newUnitServer(t, Config{})
	id, nc := openSession(t, s, c)
	go func() { _, _ = io.Copy(io.Discard, nc) }()
	out := &sliceBody{b: make([]byte, 0, 64<<10)}
	body := make([]byte, 1400)
	seq := uint64(0)
	allocs := testing.AllocsPerRun(200, func() {
		out.b = out.b[:0]
		s.serve(Request{Kind: KindIdle, ID: id, Seq: seq}, []byte{0}, "rtmpt", nil, nil, out)
		seq++
		out.b = out.b[:0]
		s.serve(Request{Kind: KindSend, ID: id, Seq: seq}, body, "rtmpt", nil, nil, out)
		seq++
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per /idle + /send, want 0", allocs)
	}
}

// TestParkedBodiesCountAgainstInput: bodies parked ahead of a sequence
// gap count against MaxPendingInput with the unread input (before, up to
// MaxParked bodies of MaxBodySize each were kept on top of it), while the
// body that fills the gap is never kept out by them.
func TestParkedBodiesCountAgainstInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newUnitServer(t, Config{MaxPendingInput: 100, RequestTimeout: time.Second})
		id, nc := openSession(t, s, c)
		if code, _ := do(s, KindSend, id, 0, bytes.Repeat([]byte("a"), 10)); code != 200 {
			t.Fatal(code)
		}
		if code, _ := do(s, KindSend, id, 2, bytes.Repeat([]byte("c"), 60)); code != 200 {
			t.Fatalf("first parked body: %d", code)
		}
		start := time.Now()
		if code, _ := do(s, KindSend, id, 3, bytes.Repeat([]byte("d"), 60)); code != 503 || time.Since(start) != time.Second {
			t.Fatalf("parked body over the input bound: %d after %v", code, time.Since(start))
		}
		// 10 unread + 60 parked + 40 is over 100 too, but this body fills
		// the gap: it is taken, and the parked one follows it.
		if code, _ := do(s, KindSend, id, 1, bytes.Repeat([]byte("b"), 40)); code != 200 {
			t.Fatalf("gap-filling body: %d", code)
		}
		want := strings.Repeat("a", 10) + strings.Repeat("b", 40) + strings.Repeat("c", 60)
		if got := string(readAvailable(t, nc)); got != want {
			t.Fatalf("session read %q, want %q", got, want)
		}
		if code, _ := do(s, KindSend, id, 3, bytes.Repeat([]byte("d"), 60)); code != 200 {
			t.Fatalf("send after the session read: %d", code)
		}
	})
}

// holder is a ConnServer that holds each session until the server closes.
type holder struct{}

func (holder) ServeConn(ctx context.Context, _ net.Conn, _ string) { <-ctx.Done() }

// TestOpenFloodFromOneAddress: 10,000 /opens from one address take
// MaxSessionsPerIP sessions and no more (503 after that), so another
// address still opens sessions; what the flooder held is released when its
// sessions end. Before, the flood took all of MaxSessions. Loopback counts
// unless exempted.
func TestOpenFloodFromOneAddress(t *testing.T) {
	for _, exempt := range []bool{false, true} {
		t.Run(fmt.Sprintf("exempt_loopback=%v", exempt), func(t *testing.T) {
			s := &Server{Config: Config{MaxSessionsPerIP: 100, MaxSessions: 5000, ExemptLoopback: exempt}, Sessions: holder{}}
			s.init()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := s.Close(ctx); err != nil {
					t.Error(err)
				}
			})
			flooder := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
			honest := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 40000}
			open := func(remote net.Addr) (int, string) {
				var out sliceBody
				st := s.serve(Request{Kind: KindOpen}, []byte{0}, "rtmpt", nil, remote, &out)
				return st, string(bytes.TrimSuffix(out.b, []byte("\n")))
			}
			ok, refused := 0, 0
			var ids []string
			for range 10000 {
				switch st, id := open(flooder); st {
				case 200:
					ok++
					ids = append(ids, id)
				case 503:
					refused++
				default:
					t.Fatalf("/open: %d", st)
				}
			}
			if exempt {
				// Exempt: only MaxSessions bounds it.
				if ok != 5000 {
					t.Fatalf("exempt loopback: %d sessions opened, want max_sessions (5000)", ok)
				}
				return
			}
			if ok != 100 || refused != 9900 {
				t.Fatalf("%d opened, %d refused; want 100 and 9900", ok, refused)
			}
			if st, _ := open(honest); st != 200 {
				t.Fatalf("another address: /open answered %d during the flood", st)
			}
			for i, id := range ids {
				if i == 10 {
					break
				}
				if st, _ := do(s, KindClose, id, 0, []byte{0}); st != 200 {
					t.Fatalf("close: %d", st)
				}
			}
			for range 10 {
				if st, _ := open(flooder); st != 200 {
					t.Fatalf("closed sessions did not free their places: %d", st)
				}
			}
			if st, _ := open(flooder); st != 503 {
				t.Fatalf("past the per-address limit again: %d", st)
			}
		})
	}
}

// TestNotifyReadable: the call-back of a parked RTMP reader (rtmp.ReadNotifier)
// is refused while input is waiting, runs once when a /send brings bytes,
// once when the client closes the session, once when the session is
// closed, and never after StopNotify; the idle session it parks holds no
// input storage.
func TestNotifyReadable(t *testing.T) {
	s, c := newUnitServer(t, Config{})
	counter := func() (func(), func() int) {
		var n atomic.Int32
		return func() { n.Add(1) }, func() int { return int(n.Load()) }
	}
	id, nc := openSession(t, s, c)
	ss := nc.(*session)
	if code, _ := do(s, KindSend, id, 0, []byte("abc")); code != 200 {
		t.Fatal(code)
	}
	f, calls := counter()
	if ss.NotifyReadable(f) {
		t.Fatal("NotifyReadable kept a call-back with input waiting")
	}
	if got := string(readAvailable(t, nc)); got != "abc" {
		t.Fatalf("read %q", got)
	}
	if !ss.NotifyReadable(f) {
		t.Fatal("NotifyReadable refused an idle session")
	}
	ss.mu.Lock()
	held := ss.in.p != nil
	ss.mu.Unlock()
	if held {
		t.Error("a parked session keeps its input storage")
	}
	if code, _ := do(s, KindIdle, id, 1, []byte{0}); code != 200 || calls() != 0 {
		t.Fatalf("an empty poll: %d, %d calls", code, calls())
	}
	if code, _ := do(s, KindSend, id, 2, []byte("d")); code != 200 || calls() != 1 {
		t.Fatalf("a /send: %d, %d calls, want 1", code, calls())
	}
	if code, _ := do(s, KindSend, id, 3, []byte("e")); code != 200 || calls() != 1 {
		t.Fatalf("a second /send: %d, %d calls, want still 1", code, calls())
	}
	_ = readAvailable(t, nc)

	if !ss.NotifyReadable(f) {
		t.Fatal("NotifyReadable refused an idle session")
	}
	ss.StopNotify()
	if code, _ := do(s, KindSend, id, 4, []byte("f")); code != 200 || calls() != 1 {
		t.Fatalf("a /send after StopNotify: %d, %d calls, want still 1", code, calls())
	}
	_ = readAvailable(t, nc)
	if !ss.NotifyReadable(f) {
		t.Fatal("NotifyReadable refused an idle session")
	}
	if code, _ := do(s, KindClose, id, 5, []byte{0}); code != 200 || calls() != 2 {
		t.Fatalf("/close: %d, %d calls, want 2", code, calls())
	}

	id, nc = openSession(t, s, c)
	ss = nc.(*session)
	if !ss.NotifyReadable(f) {
		t.Fatal("NotifyReadable refused a new session")
	}
	_ = nc.Close()
	if calls() != 3 {
		t.Fatalf("Close: %d calls, want 3", calls())
	}
	if ss.NotifyReadable(f) {
		t.Fatal("NotifyReadable kept a call-back on a closed session")
	}
	_ = id
}
