package webrtc

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media/playback"
)

// netStreamPlay is a NetStream's play over WebRTC, received by w.
type netStreamPlay struct {
	w       *whepPlayer
	cl      *instance.Client // the client the session borrows
	control playback.Control // the session's
	ended   chan string      // the reason of an end the client did not ask for
}

// A session refused at webrtc.max_sessions leaves no live context
// attached to the server's, which lives until shutdown.
func TestRefusedSessionContextCanceled(t *testing.T) {
	st := startStack(t, Config{MaxSessions: 1})
	if _, status, body := startWHIP(t, st.base+"/whip/live/cam", "anything"); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	ss := &session{id: newID()}
	ss.ctx, ss.cancel = context.WithCancelCause(st.srv.ctx)
	if herr := st.srv.register(ss); herr == nil {
		t.Fatal("a session registered past webrtc.max_sessions")
	}
	if ss.ctx.Err() == nil {
		t.Error("the refused session's context is live")
	}
}

// playNetStream plays stream over WebRTC into a newWHEPPlayer as a
// NetStream of a client admitted over a WebSocket does; the session, the
// player and the client end at cleanup.
func playNetStream(t *testing.T, st *stack, stream string) *netStreamPlay {
	t.Helper()
	in, cl := connectClient(t, st, "rtmpws")
	p := &netStreamPlay{w: newWHEPPlayer(t), cl: cl, ended: make(chan string, 1)}
	t.Cleanup(p.w.close)
	answer, stop, control, err := st.srv.Negotiate(in, cl, false, stream, "", gatheredOffer(t, p.w.pc), func(r string) { p.ended <- r })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	p.control = control
	if err := p.w.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	return p
}

// A NetStream's offer publishes for a client admitted elsewhere: the
// stream is published (a WHEP player receives it), the session neither
// connects nor disconnects the client, and stop returns once the stream
// is unpublished. The usual refusals keep their statuses.
func TestNetStreamNegotiate(t *testing.T) {
	st := startStack(t, Config{})
	in, cl := connectClient(t, st, "rtmpws")

	p := newWHIPPublisher(t)
	pc := p.pc
	offer := gatheredOffer(t, pc)
	var ended atomic.Value
	answer, stop, _, err := st.srv.Negotiate(in, cl, true, "nscam", "", offer, func(r string) { ended.Store(r) })
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	p.wg.Go(p.run)
	defer p.close()
	play, status, body := startWHEP(t, st.base+"/whep/live/nscam", "")
	if status != http.StatusCreated {
		t.Fatalf("WHEP of the NetStream's publication: %d %s", status, body)
	}
	testutil.WaitFor(t, waitLong, "frames at the player", func() bool { u, _, _ := play.counts(); return u > 5 })

	for _, c := range []struct {
		name    string
		publish bool
		stream  string
		offer   string
		want    int
	}{
		{"malformed SDP", true, "x", "v=0\r\nnot SDP\r\n", http.StatusBadRequest},
		{"not published", false, "nosuch", offerFor(t, play), http.StatusNotFound},
		{"already published", true, "nscam", offer, http.StatusConflict},
	} {
		_, _, _, err := st.srv.Negotiate(in, cl, c.publish, c.stream, "", c.offer, nil)
		ne, ok := errors.AsType[*NegotiateError](err)
		if !ok || ne.StatusCode() != c.want {
			t.Errorf("%s: %v, want status %d", c.name, err, c.want)
		}
	}

	stop()
	if in.Streams().Published("nscam") {
		t.Error("the stream is still published after stop")
	}
	if r := ended.Load(); r != nil {
		t.Errorf("ended(%v) for a session the client stopped", r)
	}
	if !cl.Accepted() {
		t.Error("the session disconnected the client it borrowed")
	}
	testutil.WaitFor(t, waitLong, "the sessions to end", func() bool { return st.srv.Stats().Sessions <= 1 })
}

// A peer that goes away ends the session by itself: ended hears why.
func TestNetStreamPeerGone(t *testing.T) {
	st := startStack(t, Config{ConnectTimeout: 500 * time.Millisecond})
	in, cl := connectClient(t, st, "rtmpws")
	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	ended := make(chan string, 1)
	// The answer is never applied: the peer never connects.
	if _, _, _, err := st.srv.Negotiate(in, cl, true, "lonely", "", gatheredOffer(t, pc), func(r string) { ended <- r }); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ended:
		if r != reasonTimeout {
			t.Errorf("ended(%q), want %q", r, reasonTimeout)
		}
	case <-time.After(waitLong):
		t.Fatal("ended was not called")
	}
	testutil.WaitFor(t, waitLong, "the stream unpublished", func() bool { return !in.Streams().Published("lonely") })
}

// webrtc.max_sessions bounds WHIP, WHEP and NetStream sessions together:
// past it, a WHEP request and a NetStream's offer are both refused 503.
func TestMaxSessionsRefused(t *testing.T) {
	st := startStack(t, Config{MaxSessions: 1})
	if _, status, body := startWHIP(t, st.base+"/whip/live/cam", "anything"); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	if _, status, body := startWHEP(t, st.base+"/whep/live/cam", ""); status != http.StatusServiceUnavailable {
		t.Errorf("WHEP past webrtc.max_sessions: %d %s, want 503", status, body)
	}
	in, cl := connectClient(t, st, "rtmpws")
	w := newWHEPPlayer(t)
	defer w.close()
	_, _, _, err := st.srv.Negotiate(in, cl, false, "cam", "", gatheredOffer(t, w.pc), nil)
	if ne := (*NegotiateError)(nil); !errors.As(err, &ne) || ne.Status != http.StatusServiceUnavailable {
		t.Errorf("NetStream play past webrtc.max_sessions: %v, want a 503 refusal", err)
	}
}
