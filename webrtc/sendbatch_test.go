package webrtc

import (
	"bytes"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// batchPair is a batchConn on network and a plain socket it sends to.
func batchPair(t *testing.T, network, addr string) (*batchConn, *net.UDPConn) {
	t.Helper()
	sc, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(addr)})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	bc, err := newBatchConn(sc, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bc.Close(); _ = rc.Close() })
	return bc, rc
}

func datagram(i int) []byte {
	return append([]byte{byte(i >> 8), byte(i)}, bytes.Repeat([]byte{byte(i)}, 100+i%900)...)
}

// readAll reads n datagrams and checks they are datagram(first..) in order.
func readAll(t *testing.T, rc *net.UDPConn, first, n int) {
	t.Helper()
	buf := make([]byte, 2048)
	if err := rc.SetReadDeadline(time.Now().Add(waitLong)); err != nil {
		t.Fatal(err)
	}
	for i := first; i < first+n; i++ {
		m, _, err := rc.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:m], datagram(i)) {
			t.Fatalf("datagram %d: got %d bytes starting %x", i, m, buf[:min(m, 2)])
		}
	}
}

// nothingYet checks that no datagram is waiting: those written in a
// fan-out are queued until it ends.
func nothingYet(t *testing.T, rc *net.UDPConn) {
	t.Helper()
	if err := rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	if n, _, err := rc.ReadFromUDPAddrPort(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a datagram of %d bytes left before the fan-out ended (err %v)", n, err)
	}
}

func TestBatchConnQueuesAFanOut(t *testing.T) {
	for _, c := range []struct{ name, network, addr string }{
		{"ipv4 socket", "udp4", "127.0.0.1"},
		{"dual-stack socket", "udp", "::"}, // IPv4 destinations as mapped addresses
	} {
		t.Run(c.name, func(t *testing.T) {
			bc, rc := batchPair(t, c.network, c.addr)
			if runtime.GOOS == "linux" && !bc.batched {
				t.Fatal("no batched send on Linux")
			}
			dst := rc.LocalAddr().(*net.UDPAddr).AddrPort()
			// Outside a fan-out a datagram leaves at once.
			if _, err := bc.WriteToAddrPort(datagram(0), dst); err != nil {
				t.Fatal(err)
			}
			readAll(t, rc, 0, 1)

			bc.begin()
			for i := 1; i <= 100; i++ {
				if _, err := bc.WriteToAddrPort(datagram(i), dst); err != nil {
					t.Fatal(err)
				}
			}
			if runtime.GOOS == "linux" {
				nothingYet(t, rc)
			}
			// A datagram too large to queue goes after those queued.
			big := bytes.Repeat([]byte{0xee}, batchSlotSize+1)
			if _, err := bc.WriteTo(big, rc.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			// More than a queue's worth: the full queue leaves by itself.
			for i := 101; i <= 101+batchSlots; i++ {
				if _, err := bc.WriteToAddrPort(datagram(i), dst); err != nil {
					t.Fatal(err)
				}
			}
			bc.end()
			readAll(t, rc, 1, 100)
			buf := make([]byte, 4096)
			if n, _, err := rc.ReadFromUDPAddrPort(buf); err != nil || !bytes.Equal(buf[:n], big) {
				t.Fatalf("the large datagram: %d bytes, %v", n, err)
			}
			readAll(t, rc, 101, batchSlots+1)
			if runtime.GOOS == "linux" {
				flushes, sent := bc.sent()
				if sent != 101+batchSlots || flushes != 3 {
					t.Fatalf("%d datagrams in %d batches; want %d in 3", sent, flushes, 101+batchSlots)
				}
			}
		})
	}
}

// Two fan-out workers write at once, each to its own viewers: every
// viewer still gets its datagrams, in order, whichever shards they share.
func TestBatchConnConcurrentWriters(t *testing.T) {
	bc, r0 := batchPair(t, "udp4", "127.0.0.1")
	rs := []*net.UDPConn{r0}
	for range 7 {
		rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.SetReadBuffer(1 << 20); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rc.Close() })
		rs = append(rs, rc)
	}
	const frames, perFrame = 20, 5
	bc.begin()
	done := make(chan error, 2)
	for w := range 2 {
		go func() {
			for f := range frames {
				for v := w; v < len(rs); v += 2 {
					for i := range perFrame {
						if _, err := bc.WriteToAddrPort(datagram(f*perFrame+i), rs[v].LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
							done <- err
							return
						}
					}
				}
			}
			bc.flush()
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	bc.end()
	for _, r := range rs {
		readAll(t, r, 0, frames*perFrame)
	}
}
