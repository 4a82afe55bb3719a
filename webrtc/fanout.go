package webrtc

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

// rtpHeaderSize is the RTP header the outlet's packets carry: no CSRC,
// no extension.
const rtpHeaderSize = 12

// viewTrack is one track of one viewer. pion binds it to the viewer's
// RTP sender; the outlet then writes the stream's packets, built once
// and shared by every viewer, through it with this viewer's SSRC and
// payload type. Nothing is copied or allocated per packet: the header is
// rewritten in a scratch copy and the payload is the shared one.
type viewTrack struct {
	// The embedded track only negotiates: its Bind picks the codec the
	// peer's offer allows. It never sends.
	*pion.TrackLocalStaticRTP
	bound atomic.Pointer[trackBinding]
	hdr   rtp.Header // the outlet goroutine's scratch header

	// shMu guards shHdr, the scratch header of the other goroutines
	// (the RTCP one answering NACKs, the audio converter's).
	shMu  sync.Mutex
	shHdr rtp.Header
}

// trackBinding is what the sender needs of the viewer's RTP sender.
type trackBinding struct {
	id   string
	ssrc uint32
	pt   uint8
	w    pion.TrackLocalWriter
}

func newViewTrack(c pion.RTPCodecCapability, id string) (*viewTrack, error) {
	tr, err := pion.NewTrackLocalStaticRTP(c, id, "openfcs")
	if err != nil {
		return nil, err
	}
	return &viewTrack{TrackLocalStaticRTP: tr}, nil
}

// Bind implements pion.TrackLocal.
func (t *viewTrack) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	c, err := t.TrackLocalStaticRTP.Bind(ctx)
	if err != nil {
		return c, err
	}
	t.bound.Store(&trackBinding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), w: ctx.WriteStream()})
	return c, nil
}

// Unbind implements pion.TrackLocal.
func (t *viewTrack) Unbind(ctx pion.TrackLocalContext) error {
	if b := t.bound.Load(); b != nil && b.id == ctx.ID() {
		t.bound.CompareAndSwap(b, nil)
	}
	return t.TrackLocalStaticRTP.Unbind(ctx)
}

// send writes a shared packet: the outlet goroutine only.
func (t *viewTrack) send(p *rtp.Packet) bool {
	b := t.bound.Load()
	if b == nil {
		return false
	}
	t.hdr = p.Header
	t.hdr.SSRC, t.hdr.PayloadType = b.ssrc, b.pt
	_, err := b.w.WriteRTP(&t.hdr, p.Payload)
	return err == nil
}

// sendShared writes a shared packet from any goroutine: a NACK's answer,
// or the audio converter's packets.
func (t *viewTrack) sendShared(p *rtp.Packet) bool {
	b := t.bound.Load()
	if b == nil {
		return false
	}
	t.shMu.Lock()
	defer t.shMu.Unlock()
	t.shHdr = p.Header
	t.shHdr.SSRC, t.shHdr.PayloadType = b.ssrc, b.pt
	_, err := b.w.WriteRTP(&t.shHdr, p.Payload)
	return err == nil
}

// retransmitRing keeps a stream's latest video packets by sequence
// number, one buffer for every viewer: a viewer's NACK is answered from
// it (its packets carry the outlet's sequence numbers, which the viewers
// share). The packets are never modified once built, so the RTCP
// goroutines of the viewers read them while the outlet adds more.
type retransmitRing struct {
	pkts []atomic.Pointer[rtp.Packet]
	mask uint16
}

// newRetransmitRing keeps n packets, rounded up to a power of two within
// the 16-bit sequence space.
func newRetransmitRing(n int) *retransmitRing {
	n = min(max(n, 1), 1<<15)
	size := 1 << bits.Len(uint(n-1))
	return &retransmitRing{pkts: make([]atomic.Pointer[rtp.Packet], size), mask: uint16(size - 1)}
}

func (r *retransmitRing) put(p *rtp.Packet) {
	r.pkts[p.SequenceNumber&r.mask].Store(p)
}

// get returns the packet of sequence number seq, or nil when it has been
// overwritten or was never sent.
func (r *retransmitRing) get(seq uint16) *rtp.Packet {
	p := r.pkts[seq&r.mask].Load()
	if p == nil || p.SequenceNumber != seq {
		return nil
	}
	return p
}

// retransmitBurst is how many retransmissions a viewer may draw at once
// (a loss burst of a whole keyframe); webrtc.retransmit_rate refills it.
const retransmitBurst = 256

// retransmitBudget is what a viewer may still draw, refilled at rate
// packets a second up to retransmitBurst: a peer that asks again and
// again for what it cannot use (a stock receiver whose replay window
// refuses late retransmissions) costs the server a bounded share.
// The viewer's video RTCP goroutine alone uses it.
type retransmitBudget struct {
	tokens float64
	last   time.Time
}

func (b *retransmitBudget) take(now time.Time, rate float64) int {
	if b.last.IsZero() {
		b.tokens = retransmitBurst
	} else {
		b.tokens = min(retransmitBurst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	return int(b.tokens)
}

func (b *retransmitBudget) spend(n int) { b.tokens -= float64(n) }

// retransmit answers a viewer's NACK on its video track from the buffer
// of o, the viewer's outlet, within the viewer's budget.
func (v *viewer) retransmit(o *outlet, tr *viewTrack, nack *rtcp.TransportLayerNack) {
	if o.rtx == nil {
		return
	}
	budget := v.rtxBudget.take(time.Now(), float64(o.s.cfg.RetransmitRate))
	start := budget
	defer func() { v.rtxBudget.spend(start - budget) }()
	var n, bytes uint64
	// A NACK often names several packets: they leave in one batch.
	o.s.batch.begin()
	defer o.s.batch.end()
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			if budget == 0 {
				break
			}
			if p := o.rtx.get(seq); p != nil && tr.sendShared(p) {
				budget--
				n++
				bytes += uint64(len(p.Payload) + rtpHeaderSize)
			}
		}
	}
	v.retransmitted.Add(n)
	v.ss.bytesOut.Add(bytes)
}
