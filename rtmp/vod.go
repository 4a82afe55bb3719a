package rtmp

import (
	"math"
	"strconv"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// Recorded playback, playlists and live plays with a length are the
// engine's player (media/playback, docs/playback.md). Such a NetStream
// holds a playback.Player of its instance: the reader goroutine passes it
// play (reset false), pause, seek, SetBufferLength and
// receiveAudio/Video, and the connection's writer drains its events like a
// live subscriber's, turning each into its RTMP form (docs/rtmp.md#play,
// docs/rtmp.md#pause, docs/rtmp.md#seek): user control messages, onStatus
// commands and onPlayStatus data messages.

// playArgs decodes play's start, len (ms) and reset (docs/rtmp.md#play).
func playArgs(startV, lenV, resetV amf.Value) (it playback.Item, reset bool) {
	it.Start, it.Len, reset = playback.StartAny, -1000, true
	if startV.Kind() == amf.KindNumber {
		it.Start = msArg(startV.Num(), playback.StartAny)
	}
	if lenV.Kind() == amf.KindNumber {
		it.Len = msArg(lenV.Num(), -1000)
	}
	switch resetV.Kind() {
	case amf.KindBoolean:
		reset = resetV.Bool()
	case amf.KindNumber:
		reset = resetV.Num() == 1 || resetV.Num() == 3
	}
	return it, reset
}

// msArg converts a client's time argument to whole milliseconds.
func msArg(v, def float64) int64 {
	if math.IsNaN(v) {
		return int64(def)
	}
	return int64(min(max(v, -math.MaxUint32), math.MaxUint32))
}

// appendVOD queues play(name, start, len, false) after the items of the
// engine player playing on ns (a playlist, docs/flv.md#play-arguments).
// False when ns has none (nothing, or a plain live play) or reset is true:
// onPlay then starts afresh. Reader goroutine.
func (c *conn) appendVOD(ns *netStream, raw string, startV, lenV, resetV amf.Value) bool {
	it, reset := playArgs(startV, lenV, resetV)
	if reset || ns.play == nil || ns.play.pb == nil {
		return false
	}
	name, query, err := instance.StreamName(raw)
	if err != nil {
		c.log.Info("playlist item refused", "stream", raw, "err", err)
		c.sendStatus(ns.id, status.PlayStreamNotFound, "Failed to play "+raw+"; stream not found.",
			amf.Prop{Key: "details", Value: amf.String(raw)}, c.clientProp())
		return true
	}
	if !c.checkPlay(ns.id, name, query) {
		return true
	}
	it.Name = name
	if err := ns.play.pb.Append(it); err != nil {
		c.log.Info("playlist item refused", "stream", name, "err", err)
		c.sendStatus(ns.id, status.PlayFailed, "Failed to play "+name+": the playlist is full.",
			amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
	}
	return true
}

// startPlayback starts the engine's player on ns with it as the first
// item of its playlist. Reader goroutine; ns has been stopped.
func (c *conn) startPlayback(ns *netStream, it playback.Item, reset, recorded bool) {
	ns.name = it.Name
	pb := c.inst.NewPlayer(playback.Options{
		Buffer: ns.bufferLen,
		Limits: media.VODLimits{MaxTagSize: int(c.cfg.Chunk.WithDefaults().MaxMessageSize), AMF: c.cfg.AMF},
		Wake:   c.wakeFunc(),
		Legacy: c.legacyAudio,
		Log:    c.log.With("stream", it.Name),
	}, it, reset)
	p := &player{sid: ns.id, name: it.Name, pb: pb, clientID: float64(c.client.ID)}
	ns.play = p
	c.addPlayer(p)
	pb.Start()
	c.log.Info("play start", "stream", it.Name, "start", it.Start, "len", it.Len, "recorded", recorded)
}

// vodReceive applies receiveAudio/receiveVideo to a playing file; false
// when ns plays live.
func (c *conn) vodReceive(ns *netStream, audio, on bool) bool {
	if ns.play == nil || ns.play.pb == nil {
		return false
	}
	if audio {
		ns.play.pb.SetReceiveAudio(on)
	} else {
		ns.play.pb.SetReceiveVideo(on)
	}
	return true
}

// vodPlayer returns the engine player of stream sid, or nil when it plays
// live or nothing.
func (c *conn) vodPlayer(sid uint32) *playback.Player {
	if ns := c.streams[sid]; ns != nil && ns.play != nil {
		return ns.play.pb
	}
	return nil
}

// vodPause handles pause for a stream playing a file; false when the
// stream is not one.
func (c *conn) vodPause(sid uint32, pause bool) bool {
	pb := c.vodPlayer(sid)
	if pb != nil {
		pb.Pause(pause)
	}
	return pb != nil
}

// vodSeek handles seek for a stream playing a file; false when the stream
// is not one.
func (c *conn) vodSeek(sid uint32, ms float64) bool {
	pb := c.vodPlayer(sid)
	if pb != nil {
		pb.SeekTo(msArg(ms, 0))
	}
	return pb != nil
}

// vodBufferLength forwards a SetBufferLength to a playing file.
func (c *conn) vodBufferLength(ns *netStream) {
	if ns.play != nil && ns.play.pb != nil {
		ns.play.pb.SetBuffer(ns.bufferLen)
	}
}

// streamLength answers getStreamLength (docs/rtmp.md#getstreamlength, docs/flv.md#stream-length).
func (c *conn) streamLength(raw string) float64 {
	name, _, err := instance.StreamName(raw)
	if err != nil {
		return 0
	}
	return c.inst.StreamLength(name)
}

// writePlayback drains the engine player into the batch in its RTMP form.
// It fails only for a packet the chunk stream cannot carry (longer than
// its length field). Writer goroutine.
func (p *player) writePlayback(w *chunk.Writer, b *chunk.Batch) error {
	p.pevs = p.pb.Drain(p.pevs[:0])
	defer clear(p.pevs)
	for i := range p.pevs {
		e := &p.pevs[i]
		if e.Kind == playback.EventPacket {
			pk := e.Packet
			if err := w.Append(b, chunk.Header{CSID: csidFor(pk.Kind), Timestamp: e.Time, Type: uint8(pk.Kind), StreamID: p.sid}, pk.Payload); err != nil {
				return withReason(ReasonLimit, err)
			}
			continue
		}
		name := e.Info.Name
		switch e.Kind {
		case playback.EventBegin:
			if e.Info.Recorded {
				p.userControl(w, b, message.EventStreamIsRecorded)
			}
			p.userControl(w, b, message.EventStreamBegin)
		case playback.EventEOF:
			p.userControl(w, b, message.EventStreamEOF)
		case playback.EventReset:
			p.onStatus(w, b, status.PlayReset, "Playing and resetting "+name+".", name)
		case playback.EventStart:
			p.onStatus(w, b, status.PlayStart, "Started playing "+name+".", name)
			if e.Info.First {
				p.data(w, b, 0, &message.Data{Handler: "|RtmpSampleAccess", Args: []amf.Value{amf.Bool(false), amf.Bool(false)}})
				p.data(w, b, 0, &message.Data{Handler: "onStatus", Args: []amf.Value{
					amf.Object(amf.Prop{Key: "code", Value: amf.String(status.DataStart)}),
				}})
			}
		case playback.EventSwitch:
			p.data(w, b, e.Time, &message.Data{Handler: "onPlayStatus", Args: []amf.Value{amf.Object(
				amf.Prop{Key: "code", Value: amf.String(status.PlaySwitch)},
				amf.Prop{Key: "level", Value: amf.String(status.LevelStatus)},
				amf.Prop{Key: "details", Value: amf.String(name)},
			)}})
		case playback.EventComplete:
			p.data(w, b, e.Time, &message.Data{Handler: "onPlayStatus", Args: []amf.Value{amf.Object(
				amf.Prop{Key: "code", Value: amf.String(status.PlayComplete)},
				amf.Prop{Key: "level", Value: amf.String(status.LevelStatus)},
				amf.Prop{Key: "duration", Value: amf.Number(float64(e.Info.Duration) / 1000)},
				amf.Prop{Key: "bytes", Value: amf.Number(float64(e.Info.Bytes))},
			)}})
		case playback.EventStop:
			p.onStatus(w, b, status.PlayStop, "Stopped playing "+name+".", name)
		case playback.EventNotFound:
			p.onStatus(w, b, status.PlayStreamNotFound, "Failed to play "+name+"; stream not found.", name)
		case playback.EventPause:
			p.onStatus(w, b, status.PauseNotify, "Pausing "+name+".", name)
		case playback.EventUnpause:
			p.onStatus(w, b, status.UnpauseNotify, "Unpausing "+name+".", name)
		case playback.EventSeek:
			p.onStatus(w, b, status.SeekNotify,
				"Seeking "+strconv.FormatUint(uint64(e.Info.Pos), 10)+" (stream ID: "+strconv.FormatUint(uint64(p.sid), 10)+").", name)
		case playback.EventSeekFailed:
			p.onStatus(w, b, status.SeekFailed, "Seeking failed.", name)
		case playback.EventPublishNotify:
			p.onStatus(w, b, status.PlayPublishNotify, name+" is now published.", name)
		case playback.EventUnpublishNotify:
			p.onStatus(w, b, status.PlayUnpublishNotify, name+" is now unpublished.", name)
		}
	}
	return nil
}

// userControl, data: small messages far below the length limit; were one
// not, it is dropped like one that fails to encode.
func (p *player) userControl(w *chunk.Writer, b *chunk.Batch, ev message.Event) {
	_ = w.Append(b, chunk.Header{CSID: message.CSIDControl, Type: message.TypeUserControl},
		message.UserControl{Event: ev, Value: p.sid}.Append(nil))
}

func (p *player) data(w *chunk.Writer, b *chunk.Batch, ts uint32, d *message.Data) {
	enc := getEncoder()
	payload, err := d.Append(nil, enc)
	putEncoder(enc)
	if err == nil {
		_ = w.Append(b, chunk.Header{CSID: message.CSIDData, Type: message.TypeData, Timestamp: ts, StreamID: p.sid}, payload)
	}
}
