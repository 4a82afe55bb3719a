package chunk

import (
	"errors"
	"io"
	"testing"
	"time"
)

// declare16M is Set Chunk Size 16 MiB then the fmt 0 header of a 16 MiB
// video message on csid 6: what a peer sends to make a server allocate
// before sending the bytes.
func declare16M(tb testing.TB) []byte {
	tb.Helper()
	w := NewWriter()
	b := must(w.AppendBytes(nil, Header{CSID: 2, Type: TypeSetChunkSize}, []byte{0x01, 0, 0, 0}))
	return append(b, chunkHeader(tb, 6, 1<<24-1, 9)...)
}

// chunkHeader is a fmt 0 header for a message of length bytes.
func chunkHeader(tb testing.TB, csid uint32, length int, typ byte) []byte {
	tb.Helper()
	return []byte{byte(csid), 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), typ, 1, 0, 0, 0}
}

// readInBackground runs ReadMessage until it fails; the error arrives on
// the channel.
func readInBackground(r *Reader) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := r.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
	}()
	return done
}

func waitUsed(t *testing.T, b *Budget, cond func(int64) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(b.Used()) {
		if time.Now().After(deadline) {
			t.Fatalf("budget holds %d bytes; want %s", b.Used(), what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReaderHoldsWhatArrives: a message declared at 16 MiB of which one
// byte arrived holds allocStep, not 16 MiB (before, the Reader allocated the
// whole chunk at once: 150 such connections held 2.4 GB for 29 bytes each);
// as bytes arrive it holds at most twice what arrived; Release gives it all
// back.
func TestReaderHoldsWhatArrives(t *testing.T) {
	pr, pw := io.Pipe()
	b := NewBudget(0)
	r := NewReader(pr, Limits{})
	r.SetBudget(b)
	done := readInBackground(r)
	go func() { _, _ = pw.Write(append(declare16M(t), 0x17)) }()
	waitUsed(t, b, func(n int64) bool { return n > 0 }, "some")
	if n := b.Used(); n > allocStep {
		t.Fatalf("one byte of a 16 MiB message holds %d bytes, want at most %d", n, allocStep)
	}
	const sent = 3 << 20
	go func() { _, _ = pw.Write(make([]byte, sent)) }()
	waitUsed(t, b, func(n int64) bool { return n >= sent }, "3 MiB")
	if n := b.Used(); n > 2*(sent+1) {
		t.Fatalf("%d bytes received hold %d, want at most twice as many", sent+1, n)
	}
	_ = pw.Close()
	if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadMessage: %v, want unexpected EOF", err)
	}
	r.Release()
	if n := b.Used(); n != 0 {
		t.Fatalf("after Release the budget holds %d bytes", n)
	}
}

// TestBudgetSharedByReaders: Readers that share a Budget cannot together
// hold more than it; the one that would go past it fails with ErrBudget,
// and what a finished message or a released Reader held is available again.
func TestBudgetSharedByReaders(t *testing.T) {
	b := NewBudget(1 << 20)
	// A holds about 600 KiB of a 16 MiB message.
	pa, wa := io.Pipe()
	a := NewReader(pa, Limits{})
	a.SetBudget(b)
	doneA := readInBackground(a)
	go func() { _, _ = wa.Write(append(declare16M(t), make([]byte, 600<<10)...)) }()
	waitUsed(t, b, func(n int64) bool { return n >= 600<<10 }, "600 KiB")

	// B's 512 KiB message does not fit beside it.
	pb, wb := io.Pipe()
	rb := NewReader(pb, Limits{})
	rb.SetBudget(b)
	doneB := readInBackground(rb)
	go func() { _, _ = wb.Write(append(declare16M(t), make([]byte, 512<<10)...)) }()
	if err := <-doneB; !errors.Is(err, ErrBudget) {
		t.Fatalf("B: %v, want ErrBudget", err)
	}
	rb.Release()
	_ = wb.Close()

	// A ends; its bytes come back, and a new reader gets them.
	_ = wa.Close()
	if err := <-doneA; err == nil {
		t.Fatal("A: reader ended without an error after its writer closed")
	}
	a.Release()
	if n := b.Used(); n != 0 {
		t.Fatalf("budget holds %d after both released", n)
	}
	w := NewWriter()
	wire := must(w.AppendBytes(nil, Header{CSID: 2, Type: TypeSetChunkSize}, []byte{0, 1, 0, 0}))
	w.SetChunkSize(1 << 16)
	wire = must(w.AppendBytes(wire, Header{CSID: 6, Type: 9, StreamID: 1}, make([]byte, 900<<10)))
	msgs, c, err := readAllBudget(wire, b)
	if err != nil || len(msgs) != 2 || len(msgs[1].p) != 900<<10 {
		t.Fatalf("%d messages, err %v", len(msgs), err)
	}
	c.Release()
	if n := b.Used(); n != 0 {
		t.Fatalf("a completed message still counts: %d bytes", n)
	}
}

func readAllBudget(wire []byte, b *Budget) ([]msg, *Reader, error) {
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write(wire); _ = pw.Close() }()
	r := NewReader(pr, Limits{})
	r.SetBudget(b)
	var out []msg
	for {
		h, p, err := r.ReadMessage()
		if errors.Is(err, io.EOF) {
			return out, r, nil
		}
		if err != nil {
			return out, r, err
		}
		out = append(out, msg{h, p})
	}
}
