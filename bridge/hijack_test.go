package bridge

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
)

// hijackHandlers counts the goroutines running a fasthttp hijack handler.
func hijackHandlers(t *testing.T) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	n := 0
	for g := range strings.SplitSeq(b.String(), "\n\n") {
		// debug=1 groups identical stacks: "count @ pcs..." first.
		count, _, _ := strings.Cut(g, " ")
		if k, err := strconv.Atoi(count); err == nil && strings.Contains(g, "fasthttp.hijackConnHandler") {
			n += k
		}
	}
	return n
}

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
			testutil.WaitFor(t, 10*time.Second, "hijack handlers", func() bool { return hijackHandlers(t) == want })
			time.Sleep(100 * time.Millisecond)
			if _, err := c.Call(ctx, "getStreamLength", amf.String("x")); err != nil {
				t.Fatalf("call after the handler's return: %v", err)
			}
			_ = c.Close()
			testutil.WaitFor(t, 10*time.Second, "the session ended", func() bool { return st.br.Stats().WebSockets == 0 })
		})
	}
}

// TestWebSocketBytesBehindUpgrade: a client that sends its first frame in
// the same write as its upgrade request (before the 101) has bytes in
// fasthttp's pooled read buffer; its session keeps its handler, so it
// never reads a buffer fasthttp gave back, and the RTMP handshake that
// came in that frame is answered.
func TestWebSocketBytesBehindUpgrade(t *testing.T) {
	st := startStack(t, stackOpts{})
	nc, err := net.Dial("tcp", st.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET " + Path + " HTTP/1.1\r\nHost: " + st.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	c0c1 := make([]byte, 1537)
	c0c1[0] = 3
	frame := []byte{0x82, 0xfe, 0, 0, 1, 2, 3, 4} // binary, masked, 16-bit length
	binary.BigEndian.PutUint16(frame[2:4], uint16(len(c0c1)))
	for i, b := range c0c1 {
		frame = append(frame, b^frame[4+i%4])
	}
	if _, err := nc.Write(append([]byte(req), frame...)); err != nil {
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
	var got []byte
	for len(got) < 3073 {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("after %d bytes of S0+S1+S2: %v", len(got), err)
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				t.Fatal(err)
			}
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			if _, err := io.ReadFull(br, l[:]); err != nil {
				t.Fatal(err)
			}
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		if h[0]&0x0f == 0x2 || h[0]&0x0f == 0x0 {
			got = append(got, p...)
		}
	}
	if got[0] != 3 || !bytes.Equal(got[1+1536+8:1+1536+1536], c0c1[1+8:]) {
		t.Fatalf("S0+S1+S2 does not answer C0+C1 (S0 %d)", got[0])
	}
	if n := hijackHandlers(t); n != 1 {
		t.Fatalf("%d hijack handlers running, want this session's", n)
	}
}
