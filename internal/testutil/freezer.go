package testutil

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Freezer relays TCP to an address and, once frozen, stops passing bytes
// while it keeps both sockets open: a peer whose machine slept or lost its
// network, which never says goodbye and never resets the connection.
type Freezer struct {
	ln     net.Listener
	frozen atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

// StartFreezer listens on a loopback port and relays each connection to
// addr until Freeze; everything closes at the test's cleanup.
func StartFreezer(t testing.TB, addr string) *Freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Freezer{ln: ln}
	f.wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				_ = in.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, in, out)
			f.mu.Unlock()
			f.wg.Go(func() { f.pipe(out, in) })
			f.wg.Go(func() { f.pipe(in, out) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// Addr is the host:port that relays.
func (f *Freezer) Addr() string { return f.ln.Addr().String() }

// Freeze stops passing bytes in both directions, for good.
func (f *Freezer) Freeze() { f.frozen.Store(true) }

// pipe copies until frozen, then drops what it reads.
func (f *Freezer) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !f.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
