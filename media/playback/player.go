package playback

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/media"
)

// Timestamp discontinuities tolerated in a live item before its output is
// re-based onto the player's timeline (a publisher that restarted its
// clock, or a new publisher).
const (
	liveMaxBackward = 1000
	liveMaxForward  = 10000
)

type op uint8

const (
	opPause op = iota
	opUnpause
	opSeek
	opBuffer
)

type command struct {
	op op
	ms int64
}

// Player plays one playlist. Its goroutine (started by Start) opens and
// paces files, follows live streams, and queues events; the adapter waits
// on Ready and takes them with Drain, like a media.Subscriber's. Every
// method is safe for concurrent use; Drain belongs to one consumer.
type Player struct {
	opts  Options
	cfg   Config
	log   *slog.Logger
	ready chan struct{}

	ctl   chan command
	more  chan struct{} // Append wakes the goroutine
	space chan struct{} // Drain wakes a goroutine waiting for queue room
	quit  chan struct{}
	done  chan struct{}

	startOnce sync.Once
	closeOnce sync.Once

	recvAudio, recvVideo atomic.Bool
	pos                  atomic.Uint32

	mu       sync.Mutex // guards below; a leaf lock
	q        []Event
	qBytes   int
	items    []Item
	finished bool // Live: the playlist ran out; Append fails
	closed   bool

	// first is the opening item, prepared by New; the goroutine takes it.
	first *playing

	// Player goroutine only.
	cur       *playing
	lastName  string // the item last started (or refused), for statuses
	played    bool   // an item has started: the next one is a switch
	paused    bool
	ended     bool  // the playlist completed (EventComplete queued)
	offset    int64 // added to the current item's timestamps
	last      int64 // last audio/video output timestamp
	wrote     bool  // last is set
	bytes     int64
	pacer     media.Pacer
	timer     *time.Timer
	pending   *media.Packet // read but not sent when a command came
	seeks     int           // bumped by every change of position
	afterLive bool          // a live item came last: pacing re-anchors
	evs       []media.Event
}

// playing is the item being played.
type playing struct {
	it         Item
	src        Source
	vod        *media.VOD        // recorded item
	sub        *media.Subscriber // live item, nil while paused
	until      *time.Timer       // live item with Len > 0
	endAt      int64             // recorded item: stop after this file time; -1 never
	sawVideo   bool              // the item has video: a single frame is a keyframe
	skipNotify bool              // the live stream was published at subscribe: Start said so
	anchored   bool              // the live item's offset is set
	last       int64             // the live item's last output timestamp
	// continuing: the item's output goes on after what was sent (a
	// switch, or a Live player); otherwise a live item keeps its
	// publisher's timestamps, as a file keeps its own.
	continuing bool
}

// New returns a player whose playlist starts with first; reset replaces
// a previous playlist (EventReset). The opening events are queued before
// New returns: EventNotFound when first can be played neither from a file
// nor live, else EventBegin and, with reset, EventReset. An adapter that
// reports them synchronously drains them before calling Start.
func New(opts Options, first Item, reset bool) *Player {
	p := &Player{
		opts:  opts,
		cfg:   opts.Config.WithDefaults(),
		log:   opts.Log,
		ready: opts.Notify,
		ctl:   make(chan command, 32),
		more:  make(chan struct{}, 1),
		space: make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.ready == nil && opts.Wake == nil {
		p.ready = make(chan struct{}, 1)
	}
	p.recvAudio.Store(true)
	p.recvVideo.Store(true)
	if opts.Buffer > 0 {
		p.pacer.SetBuffer(opts.Buffer)
	}
	if opts.Lead > 0 {
		p.pacer.SetLead(opts.Lead)
	}
	if opts.Live && opts.After > 0 {
		p.last, p.wrote = int64(opts.After), true
	}
	p.lastName = first.Name
	c, err := p.open(first)
	if err != nil {
		p.status(EventNotFound, 0, &Info{Name: first.Name})
		return p
	}
	p.first = c
	p.status(EventBegin, 0, &Info{Name: first.Name, Recorded: !c.src.Live})
	if reset {
		p.status(EventReset, 0, &Info{Name: first.Name})
	}
	return p
}

// Start starts playing. Calls after the first do nothing.
func (p *Player) Start() {
	p.startOnce.Do(func() { go p.run() })
}

// Close stops the player and waits for its goroutine; later Appends fail
// with ErrEnded. Safe to call twice, and without Start.
func (p *Player) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.quit)
		p.startOnce.Do(func() {
			p.release()
			close(p.done)
		})
	})
	<-p.done
}

// Done is closed when the player's goroutine has ended: closed, or a Live
// player whose playlist ran out (its last events are queued by then).
func (p *Player) Done() <-chan struct{} { return p.done }

// Ready returns the channel signaled when events are queued
// (Options.Notify when given).
func (p *Player) Ready() <-chan struct{} { return p.ready }

// Drain pops every queued event and appends it to dst, in order. It does
// not allocate when dst has room.
func (p *Player) Drain(dst []Event) []Event {
	p.mu.Lock()
	dst = append(dst, p.q...)
	clear(p.q)
	p.q, p.qBytes = p.q[:0], 0
	p.mu.Unlock()
	select {
	case p.space <- struct{}{}:
	default:
	}
	return dst
}

// Append queues it after the items waiting (play with reset false). It
// fails with ErrPlaylistFull past Config.MaxItems and with ErrEnded once
// the player has ended. A player that has completed its playlist (not
// Live) starts it at once.
func (p *Player) Append(it Item) error {
	p.mu.Lock()
	switch {
	case p.finished || p.closed:
		p.mu.Unlock()
		return ErrEnded
	case len(p.items) >= p.cfg.MaxItems:
		p.mu.Unlock()
		return ErrPlaylistFull
	}
	p.items = append(p.items, it)
	p.mu.Unlock()
	select {
	case p.more <- struct{}{}:
	default:
	}
	return nil
}

// Pause stops (true) or resumes (false) the output: EventPause then
// EventEOF; EventBegin then EventUnpause. A live item is left while paused
// and followed again from its live edge.
func (p *Player) Pause(on bool) {
	if on {
		p.send(command{op: opPause})
	} else {
		p.send(command{op: opUnpause})
	}
}

// SeekTo moves the current recorded item to ms (the video keyframe at or
// before it): queued packets are dropped, then EventEOF, EventBegin,
// EventSeek, EventStart. A live item answers EventSeekFailed.
func (p *Player) SeekTo(ms int64) { p.send(command{op: opSeek, ms: ms}) }

// SetBuffer applies the client's buffer length (ms) to the pacing of
// recorded items, at once.
func (p *Player) SetBuffer(ms uint32) { p.send(command{op: opBuffer, ms: int64(ms)}) }

// SetReceiveAudio and SetReceiveVideo filter audio or video (other than
// codec configuration) out of the output (receiveAudio, receiveVideo).
func (p *Player) SetReceiveAudio(on bool) { p.recvAudio.Store(on) }

// SetReceiveVideo: see SetReceiveAudio.
func (p *Player) SetReceiveVideo(on bool) { p.recvVideo.Store(on) }

// Position returns the output timestamp (ms) of the last audio or video
// packet queued.
func (p *Player) Position() uint32 { return p.pos.Load() }

// send passes a command to the goroutine; it blocks only while the
// goroutine is busy with 32 earlier commands.
func (p *Player) send(c command) {
	select {
	case p.ctl <- c:
	case <-p.done:
	}
}

// status queues a status event.
func (p *Player) status(k EventKind, t uint32, info *Info) {
	p.emit(Event{Kind: k, Time: t, Info: info})
}

func (p *Player) emit(e Event) {
	p.mu.Lock()
	p.q = append(p.q, e)
	if e.Packet != nil {
		p.qBytes += len(e.Packet.Payload)
	}
	p.mu.Unlock()
	if p.opts.Wake != nil {
		p.opts.Wake()
		return
	}
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (p *Player) full() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.qBytes >= p.cfg.QueueBytes
}

// dropMedia removes the packets queued and not yet drained: they belong to
// the position a seek leaves. Status events stay.
func (p *Player) dropMedia() {
	p.mu.Lock()
	keep := p.q[:0]
	for _, e := range p.q {
		if e.Kind != EventPacket {
			keep = append(keep, e)
		}
	}
	clear(p.q[len(keep):])
	p.q, p.qBytes = keep, 0
	p.mu.Unlock()
}

// take pops the next item. With final, a Live player whose playlist is
// empty ends for good (under the lock Append checks).
func (p *Player) take(final bool) (Item, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.items) == 0 {
		if final && p.opts.Live {
			p.finished = true
		}
		return Item{}, false
	}
	it := p.items[0]
	p.items[0] = Item{}
	p.items = p.items[1:]
	return it, true
}

// open resolves it and opens its file.
func (p *Player) open(it Item) (*playing, error) {
	src, err := Resolve(p.opts.Library, it, p.opts.Self)
	if err == nil && !src.Live {
		var v *media.VOD
		v, err = media.OpenVOD(p.opts.Library.Streams().Files(), src.File.Path, src.File.Format, p.opts.Limits)
		if err == nil {
			return &playing{it: it, src: src, vod: v, endAt: -1}, nil
		}
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		p.log.Info("play refused", "stream", it.Name, "err", err)
		return nil, err
	}
	return &playing{it: it, src: src, endAt: -1}, nil
}

func (c *playing) close() {
	if c.vod != nil {
		_ = c.vod.Close()
	}
	if c.sub != nil {
		c.sub.Close()
		c.sub = nil
	}
	if c.until != nil {
		c.until.Stop()
	}
}

// release closes what the player holds. Goroutine (or Close before Start).
func (p *Player) release() {
	for _, c := range []*playing{p.first, p.cur} {
		if c != nil {
			c.close()
		}
	}
	p.first, p.cur = nil, nil
	if p.timer != nil {
		p.timer.Stop()
	}
}

func (p *Player) run() {
	defer close(p.done)
	defer p.release()
	p.timer = time.NewTimer(time.Hour)
	p.timer.Stop()
	if c := p.first; c != nil {
		p.first = nil
		p.startItem(c, false, true)
	} else if !p.next(p.opts.Live) && p.opts.Live {
		p.finish()
		return
	}
	for {
		if p.ended && p.opts.Live {
			return
		}
		var ok bool
		switch c := p.cur; {
		case c == nil || p.paused || p.ended:
			ok = p.idle()
		case c.src.Live:
			ok = p.stepLive()
		default:
			ok = p.stepFile()
		}
		if !ok {
			return
		}
	}
}

// idle waits for a command or an appended item.
func (p *Player) idle() bool {
	select {
	case <-p.quit:
		return false
	case c := <-p.ctl:
		p.handle(c)
	case <-p.more:
		if !p.paused && (p.cur == nil || p.ended) {
			p.next(false)
		}
	}
	return true
}

// next starts the next playable item, reporting the missing ones; false
// when none is left.
func (p *Player) next(final bool) bool {
	for {
		it, ok := p.take(final)
		if !ok {
			return false
		}
		p.lastName = it.Name
		c, err := p.open(it)
		if err != nil {
			p.status(EventNotFound, 0, &Info{Name: it.Name})
			continue
		}
		p.startItem(c, p.played && !p.ended, false)
		return true
	}
}

// startItem makes c the current item and queues its opening. switched: it
// follows an item that played (EventSwitch, timestamps continue). opening:
// New queued its EventBegin.
func (p *Player) startItem(c *playing, switched, opening bool) {
	if p.cur != nil {
		p.cur.close()
	}
	p.cur, p.ended, p.pending = c, false, nil
	p.lastName = c.it.Name
	p.seeks++
	name := c.it.Name
	if switched {
		p.status(EventSwitch, p.outLast(), &Info{Name: name})
	}
	if !opening {
		p.status(EventBegin, 0, &Info{Name: name, Recorded: !c.src.Live})
	}
	p.status(EventStart, 0, &Info{Name: name, First: !switched})
	p.played = true
	c.continuing = switched || p.opts.Live
	if c.src.Live {
		p.subscribe(c)
		if c.it.Len > 0 {
			c.until = time.NewTimer(time.Duration(c.it.Len) * time.Millisecond)
		}
		p.afterLive = true
		return
	}
	p.position(uint32(min(max(c.it.Start, 0), math.MaxUint32)), c.continuing)
}

func (p *Player) subscribe(c *playing) {
	c.sub = p.opts.Library.Streams().Subscribe(c.it.Name, media.SubscribeOptions{Legacy: p.opts.Legacy})
	c.skipNotify = c.sub.Live()
}

// next output timestamp of a continuing timeline.
func (p *Player) nextOut() int64 {
	if !p.wrote {
		return 0
	}
	return p.last + 1
}

func (p *Player) outLast() uint32 {
	if !p.wrote {
		return 0
	}
	return uint32(max(p.last, 0))
}

// position seeks the current recorded item to ms and queues its metadata
// and the codec configuration for that point. continuing: the output
// timeline goes on after what was sent; otherwise it is the file's time.
func (p *Player) position(ms uint32, continuing bool) {
	c := p.cur
	at, configs, err := c.vod.Seek(ms)
	if err != nil {
		p.log.Warn("seek failed", "file", c.src.File.Rel, "err", err)
	}
	p.seeks++
	if continuing {
		p.offset = p.nextOut() - int64(at)
	} else {
		p.offset = 0
	}
	c.endAt = -1
	if c.it.Len > 0 {
		c.endAt = max(c.it.Start, int64(at)) + c.it.Len
	}
	if !continuing || p.afterLive {
		p.pacer.Reset()
	}
	p.afterLive = false
	out := max(int64(at)+p.offset, 0)
	if md := c.vod.Metadata(); md != nil {
		if p.opts.Live {
			md = &media.Packet{Kind: md.Kind, Time: md.Time, Payload: liveMetadata(md.Payload, p.opts.AMF)}
		}
		p.emit(Event{Kind: EventPacket, Time: uint32(out), Packet: md})
	}
	for _, pk := range configs {
		p.packet(pk, out)
	}
}

// wanted applies receiveAudio/receiveVideo; configuration always passes.
func (p *Player) wanted(pk *media.Packet) bool {
	switch pk.Kind {
	case media.Audio:
		return pk.Config || p.recvAudio.Load()
	case media.Video:
		return pk.Config || p.recvVideo.Load()
	}
	return true
}

// packet queues pk at output time out.
func (p *Player) packet(pk *media.Packet, out int64) {
	p.emit(Event{Kind: EventPacket, Time: uint32(out), Packet: pk})
	p.bytes += int64(len(pk.Payload))
	if pk.Kind == media.Audio || pk.Kind == media.Video {
		p.last, p.wrote = max(p.last, out), true
		p.pos.Store(uint32(p.last))
		if pk.Kind == media.Video {
			p.cur.sawVideo = true
		}
	}
}

// oneFrame reports whether pk completes a single-frame item: a video
// keyframe, or an audio frame of an item without video.
func oneFrame(c *playing, pk *media.Packet) bool {
	if pk.Config {
		return false
	}
	return pk.Kind == media.Video && pk.Keyframe || pk.Kind == media.Audio && !c.sawVideo
}

// waitRoom waits while the queue is full; false when the player stops.
func (p *Player) waitRoom() (full, ok bool) {
	if !p.full() {
		return false, true
	}
	select {
	case <-p.quit:
		return true, false
	case c := <-p.ctl:
		p.handle(c)
	case <-p.space:
	}
	return true, true
}

// stepFile queues the next message of the current recorded item when its
// time has come. It returns false when the player must stop.
func (p *Player) stepFile() bool {
	// Commands first: a seek must not wait for a pacing delay.
	select {
	case <-p.quit:
		return false
	case c := <-p.ctl:
		p.handle(c)
		return true
	default:
	}
	if full, ok := p.waitRoom(); full || !ok {
		return ok
	}
	c := p.cur
	pk, err := p.pending, error(nil)
	p.pending = nil
	if pk == nil {
		pk, err = c.vod.Next()
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			p.log.Warn("recorded stream damaged; the item ends there", "file", c.src.File.Rel, "err", err)
		}
		return p.endItem()
	}
	if c.endAt >= 0 && int64(pk.Time) > c.endAt {
		return p.endItem()
	}
	if !p.wanted(pk) {
		return true
	}
	out := max(int64(pk.Time)+p.offset, 0)
	if d := p.pacer.Wait(uint32(out), time.Now()); d > 0 {
		p.timer.Reset(d)
		select {
		case <-p.quit:
			p.timer.Stop()
			return false
		case cmd := <-p.ctl:
			p.timer.Stop()
			// The message read goes out after the command unless the
			// command moved the position.
			seeks := p.seeks
			p.handle(cmd)
			if p.seeks == seeks {
				p.pending = pk
			}
			return true
		case <-p.timer.C:
		}
	}
	p.packet(pk, out)
	if c.it.Len == 0 && oneFrame(c, pk) {
		return p.endItem()
	}
	return true
}

// stepLive forwards what the current live item's publisher sent.
func (p *Player) stepLive() bool {
	if full, ok := p.waitRoom(); full || !ok {
		return ok
	}
	c := p.cur
	var until <-chan time.Time
	if c.until != nil {
		until = c.until.C
	}
	select {
	case <-p.quit:
		return false
	case cmd := <-p.ctl:
		p.handle(cmd)
		return true
	case <-until:
		return p.endItem()
	case <-c.sub.Ready():
	}
	p.evs = c.sub.Drain(p.evs[:0])
	done := false
	for i := range p.evs {
		if done {
			break
		}
		switch e := &p.evs[i]; e.Type {
		case media.EventPacket:
			done = p.forward(c, e.Packet)
		case media.EventPublishNotify:
			if c.skipNotify {
				c.skipNotify = false
				continue
			}
			p.status(EventPublishNotify, 0, &Info{Name: c.it.Name})
		case media.EventUnpublishNotify:
			c.skipNotify = false
			p.status(EventUnpublishNotify, 0, &Info{Name: c.it.Name})
		}
	}
	clear(p.evs)
	if done || c.sub.Err() != nil {
		return p.endItem()
	}
	return true
}

// forward queues a live packet on the player's timeline; true when it
// completes a single-frame item.
func (p *Player) forward(c *playing, pk *media.Packet) bool {
	if !p.wanted(pk) {
		return false
	}
	if pk.Kind != media.Audio && pk.Kind != media.Video {
		p.emit(Event{Kind: EventPacket, Time: p.outLast(), Packet: pk})
		return false
	}
	t := int64(pk.Time)
	switch {
	case !c.anchored && c.continuing:
		p.offset = p.nextOut() - t // right after what was sent
	case !c.anchored:
		p.offset = 0 // the publisher's own timeline
	default:
		if d := t + p.offset - c.last; d < -liveMaxBackward || d > liveMaxForward {
			p.offset = p.nextOut() - t // the source restarted its clock
		}
	}
	c.anchored = true
	out := max(t+p.offset, 0)
	c.last = max(c.last, out)
	p.packet(pk, out)
	return c.it.Len == 0 && oneFrame(c, pk)
}

// endItem finishes the current item: the next one starts, or, when none
// waits, the player lets the client play out what it was sent and
// completes the playlist. It returns false when the player must stop.
func (p *Player) endItem() bool {
	if c := p.cur; c != nil && c.src.Live {
		c.close()
	}
	if p.next(false) {
		return true
	}
	if d := p.pacer.PlayedOut(time.Now()); d > 0 && p.cur != nil && !p.cur.src.Live {
		p.timer.Reset(d)
	wait:
		for {
			select {
			case <-p.quit:
				p.timer.Stop()
				return false
			case <-p.more:
				if p.next(false) {
					p.timer.Stop()
					return true
				}
			case c := <-p.ctl:
				seeks := p.seeks
				p.handle(c)
				if p.seeks != seeks {
					p.timer.Stop()
					return true // a seek moved the item: it plays on
				}
			case <-p.timer.C:
				break wait
			}
		}
	}
	if p.next(true) {
		return true
	}
	p.finish()
	return true
}

// finish queues the end of the playlist: EventComplete, EventStop,
// EventEOF. A recorded item stays open for a seek after the end.
func (p *Player) finish() {
	c := p.cur
	if c == nil && !p.opts.Live {
		return // nothing played: nothing to complete
	}
	var dur uint32
	if c != nil && c.vod != nil {
		dur = c.vod.Duration()
	}
	if c != nil && c.src.Live {
		c.close()
	}
	p.status(EventComplete, p.outLast(), &Info{Name: p.lastName, Duration: dur, Bytes: p.bytes})
	p.status(EventStop, 0, &Info{Name: p.lastName})
	p.status(EventEOF, 0, &Info{Name: p.lastName})
	p.ended = true
	p.log.Info("play complete", "stream", p.lastName, "bytes", p.bytes)
}

// handle applies one command.
func (p *Player) handle(c command) {
	switch c.op {
	case opBuffer:
		p.pacer.SetBuffer(uint32(min(max(c.ms, 0), math.MaxUint32)))
	case opPause:
		if p.paused {
			return
		}
		p.paused = true
		p.status(EventPause, 0, &Info{Name: p.lastName})
		p.status(EventEOF, 0, &Info{Name: p.lastName})
		if cur := p.cur; cur != nil && cur.src.Live && cur.sub != nil && !p.ended {
			cur.sub.Close() // left while paused: resumes at the live edge
			cur.sub = nil
		}
	case opUnpause:
		if !p.paused {
			return
		}
		p.paused = false
		cur := p.cur
		p.status(EventBegin, 0, &Info{Name: p.lastName, Recorded: cur != nil && !cur.src.Live})
		p.status(EventUnpause, 0, &Info{Name: p.lastName})
		p.pacer.Reset()
		switch {
		case cur == nil || p.ended:
			p.next(false) // items appended while paused
		case cur.src.Live && cur.sub == nil:
			p.subscribe(cur)
		}
	case opSeek:
		p.seek(c.ms)
	}
}

// seek moves the current recorded item, also after it has completed.
func (p *Player) seek(ms int64) {
	c := p.cur
	if c == nil || c.src.Live {
		p.status(EventSeekFailed, 0, &Info{Name: p.lastName})
		return
	}
	p.dropMedia()
	p.ended = false
	target := uint32(min(max(ms, 0), math.MaxUint32))
	name := c.it.Name
	p.status(EventEOF, 0, &Info{Name: name})
	p.status(EventBegin, 0, &Info{Name: name, Recorded: true})
	p.status(EventSeek, 0, &Info{Name: name, Pos: target})
	p.status(EventStart, 0, &Info{Name: name})
	c.it.Start = int64(target)
	p.pending = nil
	p.position(target, false)
}

// Control is the pause and seek of a Player that a session drives from
// elsewhere: a NetStream whose recorded stream plays over a WebRTC peer
// (docs/webrtc.md#pause-and-seek). *Player implements it.
type Control interface {
	Pause(on bool)
	SeekTo(ms int64)
}
