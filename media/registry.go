package media

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/media/flv"
)

// Errors callers branch on.
var (
	// ErrBusy: a publisher already holds the stream name; a transport answers
	// NetStream.Publish.BadName (docs/rtmp.md#publish).
	ErrBusy = errors.New("media: stream name is already being published")
	// ErrClosed: the registry was closed.
	ErrClosed = errors.New("media: registry closed")
)

// Registry holds the live streams of one application instance.
type Registry struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex         // guards below; order: after Publication.mu, before stream.mu
	streams   map[string]*stream // names with a publisher or at least one subscriber
	published int                // streams with a publisher
	closed    bool
	obs       Observer // nil: nobody listens (observe.go)
}

// NewRegistry returns an empty registry. log receives lifecycle lines
// (subscriber cut off, video dropping); nil discards them.
func NewRegistry(cfg Config, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.WithDefaults()
	if cfg.Files == nil {
		cfg.Files = NewFileCache(0)
	}
	return &Registry{cfg: cfg, log: log, streams: make(map[string]*stream)}
}

// Files returns the recorded-file state the registry's recordings claim
// their files in; players open files through it (OpenVOD).
func (r *Registry) Files() *FileCache { return r.cfg.Files }

// stream is one name of a registry. It lives in the registry's map while it
// has a publisher or a subscriber.
type stream struct {
	name string
	reg  *Registry

	mu   sync.Mutex    // guards below
	pub  *Publication  // current publisher, nil when unpublished
	subs []*Subscriber // copy-on-write: replaced, never modified in place, so Write may range over a snapshot without the lock
	meta *Packet       // onMetaData, or nil

	configs []*Packet // latest codec configuration per (kind, configKey), arrival order

	gop      []*Packet // messages since the last video keyframe; gop[0] is that keyframe
	gopBytes int
	gopOn    bool // gop holds a complete GOP prefix (starts at a keyframe, within bounds)

	// lossless counts the lossless subscribers in subs (changed under mu),
	// for Publication.MayWait.
	lossless atomic.Int32
}

// Publish makes the caller the publisher of name. Subscribers already waiting
// on the name receive EventPublishNotify. It fails with ErrBusy when another
// publisher holds the name and ErrClosed after Close.
func (r *Registry) Publish(name string) (*Publication, error) {
	return r.publish(name, false)
}

func (r *Registry) publish(name string, relay bool) (*Publication, error) {
	p, obs, err := r.publishLocked(name, relay)
	if err == nil && obs != nil && !relay {
		obs.Published(name)
	}
	return p, err
}

func (r *Registry) publishLocked(name string, relay bool) (*Publication, Observer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, ErrClosed
	}
	st := r.streams[name]
	if st == nil {
		st = &stream{name: name, reg: r}
		r.streams[name] = st
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pub != nil {
		return nil, nil, ErrBusy
	}
	p := &Publication{st: st, reg: r, since: time.Now(), relay: relay}
	st.pub = p
	r.published++
	for _, s := range st.subs {
		s.notify(EventPublishNotify, true)
	}
	return p, r.obs, nil
}

// Subscribe starts playing name. It is allowed before a publisher exists:
// the subscriber then waits, Live reports false, and EventPublishNotify
// arrives when a publisher appears. After Close it returns a subscriber that
// is already ended with ErrClosed.
func (r *Registry) Subscribe(name string, opts SubscribeOptions) *Subscriber {
	s, waiting := r.subscribe(name, opts)
	if waiting != nil {
		waiting.Waiting(name)
	}
	return s
}

// subscribe adds the subscriber; it returns the observer to tell when the
// stream has no publisher.
func (r *Registry) subscribe(name string, opts SubscribeOptions) (*Subscriber, Observer) {
	s := newSubscriber(r, name, opts)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		s.end(ErrClosed)
		return s, nil
	}
	st := r.streams[name]
	if st == nil {
		st = &stream{name: name, reg: r}
		r.streams[name] = st
	}
	s.st = st
	st.mu.Lock()
	defer st.mu.Unlock()
	var waiting Observer
	if st.pub != nil {
		s.fill(st)
	} else {
		waiting = r.obs
	}
	st.subs = append(slices.Clip(st.subs), s)
	if s.lossless {
		st.lossless.Add(1)
	}
	return s, waiting
}

// Names returns the names that currently have a publisher, sorted.
// Names with only waiting subscribers are not live and not listed.
func (r *Registry) Names() []string {
	r.mu.Lock()
	names := make([]string, 0, r.published)
	for name, st := range r.streams {
		st.mu.Lock()
		if st.pub != nil {
			names = append(names, name)
		}
		st.mu.Unlock()
	}
	r.mu.Unlock()
	slices.Sort(names)
	return names
}

// Len returns the number of streams that currently have a publisher. Names
// with only waiting subscribers are not counted.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.published
}

// Published reports whether name currently has a publisher.
func (r *Registry) Published(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[name]
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.pub != nil
}

// Close unpublishes every stream (subscribers see EventUnpublishNotify) and
// ends every subscriber with ErrClosed. Later Publish calls fail with
// ErrClosed. Safe to call twice.
func (r *Registry) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	var pubs []*Publication
	var subs []*Subscriber
	for _, st := range r.streams {
		st.mu.Lock()
		if st.pub != nil {
			pubs = append(pubs, st.pub)
		}
		subs = append(subs, st.subs...)
		st.mu.Unlock()
	}
	r.mu.Unlock()
	// Publication.mu precedes Registry.mu in the lock order, hence outside.
	for _, p := range pubs {
		p.Close()
	}
	for _, s := range subs {
		s.end(ErrClosed)
	}
	r.mu.Lock()
	clear(r.streams)
	obs := r.obs
	r.mu.Unlock()
	if obs != nil {
		obs.Closed()
	}
}

// forget removes st from the registry when it has neither publisher nor
// subscribers. Called with r.mu and st.mu held.
func (r *Registry) forget(st *stream) {
	if st.pub == nil && len(st.subs) == 0 && r.streams[st.name] == st {
		delete(r.streams, st.name)
	}
}

// Publication is the publishing side of one stream. Write, SetMetadata and
// ClearMetadata belong to the publisher's goroutine; Close and Stats may be
// called from any goroutine.
type Publication struct {
	st  *stream
	reg *Registry

	since time.Time // when Publish returned it
	// client is the engine's id of the publishing client (SetClient),
	// for monitoring; 0 for a server-side publisher.
	client atomic.Uint64

	mu     sync.Mutex // serializes Write/SetMetadata/Close so subscribers see one order; first in the lock order
	closed bool
	relay  bool // a copy of another node's stream (PublishRelay): not announced
	// Counters, guarded by mu.
	packets, bytes uint64
	lastTime       uint32    // timestamp of the last audio or video message
	dropWarned     time.Time // last "dropping video" warning
	dropping       int       // subscribers that started dropping since the last warning
	dropped        uint64    // video messages dropped, all subscribers
	slow           uint64    // subscribers cut off
	// Headers of the last audio and video messages, for monitoring
	// (codecs): copying a few bytes under the lock Write holds anyway
	// costs nothing measurable and needs no parsing on the hot path.
	audioHdr, videoHdr [8]byte
	audioLen, videoLen uint8
}

// Name returns the stream name.
func (p *Publication) Name() string { return p.st.name }

// MayWait reports whether Write may wait: a lossless subscriber (a
// recording) is subscribed, and Write waits for one whose queue is full.
// A caller that must never wait (one goroutine reading many publishers)
// hands such a publisher's messages to a goroutine of its own. Any
// goroutine.
func (p *Publication) MayWait() bool { return p.st.lossless.Load() > 0 }

// Write publishes one message. It classifies the payload (sets Keyframe and
// Config), updates the caches and pushes the packet to every subscriber
// without ever blocking on one. pkt must not be modified afterwards. Writes
// after Close are ignored. Publisher goroutine only.
func (p *Publication) Write(pkt *Packet) {
	classify(pkt)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.packets++
	p.bytes += uint64(len(pkt.Payload))
	switch pkt.Kind {
	case Audio:
		p.lastTime = pkt.Time
		if pkt.Audience != ForLegacy { // monitoring shows the codec as published
			p.audioLen = uint8(copy(p.audioHdr[:], pkt.Payload))
		}
	case Video:
		p.lastTime = pkt.Time
		p.videoLen = uint8(copy(p.videoHdr[:], pkt.Payload))
	}
	st := p.st
	st.mu.Lock()
	st.cache(pkt, &p.reg.cfg)
	subs := st.subs
	st.mu.Unlock()
	p.fanout(subs, pkt)
}

// fanout pushes pkt to subs and logs aggregated drops. Called with p.mu held.
func (p *Publication) fanout(subs []*Subscriber, pkt *Packet) {
	var clk clock
	var full []*Subscriber
	for _, s := range subs {
		switch s.push(pkt, &clk) {
		case pushDropStart:
			p.dropping++
			p.dropped++
		case pushDropped:
			p.dropped++
		case pushCutOff:
			p.slow++
		case pushFull:
			full = append(full, s)
		}
	}
	// Lossless subscribers (recordings) with a full queue: the publisher
	// waits for each, after every other subscriber has the message. Its
	// connection stops reading meanwhile, which slows the sender down.
	for _, s := range full {
		deadline := clk.now().Add(p.reg.cfg.SlowConsumerAfter)
		for {
			if r := s.push(pkt, &clk); r != pushFull {
				break
			}
			if !s.waitSpace(deadline) {
				p.slow++
				break
			}
		}
	}
	if p.dropping > 0 && clk.now().Sub(p.dropWarned) >= time.Second {
		// docs/architecture.md#backpressure: warn at most once a second, aggregated.
		p.reg.log.Warn("subscribers behind, dropping video to the next keyframe",
			"stream", p.st.name, "subscribers", p.dropping, "dropped_total", p.dropped)
		p.dropWarned = clk.now()
		p.dropping = 0
	}
}

// SetMetadata stores pkt as the stream's onMetaData (already rewritten from
// @setDataFrame by the caller, docs/rtmp.md#data-messages), sends it to current subscribers
// and to every later joiner. Metadata is never dropped. Publisher goroutine
// only.
func (p *Publication) SetMetadata(pkt *Packet) {
	pkt.Keyframe, pkt.Config = false, false
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	st := p.st
	st.mu.Lock()
	st.meta = pkt
	subs := st.subs
	st.mu.Unlock()
	p.fanout(subs, pkt)
}

// ClearMetadata drops the stored metadata (@clearDataFrame).
func (p *Publication) ClearMetadata() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.st.mu.Lock()
	p.st.meta = nil
	p.st.mu.Unlock()
}

// Close unpublishes: subscribers receive EventUnpublishNotify and stay
// subscribed (a new publisher brings EventPublishNotify). Caches and
// metadata are dropped. Safe to call twice and from any goroutine.
func (p *Publication) Close() {
	if obs := p.close(); obs != nil && !p.relay {
		obs.Unpublished(p.st.name)
	}
}

// close unpublishes and returns the observer to tell (nil when already
// closed).
func (p *Publication) close() Observer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if t := p.reg.cfg.Totals; t != nil {
		t.add(p)
	}
	r, st := p.reg, p.st
	r.mu.Lock()
	defer r.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.pub = nil
	r.published--
	st.meta = nil
	clear(st.configs)
	st.configs = st.configs[:0]
	st.resetGOP()
	for _, s := range st.subs {
		s.notify(EventUnpublishNotify, false)
	}
	r.forget(st)
	return r.obs
}

// PublicationStats is a snapshot of a publication's counters.
type PublicationStats struct {
	Subscribers   int    // current subscribers, including cut-off ones not yet closed
	Packets       uint64 // messages written
	Bytes         uint64 // payload bytes written
	GOPPackets    int    // messages in the GOP cache
	GOPBytes      int    // payload bytes in the GOP cache
	Dropped       uint64 // video messages dropped for subscribers that were behind
	SlowConsumers uint64 // subscribers cut off with ErrSlowConsumer
	LastTime      uint32 // timestamp of the last audio or video message, ms
}

// LegacySubscribers counts the subscribers opened with
// SubscribeOptions.Legacy, and the AllAudiences ones whose far side has
// legacy players (Subscriber.SetLegacyDemand): a publisher converts a
// track for them only while there are some. Any goroutine.
func (p *Publication) LegacySubscribers() int {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	n := 0
	for _, s := range p.st.subs {
		if s.legacy || s.demand.Load() {
			n++
		}
	}
	return n
}

// Stats returns the publication's counters. Any goroutine.
func (p *Publication) Stats() PublicationStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return PublicationStats{
		Subscribers:   len(p.st.subs),
		Packets:       p.packets,
		Bytes:         p.bytes,
		GOPPackets:    len(p.st.gop),
		GOPBytes:      p.st.gopBytes,
		Dropped:       p.dropped,
		SlowConsumers: p.slow,
		LastTime:      p.lastTime,
	}
}

// classify sets the flags Write derives from the payload (docs/flv.md#audio-tags,
// docs/rtmp.md#enhanced-rtmp).
func classify(pkt *Packet) {
	var c flv.Class
	switch pkt.Kind {
	case Video:
		c = flv.ClassifyVideo(pkt.Payload)
	case Audio:
		c = flv.ClassifyAudio(pkt.Payload)
	}
	pkt.Keyframe, pkt.Config, pkt.configKey = c.Keyframe, c.Config, c.ConfigKey
}

// cache records pkt in the configuration and GOP caches. Called with st.mu.
func (st *stream) cache(pkt *Packet, cfg *Config) {
	if pkt.Config {
		i := slices.IndexFunc(st.configs, func(c *Packet) bool {
			return c.Kind == pkt.Kind && c.configKey == pkt.configKey && c.Audience == pkt.Audience
		})
		switch {
		case i >= 0:
			// New decoder configuration: cached frames were coded with
			// the old one and would not decode after it.
			if pkt.Kind == Video && !bytes.Equal(st.configs[i].Payload, pkt.Payload) {
				st.resetGOP()
			}
			st.configs[i] = pkt
		case len(st.configs) < maxConfigs:
			st.configs = append(st.configs, pkt)
		default:
			copy(st.configs, st.configs[1:])
			st.configs[len(st.configs)-1] = pkt
		}
		return
	}
	if !cfg.gopEnabled() {
		return
	}
	switch {
	case pkt.Kind == Video && pkt.Keyframe:
		st.resetGOP()
		st.gopOn = true
	case !st.gopOn || (pkt.Kind != Video && pkt.Kind != Audio):
		return
	}
	if len(st.gop)+1 > cfg.GOPCacheMaxPackets || st.gopBytes+len(pkt.Payload) > cfg.GOPCacheMaxBytes {
		// Serving part of a GOP without its keyframe would not decode: drop
		// the whole cache until the next keyframe.
		st.resetGOP()
		return
	}
	st.gop = append(st.gop, pkt)
	st.gopBytes += len(pkt.Payload)
}

// resetGOP empties the GOP cache, keeping its array. Called with st.mu.
func (st *stream) resetGOP() {
	clear(st.gop) // release payloads for the GC
	st.gop = st.gop[:0]
	st.gopBytes = 0
	st.gopOn = false
}

// clock reads time.Now at most once per fan-out, and only when a subscriber
// is behind, so the steady state does not pay for it.
type clock struct {
	t  time.Time
	ok bool
}

func (c *clock) now() time.Time {
	if !c.ok {
		c.t, c.ok = time.Now(), true
	}
	return c.t
}
