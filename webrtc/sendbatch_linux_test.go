package webrtc

import (
	"bytes"
	"net"
	"testing"
)

// One viewer's packets of a frame (full-size fragments, then a shorter
// rest) leave as one segmented message, and arrive as the datagrams they
// were, interleaved viewers included.
func TestBatchConnSegmentsAViewersFrame(t *testing.T) {
	for _, c := range []struct{ name, network, addr string }{
		{"ipv4 socket", "udp4", "127.0.0.1"},
		{"dual-stack socket", "udp", "::"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bc, r1 := batchPair(t, c.network, c.addr)
			r2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			frame := func(v, f int) [][]byte {
				var out [][]byte
				for i := range 5 {
					out = append(out, bytes.Repeat([]byte{byte(v), byte(f), byte(i)}, 400)) // 1200 bytes
				}
				return append(out, bytes.Repeat([]byte{byte(v), byte(f), 9}, 100))
			}
			rs := []*net.UDPConn{r1, r2}
			bc.begin()
			for f := range 3 {
				for v, r := range rs {
					for _, d := range frame(v, f) {
						if _, err := bc.WriteToAddrPort(d, r.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			bc.end()
			var msgs uint64
			for i := range bc.shards {
				mb := bc.shards[i].b.(*mmsgBatcher)
				if !mb.gso {
					t.Fatal("segmentation off")
				}
				msgs += mb.msgs
			}
			if msgs != 6 {
				t.Fatalf("%d messages for 6 frames of 6 datagrams", msgs)
			}
			buf := make([]byte, 65536)
			for v, r := range rs {
				for f := range 3 {
					for i, want := range frame(v, f) {
						n, _, err := r.ReadFromUDPAddrPort(buf)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(buf[:n], want) {
							t.Fatalf("viewer %d frame %d datagram %d: %d bytes starting %x", v, f, i, n, buf[:3])
						}
					}
				}
			}
		})
	}
}
