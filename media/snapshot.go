package media

import (
	"slices"
	"sync/atomic"
	"time"
)

// Monitoring: what an operator's tools (the admin API, metrics) read of the
// live streams. Everything here is a copy taken under the locks the
// registry holds anyway; nothing is added to the publishing path except the
// header bytes Write keeps.

// SetClient records the engine's id of the client that publishes (instance
// Client.ID), shown by Snapshot. Any goroutine.
func (p *Publication) SetClient(id uint64) { p.client.Store(id) }

// StreamSnapshot is one live stream as Snapshot saw it.
type StreamSnapshot struct {
	Name string
	// Published: a publisher is present. A name with only waiting players
	// has Published false and zero Publisher fields.
	Published bool
	// Client is the publishing client's id (Publication.SetClient), 0 for
	// a server-side publisher.
	Client uint64
	// Since is when the publication started.
	Since time.Time
	Stats PublicationStats
	// Meta is the onMetaData payload the stream carries (AMF0, shared:
	// do not modify), nil without one.
	Meta []byte
	// AudioHeader and VideoHeader are the first bytes of the last audio
	// and video messages (codec and format flags, the FourCC of enhanced
	// RTMP), empty before any arrived.
	AudioHeader, VideoHeader []byte
	Players                  []PlayerSnapshot
}

// PlayerSnapshot is one subscriber of a stream.
type PlayerSnapshot struct {
	// Client is SubscribeOptions.Client: 0 for a server-side player (a
	// recording, a script).
	Client uint64
	Since  time.Time
	Stats  SubscriberStats
}

// Snapshot returns the registry's streams, sorted by name. Any goroutine;
// it takes each stream's locks briefly, one stream at a time.
func (r *Registry) Snapshot() []StreamSnapshot {
	r.mu.Lock()
	sts := make([]*stream, 0, len(r.streams))
	for _, st := range r.streams {
		sts = append(sts, st)
	}
	r.mu.Unlock()
	out := make([]StreamSnapshot, 0, len(sts))
	for _, st := range sts {
		st.mu.Lock()
		pub, subs := st.pub, st.subs
		s := StreamSnapshot{Name: st.name}
		if st.meta != nil {
			s.Meta = st.meta.Payload
		}
		st.mu.Unlock()
		if pub != nil {
			s.Published = true
			s.Client = pub.client.Load()
			s.Since = pub.since
			s.Stats = pub.Stats()
			pub.mu.Lock()
			s.AudioHeader = slices.Clone(pub.audioHdr[:pub.audioLen])
			s.VideoHeader = slices.Clone(pub.videoHdr[:pub.videoLen])
			pub.mu.Unlock()
		}
		s.Players = make([]PlayerSnapshot, 0, len(subs))
		for _, sub := range subs {
			s.Players = append(s.Players, PlayerSnapshot{Client: sub.client, Since: sub.since, Stats: sub.Stats()})
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b StreamSnapshot) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// Totals accumulates the counters of publications that have ended
// (Config.Totals). Safe for concurrent use; each publication adds once, when
// it closes.
type Totals struct {
	publications  atomic.Uint64
	packets       atomic.Uint64
	bytes         atomic.Uint64
	dropped       atomic.Uint64
	slowConsumers atomic.Uint64
	// Recordings are counted as they start and end, not when the
	// publication ends.
	recordings     atomic.Uint64
	recordFailures atomic.Uint64
	recording      atomic.Int64
}

// TotalsSnapshot is what Totals holds.
type TotalsSnapshot struct {
	Publications  uint64 // publications ended
	Packets       uint64 // messages they carried
	Bytes         uint64 // payload bytes they carried
	Dropped       uint64 // video messages dropped for subscribers behind
	SlowConsumers uint64 // subscribers cut off
	// Recordings started, RecordFailures those that ended with an error,
	// Recording those writing now.
	Recordings     uint64
	RecordFailures uint64
	Recording      int64
}

// Load returns the totals so far.
func (t *Totals) Load() TotalsSnapshot {
	return TotalsSnapshot{
		Publications:   t.publications.Load(),
		Packets:        t.packets.Load(),
		Bytes:          t.bytes.Load(),
		Dropped:        t.dropped.Load(),
		SlowConsumers:  t.slowConsumers.Load(),
		Recordings:     t.recordings.Load(),
		RecordFailures: t.recordFailures.Load(),
		Recording:      t.recording.Load(),
	}
}

// add counts p. Called with p.mu held, once (Close).
func (t *Totals) add(p *Publication) {
	t.publications.Add(1)
	t.packets.Add(p.packets)
	t.bytes.Add(p.bytes)
	t.dropped.Add(p.dropped)
	t.slowConsumers.Add(p.slow)
}

// Headers returns the first bytes of the last audio and video messages
// of stream name (codec and format flags, see StreamSnapshot), empty
// before any arrived; ok false when name has no publisher. Any
// goroutine.
func (r *Registry) Headers(name string) (audio, video []byte, ok bool) {
	r.mu.Lock()
	st := r.streams[name]
	r.mu.Unlock()
	if st == nil {
		return nil, nil, false
	}
	st.mu.Lock()
	pub := st.pub
	st.mu.Unlock()
	if pub == nil {
		return nil, nil, false
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	return slices.Clone(pub.audioHdr[:pub.audioLen]), slices.Clone(pub.videoHdr[:pub.videoLen]), true
}
