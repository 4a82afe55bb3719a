package rtmp

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// maxPendingCalls bounds the server-to-client calls awaiting an answer on
// one connection; past it the oldest fails (docs/ssas.md#how-scripts-map-to-rtmp: a client lacking
// the method sends nothing back).
const maxPendingCalls = 1000

// peer is a connection's side of its instance.Client (instance.Peer): the
// script's handle for deferred accept/reject, server-to-client calls, ping
// and close. Its methods run on any goroutine and only queue output.
type peer struct {
	c          *conn
	log        *slog.Logger // the connection's logger as of connect (c.log is the reader's)
	connectTxn float64
	start      time.Time
	// capsEx is the E-RTMP capabilities (capsEx) the client's connect
	// advertised that this server has too, -1 when it sent none. Set
	// before the client is handed to the engine, read-only after.
	capsEx int64

	// admitted gates the client's commands and media: false while the
	// script has not accepted it (docs/ssas.md#how-scripts-map-to-rtmp: a pending connection may
	// not send commands) and after a rejection.
	admitted atomic.Bool
	done     atomic.Bool
	bytesIn  atomic.Uint64 // copied from the reader by the reader goroutine
	msgIn    atomic.Uint64
	msgOut   atomic.Uint64
	pingSent atomic.Int64 // unix ms of the last ping request
	rtt      atomic.Int64 // ns

	accessGen uint64 // reader goroutine: the access lists last applied to the SO session

	mu        sync.Mutex
	cl        *instance.Client
	nextTxn   float64
	calls     map[float64]instance.Result
	order     []float64         // txns in call order, for evicting the oldest
	published map[uint32]string // msid -> stream the client publishes (for onUnpublish)
}

func (c *conn) newPeer(connectTxn float64) *peer {
	p := &peer{c: c, log: c.log, connectTxn: connectTxn, start: time.Now(), nextTxn: 1, capsEx: -1}
	// The connection's end fails the calls still waiting and reports
	// the streams still published (the reader may be gone by then).
	c.watchEnd(p)
	return p
}

// watchEnd makes p.closed run on its own goroutine once the connection
// ends (c.ctx done), as context.AfterFunc(c.ctx, p.closed) would, without
// the allocations that cost every idle connection about 480 bytes: an
// AfterFunc context and the children map it adds to c.ctx. fail runs the
// hook (peerEnded); so does watchEnd for a connection already ended.
// Every way c.ctx ends goes through fail: c.cancel is called only there,
// and Server.Shutdown, after canceling the server's context, shuts every
// connection down. One peer per connection: a second connect is refused.
func (c *conn) watchEnd(p *peer) {
	c.endPeer.Store(p)
	if c.ctx.Err() != nil && c.endPeer.CompareAndSwap(p, nil) {
		go p.closed()
	}
}

// peerEnded runs the hook registered by watchEnd, at most once.
func (c *conn) peerEnded() {
	if p := c.endPeer.Swap(nil); p != nil {
		go p.closed()
	}
}

// peer returns the connection's peer once connect has been handled.
func (c *conn) peer() *peer {
	if c.client == nil {
		return nil
	}
	p, _ := c.client.Peer.(*peer)
	return p
}

// admitted reports whether the client may send commands and media yet.
// Reader goroutine only.
func (c *conn) admitted() bool {
	p := c.peer()
	if p == nil {
		return true
	}
	p.bytesIn.Store(c.r.BytesRead())
	p.msgIn.Add(1)
	return p.admitted.Load()
}

// Accept implements instance.Peer: NetConnection.Connect.Success for the
// connect transaction (docs/rtmp.md#connect).
func (p *peer) Accept(cl *instance.Client) {
	if p.done.Load() {
		return
	}
	c := p.c
	// Admit first: the client may answer the _result at once.
	p.admitted.Store(true)
	c.sendUserControl(message.EventStreamBegin, 0)
	c.sendConnectSuccess(p.connectTxn, cl.Encoding, cl.ID, p.capsEx)
	p.log.Info("connect", "app", cl.Instance().App, "instance", cl.Instance().Name, "client", cl.ID,
		"agent", cl.Agent, "encoding", cl.Encoding, "deferred", cl.Deferred())
}

// Reject implements instance.Peer: an _error for the connect transaction,
// then close once it is flushed.
func (p *peer) Reject(_ *instance.Client, info amf.Value) {
	p.admitted.Store(false)
	if p.done.Load() {
		return
	}
	c := p.c
	c.sendCommand(0, &message.Command{Name: "_error", Txn: p.connectTxn, Object: amf.Null(), Args: []amf.Value{info}})
	c.closeAfterFlushAs(withReason(ReasonRejected, errors.New("connection rejected by the application")))
	p.log.Info("connect rejected", "description", info.Get("description").Str())
}

// Close implements instance.Peer.
func (p *peer) Close(info amf.Value) {
	if p.done.Load() {
		return
	}
	p.admitted.Store(false)
	if !info.IsUndefined() {
		p.c.sendCommand(0, &message.Command{Name: "onStatus", Object: amf.Null(), Args: []amf.Value{info}})
	}
	why := withReason(ReasonDisconnected, errors.New("disconnected by the application"))
	if info.Get("code").Str() == status.ConnectAppShutdown {
		why = withReason(ReasonShutdown, errors.New("application instance shut down"))
	}
	p.c.closeAfterFlushAs(why)
}

// E-RTMP connect capabilities (capsEx bits, docs/rtmp.md#connect).
const (
	capsExReconnect = 0x01
	// capsExSupported is what this server echoes of a client's capsEx:
	// the reconnect request only (the drain sends it).
	capsExSupported = capsExReconnect
)

// RequestReconnect implements instance.Reconnecter: E-RTMP's
// NetConnection.Connect.ReconnectRequest, an onStatus on stream 0 with
// transaction 0, for clients whose connect advertised capsEx Reconnect.
func (p *peer) RequestReconnect(tcURL, description string) bool {
	if p.done.Load() || p.capsEx < 0 || p.capsEx&capsExReconnect == 0 {
		return false
	}
	var extra []amf.Prop
	if tcURL != "" {
		extra = append(extra, amf.Prop{Key: "tcUrl", Value: amf.String(tcURL)})
	}
	p.c.sendCommand(0, &message.Command{Name: "onStatus", Object: amf.Null(),
		Args: []amf.Value{status.Info(status.ConnectReconnectRequest, description, extra...)}})
	return true
}

// Call implements instance.Peer (docs/rtmp.md#calls, docs/ssas.md#how-scripts-map-to-rtmp): txn 0 when no
// result is wanted, otherwise the next id not in use.
func (p *peer) Call(method string, args []amf.Value, result instance.Result) bool {
	if p.done.Load() {
		return false
	}
	txn := 0.0
	var evicted instance.Result
	if result != nil {
		p.mu.Lock()
		if p.calls == nil {
			p.calls = map[float64]instance.Result{}
		}
		for {
			txn = p.nextTxn
			p.nextTxn++
			if p.nextTxn > 1<<52 {
				p.nextTxn = 1
			}
			if _, busy := p.calls[txn]; !busy {
				break
			}
		}
		p.calls[txn] = result
		p.order = append(p.order, txn)
		for len(p.calls) > maxPendingCalls && len(p.order) > 0 {
			old := p.order[0]
			p.order = p.order[1:]
			if r, ok := p.calls[old]; ok {
				delete(p.calls, old)
				evicted = r
				break
			}
		}
		p.mu.Unlock()
	}
	if evicted != nil {
		evicted(callFailed("Too many pending calls."), false)
	}
	p.msgOut.Add(1)
	p.c.sendCommand(0, &message.Command{Name: method, Txn: txn, Object: amf.Null(), Args: args})
	return true
}

func callFailed(desc string) amf.Value {
	return status.Info(status.CallFailed, desc)
}

// result routes a client's _result or _error to the server call waiting
// for it. Reader goroutine.
func (p *peer) result(cmd *message.Command) {
	p.mu.Lock()
	r, ok := p.calls[cmd.Txn]
	if ok {
		delete(p.calls, cmd.Txn)
		for i, t := range p.order {
			if t == cmd.Txn {
				p.order = append(p.order[:i], p.order[i+1:]...)
				break
			}
		}
	}
	p.mu.Unlock()
	if ok {
		r(amf.Clone(cmd.Arg(0)), cmd.Name == "_result")
	}
}

// Ping implements instance.Peer: a User Control PingRequest with the
// server's clock; the PingResponse sets the round trip.
func (p *peer) Ping() bool {
	if p.done.Load() {
		return false
	}
	now := time.Now()
	ms := uint32(now.Sub(p.start).Milliseconds())
	p.pingSent.Store(int64(ms))
	p.c.sendUserControl(message.EventPingRequest, ms)
	return true
}

// pong handles a PingResponse. Reader goroutine.
func (p *peer) pong(v uint32) {
	now := uint32(time.Since(p.start).Milliseconds())
	if int64(v) == p.pingSent.Load() {
		p.rtt.Store(int64(time.Duration(now-v) * time.Millisecond))
	}
}

// Stats implements instance.Peer.
func (p *peer) Stats() instance.PeerStats {
	return instance.PeerStats{
		BytesIn:  p.bytesIn.Load(),
		BytesOut: p.c.bytesOut.Load(),
		MsgIn:    p.msgIn.Load(),
		MsgOut:   p.msgOut.Load(),
		PingRTT:  time.Duration(p.rtt.Load()),
	}
}

// closed runs once the connection has ended: waiting calls fail with
// NetConnection.Call.Failed and streams still published are reported.
func (p *peer) closed() {
	p.done.Store(true)
	p.admitted.Store(false)
	p.mu.Lock()
	calls := p.calls
	p.calls, p.order = nil, nil
	pubs := p.published
	p.published = nil
	p.mu.Unlock()
	for _, r := range calls {
		r(callFailed("Connection closed."), false)
	}
	if cl := p.client(); cl != nil {
		for _, name := range pubs {
			cl.Instance().Unpublished(cl, name)
		}
	}
}

// client is the instance client the peer belongs to (set by Connect).
func (p *peer) client() *instance.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cl
}

// ---------------------------------------------------------------------------
// Hooks called from commands.go (reader goroutine).

// connectDeferred finishes a connect whose decision the script makes: the
// connection stays registered and silent until Peer.Accept or Reject.
func (c *conn) connectDeferred(in *instance.Instance, cl *instance.Client) error {
	c.inst, c.client, c.connected = in, cl, true
	c.log = c.log.With("app", in.App, "instance", in.Name, "client", cl.ID)
	p := c.peer()
	p.mu.Lock()
	p.cl = cl
	p.mu.Unlock()
	c.log.Debug("connect pending", "agent", cl.Agent)
	// The handshake deadline no longer applies: the instance's pending
	// timeout bounds the wait.
	return c.setReadDeadline(time.Time{})
}

// connectAccepted marks a client the engine accepted at once.
func (c *conn) connectAccepted(cl *instance.Client) {
	if p, ok := cl.Peer.(*peer); ok {
		p.mu.Lock()
		p.cl = cl
		p.mu.Unlock()
		p.admitted.Store(true)
	}
}

// callScript hands a client-to-server call to the engine and answers it
// with _result or _error when the script is done (txn 0: no answer).
func (c *conn) callScript(cmd *message.Command) {
	txn := cmd.Txn
	args := make([]amf.Value, len(cmd.Args))
	for i, a := range cmd.Args {
		args[i] = amf.Clone(a) // the payload is not kept past the handler
	}
	p := c.peer()
	c.inst.Call(c.client, cmd.Name, args, func(v amf.Value, ok bool) {
		if txn == 0 || (p != nil && p.done.Load()) {
			return
		}
		name := "_result"
		if !ok {
			name = "_error"
		}
		c.sendCommand(0, &message.Command{Name: name, Txn: txn, Object: amf.Null(), Args: []amf.Value{v}})
	})
}

// routeResult delivers a client's _result/_error to the server call that
// asked for it.
func (c *conn) routeResult(cmd *message.Command) {
	if p := c.peer(); p != nil {
		p.result(cmd)
	}
}

// checkPublish asks the engine whether the client may publish req; on
// refusal it answers on the stream and returns false.
func (c *conn) checkPublish(sid uint32, req instance.PublishRequest) bool {
	name := req.Stream
	if err := c.inst.CheckPublish(c.client, req); err != nil {
		c.log.Info("publish refused", "stream", name, "err", err)
		c.sendStatus(sid, statusCode(err, status.PublishBadName), statusDesc(err),
			amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
		return false
	}
	return true
}

// checkPlay asks the engine whether the client may play name (query:
// what followed "?" in the name the client sent).
func (c *conn) checkPlay(sid uint32, name, query string) bool {
	if err := c.inst.CheckPlayQuery(c.client, name, query); err != nil {
		c.log.Info("play refused", "stream", name, "err", err)
		c.sendStatus(sid, statusCode(err, status.PlayFailed), statusDesc(err),
			amf.Prop{Key: "details", Value: amf.String(name)}, c.clientProp())
		return false
	}
	return true
}

func statusCode(err error, def string) string {
	if se, ok := err.(*status.Error); ok { //nolint:errorlint // the engine returns it unwrapped
		return se.Code
	}
	return def
}

func statusDesc(err error) string {
	if se, ok := err.(*status.Error); ok { //nolint:errorlint // the engine returns it unwrapped
		return se.Description
	}
	return err.Error()
}

// published records that stream msid now publishes name, and hands the
// publication to the engine so that the script can record it and send data
// into it (Stream.record, Stream.send).
func (c *conn) published(sid uint32, name string) {
	p := c.peer()
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.published == nil {
		p.published = map[uint32]string{}
	}
	p.published[sid] = name
	p.mu.Unlock()
	if ns := c.streams[sid]; ns != nil && ns.pub != nil {
		c.inst.Publishing(c.client, ns.pub)
	}
}

// scriptMethods are the commands answered natively only when the
// application script defines no method of that name (docs/rtmp.md#encoder-commands, docs/rtmp.md#getstreamlength,
// docs/rtmp.md#bandwidth-check; docs/ssas.md#calls-from-clients).
var scriptMethods = map[string]bool{
	"releaseStream": true, "FCPublish": true, "FCUnpublish": true, "FCSubscribe": true, "FCUnsubscribe": true,
	"getStreamLength": true, "_checkbw": true, "checkBandwidth": true,
}

// scriptOverrides reports whether the command is one of scriptMethods and
// the script defines it: the call then goes to the script. Reader
// goroutine.
func (c *conn) scriptOverrides(cmd *message.Command) bool {
	return scriptMethods[cmd.Name] && c.inst.HasScript() && c.inst.ScriptHandles(c.client, cmd.Name)
}

// stopped reports an unpublish after ns.stop ended a publication.
func (c *conn) stopped(ns *netStream) {
	p := c.peer()
	if p == nil || ns.pub != nil {
		return
	}
	p.mu.Lock()
	name, ok := p.published[ns.id]
	delete(p.published, ns.id)
	p.mu.Unlock()
	if ok {
		c.inst.Unpublished(c.client, name)
	}
}

// handleSharedObjectAccess applies the client's current readAccess and
// writeAccess to its shared-object session before the message is
// handled (docs/ssas.md#readaccess-and-writeaccess: checked at each operation).
func (c *conn) handleSharedObjectAccess(h chunk.Header, p []byte) error {
	if c.inst.HasScript() {
		if c.so == nil {
			c.so = &soConn{c: c}
			c.so.dec.Limits = c.cfg.AMF
			c.so.amf3.Store(c.encoding == 3)
			c.so.sess = c.inst.SharedObjects().NewSession(c.so)
		}
		if pr := c.peer(); pr != nil {
			if g := c.client.AccessGeneration(); g != pr.accessGen {
				pr.accessGen = g
				c.so.sess.SetAccess(c.client.ReadAccess(), c.client.WriteAccess())
			}
		}
	}
	return c.handleSharedObject(h, p)
}

// connectScriptError rejects a connect to an application whose script
// failed to load (docs/ssas.md#error-reporting). The script's error was logged once, when
// it failed; the client learns only that the application is unavailable.
func (c *conn) connectScriptError(txn float64, app string) {
	c.log.Info("connect rejected: application script error", "app", app)
	c.rejectAndClose(txn, status.ConnectRejected, instance.ScriptErrorDescription,
		amf.Prop{Key: "application", Value: amf.String(instance.ScriptErrorApplication)})
}
