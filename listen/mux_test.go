package listen

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/rtmp"
)

// TestMuxSniff: the first byte picks the listener; plain TCP conns are
// handed on as a TCPConn embedding the *net.TCPConn (vectored writes stay
// available) with the byte
// still to be read; TLS conns keep their TLS identity; a silent conn goes
// to RTMP after the sniff timeout; a conn that closes at once is dropped.
func TestMuxSniff(t *testing.T) {
	tc, err := tlsutil.SelfSignedConfig()
	if err != nil {
		t.Fatal(err)
	}
	m := &Mux{SniffTimeout: 200 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = m.Serve(ln) })
	wg.Go(func() { _ = m.Serve(tls.NewListener(tln, tc)) })
	// One accept loop per yielded listener; they end when the Mux closes.
	rtmpCh, httpCh := make(chan net.Conn, 8), make(chan net.Conn, 8)
	for ln, ch := range map[net.Listener]chan net.Conn{m.RTMP(): rtmpCh, m.HTTP(): httpCh} {
		wg.Go(func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				ch <- nc
			}
		})
	}
	t.Cleanup(func() {
		_ = m.Close()
		wg.Wait()
	})

	cases := []struct {
		name      string
		tls       bool
		send      string
		wantHTTP  bool
		wantProto string
	}{
		{"RTMP C0", false, "\x03rest", false, "rtmp"},
		{"RTMPE C0", false, "\x06rest", false, "rtmp"},
		{"HTTP POST", false, "POST /open/1 HTTP/1.1\r\n", true, "rtmp"},
		{"garbage goes to RTMP to be refused", false, "\xffxx", false, "rtmp"},
		{"silent", false, "", false, "rtmp"},
		{"RTMPS C0", true, "\x03rest", false, "rtmps"},
		{"HTTPS POST", true, "POST /open/1 HTTP/1.1\r\n", true, "rtmps"},
	}
	for _, tc2 := range cases {
		t.Run(tc2.name, func(t *testing.T) {
			var c net.Conn
			var err error
			if tc2.tls {
				c, err = tls.Dial("tcp", tln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
			} else {
				c, err = net.Dial("tcp", ln.Addr().String())
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc2.send); err != nil {
				t.Fatal(err)
			}
			want, other := rtmpCh, httpCh
			if tc2.wantHTTP {
				want, other = other, want
			}
			var got net.Conn
			select {
			case got = <-want:
			case <-time.After(2 * time.Second):
				t.Fatal("not handed on within 2s")
			}
			defer got.Close()
			if Proto(got) != tc2.wantProto {
				t.Errorf("Proto = %q, want %q", Proto(got), tc2.wantProto)
			}
			if tcp, ok := got.(*TCPConn); ok == tc2.tls || (ok && tcp.TCPConn == nil) {
				t.Errorf("conn type %T", got)
			}
			if tc2.tls {
				if _, ok := got.(interface{ ConnectionState() tls.ConnectionState }); !ok {
					t.Errorf("TLS conn %T hides its ConnectionState", got)
				}
			}
			if tc2.send != "" {
				b := make([]byte, len(tc2.send))
				_ = got.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := io.ReadFull(got, b); err != nil || string(b) != tc2.send {
					t.Errorf("read %q, %v; want the whole %q", b, err, tc2.send)
				}
			}
			select {
			case nc := <-other:
				nc.Close()
				t.Error("a conn reached the other listener")
			default:
			}
		})
	}

	// A conn that closes before its first byte is dropped.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	select {
	case nc := <-rtmpCh:
		t.Errorf("a closed conn was handed on")
		nc.Close()
	case nc := <-httpCh:
		t.Errorf("a closed conn was handed on")
		nc.Close()
	case <-time.After(500 * time.Millisecond): // longer than the sniff timeout
	}
}

// lateListener hands out one conn only once it is closed, as a real
// listener may return a connection accepted just before Close.
type lateListener struct {
	closed chan struct{}
	once   sync.Once
	nc     net.Conn
	given  bool
}

func (l *lateListener) Accept() (net.Conn, error) {
	<-l.closed
	if !l.given {
		l.given = true
		return l.nc, nil
	}
	return nil, net.ErrClosed
}
func (l *lateListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *lateListener) Addr() net.Addr { return muxAddr{} }

// TestMuxCloseRacingAccept: a conn accepted while the Mux closes is closed
// at once, not sniffed by a goroutine Close does not wait for.
func TestMuxCloseRacingAccept(t *testing.T) {
	srv, cli := net.Pipe()
	defer cli.Close()
	m := &Mux{SniffTimeout: 10 * time.Second}
	ln := &lateListener{closed: make(chan struct{}), nc: srv}
	served := make(chan error, 1)
	m.init()
	go func() { served <- m.Serve(ln) }()
	// Serve registers ln before accepting; wait for that.
	for deadline := time.Now().Add(5 * time.Second); ; {
		m.mu.Lock()
		_, ok := m.lns[ln]
		m.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Serve did not register the listener")
		}
		time.Sleep(time.Millisecond)
	}
	_ = m.Close()
	if err := <-served; err == nil {
		t.Fatal("Serve returned nil")
	}
	_ = cli.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := cli.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("conn accepted during Close: read %v, want EOF (closed)", err)
	}
}

// StopAccepting closes the ports but not the connections already handed
// on: a drain keeps serving them.
func TestStopAcceptingKeepsConnections(t *testing.T) {
	m := &Mux{SniffTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{3}); err != nil { // RTMP's first byte
		t.Fatal(err)
	}
	got, err := m.RTMP().Accept()
	if err != nil {
		t.Fatal(err)
	}
	m.StopAccepting()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve after StopAccepting: %v, want net.ErrClosed", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("a new connection was accepted after StopAccepting")
	}
	if _, err := c.Write([]byte("still here")); err != nil {
		t.Errorf("the handed-on connection broke: %v", err)
	}
	buf := make([]byte, 11)
	if _, err := io.ReadFull(got, buf); err != nil || string(buf) != "\x03still here" {
		t.Errorf("read %q, %v", buf, err)
	}
	_ = got.Close()
	_ = m.Close()
}

// The connections a Mux hands to the RTMP server let its merge clock
// write their sockets itself.
var _ rtmp.DirectConn = (*TCPConn)(nil)
