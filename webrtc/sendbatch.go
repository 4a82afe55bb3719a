package webrtc

import (
	"net"
	"net/netip"
	"sync"
)

// batchConn is the ICE UDP mux's socket. Outside a fan-out it writes each
// datagram at once; between begin and end (an outlet sending one frame to
// every viewer) it queues them and sends the queue with as few system
// calls as the platform allows (sendmmsg on Linux), at end or when the
// queue is full, so a datagram waits at most for the rest of that
// fan-out (docs/webrtc.md#cost).
//
// It implements pion/ice's AddrPortReaderWriter, so the mux keeps its
// allocation-free netip.AddrPort path.
type batchConn struct {
	*net.UDPConn
	b batcher // nil: the platform has no batched send

	mu    sync.Mutex
	depth int // fan-outs in progress
	n     int // datagrams queued
	slots [][]byte
	dst   []netip.AddrPort
	// flushes and datagrams count the batched sends, for the benchmark
	// and the tests.
	flushes, datagrams uint64
}

// batchSlots bounds the datagrams queued at once (and sent by one system
// call); batchSlotSize is the largest datagram queued. SRTP packets are
// under 1300 bytes (rtpMTU); a larger one (a DTLS flight) is sent at once,
// after the queue, to keep the order.
const (
	batchSlots    = 256
	batchSlotSize = 1500
)

// batcher sends the first n queued datagrams; a platform implements it.
type batcher interface {
	send(slots [][]byte, dst []netip.AddrPort) error
}

// newBatchConn wraps c; sendBuffer, when positive, sizes the socket's send
// buffer for a frame's burst to every viewer.
func newBatchConn(c *net.UDPConn, sendBuffer int) (*batchConn, error) {
	bc := &batchConn{UDPConn: c}
	if sendBuffer > 0 {
		if err := c.SetWriteBuffer(sendBuffer); err != nil {
			return nil, err
		}
	}
	b, err := newBatcher(c)
	if err != nil {
		return nil, err
	}
	bc.b = b
	if b != nil {
		bc.slots = make([][]byte, batchSlots)
		backing := make([]byte, batchSlots*batchSlotSize)
		for i := range bc.slots {
			bc.slots[i] = backing[i*batchSlotSize : (i+1)*batchSlotSize : (i+1)*batchSlotSize]
		}
		bc.dst = make([]netip.AddrPort, batchSlots)
	}
	return bc, nil
}

// begin starts a fan-out: datagrams written until the matching end are
// queued. Safe on a nil receiver (no batching).
func (c *batchConn) begin() {
	if c == nil || c.b == nil {
		return
	}
	c.mu.Lock()
	c.depth++
	c.mu.Unlock()
}

// end ends a fan-out and sends what is queued.
func (c *batchConn) end() {
	if c == nil || c.b == nil {
		return
	}
	c.mu.Lock()
	c.depth--
	c.flushLocked()
	c.mu.Unlock()
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromUDPAddrPort(b)
}

// WriteToAddrPort implements ice.AddrPortReaderWriter: the mux's path for
// every media packet.
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.b == nil {
		return c.WriteToUDPAddrPort(b, addr)
	}
	c.mu.Lock()
	if c.depth == 0 && c.n == 0 {
		c.mu.Unlock()
		return c.WriteToUDPAddrPort(b, addr)
	}
	if len(b) > batchSlotSize || c.depth == 0 {
		c.flushLocked()
		c.mu.Unlock()
		return c.WriteToUDPAddrPort(b, addr)
	}
	s := c.slots[c.n]
	c.slots[c.n] = s[:copy(s[:cap(s)], b)]
	c.dst[c.n] = addr
	c.n++
	if c.n == len(c.slots) {
		c.flushLocked()
	}
	c.mu.Unlock()
	return len(b), nil
}

// WriteTo implements net.PacketConn; the mux uses it for what does not go
// through WriteToAddrPort.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(b, ua.AddrPort())
	}
	return c.UDPConn.WriteTo(b, addr)
}

// flushLocked sends the queue. A datagram the system refuses is lost as
// on a lossy network: the writer was told it was sent, and NACK or the
// next keyframe repairs it.
func (c *batchConn) flushLocked() {
	if c.n == 0 {
		return
	}
	_ = c.b.send(c.slots[:c.n], c.dst[:c.n])
	c.flushes++
	c.datagrams += uint64(c.n)
	for i := range c.n {
		c.slots[i] = c.slots[i][:cap(c.slots[i])]
	}
	c.n = 0
}
