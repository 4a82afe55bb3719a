package ssas

import (
	"sync"
	"sync/atomic"

	"github.com/dop251/goja"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
)

// Server-side Stream objects (ssas.md §5): Stream.get(name) names a live
// stream of the instance; play() makes the server its publisher, fed from
// another live stream by a pump goroutine (republishing, live playlists);
// send() injects data messages. Recorded files are not handled here.

type streamObj struct {
	r    *Runtime
	name string
	obj  *goja.Object

	wmu  sync.Mutex // orders the pump's and send's writes to pub
	pub  *media.Publication
	last atomic.Uint32 // timestamp of the last packet written

	// loop only
	stopPump chan struct{}
	pumpDone chan struct{}
	sub      *media.Subscriber
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
	_ = ctor.Set("length", func(string) float64 { return 0 }) // recorded files: not here
	m := func(name string, f func(s *streamObj, call goja.FunctionCall) goja.Value) {
		_ = proto.DefineDataProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
			o, ok := call.This.(*goja.Object)
			if !ok {
				r.throw("Stream.%s called on a non-Stream", name)
			}
			s, ok := o.Get("\x00stream").Export().(*streamObj)
			if !ok {
				r.throw("Stream.%s called on a non-Stream", name)
			}
			return f(s, call)
		}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	}
	m("play", func(s *streamObj, call goja.FunctionCall) goja.Value {
		return vm.ToValue(s.play(call))
	})
	m("send", func(s *streamObj, call goja.FunctionCall) goja.Value {
		return vm.ToValue(s.send(call.Argument(0).String(), r.toAMFList(call.Arguments[min(1, len(call.Arguments)):])))
	})
	m("record", func(s *streamObj, call goja.FunctionCall) goja.Value {
		if a := call.Argument(0); isBool(a, false) {
			return vm.ToValue(true)
		}
		s.status("error", "NetStream.Record.Failed", "Recording from scripts is not supported by this server.")
		return vm.ToValue(false)
	})
	m("clear", func(s *streamObj, _ goja.FunctionCall) goja.Value {
		s.status("error", "NetStream.Clear.Failed", "No recorded file.")
		return vm.ToValue(false)
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
	s := &streamObj{r: r, name: name, obj: o}
	_ = o.DefineDataProperty("\x00stream", r.vm.ToValue(s), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = o.DefineDataProperty("name", r.vm.ToValue(name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.DefineDataProperty("bufferTime", r.vm.ToValue(0), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_TRUE)
	r.streams[name] = s
	return s
}

// streamFor is the Stream object passed to onPublish/onUnpublish.
func (r *Runtime) streamFor(name string) goja.Value {
	if s := r.stream(name); s != nil {
		return s.obj
	}
	return goja.Null()
}

// status delivers an onStatus to the stream, or to application.onStatus
// when the stream has no handler (§5).
func (s *streamObj) status(level, code, desc string) {
	r := s.r
	info := r.infoObject(level, code, desc, "details", s.name)
	if _, ran, _ := r.callHandler("onStatus", s.obj, info); !ran {
		r.status(info)
	}
}

// play implements Stream.play(name, start, len, reset, remoteConnection)
// for live sources; play(false) stops.
func (s *streamObj) play(call goja.FunctionCall) bool {
	src := call.Argument(0)
	if isBool(src, false) {
		s.stopPumpWait()
		s.unpublish()
		s.status("status", "NetStream.Play.Stop", "Stopped playing "+s.name+".")
		return true
	}
	if nc := s.r.netConnOf(call.Argument(4)); nc != nil {
		s.status("error", "NetStream.Play.Failed", "Pulling a stream through a NetConnection is not supported.")
		return false
	}
	srcName, _, err := instance.StreamName(src.String())
	if err != nil || srcName == s.name {
		s.status("error", "NetStream.Play.StreamNotFound", "Bad source "+src.String()+".")
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
	if err := s.publish(); err != nil {
		s.status("error", "NetStream.Publish.BadName", s.name+" is already being published.")
		return false
	}
	s.stopPumpWait()
	s.startPump(srcName)
	if reset {
		s.status("status", "NetStream.Play.Reset", "Playing and resetting "+srcName+".")
	}
	s.status("status", "NetStream.Play.Start", "Started playing "+srcName+".")
	return true
}

// publish makes the server the publisher of the stream.
func (s *streamObj) publish() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.pub != nil {
		return nil
	}
	p, err := s.r.in.Streams().Publish(s.name)
	if err != nil {
		return err
	}
	s.pub = p
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

// startPump subscribes to src and copies its messages into the stream.
func (s *streamObj) startPump(src string) {
	r := s.r
	sub := r.in.Streams().Subscribe(src, media.SubscribeOptions{})
	stop, done := make(chan struct{}), make(chan struct{})
	s.sub, s.stopPump, s.pumpDone = sub, stop, done
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		defer close(done)
		defer sub.Close()
		var evs []media.Event
		for {
			select {
			case <-stop:
				return
			case <-r.stopBG:
				return
			case <-sub.Ready():
			}
			evs = sub.Drain(evs[:0])
			for i := range evs {
				switch e := &evs[i]; e.Type {
				case media.EventPacket:
					s.write(e.Packet)
				case media.EventPublishNotify:
					r.post(func() { s.status("status", "NetStream.Play.PublishNotify", src+" is now published.") })
				case media.EventUnpublishNotify:
					r.post(func() { s.status("status", "NetStream.Play.UnpublishNotify", src+" is now unpublished.") })
				}
			}
			clear(evs)
			if sub.Err() != nil {
				return
			}
		}
	}()
}

// write republishes one packet. The source's packet is shared with its
// other subscribers, so a shallow copy (payload shared) is written.
func (s *streamObj) write(pk *media.Packet) {
	cp := &media.Packet{Kind: pk.Kind, Time: pk.Time, Payload: pk.Payload}
	s.last.Store(pk.Time)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.pub == nil {
		return
	}
	if pk.Kind == media.Data && isMetaData(pk.Payload) {
		s.pub.SetMetadata(cp)
		return
	}
	s.pub.Write(cp)
}

// isMetaData reports whether an AMF0 data body starts with "onMetaData".
func isMetaData(p []byte) bool {
	const h = "\x02\x00\x0aonMetaData"
	return len(p) >= len(h) && string(p[:len(h)]) == h
}

// send writes a data message handler(args...) to the stream's
// subscribers. The stream must be published by the script (play) or
// unpublished (the script then becomes its publisher).
func (s *streamObj) send(handler string, args []amf.Value) bool {
	if err := s.publish(); err != nil {
		return false
	}
	b, err := amf.AppendAMF0(nil, amf.String(handler))
	if err == nil {
		b, err = amf.AppendAMF0Values(b, args...)
	}
	if err != nil {
		return false
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.pub == nil {
		return false
	}
	s.pub.Write(&media.Packet{Kind: media.Data, Time: s.last.Load(), Payload: b})
	return true
}

func (s *streamObj) stopPumpWait() {
	if s.stopPump == nil {
		return
	}
	close(s.stopPump)
	<-s.pumpDone
	s.stopPump, s.pumpDone, s.sub = nil, nil, nil
}

// stop ends the stream's pump and publication (runtime cleanup).
func (s *streamObj) stop() {
	s.stopPumpWait()
	s.unpublish()
}
