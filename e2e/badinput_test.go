//go:build e2e

package e2e

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// maxMessageSize is the message size limit the bad-input server runs with;
// the default (16 MiB) cannot be exceeded through the 24-bit length field.
const maxMessageSize = 1 << 20

// badInputConfig lowers the limits the attacks must hit quickly.
const badInputConfig = `
session:
  handshake_timeout: 2s
  write_timeout: 3s
  chunk:
    max_message_size: 1048576
instance:
  media:
    slow_consumer_after: 2s
`

// attack is one misbehaving raw client.
type attack struct {
	name string
	// run does the misbehaving on a connected socket; it returns when the
	// bad bytes are out (the test then waits for the server to close). An
	// error means the attack could not be made (write errors after the
	// server closed are not errors).
	run func(srv *server, c *rawConn) error
	// rcvBuf is the client's SO_RCVBUF (0: default).
	rcvBuf int
}

var attacks = []attack{
	{name: "random bytes", run: func(_ *server, c *rawConn) error {
		b := make([]byte, 4096)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[0] = 0xFF // not a C0 version (3 = RTMP, 6 = RTMPE)
		_ = c.write(b)
		return nil // write errors: the server may already have closed
	}},
	{name: "truncated handshake", run: func(_ *server, c *rawConn) error {
		b := make([]byte, 1+700) // C0 and 700 of C1's 1536 bytes, then nothing
		b[0] = 3
		_ = c.write(b)
		return nil // write errors: the server may already have closed
	}},
	{name: "chunk size 0x7fffffff", run: func(_ *server, c *rawConn) error {
		if err := c.handshake(); err != nil {
			return err
		}
		_ = c.writeMessage(2, 1, 0, []byte{0x7f, 0xff, 0xff, 0xff})
		// A message larger than any sane chunk, in case the size alone is
		// accepted as "unlimited" (docs/rtmp.md#chunk-size-abort-and-limits).
		_ = c.writeMessage(3, 20, 0, make([]byte, 512))
		return nil // write errors: the server may already have closed
	}},
	{name: "message over the size limit", run: func(_ *server, c *rawConn) error {
		if err := c.handshake(); err != nil {
			return err
		}
		b := chunkHeader0(nil, 3, 0, maxMessageSize+1, 20, 0)
		b = append(b, make([]byte, 128)...)
		_ = c.write(b)
		return nil // write errors: the server may already have closed
	}},
	{name: "chunks on all csids", run: func(_ *server, c *rawConn) error {
		if err := c.handshake(); err != nil {
			return err
		}
		// Every csid 3..65599 opens a 129-byte audio message and sends its
		// first 128-byte chunk, leaving it half assembled.
		payload := make([]byte, 128)
		var b []byte
		for csid := uint32(3); csid <= 65599; csid++ {
			b = chunkHeader0(b, csid, 0, 129, 8, 1)
			b = append(b, payload...)
			if len(b) > 64<<10 {
				if c.write(b) != nil {
					return nil // closed by the server: expected
				}
				b = b[:0]
			}
		}
		_ = c.write(b)
		return nil // write errors: the server may already have closed
	}},
	{name: "deeply nested AMF connect", run: func(srv *server, c *rawConn) error {
		if err := c.handshake(); err != nil {
			return err
		}
		p := amf0(nil, "connect")
		p = amf0(p, 1.0)
		// The command object: {app: "live", tcUrl: ..., deep: {a: {a: ...}}}
		p = append(p, 0x03)
		for _, kv := range []amfProp{{"app", "live"}, {"tcUrl", "rtmp://" + srv.rtmpAddr + "/live"}} {
			p = binary.BigEndian.AppendUint16(p, uint16(len(kv.key)))
			p = append(p, kv.key...)
			p = amf0(p, kv.val)
		}
		p = binary.BigEndian.AppendUint16(p, 4)
		p = append(p, "deep"...)
		p = append(p, deepAMF0Object(10000)...)
		p = append(p, 0, 0, 0x09)
		_ = c.writeMessage(3, 20, 0, p)
		return nil // write errors: the server may already have closed
	}},
	{name: "stalled reader", rcvBuf: 4096, run: func(srv *server, c *rawConn) error {
		// Plays, then never reads again.
		return c.connectAndPlay(srv, "live", "s1")
	}},
}

// TestBadInputDoesNotDisturbPlayback: while ffmpeg publishes and an ffmpeg
// player plays, raw clients misbehave in every way listed above.
// Each is closed with a `closed` line naming its address and a reason other
// than eof; the player keeps decoding throughout.
func TestBadInputDoesNotDisturbPlayback(t *testing.T) {
	t.Parallel()
	requireEncoders(t, "libx264", "aac")
	srv := startServer(t, serverOpts{Config: badInputConfig})
	url := srv.RTMPURL("live", "s1")

	play := startFFmpegPlayer(t, url)
	waitPlaying(t, srv, "s1", 1)
	start := time.Now()
	pub := startPublisher(t, url, codecArgs{Video: h264CBR3M, Audio: aacAudio}, 0)
	waitFor(t, 30*time.Second, "the player to receive data", func() bool { return play.size() > 10<<10 })

	var wg sync.WaitGroup
	for _, a := range attacks {
		c := dialRaw(t, srv.rtmpAddr, a.rcvBuf)
		wg.Go(func() {
			if err := a.run(srv, c); err != nil {
				t.Errorf("%s: %v", a.name, err)
				return
			}
			remote := c.local()
			ok := poll(45*time.Second, func() bool { return srv.closedLine(remote) != nil })
			if !ok {
				t.Errorf("%s: no `closed` log line for %s within 45s", a.name, remote)
				return
			}
			l := srv.closedLine(remote)
			t.Logf("%s: closed reason=%v err=%v", a.name, l["reason"], l["err"])
			if r, _ := l["reason"].(string); r == "" || r == "eof" {
				t.Errorf("%s: closed with reason %q, want a reason naming the fault (not eof)", a.name, r)
			}
			// The server closed the socket: reading must end promptly.
			if !c.waitServerClose(10 * time.Second) {
				t.Errorf("%s: server logged `closed` but the socket stays open", a.name)
			}
		})
	}
	wg.Wait()
	attacksDone := time.Since(start)
	t.Logf("all attacks handled %v after the publisher started", attacksDone.Round(time.Millisecond))

	// Keep playing a while after the attacks to see that the player still
	// gets frames.
	sizeAfter := play.size()
	framesAfter := pub.frames()
	waitFor(t, 30*time.Second, "5 s more of publishing", func() bool { return pub.frames() >= framesAfter+5*fps })
	pub.stop(t)
	play.end(t, 10*time.Second)
	if play.size() <= sizeAfter {
		t.Errorf("player output did not grow after the attacks (%d bytes)", sizeAfter)
	}

	published := probe(t, pub.copyPath)
	got := probe(t, play.out)
	checkReceived(t, "ffmpeg player", got, published, "h264", "aac")

	// Frames decoded after the attacks: video packets whose timestamps lie
	// past the frame ffmpeg had reached when they ended (the stream's
	// clock: on a loaded machine -re publishes slower than real time).
	after := 0
	for _, p := range got.packetsOf("video") {
		if ts, err := parseSeconds(p.DTSTime); err == nil && ts >= float64(framesAfter)/fps {
			after++
		}
	}
	t.Logf("ffmpeg player: %d video frames after the attacks", after)
	if after == 0 {
		t.Errorf("ffmpeg player received no video after the attacks")
	}
}
