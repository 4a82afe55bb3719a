package rtmp

import (
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
)

// Recorded playback (flv.md §8–§10, rtmp.md §7.6, §7.9, §7.10).
//
// Each NetStream playing a file has a vodPlayer: a goroutine that reads the
// file, paces it to the client's buffer and queues ready-encoded messages
// (status, user control, data, media) in one queue, in stream order. The
// connection's writer drains that queue through player.write like a live
// subscriber's, so a VOD stream shares the batching and the write
// deadline. Commands for the stream (pause, seek, play with reset=false,
// SetBufferLength, receiveAudio/Video) reach the goroutine over a channel.

// codePlaySwitch is the onPlayStatus code between playlist items.
const codePlaySwitch = "NetStream.Play.Switch"

// vodQueueBytes bounds the payload bytes queued for the writer; past it the
// reader waits (back-pressure from a slow link, flv.md §9.5).
const vodQueueBytes = 512 << 10

// vodItem is one entry of a playlist.
type vodItem struct {
	name   string // the name the client asked for, for status messages
	file   instance.StreamFile
	start  float64 // ms; < 0 means from the start
	length float64 // ms; < 0 until the end, 0 a single frame
}

type vodOp uint8

const (
	vodAppend vodOp = iota
	vodReset
	vodPause
	vodUnpause
	vodSeek
	vodBuffer
)

type vodCtl struct {
	op   vodOp
	item vodItem
	ms   float64
}

// vodPlayer plays a playlist of recorded streams on one NetStream.
type vodPlayer struct {
	c        *conn
	sid      uint32
	clientID float64
	log      *slog.Logger
	lim      media.VODLimits

	ctl  chan vodCtl
	quit chan struct{}
	done chan struct{}

	recvAudio, recvVideo atomic.Bool

	mu     sync.Mutex // guards q and qBytes (VOD goroutine and writer)
	q      []outMsg
	qBytes int
	space  chan struct{} // signaled by the writer after draining

	// VOD goroutine only.
	items     []vodItem
	cur       *media.VOD
	item      vodItem
	pacer     media.Pacer
	paused    bool
	ended     bool  // the playlist finished (Complete sent)
	offset    int64 // added to the current item's timestamps
	lastOut   int64 // last timestamp sent
	endAt     int64 // stop the item after this file timestamp; -1 never
	single    bool  // len 0: one frame
	bytesSent int64
	timer     *time.Timer
	seekCount int           // bumped by every position change
	sawVideo  bool          // the current item has video
	pending   *media.Packet // read but not sent when a command came
}

// vodMax converts a length in ms to the item end.
func (it *vodItem) endAt(at uint32) int64 {
	if it.length <= 0 {
		return -1
	}
	return max(int64(it.start), int64(at)) + int64(it.length)
}

// playArgs decodes play's start, len (ms) and reset (rtmp.md §7.6).
func playArgs(startV, lenV, resetV amf.Value) (start, length float64, reset bool) {
	start, length, reset = -2000, -1000, true
	if startV.Kind() == amf.KindNumber {
		start = startV.Num()
	}
	if lenV.Kind() == amf.KindNumber {
		length = lenV.Num()
	}
	switch resetV.Kind() {
	case amf.KindBoolean:
		reset = resetV.Bool()
	case amf.KindNumber:
		reset = resetV.Num() == 1 || resetV.Num() == 3
	}
	return start, length, reset
}

// appConfig loads the application's configuration, falling back to the
// defaults (and a warning) when the file is broken.
func (c *conn) appConfig() instance.AppConfig {
	cfg, err := c.inst.AppConfig()
	if err != nil {
		c.log.Warn("application config", "err", err)
		return instance.AppConfig{}.WithDefaults()
	}
	return cfg
}

// appendVOD queues play(name, start, len, false) after the recorded item
// playing on ns (a playlist, flv.md §9.1). False when ns plays no file or
// reset is true: onPlay then starts afresh. Reader goroutine.
func (c *conn) appendVOD(ns *netStream, raw string, startV, lenV, resetV amf.Value) bool {
	start, length, reset := playArgs(startV, lenV, resetV)
	if reset || ns.play == nil || ns.play.vod == nil {
		return false
	}
	name, _, err := instance.StreamName(raw)
	if err == nil && !c.checkPlay(ns.id, name) {
		return true
	}
	var sf instance.StreamFile
	if err == nil {
		sf, err = c.inst.ResolveStream(c.appConfig(), name, false)
	}
	if err != nil {
		c.log.Info("playlist item refused", "stream", raw, "err", err)
		c.sendStatus(ns.id, message.LevelError, message.CodePlayStreamNotFound, "Failed to play "+raw+"; stream not found.",
			amf.Prop{Key: "details", Value: amf.String(raw)}, c.clientProp())
		return true
	}
	ns.play.vod.send(vodCtl{op: vodAppend, item: vodItem{name: name, file: sf, start: start, length: length}})
	return true
}

// playVOD decides whether play(name, start, len, reset) is recorded
// playback and, if so, starts it; false leaves the request to the live path
// (flv.md §9.1): start -1000 is live only; -2000 prefers a live publisher
// and falls back to the file; start >= 0 plays the file, and without one
// the live path's lenient fallback applies. flv:, mp3: and id3: names are
// always files. Reader goroutine; ns has been stopped.
func (c *conn) playVOD(ns *netStream, raw string, startV, lenV, resetV amf.Value) bool {
	name, _, err := instance.StreamName(raw)
	if err != nil {
		return false // the live path answers bad names
	}
	start, length, reset := playArgs(startV, lenV, resetV)
	if start == -1000 {
		return false
	}
	ctr, _, perr := instance.ParseStreamFile(name, false)
	prefixed := perr == nil && (ctr != instance.ContainerFLV || strings.HasPrefix(name, "flv:"))
	if start < 0 && !prefixed && c.inst.Streams().Published(name) {
		return false
	}
	sf, err := c.inst.ResolveStream(c.appConfig(), name, false)
	if err != nil {
		if !prefixed && (errors.Is(err, instance.ErrStreamNotFound) || start >= 0) {
			return false // wait for a publisher, or the live fallback
		}
		c.log.Info("play refused", "stream", name, "err", err)
		c.sendStatus(ns.id, message.LevelError, message.CodePlayStreamNotFound, "Failed to play "+name+"; stream not found.",
			amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
		return true
	}
	it := vodItem{name: name, file: sf, start: start, length: length}
	ns.name = name
	v := &vodPlayer{
		c: c, sid: ns.id, clientID: float64(c.client.ID),
		log:   c.log.With("stream", name),
		lim:   media.VODLimits{MaxTagSize: int(c.cfg.Chunk.WithDefaults().MaxMessageSize), AMF: c.cfg.AMF},
		ctl:   make(chan vodCtl, 32),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		space: make(chan struct{}, 1),
	}
	v.recvAudio.Store(true)
	v.recvVideo.Store(true)
	if ns.bufferLen > 0 {
		v.pacer.SetBuffer(ns.bufferLen)
	}
	p := &player{sid: ns.id, name: name, vod: v, clientID: v.clientID}
	ns.play = p
	c.addPlayer(p)
	go v.run(it, reset)
	c.log.Info("play start", "stream", name, "start", start, "len", length, "recorded", true)
	return true
}

func pauseOp(pause bool) vodOp {
	if pause {
		return vodPause
	}
	return vodUnpause
}

// vodReceive applies receiveAudio/receiveVideo to a playing file; false
// when ns plays live.
func (c *conn) vodReceive(ns *netStream, audio, on bool) bool {
	if ns.play == nil || ns.play.vod == nil {
		return false
	}
	if audio {
		ns.play.vod.recvAudio.Store(on)
	} else {
		ns.play.vod.recvVideo.Store(on)
	}
	return true
}

// vodCommand handles pause and seek for a stream playing a file; false
// when the stream is not one.
func (c *conn) vodCommand(sid uint32, op vodOp, ms float64) bool {
	ns := c.streams[sid]
	if ns == nil || ns.play == nil || ns.play.vod == nil {
		return false
	}
	ns.play.vod.send(vodCtl{op: op, ms: ms})
	return true
}

// vodBufferLength forwards a SetBufferLength to a playing file.
func (c *conn) vodBufferLength(ns *netStream) {
	if ns.play != nil && ns.play.vod != nil {
		ns.play.vod.send(vodCtl{op: vodBuffer, ms: float64(ns.bufferLen)})
	}
}

// streamLength answers getStreamLength (rtmp.md §7.12, flv.md §9.6).
func (c *conn) streamLength(raw string) float64 {
	name, _, err := instance.StreamName(raw)
	if err != nil {
		return 0
	}
	cfg, err := c.inst.AppConfig()
	if err != nil {
		return 0
	}
	sf, err := c.inst.ResolveStream(cfg, name, false)
	if err != nil {
		return 0
	}
	return media.StreamLength(c.inst.Streams().Files(), sf.Path, vodFormat(sf.Container))
}

func vodFormat(c instance.Container) media.VODFormat {
	switch c {
	case instance.ContainerMP3:
		return media.VODMP3
	case instance.ContainerID3:
		return media.VODID3
	}
	return media.VODFLV
}

// send passes a command to the VOD goroutine. Reader goroutine; it blocks
// only while the goroutine is busy with 32 earlier commands.
func (v *vodPlayer) send(ctl vodCtl) {
	select {
	case v.ctl <- ctl:
	case <-v.done:
	}
}

// close stops the goroutine and waits for it.
func (v *vodPlayer) close() {
	select {
	case <-v.quit:
	default:
		close(v.quit)
	}
	<-v.done
}

// write drains the queue into the batch. Writer goroutine.
func (v *vodPlayer) write(w *chunk.Writer, b *chunk.Batch) error {
	var err error
	v.mu.Lock()
	for i := range v.q {
		if err == nil {
			err = w.Append(b, v.q[i].h, v.q[i].p)
		}
	}
	clear(v.q)
	v.q, v.qBytes = v.q[:0], 0
	v.mu.Unlock()
	select {
	case v.space <- struct{}{}:
	default:
	}
	if err != nil {
		return withReason(ReasonLimit, err)
	}
	return nil
}

// push queues one message for the writer and wakes it.
func (v *vodPlayer) push(h chunk.Header, p []byte) {
	v.mu.Lock()
	v.q = append(v.q, outMsg{h: h, p: p})
	v.qBytes += len(p)
	v.mu.Unlock()
	v.c.signal()
}

func (v *vodPlayer) full() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.qBytes >= vodQueueBytes
}

func (v *vodPlayer) userControl(ev message.Event) {
	v.push(chunk.Header{CSID: message.CSIDControl, Type: message.TypeUserControl},
		message.UserControl{Event: ev, Value: v.sid}.Append(nil))
}

func (v *vodPlayer) status(level, code, desc, name string, extra ...amf.Prop) {
	props := append([]amf.Prop{{Key: "details", Value: amf.String(name)},
		{Key: "clientid", Value: amf.Number(v.clientID)}}, extra...)
	cmd := message.Command{Name: "onStatus", Object: amf.Null(), Args: []amf.Value{message.Info(level, code, desc, props...)}}
	enc := getEncoder()
	p, err := cmd.Append(nil, enc)
	putEncoder(enc)
	if err == nil {
		v.push(chunk.Header{CSID: message.CSIDCommand, Type: message.TypeCommand, StreamID: v.sid}, p)
	}
}

func (v *vodPlayer) data(ts uint32, d *message.Data) {
	enc := getEncoder()
	p, err := d.Append(nil, enc)
	putEncoder(enc)
	if err == nil {
		v.push(chunk.Header{CSID: message.CSIDData, Type: message.TypeData, Timestamp: ts, StreamID: v.sid}, p)
	}
}

func (v *vodPlayer) packet(pk *media.Packet, ts uint32) {
	v.push(chunk.Header{CSID: csidFor(pk.Kind), Timestamp: ts, Type: uint8(pk.Kind), StreamID: v.sid}, pk.Payload)
	v.bytesSent += int64(len(pk.Payload))
}

func (v *vodPlayer) run(first vodItem, reset bool) {
	defer close(v.done)
	defer func() {
		if v.cur != nil {
			_ = v.cur.Close()
		}
		if v.timer != nil {
			v.timer.Stop()
		}
	}()
	v.timer = time.NewTimer(time.Hour)
	v.timer.Stop()
	if !v.startItem(first, reset, false) {
		v.nextItem(false)
	}
	for {
		if v.cur == nil || v.paused || v.ended {
			// Idle: the playlist ended, or paused. Wait for a command.
			select {
			case <-v.quit:
				return
			case ctl := <-v.ctl:
				v.handle(ctl)
			}
			continue
		}
		if !v.step() {
			return
		}
	}
}

// step sends the next message of the current item when its time has come.
// It returns false when the player must stop.
func (v *vodPlayer) step() bool {
	// Commands first: a seek must not wait for a pacing delay.
	select {
	case <-v.quit:
		return false
	case ctl := <-v.ctl:
		v.handle(ctl)
		return true
	default:
	}
	if v.full() {
		select {
		case <-v.quit:
			return false
		case ctl := <-v.ctl:
			v.handle(ctl)
		case <-v.space:
		}
		return true
	}
	pk, err := v.pending, error(nil)
	v.pending = nil
	if pk == nil {
		pk, err = v.cur.Next()
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			v.log.Warn("recorded stream damaged; ending playback there", "file", v.item.file.Rel, "err", err)
		}
		v.endItem()
		return true
	}
	if v.endAt >= 0 && int64(pk.Time) > v.endAt {
		v.endItem()
		return true
	}
	switch pk.Kind {
	case media.Audio:
		if !v.recvAudio.Load() && !pk.Config {
			return true
		}
	case media.Video:
		if !v.recvVideo.Load() && !pk.Config {
			return true
		}
	}
	out := max(int64(pk.Time)+v.offset, 0)
	if d := v.pacer.Wait(uint32(out), time.Now()); d > 0 {
		v.timer.Reset(d)
		select {
		case <-v.quit:
			return false
		case ctl := <-v.ctl:
			v.timer.Stop()
			// The message read is sent after the command unless the
			// command moved the position.
			before := v.cur
			pos := v.positionToken()
			v.handle(ctl)
			if v.cur == before && pos == v.positionToken() {
				v.pending = pk // still due: decide again with the new state
			}
			return true
		case <-v.timer.C:
		}
	}
	v.packet(pk, uint32(out))
	v.lastOut = max(v.lastOut, out)
	if pk.Kind == media.Video {
		v.sawVideo = true
	}
	if v.single && (pk.Kind == media.Video && pk.Keyframe || pk.Kind == media.Audio && !pk.Config && !v.hasVideoAhead()) {
		v.endItem()
	}
	return true
}

// positionToken changes whenever a seek or item change moved the reader.
func (v *vodPlayer) positionToken() int64 { return v.offset ^ v.endAt<<1 ^ int64(v.seekCount) }

// hasVideoAhead is a crude check for single-frame plays of audio-only files.
func (v *vodPlayer) hasVideoAhead() bool { return v.cur.Format() == media.VODFLV && v.sawVideo }

// startItem opens it and sends its opening sequence. switched: it follows
// another item (Play.Switch). It returns false when the file is missing.
func (v *vodPlayer) startItem(it vodItem, reset, switched bool) bool {
	vod, err := media.OpenVOD(v.c.inst.Streams().Files(), it.file.Path, vodFormat(it.file.Container), v.lim)
	if err != nil {
		v.log.Info("play refused", "file", it.file.Rel, "err", err)
		v.status(message.LevelError, message.CodePlayStreamNotFound, "Failed to play "+it.name+"; stream not found.", it.name)
		return false
	}
	if v.cur != nil {
		_ = v.cur.Close()
	}
	v.cur, v.item, v.ended, v.sawVideo = vod, it, false, false
	start := uint32(0)
	if it.start > 0 {
		start = uint32(min(it.start, float64(^uint32(0))))
	}
	if switched {
		v.data(uint32(max(v.lastOut, 0)), &message.Data{Handler: "onPlayStatus", Args: []amf.Value{amf.Object(
			amf.Prop{Key: "code", Value: amf.String(codePlaySwitch)},
			amf.Prop{Key: "level", Value: amf.String(message.LevelStatus)},
			amf.Prop{Key: "details", Value: amf.String(it.name)},
		)}})
	}
	v.userControl(message.EventStreamIsRecorded)
	v.userControl(message.EventStreamBegin)
	if reset && !switched {
		v.status(message.LevelStatus, message.CodePlayReset, "Playing and resetting "+it.name+".", it.name)
	}
	v.status(message.LevelStatus, message.CodePlayStart, "Started playing "+it.name+".", it.name)
	if !switched {
		v.data(0, &message.Data{Handler: "|RtmpSampleAccess", Args: []amf.Value{amf.Bool(false), amf.Bool(false)}})
		v.data(0, &message.Data{Handler: "onStatus", Args: []amf.Value{
			amf.Object(amf.Prop{Key: "code", Value: amf.String(message.CodeDataStart)}),
		}})
	}
	v.single = it.length == 0
	v.position(start, switched)
	return true
}

// position seeks the current item to ms and sends the metadata and the
// codec configuration for that point.
func (v *vodPlayer) position(ms uint32, continuing bool) {
	at, configs, err := v.cur.Seek(ms)
	if err != nil {
		v.log.Warn("seek failed", "file", v.item.file.Rel, "err", err)
	}
	v.seekCount++
	if continuing {
		// Playlist: continue one millisecond after the last timestamp.
		v.offset = v.lastOut + 1 - int64(at)
	} else {
		v.offset = 0
	}
	v.endAt = v.item.endAt(at)
	v.pacer.Reset()
	out := uint32(max(int64(at)+v.offset, 0))
	if md := v.cur.Metadata(); md != nil {
		v.push(chunk.Header{CSID: message.CSIDData, Type: message.TypeData, Timestamp: out, StreamID: v.sid}, md.Payload)
	}
	for _, pk := range configs {
		if pk.Kind == media.Video {
			v.sawVideo = true
		}
		v.packet(pk, out)
	}
}

// endItem finishes the current item: the next one starts, or the playlist
// completes once the client has played what it was sent.
func (v *vodPlayer) endItem() {
	if len(v.items) > 0 {
		v.nextItem(true)
		return
	}
	// Wait (interruptibly) for the client to play out its buffer.
	if d := v.pacer.PlayedOut(time.Now()); d > 0 {
		v.timer.Reset(d)
		for waiting := true; waiting; {
			select {
			case <-v.quit:
				v.timer.Stop()
				v.finish()
				return
			case ctl := <-v.ctl:
				before := v.seekCount
				v.handle(ctl)
				if v.seekCount != before || len(v.items) > 0 {
					v.timer.Stop()
					if len(v.items) > 0 && v.seekCount == before {
						v.nextItem(true)
					}
					return
				}
			case <-v.timer.C:
				waiting = false
			}
		}
	}
	v.finish()
}

// finish sends the end sequence (rtmp.md §7.6: Complete, Stop, StreamEOF)
// and closes the file; the player stays for a seek or a new item.
func (v *vodPlayer) finish() {
	dur := float64(v.cur.Duration()) / 1000
	v.data(uint32(max(v.lastOut, 0)), &message.Data{Handler: "onPlayStatus", Args: []amf.Value{amf.Object(
		amf.Prop{Key: "code", Value: amf.String(message.CodePlayComplete)},
		amf.Prop{Key: "level", Value: amf.String(message.LevelStatus)},
		amf.Prop{Key: "duration", Value: amf.Number(dur)},
		amf.Prop{Key: "bytes", Value: amf.Number(float64(v.bytesSent))},
	)}})
	v.status(message.LevelStatus, message.CodePlayStop, "Stopped playing "+v.item.name+".", v.item.name)
	v.userControl(message.EventStreamEOF)
	v.ended = true
	v.log.Info("play complete", "file", v.item.file.Rel, "bytes", v.bytesSent)
	// Keep the file for a seek after the end (Flash players rewind so).
}

// nextItem starts the next playlist item, skipping missing files.
func (v *vodPlayer) nextItem(switched bool) {
	for len(v.items) > 0 {
		it := v.items[0]
		v.items = v.items[1:]
		if v.startItem(it, false, switched) {
			return
		}
	}
	if v.cur != nil && !v.ended {
		v.finish()
	}
}

// handle applies one command.
func (v *vodPlayer) handle(ctl vodCtl) {
	switch ctl.op {
	case vodAppend:
		v.items = append(v.items, ctl.item)
		if (v.cur == nil || v.ended) && !v.paused {
			// Nothing playing: the new item starts at once.
			v.nextItem(false)
		}
	case vodBuffer:
		v.pacer.SetBuffer(uint32(max(ctl.ms, 0)))
	case vodPause:
		if v.paused {
			return
		}
		v.paused = true
		v.status(message.LevelStatus, message.CodePauseNotify, "Pausing "+v.item.name+".", v.item.name)
		v.userControl(message.EventStreamEOF)
	case vodUnpause:
		if !v.paused {
			return
		}
		v.paused = false
		v.userControl(message.EventStreamIsRecorded)
		v.userControl(message.EventStreamBegin)
		v.status(message.LevelStatus, message.CodeUnpauseNotify, "Unpausing "+v.item.name+".", v.item.name)
		v.pacer.Reset()
	case vodSeek:
		v.seek(ctl.ms)
	}
}

// seek implements rtmp.md §7.10 for the current (or just finished) item.
func (v *vodPlayer) seek(ms float64) {
	if v.cur == nil {
		vod, err := media.OpenVOD(v.c.inst.Streams().Files(), v.item.file.Path, vodFormat(v.item.file.Container), v.lim)
		if err != nil {
			v.status(message.LevelError, message.CodeSeekFailed, "Seeking failed.", v.item.name)
			return
		}
		v.cur = vod
	}
	// Media queued but not yet written belongs to the old position; status
	// and control messages stay.
	v.mu.Lock()
	keep := v.q[:0]
	for _, m := range v.q {
		switch m.h.Type {
		case message.TypeAudio, message.TypeVideo, message.TypeData:
			v.qBytes -= len(m.p)
		default:
			keep = append(keep, m)
		}
	}
	clear(v.q[len(keep):])
	v.q = keep
	v.mu.Unlock()
	v.ended = false
	target := uint32(min(max(ms, 0), float64(^uint32(0))))
	v.userControl(message.EventStreamEOF)
	v.userControl(message.EventStreamIsRecorded)
	v.userControl(message.EventStreamBegin)
	v.status(message.LevelStatus, message.CodeSeekNotify,
		"Seeking "+strconv.FormatUint(uint64(target), 10)+" (stream ID: "+strconv.FormatUint(uint64(v.sid), 10)+").", v.item.name)
	v.status(message.LevelStatus, message.CodePlayStart, "Started playing "+v.item.name+".", v.item.name)
	v.item.start = float64(target)
	v.position(target, false)
}
