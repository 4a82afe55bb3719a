package ssas

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/status"
)

// Server-side Stream objects (docs/ssas.md#stream): Stream.get(name) names a live
// stream of the instance. play() makes the server its publisher, fed by a
// playlist goroutine from live streams (republishing) and recorded files
// (server-side playlists, playlist.go); record() writes whatever flows
// through the stream, a client's publish or the script's playlist, with the
// recorder of the RTMP publish path (record.go); send() injects data
// messages into the stream, whoever publishes it.

type streamObj struct {
	r    *Runtime
	name string
	obj  *goja.Object

	wmu  sync.Mutex // orders the playlist's and send's writes to pub
	pub  *media.Publication
	last atomic.Uint32 // timestamp of the last media message of the stream

	// loop only
	query     string          // publishQueryString: the query of the last client publish
	ptype     string          // type: how the stream was last published (live, record, append)
	destroyed bool            // Stream.destroy ran: the object is inert
	pl        *playlist       // the running playlist, nil when none
	rec       *media.Recorder // the script's recording of the stream
	recArm    string          // record mode asked for while nothing published the stream
	tap       *tap            // follows a client's publication (send)
}

func (r *Runtime) setupStream() {
	vm := r.vm
	ctor := vm.NewObject()
	proto := vm.NewObject()
	_ = ctor.Set("prototype", proto)
	_ = ctor.Set("get", func(name string) goja.Value {
		if s := r.stream(name); s != nil {
			return s.obj
		}
		return goja.Null()
	})
	_ = ctor.Set("length", func(name string) float64 { return r.streamLength(name) })
	_ = ctor.Set("destroy", func(v goja.Value) bool { return r.destroyStream(v) })
	m := func(name string, f func(s *streamObj, call goja.FunctionCall) goja.Value) {
		_ = proto.DefineDataProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			s := r.streamOf(call.This)
			if s == nil {
				r.throw("Stream.%s called on a non-Stream", name)
			}
			if s.destroyed {
				return vm.ToValue(false) // Stream.get(name) makes a new one
			}
			return f(s, call)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	acc := func(name string, f func(s *streamObj) any) {
		_ = proto.DefineAccessorProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			s := r.streamOf(call.This)
			if s == nil {
				return goja.Undefined()
			}
			return vm.ToValue(f(s))
		}), nil, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	acc("publishQueryString", func(s *streamObj) any { return s.query })
	acc("type", func(s *streamObj) any { return s.ptype })
	acc("time", func(s *streamObj) any { return s.time() })
	m("play", func(s *streamObj, call goja.FunctionCall) goja.Value {
		return vm.ToValue(s.play(call))
	})
	m("send", func(s *streamObj, call goja.FunctionCall) goja.Value {
		return vm.ToValue(s.send(call.Argument(0).String(), r.toAMFList(call.Arguments[min(1, len(call.Arguments)):])))
	})
	m("record", func(s *streamObj, call goja.FunctionCall) goja.Value {
		return vm.ToValue(s.record(call.Argument(0)))
	})
	m("clear", func(s *streamObj, _ goja.FunctionCall) goja.Value {
		return vm.ToValue(s.clear())
	})
	m("setBufferTime", func(s *streamObj, call goja.FunctionCall) goja.Value {
		_ = s.obj.DefineDataProperty("bufferTime", vm.ToValue(call.Argument(0).ToFloat()), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		return goja.Undefined()
	})
	m("flush", func(*streamObj, goja.FunctionCall) goja.Value { return vm.ToValue(true) })
	m("getOnMetaData", func(*streamObj, goja.FunctionCall) goja.Value { return goja.Undefined() })
	_ = vm.Set("Stream", ctor)
	r.streamProto = proto
}

// stream returns the Stream object of name, or nil for a bad name.
func (r *Runtime) stream(name string) *streamObj {
	if s := r.streams[name]; s != nil {
		return s
	}
	if _, _, err := instance.StreamName(name); err != nil {
		return nil
	}
	o := r.vm.NewObject()
	_ = o.SetPrototype(r.streamProto)
	s := &streamObj{r: r, name: name, obj: o, ptype: "live"}
	_ = o.DefineDataProperty("\x00stream", r.vm.ToValue(s), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = o.DefineDataProperty("name", r.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.DefineDataProperty("bufferTime", r.vm.ToValue(0), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	r.streams[name] = s
	return s
}

// streamOf returns the stream behind a Stream object, or nil.
func (r *Runtime) streamOf(v goja.Value) *streamObj {
	o, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	v = o.Get("\x00stream")
	if v == nil {
		return nil
	}
	s, _ := v.Export().(*streamObj)
	return s
}

// destroyStream implements Stream.destroy(stream): what the script runs on
// the stream ends (playlist, recording, its publication, whose players get
// UnpublishNotify) and the object is dropped; Stream.get(name) returns a
// new one. A client publishing the same name is not affected.
func (r *Runtime) destroyStream(v goja.Value) bool {
	s := r.streamOf(v)
	if s == nil || s.destroyed || r.streams[s.name] != s {
		return false
	}
	s.stop()
	s.recArm = ""
	s.destroyed = true
	delete(r.streams, s.name)
	return true
}

// setPublished records a client's publish request (onPublish).
func (s *streamObj) setPublished(query, typ string) {
	s.query, s.ptype = query, typ
}

// time implements stream.time: the time of the stream's latest audio or
// video message, in seconds (whoever publishes it), 0 when nothing flows.
func (s *streamObj) time() float64 {
	s.wmu.Lock()
	own := s.pub != nil
	s.wmu.Unlock()
	if own {
		return float64(s.last.Load()) / 1000
	}
	if pub := s.r.in.Publication(s.name); pub != nil {
		return float64(pub.Stats().LastTime) / 1000
	}
	return 0
}

// streamFor is the Stream object passed to onPublish/onUnpublish.
func (r *Runtime) streamFor(name string) goja.Value {
	if s := r.stream(name); s != nil {
		return s.obj
	}
	return goja.Null()
}

// status delivers an onStatus to the stream, or to application.onStatus
// when the stream has no handler (docs/ssas.md#stream). details defaults to the stream name.
func (s *streamObj) status(code, desc string, details ...string) {
	r := s.r
	d := s.name
	if len(details) > 0 {
		d = details[0]
	}
	info := r.infoObject(code, desc, "details", d)
	if _, ran, _ := r.callHandler("onStatus", s.obj, info); !ran {
		r.status(info)
	}
}

// play implements Stream.play(name, start, len, reset, remoteConnection)
// (docs/ssas.md#stream): start -2 (default) live, else recorded, else wait for live; -1
// live only; >= 0 the recorded file from that second. len -1 all, 0 one
// frame, > 0 seconds. reset true/1/3 (default) replaces the playlist,
// false/0/2 appends to it. play(false) stops.
func (s *streamObj) play(call goja.FunctionCall) bool {
	src := call.Argument(0)
	if isBool(src, false) {
		s.stopPlaylist()
		s.unpublish()
		s.status(status.PlayStop, "Stopped playing "+s.name+".")
		return true
	}
	if nc := s.r.netConnOf(call.Argument(4)); nc != nil {
		s.status(status.PlayFailed, "Pulling a stream through a NetConnection is not supported.")
		return false
	}
	name, _, err := instance.StreamName(src.String())
	it := playItem(name, call.Argument(1), call.Argument(2))
	if err == nil && it.Start >= 0 {
		_, _, err = instance.ParseStreamFile(name, false)
	}
	if err != nil || (name == s.name && it.Start == playback.StartLive) {
		s.status(status.PlayStreamNotFound, "Bad source "+src.String()+".", src.String())
		return false
	}
	reset := true
	if a := call.Argument(3); !goja.IsUndefined(a) {
		switch x := a.Export().(type) {
		case bool:
			reset = x
		case int64:
			reset = x == 1 || x == 3
		case float64:
			reset = x == 1 || x == 3
		}
	}
	if !reset && s.pl != nil {
		err := s.pl.p.Append(it)
		if err == nil {
			return true // queued behind the running items
		}
		if errors.Is(err, playback.ErrPlaylistFull) {
			s.status(status.PlayFailed, "The playlist of "+s.name+" is full.", name)
			return false
		}
		// The playlist has ended: a new one starts.
	}
	if err := s.publish(); err != nil {
		s.status(status.PublishBadName, s.name+" is already being published.")
		return false
	}
	s.stopPlaylist()
	s.startPlaylist(it, reset)
	return true
}

// publish makes the server the publisher of the stream. A recording asked
// for while nothing published the stream starts now.
func (s *streamObj) publish() error {
	s.wmu.Lock()
	if s.pub != nil {
		s.wmu.Unlock()
		return nil
	}
	p, err := s.r.in.Streams().Publish(s.name)
	if err != nil {
		s.wmu.Unlock()
		return err
	}
	s.pub = p
	s.wmu.Unlock()
	s.ptype, s.query = "live", "" // the script publishes it now
	s.last.Store(0)
	if s.recArm != "" && s.rec == nil {
		mode := s.recArm
		s.recArm = ""
		s.startRecord(p, mode)
	}
	return nil
}

func (s *streamObj) unpublish() {
	s.wmu.Lock()
	if s.pub != nil {
		s.pub.Close()
		s.pub = nil
	}
	s.wmu.Unlock()
}

// write republishes one message at output time ts. The source's packet may
// be shared (another subscriber, a file cache), so a shallow copy (payload
// shared) is written.
func (s *streamObj) write(pk *media.Packet, ts uint32) {
	cp := &media.Packet{Kind: pk.Kind, Time: ts, Payload: pk.Payload}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.pub == nil {
		return
	}
	if pk.Kind == media.Data && isMetaData(pk.Payload) {
		s.pub.SetMetadata(cp)
		return
	}
	if pk.Kind == media.Audio || pk.Kind == media.Video {
		s.last.Store(ts)
	}
	s.pub.Write(cp)
}

// isMetaData reports whether an AMF0 data body starts with "onMetaData".
func isMetaData(p []byte) bool {
	const h = "\x02\x00\x0aonMetaData"
	return len(p) >= len(h) && string(p[:len(h)]) == h
}

// send writes a data message handler(args...) to the stream's subscribers
// (and its recording). A stream published by a client gets the message in
// its publication (the client keeps ownership); otherwise the script
// publishes the stream if nobody does. "@setDataFrame" and
// "@clearDataFrame" set and clear the stream's metadata (docs/rtmp.md#data-messages).
func (s *streamObj) send(handler string, args []amf.Value) bool {
	var b []byte
	var err error
	if handler != "@setDataFrame" {
		b, err = amf.AppendAMF0(nil, amf.String(handler))
	}
	if err == nil {
		b, err = amf.AppendAMF0Values(b, args...)
	}
	if err != nil {
		return false
	}
	s.wmu.Lock()
	own := s.pub != nil
	s.wmu.Unlock()
	if !own {
		if pub := s.r.in.Publication(s.name); pub != nil {
			if s.tap == nil {
				s.tap = s.startTap()
			}
			sendTo(pub, handler, b, s.last.Load())
			return true
		}
		if err := s.publish(); err != nil {
			return false
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.pub == nil {
		return false
	}
	sendTo(s.pub, handler, b, s.last.Load())
	return true
}

func sendTo(pub *media.Publication, handler string, body []byte, ts uint32) {
	switch handler {
	case "@setDataFrame":
		pub.SetMetadata(&media.Packet{Kind: media.Data, Time: ts, Payload: body})
	case "@clearDataFrame":
		pub.ClearMetadata()
	default:
		pub.Write(&media.Packet{Kind: media.Data, Time: ts, Payload: body})
	}
}

// tap follows a client's publication of the stream so that the data
// messages the script sends into it carry the stream's current time.
type tap struct {
	stop chan struct{}
	done chan struct{}
}

// startTap subscribes to the stream. The subscription's first burst
// (metadata, configurations, GOP cache) is read here, so the first send
// already has a recent time. Loop goroutine.
func (s *streamObj) startTap() *tap {
	r := s.r
	sub := r.in.Streams().Subscribe(s.name, media.SubscribeOptions{})
	evs := s.observe(sub.Drain(nil))
	t := &tap{stop: make(chan struct{}), done: make(chan struct{})}
	r.bg.Go(func() {
		defer close(t.done)
		defer sub.Close()
		for sub.Err() == nil {
			select {
			case <-t.stop:
				return
			case <-r.stopBG:
				return
			case <-sub.Ready():
			}
			evs = s.observe(sub.Drain(evs[:0]))
		}
	})
	return t
}

// observe notes the time of the latest media message in evs and releases
// them; it returns evs emptied.
func (s *streamObj) observe(evs []media.Event) []media.Event {
	for i := range evs {
		if pk := evs[i].Packet; pk != nil && (pk.Kind == media.Audio || pk.Kind == media.Video) {
			s.last.Store(pk.Time)
		}
	}
	clear(evs)
	return evs[:0]
}

// published runs when a client's publication of the stream exists: a
// recording the script asked for (typically in onPublish) starts.
func (s *streamObj) published() {
	if s.recArm == "" || s.rec != nil {
		return
	}
	if pub := s.r.in.Publication(s.name); pub != nil {
		mode := s.recArm
		s.recArm = ""
		s.startRecord(pub, mode)
	}
}

// stop ends the stream's playlist, recording, tap and publication
// (runtime cleanup). Loop goroutine.
func (s *streamObj) stop() {
	s.stopPlaylist()
	s.stopRecord()
	if s.tap != nil {
		close(s.tap.stop)
		<-s.tap.done
		s.tap = nil
	}
	s.unpublish()
}
