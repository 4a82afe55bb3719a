package rtph264

import "time"

// Packet is what the reorderer needs of one RTP packet: the fields the
// Depacketizer takes.
type Packet struct {
	Seq     uint16
	TS      uint32
	Marker  bool
	Payload []byte
}

// DefaultReorderPackets bounds the packets a Reorderer holds when its Max
// is zero.
const DefaultReorderPackets = 128

// Reorderer puts the packets of one RTP stream back in sequence order
// before they reach a Depacketizer. A packet that arrives after a gap in
// sequence numbers is held while the missing one may still come: UDP can
// reorder, and a NACK retransmission (same SSRC, same sequence number)
// comes back one feedback round later. A gap is given up, and the packets
// after it released, when its first held packet has waited Wait, or when
// the held packets reach Max; the Depacketizer then sees the gap and drops
// the unit it broke.
//
// Time is passed in, never read: the caller decides what now is, so a
// test replays a schedule exactly. The zero value releases every packet
// at once (no waiting) and holds none. Not safe for concurrent use.
type Reorderer struct {
	// Wait is how long a gap may stay open. Zero or negative: gaps are
	// given up at once, as if there were no reorderer.
	Wait time.Duration
	// Max bounds how far ahead of a gap packets are held, and so the
	// packets held (fewer than Max), so that no sender can make the
	// reorderer keep memory without bound; a packet further ahead gives
	// the gap up. Zero means DefaultReorderPackets; at most 32768.
	Max int

	window  int    // Max with its default
	ring    []slot // ring[seq&(len(ring)-1)] holds packet seq while it waits
	held    int    // packets in ring
	next    uint16 // the sequence number released next
	started bool

	reordered uint64
	skipped   uint64
	late      uint64
}

type slot struct {
	p       Packet
	arrived time.Time
	ok      bool
}

// Reordered returns how many packets arrived after a later one and still
// went out in order (a reordering repaired, or a retransmission in time).
func (r *Reorderer) Reordered() uint64 { return r.reordered }

// Skipped returns how many sequence numbers were given up as lost.
func (r *Reorderer) Skipped() uint64 { return r.skipped }

// Late returns how many packets were dropped: duplicates, and packets
// whose sequence number was already released or given up.
func (r *Reorderer) Late() uint64 { return r.late }

// Held returns how many packets wait for a gap to fill.
func (r *Reorderer) Held() int { return r.held }

// Deadline returns when the oldest open gap is given up, if there is one:
// the caller calls Flush then, should no packet arrive before.
func (r *Reorderer) Deadline() (time.Time, bool) {
	if r.held == 0 {
		return time.Time{}, false
	}
	s := r.first()
	return s.arrived.Add(max(r.Wait, 0)), true
}

// Push takes one packet that arrived at now and calls out, in sequence
// order, for each packet that can go: this one if it is next, the held
// ones it lets through, and those behind gaps that have waited long
// enough. out must not keep p.Payload past the call unless the caller
// allows it.
func (r *Reorderer) Push(p Packet, now time.Time, out func(Packet)) {
	if r.ring == nil {
		r.window = r.Max
		if r.window <= 0 {
			r.window = DefaultReorderPackets
		}
		r.window = min(r.window, 1<<15)
		// A power of two, so that sequence numbers wrapping at 2^16 keep
		// their slots.
		n := 1
		for n < r.window {
			n <<= 1
		}
		r.ring = make([]slot, n)
	}
	if !r.started {
		r.next, r.started = p.Seq, true
	}
	d := int(int16(p.Seq - r.next))
	switch {
	case d < 0:
		r.late++
		return
	case d == 0:
		if r.held > 0 {
			r.reordered++
		}
		r.next++
		out(p)
		r.release(out)
	case d >= r.window:
		// Further ahead than the ring reaches (a long outage, or the
		// sender jumped): everything before it is given up.
		r.skipTo(p.Seq, out)
		r.next++
		out(p)
		r.release(out)
	default:
		s := r.slot(p.Seq)
		if s.ok {
			r.late++ // a duplicate of a held packet
			return
		}
		*s = slot{p: p, arrived: now, ok: true}
		r.held++
	}
	r.Flush(now, out)
}

// Flush gives up every gap whose first held packet has waited Wait at
// now, releasing what follows it.
func (r *Reorderer) Flush(now time.Time, out func(Packet)) {
	for r.held > 0 {
		s := r.first()
		if now.Sub(s.arrived) < r.Wait {
			return
		}
		r.skipTo(s.p.Seq, out)
		r.release(out)
	}
}

// first returns the held packet with the lowest sequence number. Called
// only with r.held > 0.
func (r *Reorderer) first() *slot {
	for i := range r.window {
		if s := r.slot(r.next + uint16(i)); s.ok {
			return s
		}
	}
	panic("rtph264: reorderer holds packets it cannot find")
}

// skipTo gives up the sequence numbers before seq, releasing the held
// packets among them in order.
func (r *Reorderer) skipTo(seq uint16, out func(Packet)) {
	for r.next != seq {
		s := r.slot(r.next)
		if s.ok {
			p := s.p
			*s = slot{}
			r.held--
			r.next++
			out(p)
			continue
		}
		r.skipped++
		r.next++
		if r.held == 0 {
			// Nothing held in between: the rest of the gap is
			// counted at once.
			r.skipped += uint64(uint16(seq - r.next))
			r.next = seq
		}
	}
}

// release sends the held packets that now follow without a gap.
func (r *Reorderer) release(out func(Packet)) {
	for r.held > 0 {
		s := r.slot(r.next)
		if !s.ok {
			return
		}
		p := s.p
		*s = slot{}
		r.held--
		r.next++
		out(p)
	}
}

func (r *Reorderer) slot(seq uint16) *slot { return &r.ring[int(seq)&(len(r.ring)-1)] }
