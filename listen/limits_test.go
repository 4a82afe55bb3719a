package listen

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
)

// failingListener fails Accept with EMFILE n times, as a process out of
// descriptors sees it, then hands out conn once, then waits for Close.
type failingListener struct {
	mu     sync.Mutex
	n      int
	conn   net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.n > 0 {
		l.n--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	c := l.conn
	l.conn = nil
	l.mu.Unlock()
	if c != nil {
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}
func (l *failingListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *failingListener) Addr() net.Addr { return muxAddr{} }

// TestMuxAcceptBacksOff: running out of file descriptors does not end the
// port: Accept fails with EMFILE six times in a row, the Mux backs off
// (5 ms doubling), logs one line when it starts and one when it passes,
// and serves the next connection. Before, the first EMFILE ended Serve,
// and with it the process.
func TestMuxAcceptBacksOff(t *testing.T) {
	log, logs := testutil.Logger(t, slog.LevelDebug)
	srv, cli := net.Pipe()
	defer cli.Close()
	ln := &failingListener{n: 6, conn: srv, closed: make(chan struct{})}
	m := &Mux{Logger: log}
	served := make(chan error, 1)
	go func() { served <- m.Serve(ln) }()
	go func() { _, _ = cli.Write([]byte{3}) }()
	acc := make(chan net.Conn, 1)
	go func() {
		if nc, err := m.RTMP().Accept(); err == nil {
			acc <- nc
		}
	}()
	select {
	case nc := <-acc:
		_ = nc.Close()
	case err := <-served:
		t.Fatalf("Serve returned %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the connection after the errors was not served")
	}
	_ = m.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if n := strings.Count(logs.String(), "accept failing"); n != 1 {
		t.Errorf("%d 'accept failing' lines for one spell, want 1", n)
	}
	if !strings.Contains(logs.String(), "accept recovered") || !strings.Contains(logs.String(), "errors=6") {
		t.Errorf("no 'accept recovered' line counting 6 errors:\n%s", logs.String())
	}
}

// muxOn serves m on a loopback port and holds every yielded conn (as RTMP
// sessions waiting for their handshake would) until cleanup.
func muxOn(t *testing.T, m *Mux) (addr string, held func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() { _ = m.Serve(ln) })
	for _, l := range []net.Listener{m.RTMP(), m.HTTP()} {
		wg.Go(func() {
			for {
				nc, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, nc)
				mu.Unlock()
			}
		})
	}
	t.Cleanup(func() {
		_ = m.Close()
		wg.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

// dialFrom connects from the loopback address src (127.0.0.2 is as good a
// client address as 127.0.0.1 on Linux) and sends one byte.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_, _ = c.Write([]byte{3}) // an RTMP C0, then nothing
	return c
}

// refusedNow reports whether the server closed c (at accept) within a
// second.
func refusedNow(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// TestMuxOneByteFlood: a flooder of one-byte sockets from one address is
// refused past max_conns_per_ip, with one aggregated log line, while
// another address still connects; the flooder's places come back as its
// sockets close. Before, the flood took every connection the server
// allowed, for the handshake timeout.
func TestMuxOneByteFlood(t *testing.T) {
	log, logs := testutil.Logger(t, slog.LevelDebug)
	m := &Mux{Logger: log, MaxConns: 1000, Limits: Config{MaxConnsPerIP: 100, AcceptRate: -1}}
	addr, held := muxOn(t, m)
	var flood []net.Conn
	for range 300 {
		flood = append(flood, dialFrom(t, "127.0.0.1", addr))
	}
	testutil.WaitFor(t, 10*time.Second, "100 flood sockets handed on", func() bool { return held() == 100 })
	refused := 0
	for _, c := range flood[100:] {
		if refusedNow(c) {
			refused++
		}
	}
	if refused != 200 {
		t.Fatalf("%d of the 200 sockets over the per-address limit refused", refused)
	}
	honest := dialFrom(t, "127.0.0.2", addr)
	testutil.WaitFor(t, 5*time.Second, "the other address served", func() bool { return held() == 101 })
	_ = honest
	if n := strings.Count(logs.String(), "refused connections"); n < 1 || n > 2 {
		t.Errorf("%d 'refused connections' lines for one flood, want one or two (aggregated)", n)
	}
	if !strings.Contains(logs.String(), "reason=per_ip") {
		t.Errorf("no per_ip refusal logged:\n%s", logs.String())
	}
	// Refused sockets took no place.
	if got := m.lim.Held(netip.MustParseAddr("127.0.0.1")); got != 100 {
		t.Fatalf("the flooder holds %d places, want 100", got)
	}
}

// TestMuxMaxConns: MaxConns bounds the sockets open at once, those still
// being sniffed included; a closed one frees its place.
func TestMuxMaxConns(t *testing.T) {
	m := &Mux{MaxConns: 3, SniffTimeout: time.Minute, Limits: Config{ExemptLoopback: true}}
	addr, _ := muxOn(t, m)
	silent := make([]net.Conn, 3)
	for i := range silent {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent[i] = c
	}
	testutil.WaitFor(t, 5*time.Second, "3 sockets open", func() bool { return m.Open() == 3 })
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if !refusedNow(over) {
		t.Fatal("a 4th socket was not refused while 3 were being sniffed")
	}
	_ = silent[0].Close()
	testutil.WaitFor(t, 5*time.Second, "the closed socket's place freed", func() bool { return m.Open() == 2 })
	again := dialFrom(t, "127.0.0.1", addr)
	if refusedNow(again) {
		t.Fatal("refused with a free place")
	}
}

// TestMuxAcceptRate: an address may open AcceptBurst connections at once
// and AcceptRate per second after that; others are not affected; loopback
// is exempt only when configured.
func TestMuxAcceptRate(t *testing.T) {
	m := &Mux{Limits: Config{MaxConnsPerIP: -1, AcceptRate: 0.001, AcceptBurst: 3}}
	addr, held := muxOn(t, m)
	for range 3 {
		dialFrom(t, "127.0.0.1", addr)
	}
	testutil.WaitFor(t, 5*time.Second, "the burst served", func() bool { return held() == 3 })
	if !refusedNow(dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("a connection past the burst was not refused")
	}
	dialFrom(t, "127.0.0.2", addr)
	testutil.WaitFor(t, 5*time.Second, "another address served", func() bool { return held() == 4 })

	ex := &Mux{Limits: Config{MaxConnsPerIP: 1, AcceptRate: 0.001, AcceptBurst: 1, ExemptLoopback: true}}
	addr, held = muxOn(t, ex)
	for range 5 {
		dialFrom(t, "127.0.0.1", addr)
	}
	testutil.WaitFor(t, 5*time.Second, "exempt loopback served", func() bool { return held() == 5 })
}
