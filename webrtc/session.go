package webrtc

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	pion "github.com/pion/webrtc/v4"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/status"
)

// Close reasons of a session (the reason field of its closed line).
const (
	reasonDeleted      = "deleted"       // DELETE on the resource
	reasonPeerGone     = "peer_gone"     // ICE or DTLS failed or closed
	reasonTimeout      = "timeout"       // never connected within ConnectTimeout
	reasonShutdown     = "shutdown"      // the server is stopping
	reasonDisconnected = "disconnected"  // the application closed the client
	reasonUnpublished  = "unpublished"   // a viewer's stream ended
	reasonSlow         = "slow_consumer" // a viewer's outlet fell behind
	reasonBFrames      = "bframes"       // the stream started carrying B-frames
	reasonReplaced     = "error"         // internal failure
)

// session is one WHIP or WHEP resource: a PeerConnection and the instance
// client it is admitted as.
type session struct {
	s     *Server
	id    string
	kind  string // whip or whep
	t     target
	token string
	info  instance.ClientInfo
	log   *slog.Logger
	start time.Time

	pc   *pion.PeerConnection
	in   *instance.Instance
	cl   *instance.Client
	peer sessionPeer

	pub  *publisher // whip
	view *viewer    // whep
	// recorded: a whep session plays a recorded file, not a live stream.
	recorded bool

	// borrowed: the client is an RTMP connection's, admitted there
	// (netstream.go); the session neither connects nor disconnects it.
	borrowed bool
	query    string        // borrowed: the query of the stream name
	ended    func(string)  // borrowed: told the reason of an end the client did not ask for
	done     chan struct{} // borrowed: closed once run has cleaned up

	ctx       context.Context
	cancel    context.CancelCauseFunc
	connected chan struct{}
	connOnce  sync.Once
	endOnce   sync.Once
	reason    atomic.Value // string
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
}

func (s *Server) newSession(kind string, t target, c *fiber.Ctx, token string) (*session, *httpError) {
	fc := c.Context()
	ss := &session{
		s: s, id: newID(), kind: kind, t: t, token: token, start: time.Now(),
		info: instance.ClientInfo{
			IP:       remoteIP(fc.RemoteAddr()),
			Agent:    string(fc.UserAgent()),
			Referrer: string(fc.Referer()),
			PageURL:  strings.Clone(c.Get("Origin")),
			Protocol: kind,
			Query:    string(fc.QueryArgs().QueryString()),
			URI:      fc.URI().String(),
		},
		connected: make(chan struct{}),
	}
	if token != "" {
		// application.onConnect(client, token): the script judges the
		// token as it judges an RTMP client's connect arguments.
		ss.info.Args = []amf.Value{amf.String(token)}
	}
	ss.ctx, ss.cancel = context.WithCancelCause(s.ctx)
	ss.log = s.log.With("proto", kind, "session", ss.id, "remote", fc.RemoteAddr().String())
	ss.peer.init(ss)
	ss.info.Peer = &ss.peer
	if herr := s.register(ss); herr != nil {
		return nil, herr
	}
	return ss, nil
}

// register adds ss to the server's sessions, which forget undoes, unless
// the server is shutting down or holds webrtc.max_sessions already. A
// refused session's context is canceled: left live, it would stay
// attached to the server's until shutdown, one per refused offer.
func (s *Server) register(ss *session) *httpError {
	s.mu.Lock()
	defer s.mu.Unlock()
	var herr *httpError
	switch {
	case s.closed:
		herr = refuse(http.StatusServiceUnavailable, "server shutting down")
	case len(s.sessions) >= s.cfg.MaxSessions:
		herr = refuse(http.StatusServiceUnavailable, "webrtc.max_sessions reached")
	}
	if herr != nil {
		ss.cancel(nil)
		return herr
	}
	s.sessions[ss.id] = ss
	s.wg.Add(1)
	return nil
}

// forget removes the session from the server; once.
func (ss *session) forget() {
	ss.s.mu.Lock()
	delete(ss.s.sessions, ss.id)
	ss.s.mu.Unlock()
	ss.s.wg.Done()
}

// abort undoes a session whose negotiation failed before it ran.
func (ss *session) abort() {
	ss.cancel(nil)
	if ss.pc != nil {
		_ = ss.pc.Close()
	}
	if ss.pub != nil {
		ss.pub.close()
	}
	if ss.view != nil {
		ss.view.detach()
	}
	if ss.in != nil && !ss.borrowed {
		ss.in.Disconnect(ss.cl)
	}
	ss.forget()
}

// open admits the session and negotiates; on success the session runs
// until end and the answer is returned.
func (ss *session) open(offer string) (string, *httpError) {
	if herr := ss.admit(); herr != nil {
		return "", herr
	}
	api := ss.s.api
	if ss.kind == "whep" {
		api = ss.s.viewAPI
	}
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return "", refuse(http.StatusInternalServerError, "cannot create a peer connection: "+err.Error())
	}
	ss.pc = pc
	pc.OnConnectionStateChange(func(st pion.PeerConnectionState) {
		switch st {
		case pion.PeerConnectionStateConnected:
			ss.connOnce.Do(func() { close(ss.connected) })
			if ss.view != nil {
				ss.view.away.Store(false)
			}
		case pion.PeerConnectionStateDisconnected:
			// Nothing heard from the peer for a while (a closed tab, a
			// lost network): its packets would be lost until ICE gives up
			// on it, some 25 s on; the fan-out skips it meanwhile.
			if ss.view != nil {
				ss.view.away.Store(true)
			}
		case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
			ss.end(reasonPeerGone)
		}
	})
	if ss.kind == "whip" {
		if herr := ss.preparePublish(); herr != nil {
			return "", herr
		}
	} else if herr := ss.preparePlay(); herr != nil {
		return "", herr
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return "", refuse(http.StatusBadRequest, "the offer cannot be used: "+err.Error())
	}
	if herr := ss.checkMedia(); herr != nil {
		return "", herr
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", refuse(http.StatusNotAcceptable, "no answer to this offer: "+err.Error())
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", refuse(http.StatusInternalServerError, "cannot apply the answer: "+err.Error())
	}
	// Host candidates on the muxed ports are known at once: the answer
	// carries them all, so a client that does not trickle still connects.
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	}
	ss.log.Info("webrtc session", "app", ss.t.App, "instance", ss.t.Instance, "stream", ss.t.Stream, "client", ss.cl.ID)
	go ss.run()
	return pc.LocalDescription().SDP, nil
}

// checkMedia refuses an offer none of whose media this server carries.
func (ss *session) checkMedia() *httpError {
	for _, tr := range ss.pc.GetTransceivers() {
		if ss.kind == "whip" && tr.Receiver() != nil && len(tr.Receiver().GetParameters().Codecs) > 0 {
			return nil
		}
		if ss.kind == "whep" && tr.Sender() != nil && tr.Sender().Track() != nil {
			return nil
		}
	}
	return refuse(http.StatusNotAcceptable, "the offer has no media this server carries (H.264, Opus, G.711)")
}

// admit connects the client to its instance, waits for the application's
// decision and checks its access to the stream.
func (ss *session) admit() *httpError {
	if ss.borrowed {
		return ss.admitBorrowed()
	}
	t := ss.t
	in, cl, err := ss.s.Engine.Connect(t.App, t.Instance, ss.info)
	if err != nil {
		return admitError(err)
	}
	if cl.Deferred() {
		timer := time.NewTimer(ss.s.AcceptTimeout)
		defer timer.Stop()
		select {
		case <-ss.peer.decided:
		case <-timer.C:
			in.Reject(cl, "no decision from the application in time", amf.Undefined())
		case <-ss.ctx.Done():
			in.Disconnect(cl)
			return refuse(http.StatusServiceUnavailable, "server shutting down")
		}
	}
	if !cl.Accepted() {
		in.Disconnect(cl)
		why := "connection rejected by the application"
		if d := ss.peer.rejectDescription(); d != "" {
			why += ": " + d
		}
		return refuse(http.StatusForbidden, why)
	}
	ss.in, ss.cl = in, cl
	if ss.kind == "whip" {
		q := ss.info.Query
		if ss.token != "" {
			// onPublish sees the token as Stream.publishQueryString, as a
			// stream key in an RTMP publish name.
			v := url.Values{"token": {ss.token}}.Encode()
			if q != "" {
				q += "&"
			}
			q += v
		}
		if err := in.CheckPublish(cl, instance.PublishRequest{Stream: t.Stream, Query: q, Type: "live"}); err != nil {
			return refuse(http.StatusForbidden, statusText(err))
		}
		return nil
	}
	if err := in.CheckPlay(cl, t.Stream); err != nil {
		return refuse(http.StatusForbidden, statusText(err))
	}
	return ss.findPlayed()
}

// admitBorrowed checks a NetStream session's access to its stream as
// the RTMP session checks a publish or play: the application's onPublish
// (or readAccess) hears of it as the client's.
func (ss *session) admitBorrowed() *httpError {
	if ss.kind == "whip" {
		if err := ss.in.CheckPublish(ss.cl, instance.PublishRequest{Stream: ss.t.Stream, Query: ss.query, Type: "live"}); err != nil {
			return refuse(http.StatusForbidden, statusText(err))
		}
		return nil
	}
	if err := ss.in.CheckPlayQuery(ss.cl, ss.t.Stream, ss.query); err != nil {
		return refuse(http.StatusForbidden, statusText(err))
	}
	return ss.findPlayed()
}

// findPlayed decides what a player plays: the live stream when it is
// published (a server-side playlist publishes one too), else the
// recorded file of that name, through the engine's player.
func (ss *session) findPlayed() *httpError {
	if ss.in.Streams().Published(ss.t.Stream) {
		return nil
	}
	if recordedFile(ss.in, ss.t.Stream) {
		ss.recorded = true
		return nil
	}
	return refuse(http.StatusNotFound, "stream not published and no such recorded file")
}

func statusText(err error) string {
	if se, ok := errors.AsType[*status.Error](err); ok {
		return se.Description
	}
	return err.Error()
}

// run waits for the peer to connect, then for the session's end, and
// cleans up.
func (ss *session) run() {
	timer := time.NewTimer(ss.s.cfg.ConnectTimeout)
	select {
	case <-ss.connected:
		timer.Stop()
		ss.log.Debug("webrtc connected")
		if ss.view != nil {
			ss.view.attach()
		}
	case <-timer.C:
		ss.end(reasonTimeout)
	case <-ss.ctx.Done():
		timer.Stop()
	}
	<-ss.ctx.Done()
	if ss.view != nil {
		ss.view.detach()
	}
	_ = ss.pc.GracefulClose()
	if ss.pub != nil {
		ss.pub.close()
	}
	if !ss.borrowed {
		ss.in.Disconnect(ss.cl)
	}
	ss.forget()
	reason, _ := ss.reason.Load().(string)
	if ss.borrowed {
		if reason != reasonDeleted && ss.ended != nil {
			ss.ended(reason)
		}
		close(ss.done)
	}
	attrs := []any{"app", ss.t.App, "instance", ss.t.Instance, "stream", ss.t.Stream, "client", ss.cl.ID,
		"reason", reason, "duration", time.Since(ss.start).Round(time.Millisecond)}
	if ss.pub != nil {
		attrs = append(attrs, ss.pub.statsAttrs()...)
	}
	if ss.view != nil {
		attrs = append(attrs, ss.view.statsAttrs()...)
	}
	ss.log.Info("webrtc closed", attrs...)
}

// end closes the session with reason; the first reason wins.
func (ss *session) end(reason string) {
	ss.endOnce.Do(func() {
		ss.reason.Store(reason)
		ss.cancel(errors.New(reason))
	})
}

// ---------------------------------------------------------------------------
// The session's side of its instance client

// sessionPeer is a WebRTC session's instance.Peer: the script can accept,
// reject or disconnect it; calls have nowhere to go (WHIP and WHEP carry
// media only).
type sessionPeer struct {
	ss      *session
	decided chan struct{}
	once    sync.Once

	mu     sync.Mutex
	reject string
}

func (p *sessionPeer) init(ss *session) { p.ss, p.decided = ss, make(chan struct{}) }

func (p *sessionPeer) decide() { p.once.Do(func() { close(p.decided) }) }

func (p *sessionPeer) rejectDescription() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reject
}

// Accept implements instance.Peer.
func (p *sessionPeer) Accept(*instance.Client) { p.decide() }

// Reject implements instance.Peer: the POST answers 403 with the reason.
func (p *sessionPeer) Reject(_ *instance.Client, info amf.Value) {
	why := info.Get("description").Str()
	if msg := info.Get("application").Get("message"); msg.Kind() == amf.KindString {
		why += " " + msg.Str()
	}
	p.mu.Lock()
	p.reject = why
	p.mu.Unlock()
	p.decide()
}

// Call implements instance.Peer: nothing reaches a WHIP or WHEP client.
func (p *sessionPeer) Call(string, []amf.Value, instance.Result) bool { return false }

// Close implements instance.Peer: the session ends.
func (p *sessionPeer) Close(amf.Value) {
	p.decide()
	p.ss.end(reasonDisconnected)
}

// Ping implements instance.Peer.
func (p *sessionPeer) Ping() bool { return false }

// Stats implements instance.Peer.
func (p *sessionPeer) Stats() instance.PeerStats {
	return instance.PeerStats{BytesIn: p.ss.bytesIn.Load(), BytesOut: p.ss.bytesOut.Load()}
}
