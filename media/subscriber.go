package media

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrSlowConsumer is a subscriber's Err after it was cut off for staying
// behind too long or for a full queue (docs/architecture.md#backpressure, slow_consumer).
var ErrSlowConsumer = errors.New("media: slow consumer")

// SubscribeOptions are a subscriber's initial receive flags. The zero value
// receives everything.
type SubscribeOptions struct {
	NoAudio bool // start as if receiveAudio(false) had been called
	NoVideo bool // start as if receiveVideo(false) had been called
	// Notify, when non-nil, is signaled (non-blocking send) instead of a
	// channel of the subscriber's own, and Ready returns it. A connection
	// playing several streams passes one capacity-1 wake-up channel to all
	// its subscribers and drains every one of them per wake-up.
	Notify chan struct{}
	// Wake, when non-nil, is called instead of signaling a channel, and
	// Ready returns nil: a connection whose writer is run by a clock
	// rather than by a goroutine of its own has no goroutine to signal.
	// It is called on the publisher's goroutine, possibly with the
	// stream's locks held, so it must return at once and must not call
	// into the subscriber, its stream or its registry.
	Wake func()
	// Lossless makes a subscriber that never drops (a recorder): with its
	// queue full (Config.RecordQueueBytes), the publisher waits for it to
	// drain, up to
	// Config.SlowConsumerAfter, and then cuts it off with
	// ErrSlowConsumer. Live players must not use it: one slow player
	// would slow the publisher for everyone.
	Lossless bool
	// Legacy marks a player that does not decode Enhanced RTMP codecs
	// (an RTMP client whose connect named none in fourCcList, an
	// HTTP-FLV player): it receives packets for ForAll and ForLegacy,
	// the others those for ForAll and ForEnhanced.
	Legacy bool
	// AllAudiences makes a subscriber that receives every packet,
	// whatever its Audience, and passes the Audience on: a copy of the
	// stream that serves both kinds of players elsewhere (a cluster
	// feed, docs/cluster.md#streams). It counts among
	// Publication.LegacySubscribers while SetLegacyDemand says that its
	// far side has legacy players.
	AllAudiences bool
	// Client is the engine's id of the client that plays (instance
	// Client.ID), shown by monitoring (Registry.Snapshot); 0 for players
	// the server runs itself (recordings, scripts).
	Client uint64
}

// Subscriber is one player of a stream. Its owner (the connection's writer
// goroutine) waits on Ready and calls Drain; any goroutine may call the
// Set*, Err, Live, Stats and Close methods.
type Subscriber struct {
	reg   *Registry
	name  string
	st    *stream // nil when subscribed to a closed registry
	ready chan struct{}
	wake  func()      // SubscribeOptions.Wake; replaces ready when set
	live  atomic.Bool // a publisher is present
	dead  atomic.Bool // closed or ended: lets Write skip without locking
	// lossless subscribers signal space after each Drain, and when they
	// end, to a publisher waiting for room (SubscribeOptions.Lossless).
	lossless bool
	space    chan struct{}
	legacy   bool // SubscribeOptions.Legacy
	all      bool // SubscribeOptions.AllAudiences
	// demand: an AllAudiences subscriber's far side has legacy players
	// (SetLegacyDemand).
	demand atomic.Bool

	client uint64    // SubscribeOptions.Client
	since  time.Time // when Subscribe was called

	mu        sync.Mutex // leaf lock: guards everything below
	ring      []Event    // power-of-two length; grows only while the backlog grows
	head, n   int
	bytes     int // payload bytes queued
	burstN    int // events of the initial burst still queued: not counted against the bounds
	burstSize int // their payload bytes
	recvAudio bool
	recvVideo bool
	// waitKey drops non-configuration video until a keyframe: after joining
	// without a cached GOP, receiveVideo(true), a republish, or congestion.
	waitKey bool
	// congested: waitKey was set because the subscriber was behind; its
	// drops count as congestion drops.
	congested   bool
	behindSince time.Time // zero while not behind
	err         error
	closed      bool
	delivered   uint64
	dropped     uint64

	deliveredBytes uint64 // payload bytes handed out by Drain
}

// initialRing is the ring size of a subscriber without an initial burst:
// enough for a few wake-ups' worth of audio and video.
const initialRing = 32

func newSubscriber(r *Registry, name string, opts SubscribeOptions) *Subscriber {
	ready := opts.Notify
	if ready == nil && opts.Wake == nil {
		ready = make(chan struct{}, 1)
	}
	s := &Subscriber{
		reg:       r,
		name:      name,
		client:    opts.Client,
		since:     time.Now(),
		ready:     ready,
		wake:      opts.Wake,
		recvAudio: !opts.NoAudio,
		recvVideo: !opts.NoVideo,
		waitKey:   true,
		lossless:  opts.Lossless,
		legacy:    opts.Legacy,
		all:       opts.AllAudiences,
	}
	if s.lossless {
		s.space = make(chan struct{}, 1)
	}
	return s
}

// Name returns the stream name.
func (s *Subscriber) Name() string { return s.name }

// wants reports whether the subscriber receives packets for a.
func (s *Subscriber) wants(a Audience) bool { return s.all || a.reaches(s.legacy) }

// SetLegacyDemand tells whether the players an AllAudiences subscriber
// serves include legacy ones, so that the publisher converts for them
// (Publication.LegacySubscribers). Any goroutine.
func (s *Subscriber) SetLegacyDemand(on bool) { s.demand.Store(on) }

// Ready returns a capacity-1 channel that is signaled when events become
// pending and when the subscriber is cut off or ended (SubscribeOptions.Notify
// when that was given; nil with SubscribeOptions.Wake, which is called
// instead). After a receive, call Drain and check Err.
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

// Drain pops every pending event and appends it to dst, in order. It does
// not allocate when dst has room. The packets are shared: do not modify them.
func (s *Subscriber) Drain(dst []Event) []Event {
	s.mu.Lock()
	mask := len(s.ring) - 1
	for i := range s.n {
		j := (s.head + i) & mask
		dst = append(dst, s.ring[j])
		s.ring[j] = Event{} // release the packet for the GC
	}
	s.delivered += uint64(s.n)
	s.deliveredBytes += uint64(s.bytes)
	s.head, s.n, s.bytes, s.burstN, s.burstSize = 0, 0, 0, 0, 0
	s.mu.Unlock()
	s.signalSpace()
	return dst
}

// signalSpace wakes a publisher waiting for a lossless subscriber.
func (s *Subscriber) signalSpace() {
	if s.space != nil {
		select {
		case s.space <- struct{}{}:
		default:
		}
	}
}

// SetReceiveAudio implements NetStream.receiveAudio (docs/rtmp.md#receiveaudio-and-receivevideo): while
// off, audio messages other than codec configuration are not queued.
func (s *Subscriber) SetReceiveAudio(on bool) {
	s.mu.Lock()
	s.recvAudio = on
	s.mu.Unlock()
}

// SetReceiveVideo implements NetStream.receiveVideo (docs/rtmp.md#receiveaudio-and-receivevideo): while
// off, video messages other than codec configuration are not queued;
// turning it back on resumes at the next keyframe.
func (s *Subscriber) SetReceiveVideo(on bool) {
	s.mu.Lock()
	if on && !s.recvVideo {
		s.waitKey, s.congested = true, false
	}
	s.recvVideo = on
	s.mu.Unlock()
}

// Err returns ErrSlowConsumer once the subscriber was cut off, ErrClosed
// after the registry closed, and nil otherwise (also after its own Close).
func (s *Subscriber) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Live reports whether the stream currently has a publisher.
func (s *Subscriber) Live() bool { return s.live.Load() }

// SubscriberStats is a snapshot of a subscriber's counters.
type SubscriberStats struct {
	Queued      int    // events pending
	QueuedBytes int    // payload bytes pending
	Delivered   uint64 // events handed out by Drain
	Dropped     uint64 // video messages dropped while behind
	// DeliveredBytes are the payload bytes of the events handed out.
	DeliveredBytes uint64
}

// Stats returns the subscriber's counters.
func (s *Subscriber) Stats() SubscriberStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SubscriberStats{Queued: s.n, QueuedBytes: s.bytes, Delivered: s.delivered, Dropped: s.dropped,
		DeliveredBytes: s.deliveredBytes}
}

// Close leaves the stream and releases pending packets. Safe to call twice
// and from any goroutine.
func (s *Subscriber) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.dead.Store(true)
	s.releaseLocked()
	s.mu.Unlock()
	s.signalSpace()
	st := s.st
	if st == nil {
		return
	}
	r := s.reg
	r.mu.Lock()
	st.mu.Lock()
	if i := slices.Index(st.subs, s); i >= 0 {
		// Copy-on-write: a Write in progress may be ranging over the old slice.
		st.subs = slices.Delete(slices.Clone(st.subs), i, i+1)
		if s.lossless {
			st.lossless.Add(-1)
		}
	}
	r.forget(st)
	st.mu.Unlock()
	r.mu.Unlock()
}

// pushResult tells Write what happened to one subscriber.
type pushResult uint8

const (
	pushNone      pushResult = iota // queued, filtered, or subscriber gone
	pushDropStart                   // dropped; the subscriber just started dropping
	pushDropped                     // dropped while already dropping
	pushCutOff                      // the subscriber was cut off
	pushFull                        // a lossless subscriber's queue is full: not queued, wait
)

// push queues pkt unless filters or backpressure say otherwise. It never
// blocks beyond the subscriber's own short critical section.
func (s *Subscriber) push(pkt *Packet, clk *clock) pushResult {
	if s.dead.Load() || !s.wants(pkt.Audience) {
		return pushNone
	}
	s.mu.Lock()
	if s.err != nil || s.closed {
		s.mu.Unlock()
		return pushNone
	}
	switch pkt.Kind {
	case Audio:
		if !s.recvAudio && !pkt.Config {
			s.mu.Unlock()
			return pushNone
		}
	case Video:
		if !s.recvVideo && !pkt.Config {
			s.mu.Unlock()
			return pushNone
		}
	}
	cfg := &s.reg.cfg
	liveN, liveBytes := s.n-s.burstN, s.bytes-s.burstSize
	if s.lossless {
		return s.pushLosslessLocked(pkt, liveN, liveBytes)
	}
	behind := liveN >= cfg.QueuePackets/2 || liveBytes >= cfg.QueueBytes/2
	if behind {
		now := clk.now()
		if s.behindSince.IsZero() {
			s.behindSince = now
		} else if now.Sub(s.behindSince) > cfg.SlowConsumerAfter {
			return s.cutLocked("behind for longer than " + cfg.SlowConsumerAfter.String())
		}
	} else {
		s.behindSince = time.Time{}
	}
	if pkt.Kind == Video && !pkt.Config {
		if behind || (s.waitKey && !pkt.Keyframe) {
			res := pushNone
			if behind || s.congested {
				res = pushDropped
				if !s.congested {
					res = pushDropStart
				}
				s.congested = true
				s.dropped++
			}
			s.waitKey = true
			s.mu.Unlock()
			return res
		}
		s.waitKey, s.congested = false, false
	}
	// Whatever reaches here must not be dropped. A message larger than the
	// byte bound is still accepted into an empty queue.
	if liveN >= cfg.QueuePackets || (liveN > 0 && liveBytes+len(pkt.Payload) > cfg.QueueBytes) {
		return s.cutLocked("queue full of messages that cannot be dropped")
	}
	wasEmpty := s.n == 0
	s.putLocked(Event{Type: EventPacket, Packet: pkt}, len(pkt.Payload))
	s.mu.Unlock()
	if wasEmpty {
		s.signal()
	}
	return pushNone
}

// pushLosslessLocked queues pkt for a lossless subscriber, or reports a
// full queue for the publisher to wait. Only the start of each
// publication skips video up to its first keyframe, as for any player.
// It unlocks s.mu.
func (s *Subscriber) pushLosslessLocked(pkt *Packet, liveN, liveBytes int) pushResult {
	cfg := &s.reg.cfg
	if pkt.Kind == Video && !pkt.Config {
		if s.waitKey && !pkt.Keyframe {
			s.mu.Unlock()
			return pushNone
		}
		s.waitKey = false
	}
	if liveN >= 16*cfg.QueuePackets || (liveN > 0 && liveBytes+len(pkt.Payload) > cfg.RecordQueueBytes) {
		s.mu.Unlock()
		return pushFull
	}
	wasEmpty := s.n == 0
	s.putLocked(Event{Type: EventPacket, Packet: pkt}, len(pkt.Payload))
	s.mu.Unlock()
	if wasEmpty {
		s.signal()
	}
	return pushNone
}

// waitSpace blocks the publisher until a lossless subscriber has drained
// or ended, or until deadline; then it cuts the subscriber off and
// reports false.
func (s *Subscriber) waitSpace(deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-s.space:
		return true
	case <-t.C:
		s.mu.Lock()
		if s.err != nil || s.closed {
			s.mu.Unlock()
			return false
		}
		s.cutLocked("a lossless subscriber (recording) did not drain for " + s.reg.cfg.SlowConsumerAfter.String())
		return false
	}
}

// notify queues a publish/unpublish notification. Called with st.mu held.
func (s *Subscriber) notify(t EventType, live bool) {
	s.live.Store(live)
	s.mu.Lock()
	if s.err != nil || s.closed {
		s.mu.Unlock()
		return
	}
	// A new publisher (or none) means new codec state: resume video at a
	// keyframe.
	s.waitKey, s.congested = true, false
	if s.n-s.burstN >= s.reg.cfg.QueuePackets && !s.lossless {
		s.cutLocked("queue full of messages that cannot be dropped")
		return
	}
	wasEmpty := s.n == 0
	s.putLocked(Event{Type: t}, 0)
	s.mu.Unlock()
	if wasEmpty {
		s.signal()
	}
}

// fill queues the initial burst of a subscriber joining a published stream:
// PublishNotify, metadata, cached configurations, the GOP cache. Called with
// st.mu held, before s is visible to any other goroutine.
func (s *Subscriber) fill(st *stream) {
	s.live.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.growLocked(2 + len(st.configs) + len(st.gop) + initialRing)
	s.putLocked(Event{Type: EventPublishNotify}, 0)
	if st.meta != nil {
		s.putLocked(Event{Type: EventPacket, Packet: st.meta}, len(st.meta.Payload))
	}
	for _, c := range st.configs {
		if s.wants(c.Audience) {
			s.putLocked(Event{Type: EventPacket, Packet: c}, len(c.Payload))
		}
	}
	if st.gopOn && s.recvVideo {
		for _, pkt := range st.gop {
			if (pkt.Kind == Audio && !s.recvAudio) || !s.wants(pkt.Audience) {
				continue
			}
			s.putLocked(Event{Type: EventPacket, Packet: pkt}, len(pkt.Payload))
		}
		s.waitKey = len(st.gop) == 0
	}
	s.burstN, s.burstSize = s.n, s.bytes
	s.signal()
}

// end stops a subscriber from the outside (registry closed). Pending events
// stay drainable so the owner can flush them (e.g. UnpublishNotify).
func (s *Subscriber) end(err error) {
	s.mu.Lock()
	if s.err == nil && !s.closed {
		s.err = err
		s.dead.Store(true)
	}
	s.mu.Unlock()
	s.signal()
	s.signalSpace()
}

// cutLocked cuts the subscriber off as a slow consumer, releases its queue,
// unlocks s.mu, signals and logs once.
func (s *Subscriber) cutLocked(reason string) pushResult {
	s.err = ErrSlowConsumer
	s.dead.Store(true)
	queued, queuedBytes, dropped := s.n, s.bytes, s.dropped
	s.releaseLocked()
	s.mu.Unlock()
	s.signal()
	s.signalSpace()
	s.reg.log.Warn("subscriber cut off", "stream", s.name, "reason", "slow_consumer",
		"detail", reason, "queued", queued, "queued_bytes", queuedBytes, "dropped", dropped)
	return pushCutOff
}

// releaseLocked drops every pending event and the ring itself.
func (s *Subscriber) releaseLocked() {
	s.ring = nil
	s.head, s.n, s.bytes, s.burstN, s.burstSize = 0, 0, 0, 0, 0
}

// putLocked appends ev, growing the ring when full. Growth allocates, but
// only while a backlog grows past every earlier size, never in steady state.
func (s *Subscriber) putLocked(ev Event, size int) {
	if s.n == len(s.ring) {
		s.growLocked(s.n + 1)
	}
	s.ring[(s.head+s.n)&(len(s.ring)-1)] = ev
	s.n++
	s.bytes += size
}

// growLocked makes the ring hold at least need events.
func (s *Subscriber) growLocked(need int) {
	if need <= len(s.ring) {
		return
	}
	size := initialRing
	for size < need {
		size <<= 1
	}
	ring := make([]Event, size)
	mask := len(s.ring) - 1
	for i := range s.n {
		ring[i] = s.ring[(s.head+i)&mask]
	}
	s.ring, s.head = ring, 0
}

// signal wakes the owner without blocking: a pending signal already covers
// everything queued since, because Drain takes all of it.
func (s *Subscriber) signal() {
	if s.wake != nil {
		s.wake()
		return
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
