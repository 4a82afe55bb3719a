package ssas

import (
	"math"
	"time"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/status"
)

// Server-side playlists (docs/ssas.md#stream, Stream.play) are the engine's player
// (media/playback, docs/playback.md) in Live mode: it plays the items, live
// streams and recorded files, and a goroutine per playing Stream object
// writes its packets into the script's publication of the stream, so
// subscribers and a recording see one stream with continuous timestamps.
// Its status events reach the Stream object's onStatus on the loop:
// Play.Reset before play() returns, Play.Start per item, Play.Switch
// between items, Play.StreamNotFound for an item that cannot play (the
// next one follows), Play.Stop once the playlist has ended; the script's
// publication then ends (subscribers get UnpublishNotify).

// Pacing of recorded items: messages go out at most this much ahead of
// real time (the script's stream is live for its subscribers).
const (
	playlistBuffer = 100 // ms
	playlistLead   = time.Millisecond
)

type playlist struct {
	s    *streamObj
	p    *playback.Player
	stop chan struct{}
	done chan struct{}
}

// playItem converts Stream.play's arguments, in seconds, to an item.
// start: undefined or null is -2; -1 is live only; other negatives are -2.
// len: undefined or null is -1 (all); 0 one frame.
func playItem(name string, start, length goja.Value) playback.Item {
	it := playback.Item{Name: name, Start: playback.StartAny, Len: -1}
	if v, ok := seconds(start); ok {
		switch {
		case v == -1:
			it.Start = playback.StartLive
		case v >= 0:
			it.Start = int64(min(v*1000, math.MaxUint32))
		}
	}
	if v, ok := seconds(length); ok && v >= 0 {
		// Round up: a positive length never becomes a single frame.
		it.Len = int64(math.Ceil(min(v*1000, math.MaxUint32)))
	}
	return it
}

func seconds(v goja.Value) (float64, bool) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return 0, false
	}
	f := v.ToFloat()
	return f, !math.IsNaN(f)
}

// startPlaylist starts playing it on the stream (already published by the
// script). The opening statuses (Play.Reset, or StreamNotFound) are
// reported before it returns. Loop goroutine.
func (s *streamObj) startPlaylist(it playback.Item, reset bool) {
	r := s.r
	p := r.in.NewPlayer(playback.Options{
		Live:   true,
		Self:   s.name,
		After:  s.last.Load(),
		Buffer: playlistBuffer,
		Lead:   playlistLead,
		Log:    r.log.With("stream", s.name),
	}, it, reset)
	pl := &playlist{s: s, p: p, stop: make(chan struct{}), done: make(chan struct{})}
	s.pl = pl
	for _, e := range p.Drain(nil) {
		pl.status(s, e)
	}
	p.Start()
	r.bg.Go(pl.run)
}

// stopPlaylist stops the running playlist and waits for it. Loop
// goroutine.
func (s *streamObj) stopPlaylist() {
	pl := s.pl
	if pl == nil {
		return
	}
	s.pl = nil
	close(pl.stop)
	<-pl.done
	pl.p.Close()
}

// run writes the player's packets into the stream and posts its statuses
// to the loop, until the player ends or is stopped.
func (pl *playlist) run() {
	defer close(pl.done)
	r := pl.s.r
	var evs []playback.Event
	for {
		ended := false
		select {
		case <-pl.stop:
			return
		case <-r.stopBG:
			return // cleanup stops the player
		case <-pl.p.Ready():
		case <-pl.p.Done():
			ended = true // its last events are queued
		}
		evs = pl.p.Drain(evs[:0])
		for _, e := range evs {
			if e.Kind == playback.EventPacket {
				pl.s.write(e.Packet, e.Time)
				continue
			}
			r.post(func() {
				if s := pl.s; s.pl == pl {
					pl.status(s, e)
				}
			})
		}
		clear(evs)
		if ended {
			return
		}
	}
}

// status reports one of the player's status events on the stream. Loop
// goroutine, while pl is the stream's playlist.
func (pl *playlist) status(s *streamObj, e playback.Event) {
	name := e.Info.Name
	switch e.Kind {
	case playback.EventReset:
		s.status(status.PlayReset, "Playing and resetting "+name+".", name)
	case playback.EventStart:
		s.status(status.PlayStart, "Started playing "+name+".", name)
	case playback.EventSwitch:
		s.status(status.PlaySwitch, "Switching to "+name+".", name)
	case playback.EventNotFound:
		s.status(status.PlayStreamNotFound, "Failed to play "+name+"; stream not found.", name)
	case playback.EventPublishNotify:
		s.status(status.PlayPublishNotify, name+" is now published.", name)
	case playback.EventUnpublishNotify:
		s.status(status.PlayUnpublishNotify, name+" is now unpublished.", name)
	case playback.EventStop:
		// The playlist has ended: so does the script's publication.
		s.pl = nil
		s.unpublish()
		s.status(status.PlayStop, "Stopped playing "+s.name+".")
	}
}
