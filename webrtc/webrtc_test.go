package webrtc

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/media/rtph264"
)

const waitLong = 30 * time.Second // generous: the machine is shared and loaded

// A pion WHIP client publishes H.264 and Opus; a pion WHEP client plays the
// same stream and gets the very NAL units and Opus packets, with the
// parameter sets before each keyframe; an RTMP-side subscriber sees the
// FLV mapping (AVC sequence header, frames, E-RTMP Opus).
func TestWHIPToWHEP(t *testing.T) {
	st := startStack(t, Config{})
	pub, status, body := startWHIP(t, st.base+"/whip/live/cam", "anything")
	if status != http.StatusCreated {
		t.Fatalf("WHIP POST: %d %s", status, body)
	}
	if !strings.HasPrefix(pub.loc, SessionPrefix) {
		t.Fatalf("Location %q", pub.loc)
	}
	in, _ := connectClient(t, st, "")
	testutil.WaitFor(t, waitLong, "the stream to be published", func() bool { return in.Streams().Published("cam") })

	play, status, body := startWHEP(t, st.base+"/whep/live/cam", "")
	if status != http.StatusCreated {
		t.Fatalf("WHEP POST: %d %s", status, body)
	}
	testutil.WaitFor(t, waitLong, "two keyframes and Opus at the player", func() bool {
		_, idrs, opus := play.counts()
		return idrs >= 2 && opus >= 20
	})
	play.mu.Lock()
	for _, u := range play.units {
		last := u[len(u)-1]
		if rtph264.Type(last) != rtph264.NALIDR {
			if len(u) != 1 || !bytes.Equal(last, testP(int(last[3]))) {
				t.Errorf("frame unit differs: %x", u)
			}
			continue
		}
		if len(u) != 3 || !bytes.Equal(u[0], testSPS) || !bytes.Equal(u[1], testPPS) || !bytes.Equal(last, testIDR(int(last[3]))) {
			t.Errorf("keyframe unit: %d NALs, want SPS, PPS, IDR, byte for byte", len(u))
		}
	}
	if !bytes.Equal(play.opus[len(play.opus)-1], pub.opusData) {
		t.Errorf("Opus payload %x, want %x", play.opus[len(play.opus)-1], pub.opusData)
	}
	play.mu.Unlock()

	// The FLV side: what an RTMP player of the stream gets.
	sub := in.Streams().Subscribe("cam", media.SubscribeOptions{})
	defer sub.Close()
	var seqHdr, frames, opusStart, opusFrames int
	testutil.WaitFor(t, waitLong, "FLV tags at an engine subscriber", func() bool {
		for _, ev := range sub.Drain(nil) {
			pk := ev.Packet
			if pk == nil {
				continue
			}
			switch pk.Kind {
			case media.Video:
				h, err := flv.ParseVideoHeader(pk.Payload)
				if err != nil || h.Codec != flv.VideoAVC {
					t.Fatalf("video tag %x: %v", pk.Payload[:min(8, len(pk.Payload))], err)
				}
				if h.PacketType == flv.VideoSequenceStart {
					cfg, err := rtph264.ParseConfig(pk.Payload[5:])
					if err != nil || !bytes.Equal(cfg.SPS[0], testSPS) || !bytes.Equal(cfg.PPS[0], testPPS) {
						t.Fatalf("sequence header: %v", err)
					}
					seqHdr++
				} else {
					frames++
				}
			case media.Audio:
				h, err := flv.ParseAudioHeader(pk.Payload)
				if err != nil || !h.Ex() || h.FourCC != flv.FourCCOpus {
					t.Fatalf("audio tag %x: %v", pk.Payload[:min(8, len(pk.Payload))], err)
				}
				if h.PacketType == flv.AudioSequenceStart {
					opusStart++
				} else {
					opusFrames++
				}
			}
		}
		return seqHdr >= 1 && frames >= 10 && opusStart >= 1 && opusFrames >= 20
	})

	// DELETE ends the player's session, then the publisher's.
	del := func(loc string) int {
		req, _ := http.NewRequest(http.MethodDelete, st.base+loc, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := del(play.loc); s != http.StatusOK {
		t.Fatalf("DELETE player: %d", s)
	}
	testutil.WaitFor(t, waitLong, "the player's closed line", func() bool {
		return strings.Contains(st.logs.String(), `msg="webrtc closed" proto=whep`) && st.srv.Stats().Outlets == 0
	})
	if s := del(pub.loc); s != http.StatusOK {
		t.Fatalf("DELETE publisher: %d", s)
	}
	// The session unpublishes before it leaves the server's table: wait
	// for both, or the second DELETE may still find it.
	testutil.WaitFor(t, waitLong, "the stream unpublished and the session gone", func() bool {
		return !in.Streams().Published("cam") && st.srv.Stats().Sessions == 0
	})
	if s := del(pub.loc); s != http.StatusNotFound {
		t.Errorf("DELETE twice: %d, want 404", s)
	}
}

// The application's script judges the bearer token: without one WHIP
// answers 401 and the script hears nothing; a token it rejects answers
// 403 with its message; one it accepts publishes, and onPublish sees it.
func TestWHIPToken(t *testing.T) {
	st := startStack(t, Config{})
	_, status, body := startWHIP(t, st.base+"/whip/guarded/cam", "")
	if status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s, want 401", status, body)
	}
	_, status, body = startWHIP(t, st.base+"/whip/guarded/cam", "wrong")
	if status != http.StatusForbidden || !strings.Contains(body, "bad token") {
		t.Fatalf("wrong token: %d %s, want 403 with the script's message", status, body)
	}
	_, status, body = startWHIP(t, st.base+"/whip/guarded/cam", "secret")
	if status != http.StatusCreated {
		t.Fatalf("right token: %d %s", status, body)
	}
	testutil.WaitFor(t, waitLong, "onPublish", func() bool {
		return strings.Contains(st.logs.String(), "onPublish cam query=token=secret")
	})
	logs := st.logs.String()
	if strings.Count(logs, "onConnect whip") != 2 {
		t.Errorf("the script saw %d connects, want 2 (the tokenless POST must not reach it):\n%s",
			strings.Count(logs, "onConnect whip"), logs)
	}
}

// Bad requests get clear statuses and disturb nobody: a publisher and a
// player carry on meanwhile.
func TestBadRequests(t *testing.T) {
	st := startStack(t, Config{MaxSDPSize: 16 << 10})
	if _, status, body := startWHIP(t, st.base+"/whip/live/cam", "t"); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	play, status, body := startWHEP(t, st.base+"/whep/live/cam", "")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	testutil.WaitFor(t, waitLong, "frames at the player", func() bool { u, _, _ := play.counts(); return u > 5 })

	cases := []struct {
		name, method, path, ctype, token, body string
		want                                   int
		wantBody                               string
	}{
		{"malformed SDP", "POST", "/whip/guarded/x", "application/sdp", "secret", "v=0\r\nthis is not SDP\r\n", 400, "malformed SDP"},
		{"SDP without media", "POST", "/whip/live/x", "application/sdp", "t", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 400, "no media"},
		{"oversized body", "POST", "/whip/live/x", "application/sdp", "t", strings.Repeat("a", 20<<10), 413, "max_sdp_size"},
		{"not SDP", "POST", "/whip/live/x", "text/plain", "t", "v=0", 415, "application/sdp"},
		{"unknown app", "POST", "/whep/nosuchapp/x", "application/sdp", "", offerFor(t, play), 404, "no such application"},
		{"unknown stream", "POST", "/whep/live/nosuch", "application/sdp", "", offerFor(t, play), 404, "not published"},
		{"no stream in the URL", "POST", "/whep/live", "application/sdp", "", "v=0", 404, "names no stream"},
		{"stream already published", "POST", "/whip/live/cam", "application/sdp", "t", offerFor(t, play), 409, "already published"},
		{"GET", "GET", "/whip/live/cam", "", "", "", 405, "POST"},
		{"PATCH unknown session", "PATCH", SessionPrefix + "nope", "application/trickle-ice-sdpfrag", "", "a=candidate:1 1 udp 1 127.0.0.1 9 typ host", 404, "no such session"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, st.base+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || !strings.Contains(b.String(), c.wantBody) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, resp.StatusCode, b.String(), c.want, c.wantBody)
		}
	}
	if strings.Contains(st.logs.String(), "onConnect") {
		t.Error("the malformed offer reached the script")
	}
	before, _, _ := play.counts()
	testutil.WaitFor(t, waitLong, "the player to carry on", func() bool { u, _, _ := play.counts(); return u > before+10 })
}

// offerFor is a valid offer (the player's own), for requests that must
// fail on something else.
func offerFor(t testing.TB, w *whepPlayer) string {
	t.Helper()
	return w.pc.LocalDescription().SDP
}

// An RTMP-side publication (FLV AVC tags with the parameter sets only in
// the sequence header, as ffmpeg sends them) reaches a WHEP player with
// SPS and PPS put before each IDR.
func TestRTMPPublishToWHEP(t *testing.T) {
	st := startStack(t, Config{})
	// 300-byte slices: a 4-byte AVCC length that starts 00 00 01, which
	// must not read as an Annex-B start code.
	publishH264(t, st, "rtmpcam", 40*time.Millisecond, 294)
	play, status, body := startWHEP(t, st.base+"/whep/live/rtmpcam", "")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	testutil.WaitFor(t, waitLong, "two keyframes at the player", func() bool { _, idrs, _ := play.counts(); return idrs >= 2 })
	play.mu.Lock()
	defer play.mu.Unlock()
	for _, u := range play.units {
		last := u[len(u)-1]
		if rtph264.Type(last) == rtph264.NALIDR && (len(u) != 3 || !bytes.Equal(u[0], testSPS) || !bytes.Equal(u[1], testPPS)) {
			t.Fatalf("keyframe without its parameter sets: %d NALs", len(u))
		}
		if rtph264.Type(last) == rtph264.NALSlice && (len(u) != 1 || len(last) != 300) {
			t.Fatalf("frame of %d NALs, %d bytes; want the 300-byte slice", len(u), len(last))
		}
	}
}
