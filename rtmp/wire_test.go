package rtmp

import (
	"bytes"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/rtmp/chunk"
	"github.com/openfcs/openfcs/rtmp/handshake"
	"github.com/openfcs/openfcs/rtmp/message"
	"github.com/openfcs/openfcs/status"
)

// The replies of a connect / createStream / publish / play exchange, byte
// for byte, against vectors that do not come from our encoder: the connect
// request and its _result are docs/amf.md#test-vectors and C2, the control messages
// and the createStream _result are docs/rtmp.md#header-examples; the other bodies were
// assembled by hand from the AMF0 markers (docs/amf.md#amf0) and are annotated
// value by value so that a reader can check them.

// vec decodes annotated hex: whitespace is ignored and "//" starts a
// comment that runs to the end of the line.
func vec(t testing.TB, s string) []byte {
	t.Helper()
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		line, _, _ = strings.Cut(line, "//")
		b.WriteString(strings.Join(strings.Fields(line), ""))
	}
	out, err := hex.DecodeString(b.String())
	if err != nil {
		t.Fatalf("bad vector: %v", err)
	}
	return out
}

// docs/amf.md#test-vectors: connect from an AMF0 client, app "vod" (Flash Player 10
// values). enc3 is the same request with objectEncoding 3.
const (
	c1Connect = `
		02 00 07 63 6f 6e 6e 65 63 74 00 3f f0 00 00 00
		00 00 00 03 00 03 61 70 70 02 00 03 76 6f 64 00
		08 66 6c 61 73 68 56 65 72 02 00 0e 57 49 4e 20
		31 30 2c 30 2c 33 32 2c 31 38 00 06 73 77 66 55
		72 6c 02 00 1d 68 74 74 70 3a 2f 2f 65 78 61 6d
		70 6c 65 2e 63 6f 6d 2f 70 6c 61 79 65 72 2e 73
		77 66 00 05 74 63 55 72 6c 02 00 16 72 74 6d 70
		3a 2f 2f 65 78 61 6d 70 6c 65 2e 63 6f 6d 2f 76
		6f 64 00 04 66 70 61 64 01 00 00 0c 63 61 70 61
		62 69 6c 69 74 69 65 73 00 40 6d e0 00 00 00 00
		00 00 0b 61 75 64 69 6f 43 6f 64 65 63 73 00 40
		ab ee 00 00 00 00 00 00 0b 76 69 64 65 6f 43 6f
		64 65 63 73 00 40 6f 80 00 00 00 00 00 00 0d 76
		69 64 65 6f 46 75 6e 63 74 69 6f 6e 00 3f f0 00
		00 00 00 00 00 00 07 70 61 67 65 55 72 6c 02 00
		1d 68 74 74 70 3a 2f 2f 65 78 61 6d 70 6c 65 2e
		63 6f 6d 2f 69 6e 64 65 78 2e 68 74 6d 6c 00 0e
		6f 62 6a 65 63 74 45 6e 63 6f 64 69 6e 67 00`
	c1Enc0 = `00 00 00 00 00 00 00 00 00 00 09`
	c1Enc3 = `40 08 00 00 00 00 00 00 00 00 09`
)

// connectResult is docs/amf.md#test-vectors (the _result FMS sends: properties
// object where the command object goes, then the info object) with the
// two optional FMS 3 properties of docs/rtmp.md#connect that openfcs adds before
// the info object ends: data {version} and clientid.
func connectResult(enc, clientID string) string {
	return `
		02 00 07 5f 72 65 73 75 6c 74 00 3f f0 00 00 00
		00 00 00 03 00 06 66 6d 73 56 65 72 02 00 0d 46
		4d 53 2f 33 2c 30 2c 31 2c 31 32 33 00 0c 63 61
		70 61 62 69 6c 69 74 69 65 73 00 40 3f 00 00 00
		00 00 00 00 04 6d 6f 64 65 00 3f f0 00 00 00 00
		00 00 00 00 09 03 00 05 6c 65 76 65 6c 02 00 06
		73 74 61 74 75 73 00 04 63 6f 64 65 02 00 1d 4e
		65 74 43 6f 6e 6e 65 63 74 69 6f 6e 2e 43 6f 6e
		6e 65 63 74 2e 53 75 63 63 65 73 73 00 0b 64 65
		73 63 72 69 70 74 69 6f 6e 02 00 15 43 6f 6e 6e
		65 63 74 69 6f 6e 20 73 75 63 63 65 65 64 65 64
		2e 00 0e 6f 62 6a 65 63 74 45 6e 63 6f 64 69 6e
		67 ` + enc + ` // objectEncoding value
		00 04 64 61 74 61 // data:
		08 00 00 00 01 // ECMA array, 1 entry
		  00 07 76 65 72 73 69 6f 6e 02 00 09 33 2c 30 2c 31 2c 31 32 33 // version: "3,0,1,123"
		00 00 09 // end of data
		00 08 63 6c 69 65 6e 74 69 64 ` + clientID + ` // clientid
		00 00 09 // end of the info object`
}

// The connect sequence of docs/rtmp.md#connect: payloads of
// the docs/rtmp.md#header-examples examples.
func connectReplies(enc, clientID string) []wireMsg {
	return []wireMsg{
		{"window ack size", message.TypeWindowAckSize, 0, `00 26 25 a0`},
		{"set peer bandwidth", message.TypeSetPeerBandwidth, 0, `00 26 25 a0 02`},
		{"set chunk size", message.TypeSetChunkSize, 0, `00 00 10 00`},
		{"stream begin 0", message.TypeUserControl, 0, `00 00 00 00 00 00`},
		{"connect _result", message.TypeCommand, 0, connectResult(enc, clientID)},
	}
}

const (
	num1 = `00 3f f0 00 00 00 00 00 00`
	num2 = `00 40 00 00 00 00 00 00 00`
	num3 = `00 40 08 00 00 00 00 00 00`
)

// wireMsg is one message as it crosses the wire: type, stream and body.
type wireMsg struct {
	name string
	typ  uint8
	msid uint32
	body string // annotated hex (vec)
}

// rawPeer plays a client with nothing but bytes: our handshake, then
// chunks it frames itself (fmt 0, one chunk per message).
type rawPeer struct {
	t  testing.TB
	nc net.Conn
	r  *chunk.Reader
}

func dialRaw(t testing.TB, ts *testServer) *rawPeer {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := handshake.Client(nc, handshake.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, nc: nc, r: chunk.NewReader(nc, chunk.Limits{})}
	// docs/rtmp.md#header-examples: Set Chunk Size 4096, so that every message below fits
	// in one chunk.
	p.write(vec(t, `02 00 00 00 00 00 04 01 00 00 00 00 00 00 10 00`))
	return p
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// send frames body as one fmt 0 chunk (docs/rtmp.md#message-header) on csid.
func (p *rawPeer) send(csid byte, typ uint8, msid uint32, body []byte) {
	p.t.Helper()
	n := len(body)
	h := []byte{csid, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n), typ,
		byte(msid), byte(msid >> 8), byte(msid >> 16), byte(msid >> 24)}
	p.write(append(h, body...))
}

// expect reads the next messages and wants exactly these, in this order.
func (p *rawPeer) expect(want ...wireMsg) {
	p.t.Helper()
	for _, w := range want {
		h, got, err := p.r.ReadMessage()
		if err != nil {
			p.t.Fatalf("%s: %v", w.name, err)
		}
		if h.Type != w.typ || h.StreamID != w.msid || !bytes.Equal(got, vec(p.t, w.body)) {
			p.t.Fatalf("%s: got type %d msid %d\n% x\nwant type %d msid %d\n% x",
				w.name, h.Type, h.StreamID, got, w.typ, w.msid, vec(p.t, w.body))
		}
	}
}

func TestWireRepliesMatchVectors(t *testing.T) {
	ts := startServer(t, Config{})
	if err := os.Mkdir(filepath.Join(ts.apps, "vod"), 0o755); err != nil {
		t.Fatal(err)
	}

	// A publisher: connect, createStream, releaseStream, FCPublish,
	// publish (ffmpeg's sequence, createStream first).
	pub := dialRaw(t, ts)
	pub.send(3, message.TypeCommand, 0, vec(t, c1Connect+c1Enc0))
	pub.expect(connectReplies("00 00 00 00 00 00 00 00 00", num1)...)
	pub.send(3, message.TypeCommand, 0, vec(t, `
		02 00 0c 63 72 65 61 74 65 53 74 72 65 61 6d // "createStream"
		`+num2+` // 2
		05 // null`))
	pub.expect(wireMsg{"createStream _result (docs/rtmp.md#header-examples)", message.TypeCommand, 0,
		`02 00 07 5f 72 65 73 75 6c 74 00 40 00 00 00 00 00 00 00 05 00 3f f0 00 00 00 00 00 00`})
	pub.send(3, message.TypeCommand, 0, vec(t, `
		02 00 0d 72 65 6c 65 61 73 65 53 74 72 65 61 6d // "releaseStream"
		`+num3+` // 3
		05 // null
		02 00 02 73 31 // "s1"`))
	pub.expect(wireMsg{"releaseStream _result", message.TypeCommand, 0, `
		02 00 07 5f 72 65 73 75 6c 74 // "_result"
		` + num3 + ` // 3
		05 // null
		06 // undefined`})
	pub.send(3, message.TypeCommand, 0, vec(t, `
		02 00 09 46 43 50 75 62 6c 69 73 68 // "FCPublish"
		00 40 10 00 00 00 00 00 00 // 4
		05 // null
		02 00 02 73 31 // "s1"`))
	pub.expect(
		wireMsg{"FCPublish _result", message.TypeCommand, 0, `
		02 00 07 5f 72 65 73 75 6c 74 // "_result"
		00 40 10 00 00 00 00 00 00 // 4
		05 // null
		06 // undefined`},
		wireMsg{"onFCPublish (docs/rtmp.md#encoder-commands)", message.TypeCommand, 0, `
		02 00 0b 6f 6e 46 43 50 75 62 6c 69 73 68 // "onFCPublish"
		00 00 00 00 00 00 00 00 00 // 0
		05 // null
		03 // object
		  00 04 63 6f 64 65 02 00 17 4e 65 74 53 74 72 65 61 6d 2e 50 75 62 6c 69 73 68 2e 53 74 61 72 74 // code: "NetStream.Publish.Start"
		  00 0b 64 65 73 63 72 69 70 74 69 6f 6e 02 00 02 73 31 // description: "s1"
		00 00 09 // end`})
	pub.send(8, message.TypeCommand, 1, vec(t, `
		02 00 07 70 75 62 6c 69 73 68 // "publish"
		00 40 14 00 00 00 00 00 00 // 5
		05 // null
		02 00 02 73 31 // "s1"
		02 00 04 6c 69 76 65 // "live"`))
	pub.expect(
		wireMsg{"stream begin 1 (docs/rtmp.md#header-examples)", message.TypeUserControl, 0, `00 00 00 00 00 01`},
		wireMsg{"NetStream.Publish.Start", message.TypeCommand, 1, `
		02 00 08 6f 6e 53 74 61 74 75 73 // "onStatus"
		00 00 00 00 00 00 00 00 00 // 0
		05 // null
		03 // object
		  00 05 6c 65 76 65 6c 02 00 06 73 74 61 74 75 73 // level: "status"
		  00 04 63 6f 64 65 02 00 17 4e 65 74 53 74 72 65 61 6d 2e 50 75 62 6c 69 73 68 2e 53 74 61 72 74 // code: "NetStream.Publish.Start"
		  00 0b 64 65 73 63 72 69 70 74 69 6f 6e 02 00 14 73 31 20 69 73 20 6e 6f 77 20 70 75 62 6c 69 73 68 65 64 2e // description: "s1 is now published."
		  00 07 64 65 74 61 69 6c 73 02 00 02 73 31 // details: "s1"
		  00 08 63 6c 69 65 6e 74 69 64 ` + num1 + ` // clientid: 1
		00 00 09 // end`})

	// A player (the second client): connect, createStream, play "s1".
	play := dialRaw(t, ts)
	play.send(3, message.TypeCommand, 0, vec(t, c1Connect+c1Enc0))
	play.expect(connectReplies("00 00 00 00 00 00 00 00 00", num2)...)
	play.send(3, message.TypeCommand, 0, vec(t, `
		02 00 0c 63 72 65 61 74 65 53 74 72 65 61 6d // "createStream"
		`+num2+` // 2
		05 // null`))
	play.expect(wireMsg{"createStream _result (docs/rtmp.md#header-examples)", message.TypeCommand, 0,
		`02 00 07 5f 72 65 73 75 6c 74 00 40 00 00 00 00 00 00 00 05 00 3f f0 00 00 00 00 00 00`})
	play.send(8, message.TypeCommand, 1, vec(t, `
		02 00 04 70 6c 61 79 // "play"
		`+num3+` // 3
		05 // null
		02 00 02 73 31 // "s1"
		00 c0 9f 40 00 00 00 00 00 // -2000
		00 c0 8f 40 00 00 00 00 00 // -1000
		01 01 // true`))
	play.expect(
		wireMsg{"stream begin 1", message.TypeUserControl, 0, `00 00 00 00 00 01`},
		wireMsg{"NetStream.Play.Reset", message.TypeCommand, 1, `
		02 00 08 6f 6e 53 74 61 74 75 73 // "onStatus"
		00 00 00 00 00 00 00 00 00 // 0
		05 // null
		03 // object
		  00 05 6c 65 76 65 6c 02 00 06 73 74 61 74 75 73 // level: "status"
		  00 04 63 6f 64 65 02 00 14 4e 65 74 53 74 72 65 61 6d 2e 50 6c 61 79 2e 52 65 73 65 74 // code: "NetStream.Play.Reset"
		  00 0b 64 65 73 63 72 69 70 74 69 6f 6e 02 00 19 50 6c 61 79 69 6e 67 20 61 6e 64 20 72 65 73 65 74 74 69 6e 67 20 73 31 2e // description: "Playing and resetting s1."
		  00 07 64 65 74 61 69 6c 73 02 00 02 73 31 // details: "s1"
		  00 08 63 6c 69 65 6e 74 69 64 ` + num2 + ` // clientid: 2
		00 00 09 // end`},
		wireMsg{"NetStream.Play.Start", message.TypeCommand, 1, `
		02 00 08 6f 6e 53 74 61 74 75 73 // "onStatus"
		00 00 00 00 00 00 00 00 00 // 0
		05 // null
		03 // object
		  00 05 6c 65 76 65 6c 02 00 06 73 74 61 74 75 73 // level: "status"
		  00 04 63 6f 64 65 02 00 14 4e 65 74 53 74 72 65 61 6d 2e 50 6c 61 79 2e 53 74 61 72 74 // code: "NetStream.Play.Start"
		  00 0b 64 65 73 63 72 69 70 74 69 6f 6e 02 00 13 53 74 61 72 74 65 64 20 70 6c 61 79 69 6e 67 20 73 31 2e // description: "Started playing s1."
		  00 07 64 65 74 61 69 6c 73 02 00 02 73 31 // details: "s1"
		  00 08 63 6c 69 65 6e 74 69 64 ` + num2 + ` // clientid: 2
		00 00 09 // end`},
		wireMsg{"|RtmpSampleAccess (docs/rtmp.md#data-messages)", message.TypeData, 1, `
		02 00 11 7c 52 74 6d 70 53 61 6d 70 6c 65 41 63 63 65 73 73 // "|RtmpSampleAccess"
		01 00 // false
		01 00 // false`},
		wireMsg{"NetStream.Data.Start (data message)", message.TypeData, 1, `
		02 00 08 6f 6e 53 74 61 74 75 73 // "onStatus"
		03 // object
		  00 04 63 6f 64 65 02 00 14 4e 65 74 53 74 72 65 61 6d 2e 44 61 74 61 2e 53 74 61 72 74 // code: "NetStream.Data.Start"
		00 00 09 // end`})

	// An AMF3 client (the third): the info object echoes objectEncoding 3.
	amf3 := dialRaw(t, ts)
	amf3.send(3, message.TypeCommand, 0, vec(t, c1Connect+c1Enc3))
	amf3.expect(connectReplies("00 40 08 00 00 00 00 00 00", num3)...)
}

// A connect to an application that does not exist: the same control
// messages, then _error with a null where the properties go and the info
// object fourth (docs/rtmp.md#connect, rejection shapes), then the server closes.
func TestWireConnectErrorMatchesVector(t *testing.T) {
	ts := startServer(t, Config{})
	p := dialRaw(t, ts)
	// C1 asks for app "vod", which this server lacks.
	p.send(3, message.TypeCommand, 0, vec(t, c1Connect+c1Enc0))
	replies := connectReplies("", "")[:3]
	p.expect(append(replies, wireMsg{"connect _error", message.TypeCommand, 0, `
		02 00 06 5f 65 72 72 6f 72 // "_error"
		` + num1 + ` // 1
		05 // null
		03 // object
		  00 05 6c 65 76 65 6c 02 00 05 65 72 72 6f 72 // level: "error"
		  00 04 63 6f 64 65 02 00 20 4e 65 74 43 6f 6e 6e 65 63 74 69 6f 6e 2e 43 6f 6e 6e 65 63 74 2e 49 6e 76 61 6c 69 64 41 70 70 // code: "NetConnection.Connect.InvalidApp"
		  00 0b 64 65 73 63 72 69 70 74 69 6f 6e 02 00 21 41 70 70 6c 69 63 61 74 69 6f 6e 20 28 76 6f 64 29 20 69 73 20 6e 6f 74 20 64 65 66 69 6e 65 64 2e // description: "Application (vod) is not defined."
		00 00 09 // end`})...)
	if _, _, err := p.r.ReadMessage(); err == nil {
		t.Fatal("connection still open after the _error")
	}
}

// The project's client finds the info object of a connect answer in the
// layouts servers use: FMS, Red5 and nginx-rtmp (docs/amf.md#test-vectors), a null
// before the properties (what openfcs itself once sent), and an _error
// whose info is fourth.
func TestClientReadsConnectInfoLayouts(t *testing.T) {
	c2 := connectResult("00 00 00 00 00 00 00 00 00", num1)
	for _, tc := range []struct {
		name, body, code string
	}{
		{"fms red5 nginx-rtmp _result", c2, status.ConnectSuccess},
		{"null before the properties", strings.Replace(c2, "00 00 00 03 00 06 66 6d", "00 00 00 05 03 00 06 66 6d", 1), status.ConnectSuccess},
		{"_error, null, info", `
			02 00 06 5f 65 72 72 6f 72 ` + num1 + ` 05
			03 00 04 63 6f 64 65 02 00 1e 4e 65 74 43 6f 6e 6e 65 63 74 69 6f 6e 2e 43 6f 6e 6e 65 63 74 2e 52 65 6a 65 63 74 65 64 00 00 09`,
			status.ConnectRejected},
	} {
		var d amf.Decoder
		cmd, err := message.ParseCommand(vec(t, tc.body), message.TypeCommand, &d, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := infoOf(&cmd).Get("code").Str(); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got, tc.code)
		}
	}
}
