//go:build !race

// The race detector enlarges frames: idle readers keep 8 KB stacks there.

package rtmp

import (
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
)

// openIdle connects a raw client (handshake, connect, read up to the
// _result) and leaves it idle. It starts no goroutine, so the process's
// stacks are the server's.
func openIdle(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	if _, err := handshake.Client(nc, handshake.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	var e amf.Encoder
	cmd := message.Command{Name: "connect", Txn: 1, Object: amf.Object(amf.Prop{Key: "app", Value: amf.String("live")})}
	p, err := cmd.Append(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(must(chunk.NewWriter().AppendBytes(nil, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeCommand}, p))); err != nil {
		t.Fatal(err)
	}
	result := []byte("\x02\x00\x07_result")
	r := chunk.NewReader(nc, chunk.Limits{})
	for {
		h, p, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the connect _result: %v", err)
		}
		if h.Type == message.TypeCommand && bytes.HasPrefix(p, result) {
			return nc
		}
	}
}

// TestIdleConnStack: an idle connection's reader parks shallow enough
// (chunk.Reader.Wait) for the runtime to halve its stack to 4 KB at GC,
// which it does only when less than a quarter of the stack is in use (with
// its nosplit margin). A few more locals in conn.serve or a deeper wait
// path would keep every idle connection at 8 KB again.
func TestIdleConnStack(t *testing.T) {
	ts := startServer(t, Config{})
	const n = 200
	runtime.GC()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	g0 := runtime.NumGoroutine()
	for range n {
		openIdle(t, ts.addr)
	}
	// Idle: one goroutine per connection, its reader (writers have
	// flushed the connect replies and ended).
	testutil.WaitFor(t, 5*time.Second, "idle connections", func() bool {
		return ts.srv.NumConns() == n && runtime.NumGoroutine() <= g0+n
	})
	// Two cycles: stacks shrink while a GC scans them.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	per := (float64(m1.StackInuse) - float64(m0.StackInuse)) / n
	t.Logf("stack per idle connection: %.0f bytes", per)
	if per > 6<<10 {
		t.Fatalf("stack per idle connection %.0f bytes, want about 4 KB (at most 6 KB)", per)
	}
}
