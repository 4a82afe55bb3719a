package ssas

import (
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
)

// Server-side playlists (ssas.md §5, Stream.play): one goroutine per
// playing Stream object plays its items in turn into the script's
// publication of the stream: live streams (republishing) and recorded
// files, paced at real time. Timestamps continue across items, so
// subscribers and a recording see one stream. Status events are posted to
// the loop and delivered to the Stream object's onStatus: Play.Start per
// item, Play.Switch between items, Play.StreamNotFound for a missing file
// (the next item follows), Play.Stop when the last item has ended; the
// script's publication then ends (subscribers get UnpublishNotify).

// playItem is one entry of a playlist, times in seconds as the script
// gave them.
type playItem struct {
	name   string  // source stream name (prefixes kept, query removed)
	start  float64 // -2 live, else recorded, else wait; -1 live only; >= 0 recorded from there
	length float64 // < 0 all, 0 one frame, > 0 seconds
}

// Pacing of recorded items: messages go out at most this much ahead of
// real time (the script's stream is live for its subscribers).
const (
	playlistBuffer = 100  // ms, media.Pacer.SetBuffer
	playlistLead   = 1e-3 // s
)

// Timestamp discontinuities tolerated in a live source before the output
// is rebased (as flv.md §7.2 for recordings).
const (
	liveMaxBackward = 1000
	liveMaxForward  = 10000
)

type playlist struct {
	s *streamObj

	mu       sync.Mutex
	items    []playItem
	finished bool // the goroutine took its last item; add fails

	stop chan struct{}
	done chan struct{}

	// playlist goroutine only
	wrote bool  // something was written: the next item continues after last
	last  int64 // last output timestamp
}

// startPlaylist starts playing it on the stream (already published by the
// script). Loop goroutine.
func (s *streamObj) startPlaylist(it playItem) {
	r := s.r
	pl := &playlist{s: s, items: []playItem{it}, stop: make(chan struct{}), done: make(chan struct{})}
	if v := s.last.Load(); v > 0 {
		pl.wrote, pl.last = true, int64(v)
	}
	s.pl = pl
	r.bg.Go(pl.run)
}

// stopPlaylist stops the running playlist and waits for its goroutine.
// Loop goroutine.
func (s *streamObj) stopPlaylist() {
	if s.pl == nil {
		return
	}
	close(s.pl.stop)
	<-s.pl.done
	s.pl = nil
}

// add queues it behind the running items; false when the playlist has
// already ended.
func (pl *playlist) add(it playItem) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.finished {
		return false
	}
	pl.items = append(pl.items, it)
	return true
}

func (pl *playlist) next() (playItem, bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if len(pl.items) == 0 {
		pl.finished = true
		return playItem{}, false
	}
	it := pl.items[0]
	pl.items = pl.items[1:]
	return it, true
}

// post runs f on the loop if this playlist is still the stream's.
func (pl *playlist) post(f func(s *streamObj)) {
	s := pl.s
	s.r.post(func() {
		if s.pl == pl {
			f(s)
		}
	})
}

func (pl *playlist) status(level, code, desc, details string) {
	pl.post(func(s *streamObj) { s.status(level, code, desc, details) })
}

func (pl *playlist) stopped() bool {
	select {
	case <-pl.stop:
		return true
	case <-pl.s.r.stopBG:
		return true
	default:
		return false
	}
}

func (pl *playlist) run() {
	defer close(pl.done)
	first := true
	for {
		it, ok := pl.next()
		if !ok {
			break
		}
		live, sf, ok := pl.resolve(it)
		if !ok {
			pl.status("error", "NetStream.Play.StreamNotFound", "Failed to play "+it.name+"; stream not found.", it.name)
			continue
		}
		if !first {
			pl.status("status", "NetStream.Play.Switch", "Switching to "+it.name+".", it.name)
		}
		first = false
		pl.status("status", "NetStream.Play.Start", "Started playing "+it.name+".", it.name)
		var cont bool
		if live {
			cont = pl.playLive(it)
		} else {
			cont = pl.playFile(it, sf)
		}
		if !cont {
			return
		}
	}
	if pl.stopped() {
		return
	}
	pl.post(func(s *streamObj) {
		s.pl = nil
		s.unpublish()
		s.status("status", "NetStream.Play.Stop", "Stopped playing "+s.name+".")
	})
}

// resolve decides whether it plays live or from a file; ok is false for a
// recorded item whose file is missing.
func (pl *playlist) resolve(it playItem) (live bool, sf instance.StreamFile, ok bool) {
	r := pl.s.r
	if it.start == -1 {
		return true, sf, true
	}
	ctr, _, perr := instance.ParseStreamFile(it.name, false)
	prefixed := perr == nil && (ctr != instance.ContainerFLV || strings.HasPrefix(it.name, "flv:"))
	if it.start < 0 && !prefixed && it.name != pl.s.name && r.in.Streams().Published(it.name) {
		return true, sf, true
	}
	sf, err := r.in.ResolveStream(r.appConfig(), it.name, false)
	switch {
	case err == nil:
		return false, sf, true
	case it.start < 0 && !prefixed && it.name != pl.s.name && errors.Is(err, instance.ErrStreamNotFound):
		return true, sf, true // neither live nor recorded: wait for a publisher
	}
	r.log.Info("playlist item not found", "stream", pl.s.name, "source", it.name, "err", err)
	return false, sf, false
}

// base is the output time the next item starts at.
func (pl *playlist) base() int64 {
	if !pl.wrote {
		return 0
	}
	return pl.last + 1
}

func (pl *playlist) put(pk *media.Packet, out int64) {
	out = max(out, 0)
	pl.s.write(pk, uint32(out))
	if pk.Kind == media.Audio || pk.Kind == media.Video {
		pl.wrote = true
		pl.last = max(pl.last, out)
	}
}

// wait sleeps d unless the playlist stops; it reports false then.
func (pl *playlist) wait(t *time.Timer, d time.Duration) bool {
	if d <= 0 {
		return !pl.stopped()
	}
	t.Reset(d)
	select {
	case <-pl.stop:
		t.Stop()
		return false
	case <-pl.s.r.stopBG:
		t.Stop()
		return false
	case <-t.C:
		return true
	}
}

// playFile plays a recorded item at real time. It returns false when the
// playlist was stopped.
func (pl *playlist) playFile(it playItem, sf instance.StreamFile) bool {
	r := pl.s.r
	v, err := media.OpenVOD(r.in.Streams().Files(), sf.Path, vodFormat(sf.Container), media.VODLimits{})
	if err != nil {
		pl.status("error", "NetStream.Play.StreamNotFound", "Failed to play "+it.name+"; stream not found.", it.name)
		return !pl.stopped()
	}
	defer v.Close()
	startMS := uint32(0)
	if it.start > 0 {
		startMS = uint32(min(it.start*1000, float64(^uint32(0))))
	}
	at, configs, err := v.Seek(startMS)
	if err != nil {
		r.log.Warn("playlist seek failed", "file", sf.Rel, "err", err)
	}
	offset := pl.base() - int64(at)
	endAt := int64(-1)
	if it.length > 0 {
		endAt = int64(at) + int64(it.length*1000)
	}
	var pc media.Pacer
	pc.SetBuffer(playlistBuffer)
	pc.SetLead(time.Duration(playlistLead * float64(time.Second)))
	t := time.NewTimer(time.Hour)
	t.Stop()
	if md := v.Metadata(); md != nil {
		pl.put(&media.Packet{Kind: media.Data, Payload: liveMetadata(md.Payload)}, int64(at)+offset)
	}
	for _, pk := range configs {
		pl.put(pk, int64(at)+offset)
	}
	for {
		if pl.stopped() {
			return false
		}
		pk, err := v.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.log.Warn("recorded stream damaged; playlist item ends there", "file", sf.Rel, "err", err)
			}
			break
		}
		if endAt >= 0 && int64(pk.Time) > endAt {
			break
		}
		out := max(int64(pk.Time)+offset, 0)
		if !pl.wait(t, pc.Wait(uint32(out), time.Now())) {
			return false
		}
		pl.put(pk, out)
		if it.length == 0 && (pk.Kind == media.Video && pk.Keyframe || pk.Kind == media.Audio && !pk.Config) {
			break // one frame
		}
	}
	// Let subscribers play what they were sent ahead before the next item
	// (or the end of the stream).
	return pl.wait(t, pc.PlayedOut(time.Now()))
}

// playLive copies a live stream: until length seconds have passed, or for
// ever. It returns false when the playlist was stopped.
func (pl *playlist) playLive(it playItem) bool {
	r := pl.s.r
	sub := r.in.Streams().Subscribe(it.name, media.SubscribeOptions{})
	defer sub.Close()
	var deadline <-chan time.Time
	if it.length > 0 {
		t := time.NewTimer(time.Duration(it.length * float64(time.Second)))
		defer t.Stop()
		deadline = t.C
	}
	var (
		evs      []media.Event
		offset   int64
		anchored bool
	)
	for {
		select {
		case <-pl.stop:
			return false
		case <-r.stopBG:
			return false
		case <-deadline:
			return true
		case <-sub.Ready():
		}
		evs = sub.Drain(evs[:0])
		for i := range evs {
			switch e := &evs[i]; e.Type {
			case media.EventPacket:
				pk := e.Packet
				if pk.Kind != media.Audio && pk.Kind != media.Video {
					pl.put(pk, pl.last)
					continue
				}
				out := int64(pk.Time) + offset
				if d := out - pl.last; !anchored || d < -liveMaxBackward || d > liveMaxForward {
					// First message, or the source restarted its clock:
					// continue right after what was written.
					offset = pl.base() - int64(pk.Time)
					out, anchored = pl.base(), true
				}
				pl.put(pk, out)
			case media.EventPublishNotify:
				pl.status("status", "NetStream.Play.PublishNotify", it.name+" is now published.", it.name)
			case media.EventUnpublishNotify:
				pl.status("status", "NetStream.Play.UnpublishNotify", it.name+" is now unpublished.", it.name)
			}
		}
		clear(evs)
		if sub.Err() != nil {
			return !pl.stopped()
		}
	}
}

// vodFormat maps a stream file's container to the reader's format.
func vodFormat(c instance.Container) media.VODFormat {
	switch c {
	case instance.ContainerMP3:
		return media.VODMP3
	case instance.ContainerID3:
		return media.VODID3
	}
	return media.VODFLV
}

// appConfig loads the application's configuration, falling back to the
// defaults (and a warning) when the file is broken. Any goroutine.
func (r *Runtime) appConfig() instance.AppConfig {
	cfg, err := r.in.AppConfig()
	if err != nil {
		r.log.Warn("application config", "err", err)
		return instance.AppConfig{}.WithDefaults()
	}
	return cfg
}

// fileOnlyMeta are the onMetaData properties that describe a file and are
// wrong for the live stream a playlist feeds: a player would take the
// item's duration for the stream's.
var fileOnlyMeta = map[string]bool{
	"duration": true, "filesize": true, "keyframes": true, "lasttimestamp": true,
	"lastkeyframetimestamp": true, "lastkeyframelocation": true, "canSeekToEnd": true,
}

// liveMetadata returns a recorded item's onMetaData without its file-only
// properties; undecodable metadata is passed on unchanged.
func liveMetadata(p []byte) []byte {
	md, err := flv.ParseMetadata(p, amf.Limits{})
	if err != nil {
		return p
	}
	props := make([]amf.Prop, 0, len(md.Props))
	for _, pr := range md.Props {
		if !fileOnlyMeta[pr.Key] {
			props = append(props, pr)
		}
	}
	out, err := amf.AppendAMF0Values(nil, amf.String("onMetaData"), amf.ECMAArray(props...))
	if err != nil {
		return p
	}
	return out
}
