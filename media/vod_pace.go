package media

import "time"

// Pacing defaults (docs/flv.md#pacing).
const (
	DefaultPaceBuffer = time.Second
	DefaultPaceLead   = 500 * time.Millisecond
	minPaceBuffer     = 100 * time.Millisecond
	maxPaceBuffer     = 60 * time.Second
	// paceGap is the gap between consecutive timestamps that is not waited
	// for in real time (docs/flv.md#broken-and-hostile-files: a jump forward by hours would stall).
	paceGap = 10 * time.Second
)

// Pacer decides when a recorded message may be sent (docs/flv.md#pacing): a
// message with timestamp ts may go when ts − t0 ≤ (now − w0) + buffer +
// lead, so the first buffer + lead is sent at once and the rest at real-time
// speed. The zero value is ready to use with the defaults. Not safe for
// concurrent use.
type Pacer struct {
	buffer   time.Duration
	lead     time.Duration
	w0       time.Time
	t0       int64
	last     int64
	anchored bool
}

// SetBuffer applies the client's latest SetBufferLength (ms); it takes
// effect at once. Values are clamped to [100 ms, 60 s].
func (p *Pacer) SetBuffer(ms uint32) {
	p.buffer = min(max(time.Duration(ms)*time.Millisecond, minPaceBuffer), maxPaceBuffer)
}

// SetLead sets the lead on top of the buffer (default 500 ms).
func (p *Pacer) SetLead(d time.Duration) { p.lead = max(d, 0) }

func (p *Pacer) allowance() time.Duration {
	b, l := p.buffer, p.lead
	if b == 0 {
		b = DefaultPaceBuffer
	}
	if l == 0 {
		l = DefaultPaceLead
	}
	return b + l
}

// Reset re-anchors at the next message: call at start, seek and unpause.
func (p *Pacer) Reset() { p.anchored = false }

// Wait returns how long to wait before the message with timestamp ts may be
// sent at now; 0 means now. The first message after Reset anchors the
// clock. A forward jump of more than 10 s re-anchors instead of waiting.
func (p *Pacer) Wait(ts uint32, now time.Time) time.Duration {
	t := int64(ts)
	if !p.anchored || time.Duration(t-p.last)*time.Millisecond > paceGap {
		p.w0, p.t0, p.last, p.anchored = now, t, t, true
		return 0
	}
	if t > p.last {
		p.last = t
	}
	ahead := time.Duration(t-p.t0)*time.Millisecond - now.Sub(p.w0) - p.allowance()
	return max(ahead, 0)
}

// PlayedOut returns how long until a client that started playing at the
// anchor has played everything up to the last timestamp passed to Wait:
// the wait before NetStream.Play.Complete (docs/flv.md#recorded-playback-sequence).
func (p *Pacer) PlayedOut(now time.Time) time.Duration {
	if !p.anchored {
		return 0
	}
	return max(time.Duration(p.last-p.t0)*time.Millisecond-now.Sub(p.w0), 0)
}
