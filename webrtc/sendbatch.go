package webrtc

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// batchConn is the ICE UDP mux's socket. Outside a fan-out it writes each
// datagram at once; between begin and end (an outlet sending one frame to
// every viewer) it queues them and sends the queues with as few system
// calls as the platform allows (sendmmsg on Linux), at end or when a
// queue is full, so a datagram waits at most for the rest of that
// fan-out (docs/webrtc.md#cost).
//
// The queue is split in shards by destination: a large stream's fan-out
// workers write at once, and a viewer's datagrams of a frame stay
// together in its shard, for segmentation, with no lock shared by every
// datagram. One destination is always in the same shard, so its
// datagrams keep their order.
//
// It implements pion/ice's AddrPortReaderWriter, so the mux keeps its
// allocation-free netip.AddrPort path.
type batchConn struct {
	*net.UDPConn
	batched bool         // the platform has a batched send
	depth   atomic.Int32 // fan-outs in progress
	shards  []batchShard
}

// batchShard is one queue and the batcher that sends it.
type batchShard struct {
	mu    sync.Mutex
	b     batcher
	n     int // datagrams queued
	slots [][]byte
	dst   []netip.AddrPort
	// flushes and datagrams count the batched sends, for the benchmark
	// and the tests.
	flushes, datagrams uint64
	_                  [64]byte // its own cache line: shards are locked from different cores
}

// batchSlots bounds the datagrams a shard queues at once (and sends with
// one system call); batchShards is how many shards there are, a few per
// fan-out worker so that two rarely meet; batchSlotSize is the largest
// datagram queued. SRTP packets are under 1300 bytes (rtpMTU); a larger
// one (a DTLS flight) is sent at once, after its shard's queue, to keep
// the order.
const (
	batchSlots     = 128
	batchShardBits = 3
	batchShards    = 1 << batchShardBits
	batchSlotSize  = 1500
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
	bc.shards = make([]batchShard, batchShards)
	for i := range bc.shards {
		sh := &bc.shards[i]
		b, err := newBatcher(c)
		if err != nil {
			return nil, err
		}
		if b == nil {
			bc.shards = nil
			return bc, nil
		}
		sh.b = b
		sh.slots = make([][]byte, batchSlots)
		backing := make([]byte, batchSlots*batchSlotSize)
		for i := range sh.slots {
			sh.slots[i] = backing[i*batchSlotSize : (i+1)*batchSlotSize : (i+1)*batchSlotSize]
		}
		sh.dst = make([]netip.AddrPort, batchSlots)
	}
	bc.batched = true
	return bc, nil
}

// shard is where the datagrams to a queue.
func (c *batchConn) shard(a netip.AddrPort) *batchShard {
	ip := a.Addr().As16()
	h := (binary.LittleEndian.Uint32(ip[12:]) ^ uint32(a.Port())) * 0x9e3779b1 // Fibonacci hashing
	return &c.shards[h>>(32-batchShardBits)]
}

// begin starts a fan-out: datagrams written until the matching end are
// queued. Safe on a nil receiver (no batching).
func (c *batchConn) begin() {
	if c == nil || !c.batched {
		return
	}
	c.depth.Add(1)
}

// end ends a fan-out and sends what is queued.
func (c *batchConn) end() {
	if c == nil || !c.batched {
		return
	}
	c.depth.Add(-1)
	c.flush()
}

// flush sends what every shard has queued: a fan-out worker that has
// written its share sends it at once, beside the others still writing.
func (c *batchConn) flush() {
	if c == nil || !c.batched {
		return
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.flushLocked()
		sh.mu.Unlock()
	}
}

// sent counts the batched sends and their datagrams, over the shards.
func (c *batchConn) sent() (flushes, datagrams uint64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		flushes += sh.flushes
		datagrams += sh.datagrams
		sh.mu.Unlock()
	}
	return flushes, datagrams
}

// ReadFromAddrPort implements ice.AddrPortReaderWriter.
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromUDPAddrPort(b)
}

// WriteToAddrPort implements ice.AddrPortReaderWriter: the mux's path for
// every media packet.
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if !c.batched {
		return c.WriteToUDPAddrPort(b, addr)
	}
	sh := c.shard(addr)
	sh.mu.Lock()
	// depth is read under the shard's lock: end lowers it before it
	// flushes each shard, so a datagram queued here is either sent by that
	// flush or sees the fan-out over and goes at once.
	depth := c.depth.Load()
	if depth == 0 && sh.n == 0 {
		sh.mu.Unlock()
		return c.WriteToUDPAddrPort(b, addr)
	}
	if len(b) > batchSlotSize || depth == 0 {
		sh.flushLocked()
		sh.mu.Unlock()
		return c.WriteToUDPAddrPort(b, addr)
	}
	s := sh.slots[sh.n]
	sh.slots[sh.n] = s[:copy(s[:cap(s)], b)]
	sh.dst[sh.n] = addr
	sh.n++
	if sh.n == len(sh.slots) {
		sh.flushLocked()
	}
	sh.mu.Unlock()
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
func (sh *batchShard) flushLocked() {
	if sh.n == 0 {
		return
	}
	_ = sh.b.send(sh.slots[:sh.n], sh.dst[:sh.n])
	sh.flushes++
	sh.datagrams += uint64(sh.n)
	for i := range sh.n {
		sh.slots[i] = sh.slots[i][:cap(sh.slots[i])]
	}
	sh.n = 0
}
