//go:build linux

package rtmp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/openfcs/openfcs/rtmp/chunk"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	return server, client
}

// A socket that cannot take the whole batch gets what it can, without
// waiting; the batch keeps the rest in order, and the bytes on the wire
// are the message's, whole, once the rest is written.
func TestTryWriteStopsAtAFullSocket(t *testing.T) {
	// 12 MiB: more than the kernel's largest socket buffers hold.
	server, client := tcpPair(t)
	rc := RawConnOf(server)
	if rc == nil {
		t.Fatal("no raw access to a *net.TCPConn")
	}
	payload := make([]byte, 4<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	w := chunk.NewWriter()
	w.SetChunkSize(4096)
	var b chunk.Batch
	var want []byte
	for i := range 3 {
		h := chunk.Header{CSID: 6, Type: 9, StreamID: 1, Timestamp: uint32(i * 40)}
		if err := w.Append(&b, h, payload); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range b.Buffers() {
		want = append(want, p...)
	}
	var sw sysWriter
	n, complete, err := sw.tryWrite(rc, &b)
	if err != nil {
		t.Fatal(err)
	}
	if complete || n <= 0 || n >= len(want) || b.Len() != len(want)-n {
		t.Fatalf("tryWrite: %d of %d bytes, complete %v, %d left in the batch", n, len(want), complete, b.Len())
	}
	// Nothing more fits until the peer reads: a second try writes nothing.
	if n2, complete2, err := sw.tryWrite(rc, &b); err != nil || complete2 || b.Len() != len(want)-n-n2 {
		t.Fatalf("second tryWrite: %d bytes, complete %v, err %v, %d left", n2, complete2, err, b.Len())
	}
	got := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(io.LimitReader(client, int64(len(want))))
		got <- all
	}()
	if _, err := b.WriteTo(server); err != nil {
		t.Fatal(err)
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("peer read %d bytes, not the %d written", len(g), len(want))
	}
}

// A closed socket is an error, not a short write.
func TestTryWriteClosedSocket(t *testing.T) {
	server, _ := tcpPair(t)
	rc := RawConnOf(server)
	_ = server.Close()
	var b chunk.Batch
	if err := chunk.NewWriter().Append(&b, chunk.Header{CSID: 3, Type: 20}, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	var sw sysWriter
	if _, _, err := sw.tryWrite(rc, &b); err == nil {
		t.Fatal("tryWrite on a closed socket succeeded")
	}
}

// The raw reader reads like the socket's own Read: what arrived, waiting
// for it; the read deadline as a timeout; the peer's close as io.EOF; its
// own close as net.ErrClosed.
func TestRawReaderReadsLikeTheSocket(t *testing.T) {
	server, client := tcpPair(t)
	r := socketReader(server)
	if _, ok := r.(*rawReader); !ok {
		t.Fatalf("socketReader(*net.TCPConn) is %T, want *rawReader", r)
	}
	go func() {
		time.Sleep(20 * time.Millisecond) // the reader waits first
		_, _ = client.Write([]byte("hello"))
	}()
	buf := make([]byte, 16)
	var got []byte
	for len(got) < 5 {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("read after %q: %v", got, err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "hello" {
		t.Fatalf("read %q, want hello", got)
	}

	if err := server.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := r.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	if classify(err) != ReasonTimeout {
		t.Fatalf("deadline classified %v, want %v", classify(err), ReasonTimeout)
	}
	if err := server.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}

	_ = client.Close()
	if _, err := r.Read(buf); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	_ = server.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}
}

// A connection that adds something of its own to reads (a DirectConn that
// is not a DirectReader) is read through its own Read.
func TestSocketReaderKeepsWrappedReads(t *testing.T) {
	server, _ := tcpPair(t)
	wrapped := directOnly{server}
	if r := socketReader(wrapped); r != net.Conn(wrapped) {
		t.Fatalf("socketReader(DirectConn) is %T, want the connection itself", r)
	}
}

// directOnly is a DirectConn whose reads are not declared the socket's.
type directOnly struct{ *net.TCPConn }

func (d directOnly) Socket() *net.TCPConn { return d.TCPConn }
