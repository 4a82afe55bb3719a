package bridge

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp"
)

// TestWebSocketHandlerReturns: with fasthttp keeping hijacked conns (as
// cmd/openfcs runs it), a WebSocket session's hijack handler returns once
// the session has started, so fasthttp takes back the request's context,
// and the session goes on; a server that closes hijacked conns keeps the
// handler for the session's life, which goes on too.
func TestWebSocketHandlerReturns(t *testing.T) {
	for _, closeHijacked := range []bool{false, true} {
		name := "kept"
		if closeHijacked {
			name = "closed by fasthttp"
		}
		t.Run(name, func(t *testing.T) {
			st := startStack(t, stackOpts{closeHijacked: closeHijacked})
			ctx := testutil.Context(t, 30*time.Second)
			c := dialRTMP(t, st.url("rtmpws", "live"))
			if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
				t.Fatal(err)
			}
			want := 0
			if closeHijacked {
				want = 1
			}
			testutil.WaitFor(t, 10*time.Second, "hijack handlers", func() bool { return testutil.Goroutines(t, "fasthttp.hijackConnHandler") == want })
			time.Sleep(100 * time.Millisecond)
			if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
				t.Fatalf("call after the handler's return: %v", err)
			}
			_ = c.Close()
			testutil.WaitFor(t, 10*time.Second, "the session ended", func() bool { return st.br.Stats().WebSockets == 0 })
		})
	}
}

// clientFrame is a masked binary frame carrying p, as a client sends it.
func clientFrame(p []byte) []byte {
	f := []byte{0x82, 0xfe, 0, 0, 1, 2, 3, 4} // binary, masked, 16-bit length
	binary.BigEndian.PutUint16(f[2:4], uint16(len(p)))
	for i, b := range p {
		f = append(f, b^f[4+i%4])
	}
	return f
}

// rawUpgrade opens a WebSocket to st by hand, sending extra in the same
// write as the upgrade request, and returns the socket and its reader
// positioned after the 101.
func rawUpgrade(t *testing.T, st *stack, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", st.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET " + Path + " HTTP/1.1\r\nHost: " + st.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), extra...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return nc, br
}

// readPayload reads n bytes of the payloads of the server's binary
// frames.
func readPayload(t *testing.T, br *bufio.Reader, n int) []byte {
	t.Helper()
	var got []byte
	for len(got) < n {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(got), n, err)
		}
		k := int(h[1] & 0x7f)
		switch k {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				t.Fatal(err)
			}
			k = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				t.Fatal(err)
			}
			k = int(binary.BigEndian.Uint64(l[:]))
		}
		p := make([]byte, k)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		if h[0]&0x0f == 0x2 || h[0]&0x0f == 0x0 {
			got = append(got, p...)
		}
	}
	return got
}

// c0c1 is an RTMP client's first 1537 bytes (version 3, zero time, a
// recognizable random part).
func c0c1() []byte {
	b := make([]byte, 1537)
	b[0] = 3
	for i := 9; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// checkS0S1S2 checks the server's answer to c0c1: version 3, S2 echoing
// C1's random part.
func checkS0S1S2(t *testing.T, got, c0c1 []byte) {
	t.Helper()
	if got[0] != 3 || !bytes.Equal(got[1+1536+8:1+1536+1536], c0c1[1+8:]) {
		t.Fatalf("S0+S1+S2 does not answer C0+C1 (S0 %d)", got[0])
	}
}

// TestWebSocketBytesBehindUpgrade: a client that sends its first frame in
// the same write as its upgrade request (before the 101) has bytes in
// fasthttp's pooled read buffer; its session keeps its handler, so it
// never reads a buffer fasthttp gave back, and the RTMP handshake that
// came in that frame is answered.
func TestWebSocketBytesBehindUpgrade(t *testing.T) {
	st := startStack(t, stackOpts{})
	hello := c0c1()
	_, br := rawUpgrade(t, st, clientFrame(hello))
	checkS0S1S2(t, readPayload(t, br, 3073), hello)
	if n := testutil.Goroutines(t, "fasthttp.hijackConnHandler"); n != 1 {
		t.Fatalf("%d hijack handlers running, want this session's", n)
	}
}

// TestWebSocketMessagesInOneWrite: the last two pieces of the RTMP
// handshake arrive in one segment, each in a message of its own, so the
// second is in the library's buffer once the first is read; the session
// reads it from there (TestParkedWebSocketMessagesInOneWrite does the
// same for a session that may park).
func TestWebSocketMessagesInOneWrite(t *testing.T) {
	st := startStack(t, stackOpts{})
	nc, br := rawUpgrade(t, st, nil)
	hello := c0c1()
	if _, err := nc.Write(clientFrame(hello[:1500])); err != nil {
		t.Fatal(err)
	}
	// Read by now, so the next two come in one read of the library's
	// 256-byte buffer, and the last one is all in it when the server has
	// read the one before.
	time.Sleep(200 * time.Millisecond)
	if _, err := nc.Write(append(clientFrame(hello[1500:1520]), clientFrame(hello[1520:])...)); err != nil {
		t.Fatal(err)
	}
	checkS0S1S2(t, readPayload(t, br, 3073), hello)
}

// TestWebSocketDeadlineBetweenMessages: a deadline that passes while a
// session waits for its first message (the handshake's: the client
// upgrades and sends nothing) ends the session as a timeout, and the
// client is closed.
func TestWebSocketDeadlineBetweenMessages(t *testing.T) {
	st := startStack(t, stackOpts{session: rtmp.Config{HandshakeTimeout: 300 * time.Millisecond}})
	_, br := rawUpgrade(t, st, nil)
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("the server did not close the silent client: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the closed line", func() bool {
		return strings.Contains(st.logs.String(), "msg=closed")
	})
	if logs := st.logs.String(); !strings.Contains(logs, "reason=handshake") && !strings.Contains(logs, "reason=timeout") {
		t.Fatalf("not closed as a timeout:\n%s", logs)
	}
}

// TestLibraryBufferVisible: the library's read buffer and message state
// are found where ReadIdle looks for them, so idle server sessions park
// (else they keep their reader, waiting inside the library).
func TestLibraryBufferVisible(t *testing.T) {
	if libBuffered == nil {
		t.Fatal("the WebSocket library's connection has no bufio.Reader br with r and w")
	}
	if libMessageRead == nil {
		t.Fatal("the WebSocket library's connection has no readRemaining and readFinal")
	}
}
