package rtmp

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/playback"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// errNotConnected is a protocol error: only connect may come first.
var errNotConnected = errors.New("rtmp: message before connect")

func (c *conn) handleMessage(h chunk.Header, p []byte) error {
	if c.rejected {
		return nil // waiting for the _error to flush
	}
	if c.relay != nil {
		return c.relayMessage(h, p) // relay.go
	}
	switch h.Type {
	case message.TypeSetChunkSize, message.TypeAbort, message.TypeAck, message.TypeSetPeerBandwidth:
		return nil // chunk.Reader applied 1 and 2; 3 and 6 need no action
	case message.TypeWindowAckSize:
		v, err := message.ParseU32(p)
		if err != nil {
			return err
		}
		c.peerWindow = v
		return nil
	case message.TypeUserControl:
		return c.handleUserControl(p)
	case message.TypeCommand, message.TypeCommandAMF3:
		// Commands are rare; a fresh argument slice keeps handlers free
		// to hold on to what they were given.
		if !c.connected && c.srv.Relay != nil {
			c.connectMsg = &Message{Header: h, Payload: p} // relayed as it came, should it be (relay.go)
		}
		dec := c.getDecoder()
		cmd, err := message.ParseCommand(p, h.Type, dec, nil)
		putDecoder(dec)
		if err != nil {
			return fmt.Errorf("%s on csid %d: %w", message.TypeName(h.Type), h.CSID, err)
		}
		return c.handleCommand(h, &cmd)
	}
	if !c.connected {
		return fmt.Errorf("%w: %s", errNotConnected, message.TypeName(h.Type))
	}
	if !c.admitted() {
		return nil // pending or rejected by the script: dropped (docs/ssas.md#how-scripts-map-to-rtmp)
	}
	switch h.Type {
	case message.TypeAudio, message.TypeVideo:
		return c.handleMedia(h, media.Kind(h.Type), p)
	case message.TypeData, message.TypeDataAMF3:
		return c.handleData(h, p)
	case message.TypeAggregate:
		return c.handleAggregate(h, p)
	case message.TypeSharedObject, message.TypeSharedObjectAMF3:
		return c.handleSharedObjectAccess(h, p)
	default:
		c.log.Debug("ignored message", "type", h.Type, "name", message.TypeName(h.Type), "len", len(p))
	}
	return nil
}

func (c *conn) handleUserControl(p []byte) error {
	uc, err := message.ParseUserControl(p)
	if err != nil {
		return err
	}
	switch uc.Event {
	case message.EventSetBufferLength:
		if ns := c.streams[uc.Value]; ns != nil {
			ns.bufferLen = uc.Extra
			c.vodBufferLength(ns) // recorded playback paces by it (vod.go)
		}
	case message.EventPingRequest:
		c.sendUserControl(message.EventPingResponse, uc.Value)
	case message.EventPingResponse:
		if p := c.peer(); p != nil {
			p.pong(uc.Value)
		}
	}
	return nil
}

func (c *conn) handleCommand(h chunk.Header, cmd *message.Command) error {
	c.log.Debug("command", "name", cmd.Name, "txn", cmd.Txn, "msid", h.StreamID)
	if cmd.Name == "connect" {
		return c.onConnect(cmd)
	}
	if !c.connected {
		return fmt.Errorf("%w: command %q", errNotConnected, cmd.Name)
	}
	if !c.admitted() {
		return nil // pending or rejected by the script: dropped (docs/ssas.md#how-scripts-map-to-rtmp)
	}
	if c.scriptOverrides(cmd) { // the script's own releaseStream, FCPublish, ... (peer.go)
		c.callScript(cmd)
		return nil
	}
	switch cmd.Name {
	case "createStream":
		return c.onCreateStream(cmd)
	case "deleteStream":
		if ns := c.streams[uint32(cmd.Arg(0).Num())]; ns != nil {
			ns.stop(c, false)
			c.stopped(ns)
			delete(c.streams, ns.id)
		}
	case "closeStream":
		if ns := c.streams[h.StreamID]; ns != nil {
			ns.stop(c, true)
			c.stopped(ns)
		}
	case "publish", "play":
		switch {
		case cmd.Arg(0).Kind() == amf.KindBoolean:
			// Flash Player's publish(false) / play(false) stop the stream
			// (true is a no-op), as Red5 and FMS read them.
			if !cmd.Arg(0).Bool() {
				c.stopFlag(h.StreamID)
			}
		case cmd.Name == "publish":
			c.onPublish(h.StreamID, cmd)
		default:
			c.onPlay(h.StreamID, cmd.Arg(0).Str(), cmd.Arg(1), cmd.Arg(2), cmd.Arg(3))
		}
	case "webrtcOffer":
		c.onWebRTCOffer(h.StreamID, cmd) // webrtc.go
	case "play2":
		opts := cmd.Arg(0)
		if t := opts.Get("transition").Str(); t == "" || t == "reset" {
			c.onPlay(h.StreamID, opts.Get("streamName").Str(), opts.Get("start"), opts.Get("len"), amf.Bool(true))
		} else {
			c.sendStatus(h.StreamID, status.PlayFailed, "play2 transition "+t+" is not supported.")
		}
	case "pause", "pauseRaw":
		c.onPause(h.StreamID, cmd.Arg(0).Bool(), cmd.Arg(1).Num())
	case "seek":
		if ns := c.streams[h.StreamID]; ns != nil && ns.rtc != nil {
			c.rtcSeek(ns, cmd.Arg(0).Num()) // webrtc.go
		} else if !c.vodSeek(h.StreamID, cmd.Arg(0).Num()) { // recorded streams seek (vod.go)
			c.sendStatus(h.StreamID, status.SeekFailed, "Seeking is not possible in a live stream.")
		}
	case "receiveAudio", "receiveVideo":
		if ns := c.streams[h.StreamID]; ns != nil && ns.play != nil && !c.vodReceive(ns, cmd.Name == "receiveAudio", cmd.Arg(0).Bool()) {
			ns.play.receive(cmd.Name == "receiveAudio", cmd.Arg(0).Bool())
		}
	case "releaseStream":
		c.replyResult(cmd, amf.Undefined())
	case "FCPublish", "FCUnpublish", "FCSubscribe", "FCUnsubscribe":
		c.onFC(cmd)
	case "getStreamLength":
		c.replyResult(cmd, amf.Number(c.streamLength(cmd.Arg(0).Str()))) // 0 for live streams (vod.go)
	case "_checkbw", "checkBandwidth":
		c.startBWCheck(cmd) // native detection unless the app turned it off (bwcheck.go)
	case "_result", "_error":
		c.routeResult(cmd) // answers to the script's client.call (peer.go)
	case "onStatus", "onBWDone", "_onbwcheck", "_onbwdone":
		// Replies to calls this server did not make.
	default:
		c.callScript(cmd) // application script method, or Call.Failed (peer.go)
	}
	return nil
}

// stopFlag ends publishing or playing on sid like closeStream; a player
// is also told NetStream.Play.Stop.
func (c *conn) stopFlag(sid uint32) {
	ns := c.streams[sid]
	if ns == nil {
		return
	}
	playing := ns.play != nil || ns.paused
	ns.stop(c, true)
	c.stopped(ns)
	if playing {
		c.sendStatus(sid, status.PlayStop, "Stopped playing "+ns.name+".",
			amf.Prop{Key: "details", Value: amf.String(ns.name)}, c.clientProp())
	}
}

func (c *conn) replyResult(cmd *message.Command, v amf.Value) {
	if cmd.Txn != 0 {
		c.sendResult(cmd.Txn, v)
	}
}

// decodesOpus reports whether a connect command object announces Enhanced
// RTMP Opus (docs/webrtc.md#players-that-predate-enhanced-rtmp): "Opus" or
// "*" in fourCcList, or an audioFourCcInfoMap entry for either with the
// decode bit (1) set.
func decodesOpus(obj amf.Value) bool {
	for _, v := range obj.Get("fourCcList").Elems() {
		if s := v.Str(); s == "Opus" || s == "*" {
			return true
		}
	}
	m := obj.Get("audioFourCcInfoMap")
	for _, k := range []string{"Opus", "*"} {
		if n := m.Get(k).Num(); n >= 1 && n < 1<<31 && int64(n)&1 != 0 { // NaN fails both tests
			return true
		}
	}
	return false
}

// allCodecs stands for a connect without a codec mask: such a client
// (ffmpeg, rtmpdump, an encoder) is taken to decode what it is sent.
const allCodecs = ^uint32(0)

// codecMask reads a connect's audioCodecs or videoCodecs, Flash's
// bitmasks of the codecs a player decodes (docs/rtmp.md#connect).
func codecMask(v amf.Value) uint32 {
	n := v.Num()
	if v.Kind() != amf.KindNumber || !(n >= 0 && n < 1<<32) { // absent, NaN, out of range
		return allCodecs
	}
	return uint32(n)
}

func (c *conn) onConnect(cmd *message.Command) error {
	if c.connected {
		return errors.New("rtmp: second connect on one connection")
	}
	obj := cmd.Object
	appField := obj.Get("app").Str()
	if appField == "" {
		appField = appFromTcURL(obj.Get("tcUrl").Str())
	}
	enc := 0
	if obj.Get("objectEncoding").Num() == 3 {
		enc = 3
	}
	c.encoding = enc
	c.legacyAudio = !decodesOpus(obj)
	c.audioCodecs, c.videoCodecs = codecMask(obj.Get("audioCodecs")), codecMask(obj.Get("videoCodecs"))

	// docs/rtmp.md#connect, before the application decides.
	c.sendControl(message.TypeWindowAckSize, message.AppendU32(nil, c.cfg.WindowAckSize))
	c.sendControl(message.TypeSetPeerBandwidth, message.SetPeerBandwidth{Window: c.cfg.WindowAckSize, Limit: message.LimitDynamic}.Append(nil))
	c.enqueue(outMsg{h: chunk.Header{CSID: message.CSIDControl, Type: message.TypeSetChunkSize},
		p: message.AppendU32(nil, c.cfg.ChunkSize), chunkSize: c.cfg.ChunkSize})

	// The connect's strings point into its payload (the decoder aliases
	// it): what the connection keeps (the client's record, the logger's
	// attributes) gets copies, so that the payload goes (docs/architecture.md#idle-connections).
	appField = strings.Clone(appField)
	app, instName, query, err := instance.SplitApp(appField)
	if err != nil {
		c.log.Info("connect rejected", "app", appField, "err", err)
		c.rejectAndClose(cmd.Txn, status.ConnectInvalidApp, fmt.Sprintf("Application (%s) is not defined.", appField))
		return nil
	}
	p := c.newPeer(cmd.Txn)
	if v := obj.Get("capsEx"); v.Kind() == amf.KindNumber {
		p.capsEx = int64(v.Num()) & capsExSupported
	}
	info := instance.ClientInfo{
		IP:       hostOf(c.nc.RemoteAddr()),
		Agent:    strings.Clone(obj.Get("flashVer").Str()),
		Referrer: strings.Clone(obj.Get("swfUrl").Str()),
		PageURL:  strings.Clone(obj.Get("pageUrl").Str()),
		Protocol: c.proto,
		Encoding: enc,
		Query:    query,
		URI:      strings.Clone(obj.Get("tcUrl").Str()),
		Args:     cmd.Args,
		Peer:     p,
	}
	for i, a := range info.Args {
		info.Args[i] = amf.Clone(a)
	}
	in, cl, err := c.srv.Engine.Connect(app, instName, info)
	var connectMsg Message
	if c.connectMsg != nil {
		connectMsg = *c.connectMsg
	}
	c.connectMsg = nil // kept no longer than connect
	var elsewhere *instance.ElsewhereError
	switch {
	case errors.As(err, &elsewhere) && c.srv.Relay != nil && !c.virtual:
		return c.startRelay(cmd.Txn, elsewhere, info, connectMsg) // relay.go
	case errors.Is(err, instance.ErrScript):
		c.connectScriptError(cmd.Txn, app)
		return nil
	case errors.Is(err, instance.ErrInvalidApp), errors.Is(err, instance.ErrBadName):
		c.log.Info("connect rejected", "app", app, "instance", instName, "err", err)
		c.rejectAndClose(cmd.Txn, status.ConnectInvalidApp, fmt.Sprintf("Application (%s) is not defined.", app))
		return nil
	case errors.Is(err, instance.ErrShutdown):
		c.rejectAndClose(cmd.Txn, status.ConnectAppShutdown, "The application is shutting down.")
		return nil
	case errors.Is(err, instance.ErrAccessDenied): // the application's access section (docs/operations.md#access-control)
		ae, _ := errors.AsType[*instance.AccessError](err)
		c.log.Info("connect rejected", "app", app, "instance", instName, "err", err)
		c.rejectAndClose(cmd.Txn, ae.Code, ae.Description)
		return nil
	case errors.Is(err, instance.ErrTooManyInstances):
		c.rejectAndClose(cmd.Txn, status.ConnectRejected, "Too many application instances.")
		return nil
	case err != nil:
		c.log.Warn("connect failed", "app", app, "instance", instName, "err", err)
		c.rejectAndClose(cmd.Txn, status.ConnectFailed, "Connection failed.")
		return nil
	case cl.Deferred():
		return c.connectDeferred(in, cl) // the script accepts or rejects later (peer.go)
	}
	c.connectAccepted(cl)
	c.inst, c.client, c.connected = in, cl, true
	c.log = c.log.With("app", app, "instance", instName, "client", cl.ID)
	c.log.Info("connect", "agent", info.Agent, "encoding", enc)
	if err := c.setReadDeadline(time.Time{}); err != nil {
		return err
	}

	c.sendUserControl(message.EventStreamBegin, 0)
	c.sendConnectSuccess(cmd.Txn, enc, cl.ID, p.capsEx)
	return nil
}

// sendConnectSuccess queues the _result of an accepted connect
// (docs/interop.md#the-connect-reply). Its properties object takes the
// command object's place, right after the transaction id, and the info
// object follows: Flash Player hands the value after the properties to
// onStatus, so anything in between (such as the null other results
// carry) hides the code from it. capsEx, when the client sent one, is
// echoed with the E-RTMP capabilities both sides have (capsExSupported);
// -1 (the client sent none) leaves it out, as before E-RTMP.
func (c *conn) sendConnectSuccess(txn float64, enc int, clientID uint64, capsEx int64) {
	props := []amf.Prop{
		{Key: "fmsVer", Value: amf.String(c.cfg.FMSVer)},
		{Key: "capabilities", Value: amf.Number(31)},
		{Key: "mode", Value: amf.Number(1)},
	}
	if capsEx >= 0 {
		props = append(props, amf.Prop{Key: "capsEx", Value: amf.Number(float64(capsEx))})
	}
	c.sendCommand(0, &message.Command{Name: "_result", Txn: txn,
		Object: amf.Object(props...),
		Args: []amf.Value{status.Info(status.ConnectSuccess, "Connection succeeded.",
			amf.Prop{Key: "objectEncoding", Value: amf.Number(float64(enc))},
			amf.Prop{Key: "data", Value: amf.ECMAArray(amf.Prop{Key: "version", Value: amf.String(fmsVersion(c.cfg.FMSVer))})},
			amf.Prop{Key: "clientid", Value: amf.Number(float64(clientID))},
		)},
	})
}

// fmsVersion turns "FMS/3,0,1,123" into "3,0,1,123".
func fmsVersion(v string) string {
	if _, after, ok := strings.Cut(v, "/"); ok {
		return after
	}
	return v
}

// appFromTcURL extracts "app[/instance]" from a tcUrl for clients that
// leave the app field empty.
func appFromTcURL(tc string) string {
	u, err := url.Parse(tc)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

func (c *conn) onCreateStream(cmd *message.Command) error {
	if len(c.streams) >= c.cfg.MaxStreams {
		return withReason(ReasonLimit, fmt.Errorf("more than %d streams on one connection", c.cfg.MaxStreams))
	}
	id := uint32(1)
	for c.streams[id] != nil {
		id++
	}
	c.streams[id] = &netStream{id: id}
	c.replyResult(cmd, amf.Number(float64(id)))
	return nil
}

func (c *conn) clientProp() amf.Prop {
	return amf.Prop{Key: "clientid", Value: amf.Number(float64(c.client.ID))}
}

func (c *conn) onPublish(sid uint32, cmd *message.Command) {
	ns := c.streams[sid]
	raw := cmd.Arg(0).Str()
	if ns == nil {
		c.sendStatus(sid, status.StreamFailed, "No such stream.")
		return
	}
	// A publish on a stream that is already publishing ends that
	// publication first, and says so (Unpublish.Success), whatever becomes
	// of the new one.
	ns.stop(c, true)
	c.stopped(ns)
	name, query, err := instance.StreamName(raw)
	if err != nil {
		c.log.Info("publish refused", "stream", raw, "err", err)
		c.sendStatus(sid, status.PublishBadName, raw+" is not a valid stream name.",
			amf.Prop{Key: "details", Value: amf.String(raw)}, c.clientProp())
		return
	}
	// The query (stream keys) goes to the script, never into the name.
	req := instance.PublishRequest{Stream: name, Query: query, Type: cmd.Arg(1).Str()}
	if !c.checkPublish(sid, req) { // access lists and application.onPublish (peer.go)
		return
	}
	rec, ok := c.prepareRecord(sid, name, cmd.Arg(1).Str()) // record/append and app config (vod_record.go)
	if !ok {
		return
	}
	pub, err := c.inst.Streams().Publish(name)
	if err != nil {
		c.log.Info("publish refused", "stream", name, "err", err)
		c.sendStatus(sid, status.PublishBadName, name+" is already being published.",
			amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
		return
	}
	pub.SetClient(c.client.ID)
	ns.pub, ns.name = pub, name
	c.published(sid, name)
	c.log.Info("publish start", "stream", name, "type", cmd.Arg(1).Str())
	c.sendUserControl(message.EventStreamBegin, sid)
	c.sendStatus(sid, status.PublishStart, name+" is now published.",
		amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
	c.startRecord(ns, rec)
}

// onPlay starts playback (docs/rtmp.md#play). The engine's rules
// (playback.Resolve, docs/playback.md) decide between the live stream and
// the recorded file: start -2000 live or recorded, -1000 live only, >= 0
// recorded, and the live stream when one is published but no file exists
// (what nginx-rtmp and SRS do). Files, playlists and live plays with a
// length are played by the engine's player (vod.go); a plain live play is
// drained straight from its subscriber.
func (c *conn) onPlay(sid uint32, raw string, startV, lenV, resetV amf.Value) {
	ns := c.streams[sid]
	if ns == nil {
		c.sendStatus(sid, status.StreamFailed, "No such stream.")
		return
	}
	if c.appendVOD(ns, raw, startV, lenV, resetV) { // reset=false queues after a recorded item (vod.go)
		return
	}
	ns.stop(c, false)
	c.stopped(ns)
	name, query, err := instance.StreamName(raw)
	if err != nil {
		c.sendStatus(sid, status.PlayStreamNotFound, "Failed to play "+raw+"; stream not found.",
			amf.Prop{Key: "details", Value: amf.String(raw)}, c.clientProp())
		return
	}
	if !c.checkPlay(sid, name, query) { // readAccess and the access section (peer.go)
		return
	}
	it, reset := playArgs(startV, lenV, resetV)
	it.Name = name
	src, err := playback.Resolve(c.inst, it, "")
	if err != nil {
		c.log.Info("play refused", "stream", name, "err", err)
		c.sendStatus(sid, status.PlayStreamNotFound, "Failed to play "+name+"; stream not found.",
			amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
		return
	}
	if !src.Live || it.Len >= 0 {
		c.startPlayback(ns, it, reset, !src.Live) // files, and live plays with a length (vod.go)
		return
	}
	ns.name = name
	// Subscribed before Play.Start is queued: a client may start
	// publishing the stream as soon as it reads Play.Start, and what it
	// publishes then must reach this play. The player joins the writer's
	// rounds only after the statuses, so no media overtakes them.
	p := c.newPlayer(ns)
	c.sendUserControl(message.EventStreamBegin, sid)
	if reset {
		c.sendStatus(sid, status.PlayReset, "Playing and resetting "+name+".",
			amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
	}
	c.sendStatus(sid, status.PlayStart, "Started playing "+name+".",
		amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
	c.sendData(sid, &message.Data{Handler: "|RtmpSampleAccess", Args: []amf.Value{amf.Bool(false), amf.Bool(false)}})
	c.sendData(sid, &message.Data{Handler: "onStatus", Args: []amf.Value{
		amf.Object(amf.Prop{Key: "code", Value: amf.String(status.DataStart)}),
	}})
	if f := c.srv.playQueued.Load(); f != nil {
		(*f)()
	}
	ns.play = p
	c.addPlayer(p)
	c.log.Info("play start", "stream", name, "start", it.Start)
}

// newPlayer subscribes a live play of ns; its messages queue from now
// on, and are written once the caller hands it to addPlayer.
func (c *conn) newPlayer(ns *netStream) *player {
	name, release := c.convertedCopy(ns.name)
	sub := c.inst.Streams().Subscribe(name, media.SubscribeOptions{Wake: c.wakeFunc(), Client: c.client.ID,
		Legacy: c.legacyAudio})
	p := &player{sid: ns.id, name: ns.name, sub: sub, skipNotify: sub.Live(), clientID: float64(c.client.ID), release: release}
	if release == nil && c.mayConvert() {
		p.convert = c.copyFor(ns.name)
	}
	return p
}

func (c *conn) onPause(sid uint32, pause bool, pos float64) {
	if ns := c.streams[sid]; ns != nil && ns.rtc != nil {
		c.rtcPause(ns, pause) // webrtc.go
		return
	}
	if c.vodPause(sid, pause) { // recorded streams (vod.go)
		return
	}
	ns := c.streams[sid]
	if ns == nil || (ns.play == nil && !ns.paused) {
		c.sendStatus(sid, status.StreamFailed, "Not playing.")
		return
	}
	if pause {
		if ns.play != nil {
			c.removePlayer(ns.play)
			ns.play = nil
		}
		ns.paused = true
		c.sendStatus(sid, status.PauseNotify, "Pausing "+ns.name+".",
			amf.Prop{Key: "details", Value: amf.String(ns.name)}, c.clientProp())
		c.sendUserControl(message.EventStreamEOF, sid)
		return
	}
	if ns.paused {
		ns.paused = false
		p := c.newPlayer(ns) // live: resume at the live edge, from the GOP cache
		c.sendUserControl(message.EventStreamBegin, sid)
		c.sendStatus(sid, status.UnpauseNotify, "Unpausing "+ns.name+".",
			amf.Prop{Key: "details", Value: amf.String(ns.name)}, c.clientProp())
		ns.play = p
		c.addPlayer(p)
	}
}

// convertedCopy returns the stream a live play of name subscribes to: a
// converted copy of it when the client announced codec masks that leave
// out the stream's Flash-era codecs and decodes Enhanced RTMP Opus
// (docs/webrtc.md#flash-era-streams-in-pages), with the release to call
// when the play ends; else name itself and nil.
func (c *conn) convertedCopy(name string) (string, func()) {
	if !c.mayConvert() {
		return name, nil
	}
	copyName, release, ok := c.srv.Convert.Convert(c.inst, name, c.audioCodecs, c.videoCodecs)
	if !ok {
		return name, nil
	}
	c.log.Info("play converted", "stream", name, "copy", copyName)
	return copyName, release
}

// mayConvert reports whether the client could need a converted copy:
// conversion is on and its connect announced Opus and codec masks.
func (c *conn) mayConvert() bool {
	return c.srv.Convert != nil && !c.legacyAudio && (c.audioCodecs != allCodecs || c.videoCodecs != allCodecs)
}

// copyFor returns what a live play of name that started on the stream
// itself calls, on the writer goroutine, once the stream's codecs are
// known: a subscription to the converted copy for this client and its
// release, or ok false when it needs none (player.toCopy).
func (c *conn) copyFor(name string) func() (*media.Subscriber, func(), bool) {
	// Taken here, on the reader: leave clears c.client.
	conv, inst, log, audio, video := c.srv.Convert, c.inst, c.log, c.audioCodecs, c.videoCodecs
	opts := media.SubscribeOptions{Wake: c.wakeFunc(), Client: c.client.ID, Legacy: c.legacyAudio}
	return func() (*media.Subscriber, func(), bool) {
		copyName, release, ok := conv.Convert(inst, name, audio, video)
		if !ok {
			return nil, nil, false
		}
		log.Info("play converted", "stream", name, "copy", copyName, "late", true)
		sub := inst.Streams().Subscribe(copyName, opts)
		// The copy's cache is queued already: the writer runs once more
		// to take it.
		c.signal()
		return sub, release, true
	}
}

// onFC answers the encoder conventions of docs/rtmp.md#encoder-commands.
func (c *conn) onFC(cmd *message.Command) {
	name := cmd.Arg(0).Str()
	var event, code string
	switch cmd.Name {
	case "FCPublish":
		event, code = "onFCPublish", status.PublishStart
	case "FCUnpublish":
		event, code = "onFCUnpublish", status.UnpublishSuccess
	case "FCSubscribe":
		event, code = "onFCSubscribe", status.PlayStart
	case "FCUnsubscribe":
		event, code = "onFCUnsubscribe", status.PlayStop
	}
	if cmd.Name != "FCSubscribe" {
		c.replyResult(cmd, amf.Undefined())
	}
	c.sendCommand(0, &message.Command{Name: event, Object: amf.Null(), Args: []amf.Value{
		amf.Object(amf.Prop{Key: "code", Value: amf.String(code)}, amf.Prop{Key: "description", Value: amf.String(name)}),
	}})
}

// publishing returns the stream msid publishes on, or nil.
func (c *conn) publishing(msid uint32) *netStream {
	if ns := c.streams[msid]; ns != nil && ns.pub != nil {
		return ns
	}
	return nil
}

func (c *conn) handleMedia(h chunk.Header, k media.Kind, p []byte) error {
	ns := c.publishing(h.StreamID)
	if ns == nil {
		return nil // media on a stream that is not publishing: FMS drops it
	}
	ns.pub.Write(&media.Packet{Kind: k, Time: h.Timestamp, Payload: p})
	c.keepReadBuffer(true)
	return nil
}

// keepReadBuffer makes the chunk reader hold its buffer between messages
// while the connection publishes (chunk.Reader.KeepBuffer): media keeps
// coming, and waiting for each message with a one-byte read is a system
// call per message more. Reader goroutine.
func (c *conn) keepReadBuffer(keep bool) {
	if keep != c.keepRead {
		c.keepRead = keep
		c.r.KeepBuffer(keep)
		if keep && !c.tickChecked {
			// Only a plain TCP socket's short read says it is empty; a
			// TLS or WebSocket read returns one record or frame.
			c.tickChecked = true
			c.tickRead = c.srv.ingest != nil && RawConnOf(c.nc) != nil
			if c.tickRead {
				c.tick.src = newSockReader(c.nc)
			}
		}
	}
}

// publishesAny reports whether a stream of the connection publishes.
func (c *conn) publishesAny() bool {
	for _, ns := range c.streams {
		if ns.pub != nil {
			return true
		}
	}
	return false
}

// handleData relays NetStream.send data and handles @setDataFrame /
// @clearDataFrame (docs/rtmp.md#data-messages) without re-encoding the values.
func (c *conn) handleData(h chunk.Header, p []byte) error {
	ns := c.publishing(h.StreamID)
	if ns == nil {
		return nil
	}
	body, err := message.DataBody(p, h.Type)
	if err != nil {
		return err
	}
	handler, n, ok := message.Handler(body)
	if !ok {
		return errors.New("rtmp: data message without handler name")
	}
	switch handler {
	case "@setDataFrame":
		ns.pub.SetMetadata(&media.Packet{Kind: media.Data, Time: h.Timestamp, Payload: body[n:]})
	case "@clearDataFrame":
		ns.pub.ClearMetadata()
	case "onMetaData":
		ns.pub.SetMetadata(&media.Packet{Kind: media.Data, Time: h.Timestamp, Payload: body})
	default:
		ns.pub.Write(&media.Packet{Kind: media.Data, Time: h.Timestamp, Payload: body})
	}
	return nil
}

// handleAggregate splits a type 22 message into its FLV-tag sub-messages
// (message.SplitAggregate) and handles each as if it had come alone.
func (c *conn) handleAggregate(h chunk.Header, p []byte) error {
	ns := c.publishing(h.StreamID)
	if ns == nil {
		return nil
	}
	var arr [16]message.AggregatePart // ffmpeg and FMS put a few tags in one
	parts, err := message.SplitAggregate(arr[:0], p, h.Timestamp)
	if err != nil {
		return err
	}
	for _, pt := range parts {
		sub := chunk.Header{CSID: h.CSID, Timestamp: pt.Timestamp, Type: pt.Type, StreamID: h.StreamID}
		switch pt.Type {
		case message.TypeAudio, message.TypeVideo:
			if err := c.handleMedia(sub, media.Kind(pt.Type), pt.Body); err != nil {
				return err
			}
		case message.TypeData:
			if err := c.handleData(sub, pt.Body); err != nil {
				return err
			}
		}
	}
	return nil
}
