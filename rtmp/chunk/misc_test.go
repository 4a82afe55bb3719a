package chunk

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 16) }

// buffersSink records how it was written to.
type buffersSink struct {
	calls int
	got   []byte
}

func (s *buffersSink) Write(p []byte) (int, error) {
	s.calls++
	s.got = append(s.got, p...)
	return len(p), nil
}

func (s *buffersSink) WriteBuffers(bufs [][]byte) (int64, error) {
	s.calls++
	n := 0
	for _, b := range bufs {
		s.got = append(s.got, b...)
		n += len(b)
	}
	return int64(n), nil
}

// A BuffersWriter (an RTMPT session) gets one whole batch per call, and
// the same bytes a socket would.
func TestBatchWriteToBuffersWriter(t *testing.T) {
	w := NewWriter()
	var b Batch
	big := make([]byte, 300)
	check(w.Append(&b, Header{CSID: 6, Type: 9, StreamID: 1}, big))
	check(w.Append(&b, Header{CSID: 4, Type: 8, StreamID: 1}, []byte{0xaf, 0x01}))
	want := must(NewWriter().AppendBytes(nil, Header{CSID: 6, Type: 9, StreamID: 1}, big))
	sink := &buffersSink{}
	n, err := b.WriteTo(sink)
	if err != nil || sink.calls != 1 || int(n) != len(sink.got) || !bytes.HasPrefix(sink.got, want) {
		t.Fatalf("calls=%d n=%d err=%v", sink.calls, n, err)
	}
}
