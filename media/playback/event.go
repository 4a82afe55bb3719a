package playback

import (
	"strconv"

	"github.com/openfcs/openfcs/media"
)

// EventKind says what an [Event] carries. The status kinds name the
// NetStream codes an adapter reports (docs/playback.md#events).
type EventKind uint8

// Event kinds.
const (
	// EventPacket: Packet is to be sent at Time.
	EventPacket EventKind = iota
	// EventBegin: the stream (re)starts (StreamBegin); Info.Recorded when
	// the source is a file (StreamIsRecorded before it).
	EventBegin
	// EventEOF: the stream stops: at the end, on pause, before a seek's
	// data (StreamEOF).
	EventEOF
	// EventReset: the playlist was replaced (NetStream.Play.Reset).
	EventReset
	// EventStart: Info.Name starts playing (NetStream.Play.Start);
	// Info.First when it opens a play rather than following a switch or a
	// seek.
	EventStart
	// EventSwitch: the playlist moves on to Info.Name
	// (NetStream.Play.Switch, an onPlayStatus at Time).
	EventSwitch
	// EventComplete: the playlist has been played out
	// (NetStream.Play.Complete, an onPlayStatus at Time, with
	// Info.Duration and Info.Bytes).
	EventComplete
	// EventStop: playing Info.Name stopped (NetStream.Play.Stop).
	EventStop
	// EventNotFound: Info.Name can be played neither from a file nor live
	// (NetStream.Play.StreamNotFound); the next item follows.
	EventNotFound
	// EventPause: NetStream.Pause.Notify.
	EventPause
	// EventUnpause: NetStream.Unpause.Notify.
	EventUnpause
	// EventSeek: NetStream.Seek.Notify to Info.Pos.
	EventSeek
	// EventSeekFailed: NetStream.Seek.Failed (a live item, or a file that
	// cannot be reopened).
	EventSeekFailed
	// EventPublishNotify: the live item's publisher started
	// (NetStream.Play.PublishNotify).
	EventPublishNotify
	// EventUnpublishNotify: the live item's publisher left
	// (NetStream.Play.UnpublishNotify).
	EventUnpublishNotify
)

var eventNames = [...]string{
	EventPacket: "packet", EventBegin: "begin", EventEOF: "eof", EventReset: "reset", EventStart: "start",
	EventSwitch: "switch", EventComplete: "complete", EventStop: "stop", EventNotFound: "not_found",
	EventPause: "pause", EventUnpause: "unpause", EventSeek: "seek", EventSeekFailed: "seek_failed",
	EventPublishNotify: "publish_notify", EventUnpublishNotify: "unpublish_notify",
}

// String names the kind for logs and tests.
func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is one entry of a player's queue.
type Event struct {
	Kind EventKind
	// Time is the output timestamp (ms) of a packet, and the time an
	// onPlayStatus (Switch, Complete) travels at.
	Time uint32
	// Packet is set for EventPacket. It may be shared (a live source's
	// subscribers, a file cache): never modify it; its Time is the
	// source's, Event.Time the output's.
	Packet *media.Packet
	// Info is set for every other kind.
	Info *Info
}

// Info are the details of a status event.
type Info struct {
	Name     string // the item (the status' details)
	Recorded bool   // EventBegin: the source is a file
	First    bool   // EventStart: a play opens (not a switch, seek or unpause)
	Pos      uint32 // EventSeek: the position asked for, ms
	Duration uint32 // EventComplete: the last item's duration, ms
	Bytes    int64  // EventComplete: payload bytes sent
}
