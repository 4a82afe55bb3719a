package rtmp

import (
	"errors"
	"sync"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// netStream is the server side of one NetStream (a message stream id).
// Reader goroutine only.
type netStream struct {
	id        uint32
	name      string
	pub       *media.Publication
	play      *player
	paused    bool
	bufferLen uint32          // ms, from SetBufferLength
	rec       *media.Recorder // recording of pub (vod_record.go)
	// rtc ends the WebRTC peer that carries this stream's media instead
	// of RTMP messages (webrtc.go), nil when there is none.
	rtc func()
	// rtcControl pauses and seeks the recorded stream the peer plays
	// (webrtc.go), nil for a live one or a publish.
	rtcControl playback.Control
}

// stop ends publishing or playing on the stream. With notify the client is
// told (closeStream of a publisher answers Unpublish.Success).
func (ns *netStream) stop(c *conn, notify bool) {
	if ns.rtc != nil {
		ns.rtc()
		ns.rtc, ns.rtcControl = nil, nil
		ns.paused = false
		c.log.Info("webrtc stop", "stream", ns.name)
	}
	if ns.pub != nil {
		ns.pub.Close()
		ns.pub = nil
		c.stopRecord(ns) // vod_record.go
		c.log.Info("publish stop", "stream", ns.name)
		if notify {
			c.sendStatus(ns.id, status.UnpublishSuccess,
				ns.name+" is now unpublished.", amf.Prop{Key: "details", Value: amf.String(ns.name)})
		}
	}
	if ns.play != nil {
		c.removePlayer(ns.play)
		ns.play = nil
		c.log.Info("play stop", "stream", ns.name)
	}
	ns.paused = false
}

// player delivers one subscription to the connection's writer.
// Writer goroutine only, except sub which is safe for concurrent use.
type player struct {
	sid  uint32
	name string
	sub  *media.Subscriber
	// skipNotify swallows the PublishNotify that opens the queue of a stream
	// that was already live when play began: the client got Play.Start.
	skipNotify bool
	clientID   float64
	// dropped is the subscriber's drop count already reported; warnedAt
	// is when NetStream.Play.InsufficientBW was last sent (docs/rtmp.md#play).
	dropped  uint64
	warnedAt time.Time
	// pb, when set, plays recorded streams and playlists instead of sub
	// (the engine's player, vod.go); sub is nil then. pevs is its drain
	// buffer.
	pb   *playback.Player
	pevs []playback.Event
	// release gives back the converted copy sub plays (Server.Convert),
	// nil when it plays the stream itself.
	release func()

	// convert, set for a live play that started on the stream itself by
	// a client that may need its converted copy, asks for the copy
	// (conn.copyFor). A play that began before the stream was published
	// could not be told its codecs: the writer asks at the first audio
	// and the first video packet of each publication, and moves the play
	// to the copy when there is one for it
	// (docs/webrtc.md#flash-era-streams-in-pages). Writer goroutine.
	convert          func() (*media.Subscriber, func(), bool)
	askedA, askedV   bool
	noAudio, noVideo bool // receiveAudio(false), receiveVideo(false); guarded by mu
	mu               sync.Mutex
	removed          bool // guarded by mu: removePlayer ran
}

// insufficientBWEvery bounds how often a player that keeps dropping video
// is told so: one warning per burst, not one per dropped frame.
const insufficientBWEvery = 5 * time.Second

// csid picks a chunk stream per kind, as FMS and ffmpeg do (docs/rtmp.md#basic-header).
func csidFor(k media.Kind) uint32 {
	switch k {
	case media.Audio:
		return message.CSIDAudio
	case media.Video:
		return message.CSIDVideo
	}
	return message.CSIDData
}

// write drains the subscriber into the batch: chunk headers only, the
// payloads are the publisher's shared bytes. It returns the subscriber's
// error once it has been cut off.
func (p *player) write(w *chunk.Writer, b *chunk.Batch, evs []media.Event) ([]media.Event, error) {
	if p.pb != nil {
		return evs, p.writePlayback(w, b)
	}
	evs = p.sub.Drain(evs)
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case media.EventPacket:
			pk := e.Packet
			if p.convert != nil && p.askCopy(pk.Kind) && p.toCopy() {
				// What the stream itself had queued is not for this
				// client; the copy's subscription starts with its cache.
				return evs[:i], nil
			}
			if err := w.Append(b, chunk.Header{CSID: csidFor(pk.Kind), Timestamp: pk.Time, Type: uint8(pk.Kind), StreamID: p.sid}, pk.Payload); err != nil {
				return evs, withReason(ReasonLimit, err)
			}
		case media.EventPublishNotify:
			if p.skipNotify {
				p.skipNotify = false
				continue
			}
			p.status(w, b, status.PlayPublishNotify, p.name+" is now published.")
		case media.EventUnpublishNotify:
			p.skipNotify = false
			// The next publication may carry other codecs.
			p.askedA, p.askedV = false, false
			p.status(w, b, status.PlayUnpublishNotify, p.name+" is now unpublished.")
		}
	}
	if st := p.sub.Stats(); st.Dropped > p.dropped {
		p.dropped = st.Dropped
		if now := time.Now(); now.Sub(p.warnedAt) >= insufficientBWEvery {
			p.warnedAt = now
			p.status(w, b, status.PlayInsufficientBW,
				"Insufficient bandwidth to play "+p.name+": video is being dropped.")
		}
	}
	// Only a cut-off ends the connection. A subscription ended by its
	// registry (the instance unloads) is not the client's fault: the
	// instance closes its clients itself, after AppShutdown, which must
	// still be flushed.
	if err := p.sub.Err(); errors.Is(err, media.ErrSlowConsumer) {
		return evs, withReason(ReasonSlowConsumer, err)
	}
	return evs, nil
}

// askCopy reports whether the copy is to be asked for at a packet of
// kind k: once per kind and publication.
func (p *player) askCopy(k media.Kind) bool {
	switch {
	case k == media.Audio && !p.askedA:
		p.askedA = true
	case k == media.Video && !p.askedV:
		p.askedV = true
	default:
		return false
	}
	return true
}

// toCopy moves the play to the stream's converted copy when there is one
// for this client, and reports whether it did.
func (p *player) toCopy() bool {
	sub, release, ok := p.convert()
	if !ok {
		return false
	}
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		sub.Close()
		release()
		return true
	}
	old := p.sub
	p.sub, p.release, p.convert = sub, release, nil
	sub.SetReceiveAudio(!p.noAudio)
	sub.SetReceiveVideo(!p.noVideo)
	p.mu.Unlock()
	old.Close()
	// The copy is live from its start: its PublishNotify is not news to
	// a client that heard the stream's.
	p.skipNotify = sub.Live()
	return true
}

// receive applies receiveAudio or receiveVideo to the play's
// subscription, whichever it is now. Reader goroutine.
func (p *player) receive(audio, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if audio {
		p.noAudio = !on
		p.sub.SetReceiveAudio(on)
	} else {
		p.noVideo = !on
		p.sub.SetReceiveVideo(on)
	}
}

// status writes an onStatus for this stream straight into the batch, so it
// keeps its place among the media messages.
func (p *player) status(w *chunk.Writer, b *chunk.Batch, code, desc string) {
	p.onStatus(w, b, code, desc, p.name)
}

// onStatus writes an onStatus whose details name a stream (a playlist's
// item rather than the stream the client played first).
func (p *player) onStatus(w *chunk.Writer, b *chunk.Batch, code, desc, details string) {
	cmd := message.Command{Name: "onStatus", Object: amf.Null(), Args: []amf.Value{
		status.Info(code, desc,
			amf.Prop{Key: "details", Value: amf.String(details)},
			amf.Prop{Key: "clientid", Value: amf.Number(p.clientID)}),
	}}
	enc := getEncoder()
	payload, err := cmd.Append(nil, enc)
	putEncoder(enc)
	if err != nil {
		return
	}
	// A status is far below the length limit; were it not, the command is
	// dropped like one that fails to encode.
	_ = w.Append(b, chunk.Header{CSID: message.CSIDCommand, Type: message.TypeCommand, StreamID: p.sid}, payload)
}
