package rtph264

import "fmt"

// Limits bound what one access unit may grow to while it is assembled from
// RTP packets; a zero field means its default.
type Limits struct {
	// MaxAccessUnit bounds the bytes of one access unit (a frame), NAL
	// payloads plus a 4-byte length each. Default 4 MiB: a 4K keyframe
	// of a high-bitrate camera, far above any browser's.
	MaxAccessUnit int
	// MaxNALs bounds the NAL units of one access unit. Default 256 (a
	// frame is usually a handful of slices plus SPS, PPS, SEI).
	MaxNALs int
}

func (l Limits) withDefaults() Limits {
	if l.MaxAccessUnit <= 0 {
		l.MaxAccessUnit = 4 << 20
	}
	if l.MaxNALs <= 0 {
		l.MaxNALs = 256
	}
	return l
}

// Depacketizer reassembles access units from the RTP payloads of one H.264
// stream (RFC 6184, packetization modes 0 and 1: single NAL unit packets,
// STAP-A and FU-A). Feed it packets in sequence order; a gap in sequence
// numbers drops the unit being assembled (the caller learns it from
// Lost, and should wait for a keyframe or ask for one).
//
// The zero value is ready with default limits. Not safe for concurrent use.
type Depacketizer struct {
	Limits Limits

	au      []byte   // the unit so far, AVCC (4-byte lengths)
	nals    int      // NAL units in au
	ts      uint32   // RTP timestamp of au
	started bool     // au holds at least one NAL or a fragment
	fu      []byte   // FU-A fragment being assembled: header byte then payload
	inFU    bool     // a fragment start was seen and not yet its end
	seq     uint16   // last sequence number
	seqOK   bool     // seq is meaningful
	broken  bool     // the current unit lost a packet: drop it
	gapSeen bool     // a gap before a padding packet, for the next unit
	lost    uint64   // units dropped for a gap or an error
	late    uint64   // packets ignored as duplicates or too late
	padding uint64   // padding-only packets skipped
	scratch [][]byte // STAP-A split buffer
}

// AccessUnit is one reassembled frame.
type AccessUnit struct {
	// AVCC holds the NAL units, each prefixed by its 4-byte length: the
	// body of an FLV AVC NALU packet after its five-byte header. It
	// aliases the depacketizer's buffer: valid during the emit call.
	AVCC []byte
	// Timestamp is the RTP timestamp (90 kHz) shared by the unit's
	// packets.
	Timestamp uint32
	// IDR: the unit holds an IDR slice (a keyframe).
	IDR bool
}

// Lost returns how many access units were dropped because a packet was
// missing or malformed.
func (d *Depacketizer) Lost() uint64 { return d.lost }

// Late returns how many packets were ignored because their sequence
// number was not after the last one taken (duplicates, late
// retransmissions, reordering).
func (d *Depacketizer) Late() uint64 { return d.late }

// Padding returns how many padding-only packets (an empty payload) were
// skipped.
func (d *Depacketizer) Padding() uint64 { return d.padding }

// Push adds one RTP packet's payload with its sequence number, timestamp
// and marker bit, and calls emit for each access unit it completes: the
// one the marker bit ends, and the previous one when a new timestamp shows
// it ended without a marker. An empty payload is a padding-only packet:
// it fills its place in the sequence and nothing else. The unit's bytes are valid only during emit.
// An error reports the packet as malformed or too large; the unit in
// progress is dropped and the depacketizer carries on with the next packet.
func (d *Depacketizer) Push(payload []byte, seq uint16, ts uint32, marker bool, emit func(AccessUnit)) error {
	d.Limits = d.Limits.withDefaults()
	if d.seqOK && int16(seq-d.seq) <= 0 {
		// A duplicate, or a retransmission arriving after the unit
		// moved on: the unit it belonged to is already counted.
		d.late++
		return nil
	}
	gap := d.seqOK && seq != d.seq+1
	d.seq, d.seqOK = seq, true
	if len(payload) == 0 {
		// A padding-only packet (its padding already removed): senders
		// probe bandwidth with them, and a browser sends them on the
		// video's own SSRC when no RTX is negotiated. No media, and no
		// harm to the unit around it; only its sequence number counts,
		// and a gap before it is kept for what follows.
		d.gapSeen = d.gapSeen || gap
		d.padding++
		return nil
	}
	gap, d.gapSeen = gap || d.gapSeen, false
	if d.started && ts != d.ts {
		d.finish(emit)
	}
	if !d.started {
		d.reset(ts)
	}
	// A gap may have taken this unit's first packets or the previous
	// unit's last ones: either way this unit cannot be trusted.
	if gap {
		d.broken = true
	}
	err := d.add(payload)
	if err != nil {
		d.broken = true
	}
	if marker {
		d.finish(emit)
	}
	return err
}

func (d *Depacketizer) reset(ts uint32) {
	d.au, d.nals, d.ts, d.started, d.inFU, d.broken = d.au[:0], 0, ts, true, false, false
	d.fu = d.fu[:0]
}

// finish ends the unit in progress and emits it unless it is broken or
// empty.
func (d *Depacketizer) finish(emit func(AccessUnit)) {
	d.started = false
	if d.broken || d.inFU {
		d.lost++
		return
	}
	if d.nals == 0 {
		return
	}
	au := AccessUnit{AVCC: d.au, Timestamp: d.ts}
	for b := d.au; len(b) >= 5; {
		l := int(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
		if b[4]&0x1f == NALIDR {
			au.IDR = true
			break
		}
		b = b[4+l:]
	}
	emit(au)
}

// add parses one payload into the unit in progress.
func (d *Depacketizer) add(p []byte) error {
	if d.broken {
		return nil
	}
	if p[0]&0x80 != 0 {
		return fmt.Errorf("%w: forbidden zero bit set", ErrMalformed)
	}
	switch t := p[0] & 0x1f; {
	case t >= 1 && t <= 23:
		if d.inFU {
			return fmt.Errorf("%w: NAL unit inside an unfinished fragment", ErrMalformed)
		}
		return d.appendNAL(p)
	case t == NALSTAPA:
		if d.inFU {
			return fmt.Errorf("%w: STAP-A inside an unfinished fragment", ErrMalformed)
		}
		// STAP-A: 16-bit sizes, the same framing as AVCC with 2-byte
		// lengths.
		var err error
		d.scratch, err = SplitAVCC(d.scratch[:0], p[1:], 2, d.Limits.MaxNALs)
		if err != nil {
			return err
		}
		for _, n := range d.scratch {
			if err := d.appendNAL(n); err != nil {
				return err
			}
		}
		clear(d.scratch)
		return nil
	case t == NALFUA:
		if len(p) < 2 {
			return fmt.Errorf("%w: FU-A of %d bytes", ErrMalformed, len(p))
		}
		start, end := p[1]&0x80 != 0, p[1]&0x40 != 0
		switch {
		case start && end:
			return fmt.Errorf("%w: FU-A with both start and end bits", ErrMalformed)
		case start:
			if d.inFU {
				return fmt.Errorf("%w: FU-A start inside an unfinished fragment", ErrMalformed)
			}
			d.fu = append(d.fu[:0], p[0]&0xe0|p[1]&0x1f)
			d.inFU = true
		case !d.inFU:
			return fmt.Errorf("%w: FU-A continuation without a start", ErrMalformed)
		}
		if len(d.au)+len(d.fu)+len(p)-2+4 > d.Limits.MaxAccessUnit {
			return fmt.Errorf("%w: access unit over %d bytes", ErrTooLarge, d.Limits.MaxAccessUnit)
		}
		d.fu = append(d.fu, p[2:]...)
		if end {
			d.inFU = false
			return d.appendNAL(d.fu)
		}
		return nil
	default:
		return fmt.Errorf("%w: NAL unit type %d", ErrUnsupported, t)
	}
}

func (d *Depacketizer) appendNAL(n []byte) error {
	if len(n) == 0 {
		return nil
	}
	// Aggregates carry NAL units, never other aggregates or fragments.
	if t := n[0] & 0x1f; t == 0 || t > 23 || n[0]&0x80 != 0 {
		return fmt.Errorf("%w: NAL unit type %d inside an aggregate or fragment", ErrMalformed, t)
	}
	if d.nals+1 > d.Limits.MaxNALs {
		return fmt.Errorf("%w: more than %d NAL units in an access unit", ErrTooLarge, d.Limits.MaxNALs)
	}
	if len(d.au)+4+len(n) > d.Limits.MaxAccessUnit {
		return fmt.Errorf("%w: access unit over %d bytes", ErrTooLarge, d.Limits.MaxAccessUnit)
	}
	d.au = AppendAVCC(d.au, n)
	d.nals++
	return nil
}
