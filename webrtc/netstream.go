package webrtc

import (
	"context"
	"net/http"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media/playback"
)

// NegotiateError is a refused NetStream negotiation: the HTTP status a
// WHIP or WHEP request would have had (422 for B-frames, 406 for no
// codec in common, 503 with WebRTC off, ...) and the reason.
type NegotiateError struct {
	Status int
	Reason string
}

func (e *NegotiateError) Error() string { return e.Reason }

// Negotiate answers the SDP offer of a NetStream of a client that an
// RTMP connection (over a WebSocket, usually) already admitted
// (docs/webrtc.md#netstream-signaling): the session takes that client
// and instance instead of connecting one of its own, so the application
// sees the publish or play as that client's, and onConnect is not asked
// again. query is what followed "?" in the stream name. ended is called,
// once, with the close reason when the session ends by itself (ICE
// failed, timeout, the stream ended); stop ends it from the RTMP side and
// returns once its publication is closed. control, for a play of a
// recorded stream, pauses and seeks its player
// (docs/webrtc.md#pause-and-seek); nil otherwise.
func (s *Server) Negotiate(in *instance.Instance, cl *instance.Client, publish bool, stream, query, offer string,
	ended func(reason string)) (answer string, stop func(), control playback.Control, err error) {
	if !s.started.Load() {
		return "", nil, nil, &NegotiateError{http.StatusServiceUnavailable, "webrtc is off (webrtc.udp: off)"}
	}
	if len(offer) > s.cfg.MaxSDPSize {
		return "", nil, nil, &NegotiateError{http.StatusRequestEntityTooLarge, "offer over webrtc.max_sdp_size"}
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(offer); err != nil {
		return "", nil, nil, &NegotiateError{http.StatusBadRequest, "malformed SDP: " + err.Error()}
	}
	if len(parsed.MediaDescriptions) == 0 {
		return "", nil, nil, &NegotiateError{http.StatusBadRequest, "the offer has no media"}
	}
	kind := "whep"
	if publish {
		kind = "whip"
	}
	ss, herr := s.newNetStreamSession(kind, target{App: in.App, Instance: in.Name, Stream: stream}, in, cl, query)
	if herr != nil {
		s.netStreamRefused(cl, stream, herr)
		return "", nil, nil, &NegotiateError{herr.status, herr.reason}
	}
	ss.ended = ended
	answer, herr = ss.open(offer)
	if herr != nil {
		ss.abort()
		s.netStreamRefused(cl, stream, herr)
		return "", nil, nil, &NegotiateError{herr.status, herr.reason}
	}
	if v := ss.view; v != nil && v.o.player != nil {
		control = v.o.player
	}
	return answer, ss.stopFromClient, control, nil
}

func (s *Server) netStreamRefused(cl *instance.Client, stream string, herr *httpError) {
	s.refused.Add(1)
	s.log.Info("webrtc refused", "proto", "netstream", "client", cl.ID, "stream", stream,
		"status", herr.status, "reason", herr.reason)
}

// newNetStreamSession is newSession for a client admitted elsewhere.
func (s *Server) newNetStreamSession(kind string, t target, in *instance.Instance, cl *instance.Client, query string) (*session, *httpError) {
	ss := &session{
		s: s, id: newID(), kind: kind, t: t, start: time.Now(),
		info: cl.ClientInfo, borrowed: true, query: query,
		in: in, cl: cl,
		connected: make(chan struct{}),
		done:      make(chan struct{}),
	}
	ss.ctx, ss.cancel = context.WithCancelCause(s.ctx)
	ss.log = s.log.With("proto", "netstream-"+kind, "session", ss.id)
	ss.peer.init(ss)
	if herr := s.register(ss); herr != nil {
		return nil, herr
	}
	return ss, nil
}

// stopFromClient ends a NetStream's session (the stream was closed,
// played or published again, or the connection ended) and waits, bounded,
// for its cleanup, so that the client's next publish of the same name
// finds the stream free.
func (ss *session) stopFromClient() {
	ss.end(reasonDeleted)
	select {
	case <-ss.done:
	case <-time.After(5 * time.Second):
		ss.log.Warn("webrtc session slow to close")
	}
}

// StatusCode is the HTTP status of the equivalent WHIP or WHEP refusal.
func (e *NegotiateError) StatusCode() int { return e.Status }
