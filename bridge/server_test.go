package bridge

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/testutil/rtmptest"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
)

func mustParse(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func appendF64(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// TestPublishPlayEveryTransport: one scenario, every transport (docs/architecture.md
// docs/architecture.md#tests): a publisher on one transport, a player on another; the player gets
// every message in order and the server records each connection's
// protocol.
func TestPublishPlayEveryTransport(t *testing.T) {
	cases := []struct{ pub, ply string }{
		{"rtmpws", "rtmp"},
		{"rtmp", "rtmpws"},
		{"rtmpws", "rtmpws"},
		{"rtmpt", "rtmpws"},
		{"rtmpws", "rtmpt"},
		{"rtmpwss", "rtmps"},
		{"rtmps", "rtmpwss"},
		{"rtmpts", "rtmpwss"},
	}
	for _, tc := range cases {
		t.Run(tc.pub+" publish, "+tc.ply+" play", func(t *testing.T) {
			st := startStack(t, stackOpts{})
			pc := dialRTMP(t, st.url(tc.pub, "live"))
			ps := rtmptest.Publish(t, pc, "s")
			rec := &rtmptest.Recorder{}
			rtmptest.Play(t, dialRTMP(t, st.url(tc.ply, "live")), "s", rec)

			rtmptest.SendAndCheck(t, ps, rec, 50000)
			logs := st.logs.String()
			for _, proto := range []string{tc.pub, tc.ply} {
				if !strings.Contains(logs, "proto="+proto+" ") {
					t.Errorf("no connection logged with proto=%s", proto)
				}
			}
		})
	}
}

// TestSharedObjectEveryTransport: clients on rtmp, rtmpt and rtmpws share
// one remote shared object; a change and a send from each reach the
// others with the right change lists.
func TestSharedObjectEveryTransport(t *testing.T) {
	st := startStack(t, stackOpts{})
	schemes := []string{"rtmpws", "rtmp", "rtmpt", "rtmpwss"}
	type member struct {
		scheme string
		so     *rtmp.SharedObject
		mu     chan struct{}
		items  []rtmp.SyncItem
		sends  []string
	}
	members := make([]*member, len(schemes))
	for i, sc := range schemes {
		m := &member{scheme: sc, so: rtmp.NewSharedObject("chat", false), mu: make(chan struct{}, 1)}
		m.mu <- struct{}{}
		m.so.OnSync = func(items []rtmp.SyncItem) {
			<-m.mu
			m.items = append(m.items, items...)
			m.mu <- struct{}{}
		}
		m.so.OnMessage = func(handler string, args []amf.Value) {
			<-m.mu
			if len(args) > 0 {
				m.sends = append(m.sends, handler+":"+args[0].Str())
			}
			m.mu <- struct{}{}
		}
		c := dialRTMP(t, st.url(sc, "live"))
		if err := m.so.Connect(testutil.Context(t, 10*time.Second), c); err != nil {
			t.Fatalf("%s: connect SO: %v", sc, err)
		}
		members[i] = m
	}
	has := func(m *member, code, name string) bool {
		<-m.mu
		defer func() { m.mu <- struct{}{} }()
		for _, it := range m.items {
			if it.Code == code && it.Name == name {
				return true
			}
		}
		return false
	}
	sent := func(m *member, s string) bool {
		<-m.mu
		defer func() { m.mu <- struct{}{} }()
		return slices.Contains(m.sends, s)
	}
	for _, from := range members {
		key := "from_" + from.scheme
		if err := from.so.SetProperty(key, amf.String(from.scheme)); err != nil {
			t.Fatal(err)
		}
		if err := from.so.Send("say", amf.String("hi from "+from.scheme)); err != nil {
			t.Fatal(err)
		}
		for _, to := range members {
			code := "change"
			if to == from {
				code = "success"
			}
			testutil.WaitFor(t, 10*time.Second, to.scheme+" sees "+code+" of "+key, func() bool { return has(to, code, key) })
			testutil.WaitFor(t, 10*time.Second, to.scheme+" gets the send of "+from.scheme, func() bool { return sent(to, "say:hi from "+from.scheme) })
			if got := to.so.Get(key); got.Str() != from.scheme {
				t.Errorf("%s: %s = %v, want %q", to.scheme, key, got, from.scheme)
			}
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	cases := []struct {
		name    string
		allowed []string
		origin  string
		host    string
		want    bool
	}{
		{"no origin: not a browser page", nil, "", "a.example:8080", true},
		{"same host by default", nil, "http://a.example:8080", "a.example:8080", true},
		{"same host, other case", nil, "https://A.example:8080", "a.example:8080", true},
		{"other port by default", nil, "http://a.example:9000", "a.example:8080", false},
		{"other host by default", nil, "http://evil.example", "a.example", false},
		{"null origin (sandboxed page)", nil, "null", "a.example", false},
		{"listed", []string{"https://app.example"}, "https://app.example", "media.example", true},
		{"listed with a slash", []string{"https://app.example/"}, "https://app.example", "media.example", true},
		{"not listed", []string{"https://app.example"}, "https://evil.example", "media.example", false},
		{"scheme matters", []string{"https://app.example"}, "http://app.example", "media.example", false},
		{"a list replaces same-host", []string{"https://app.example"}, "http://media.example", "media.example", false},
		{"star", []string{"*"}, "http://anything.example", "media.example", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := originAllowed(tc.allowed, tc.origin, tc.host); got != tc.want {
				t.Errorf("originAllowed(%q, %q, %q) = %v, want %v", tc.allowed, tc.origin, tc.host, got, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, o := range []string{"*", "https://a.example", "http://a.example:8080", "https://a.example/"} {
		if err := (Config{AllowedOrigins: []string{o}}).Validate(); err != nil {
			t.Errorf("%q: %v", o, err)
		}
	}
	for _, o := range []string{"a.example", "https://a.example/page", "https://", "https://a.example?x=1"} {
		if err := (Config{AllowedOrigins: []string{o}}).Validate(); err == nil {
			t.Errorf("%q: accepted", o)
		}
	}
}

// TestNotAWebSocket: a plain GET of the endpoint says what it is.
func TestNotAWebSocket(t *testing.T) {
	st := startStack(t, stackOpts{})
	resp, err := http.Get("http://" + st.addr + Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("status %d, Upgrade %q; want 426 and websocket", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
}

// wsDial opens a WebSocket to the stack's endpoint with the library, as a
// misbehaving client would.
func wsDial(t testing.TB, st *stack, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	var hdr http.Header
	if origin != "" {
		hdr = http.Header{"Origin": {origin}}
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.DialContext(testutil.Context(t, 10*time.Second), "ws://"+st.addr+Path, hdr)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if ws != nil {
		t.Cleanup(func() { _ = ws.Close() })
	}
	return ws, resp, err
}

// closeCode reads until the server closes and returns its close code.
func closeCode(t testing.TB, ws *websocket.Conn) int {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
			return ce.Code
		}
		t.Fatalf("read: %v (want a close frame)", err)
		return 0
	}
}

// TestBadInputClosesOnlyThatSocket: text messages, oversized messages,
// garbage instead of RTMP and a page from another origin each end their
// own socket with one log line naming it; a player on another WebSocket
// keeps receiving throughout.
func TestBadInputClosesOnlyThatSocket(t *testing.T) {
	st := startStack(t, stackOpts{bridge: Config{MaxMessageSize: 64 << 10}, session: rtmp.Config{HandshakeTimeout: 2 * time.Second}})
	ps := rtmptest.Publish(t, dialRTMP(t, st.url("rtmp", "live")), "s")
	rec := &rtmptest.Recorder{}
	rtmptest.Play(t, dialRTMP(t, st.url("rtmpws", "live")), "s", rec)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if ps.WritePacket(media.Packet{Kind: media.Audio, Time: uint32(10 * i), Payload: []byte{0xaf, 0x01, byte(i)}}) != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	audio := func() int { return len(rec.Of(media.Audio)) }
	testutil.WaitFor(t, 10*time.Second, "the player receiving", func() bool { return audio() > 5 })

	// connected opens an RTMP session over a WebSocket and returns the
	// socket under it, for a client that misbehaves after connect.
	connected := func(t *testing.T) (*rtmp.Client, *wsConn) {
		t.Helper()
		u := st.url("rtmpws", "live")
		nc, err := DialFunc(DialConfig{})(testutil.Context(t, 10*time.Second), mustParse(t, u))
		if err != nil {
			t.Fatal(err)
		}
		c, err := rtmp.NewClient(testutil.Context(t, 10*time.Second), nc, rtmp.ClientConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := c.Connect(testutil.Context(t, 10*time.Second), "live", u); err != nil {
			t.Fatal(err)
		}
		return c, nc.(*wsConn)
	}
	attacks := []struct {
		name string
		run  func(t *testing.T) (local string)
		// log is what the one log line for that socket must say.
		log []string
	}{
		{name: "text message", log: []string{"reason=protocol_error", "text message"},
			run: func(t *testing.T) string {
				t.Helper()
				_, nc := connected(t)
				if err := nc.ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
					t.Fatal(err)
				}
				return nc.LocalAddr().String()
			}},
		{name: "text message instead of the handshake", log: []string{"reason=handshake", "text message"},
			run: func(t *testing.T) string {
				t.Helper()
				ws, _, err := wsDial(t, st, "")
				if err != nil {
					t.Fatal(err)
				}
				if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
					t.Fatal(err)
				}
				if code := closeCode(t, ws); code != websocket.CloseUnsupportedData {
					t.Errorf("close code %d, want %d", code, websocket.CloseUnsupportedData)
				}
				return ws.LocalAddr().String()
			}},
		{name: "message over max_message_size", log: []string{"reason=limit", "max_message_size"},
			run: func(t *testing.T) string {
				t.Helper()
				c, nc := connected(t)
				s, err := c.CreateStream(testutil.Context(t, 10*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				// One RTMP message is one WebSocket message from this
				// client: a 100 KiB frame passes the 64 KiB limit.
				_ = s.WritePacket(media.Packet{Kind: media.Video, Payload: rtmptest.Keyframe(1, 100<<10)})
				return nc.LocalAddr().String()
			}},
		{name: "one frame over max_message_size", log: []string{"reason=handshake", "max_message_size"},
			run: func(t *testing.T) string {
				t.Helper()
				d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, WriteBufferSize: 256 << 10}
				ws, _, err := d.DialContext(testutil.Context(t, 10*time.Second), "ws://"+st.addr+Path, nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = ws.Close() })
				_ = ws.WriteMessage(websocket.BinaryMessage, make([]byte, 100<<10))
				if code := closeCode(t, ws); code != websocket.CloseMessageTooBig {
					t.Errorf("close code %d, want %d", code, websocket.CloseMessageTooBig)
				}
				return ws.LocalAddr().String()
			}},
		{name: "garbage instead of the handshake", log: []string{"reason=handshake", "not RTMP"},
			run: func(t *testing.T) string {
				t.Helper()
				ws, _, err := wsDial(t, st, "")
				if err != nil {
					t.Fatal(err)
				}
				b := make([]byte, 4096)
				rng := rand.New(rand.NewPCG(1, 2))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				b[0] = 0xff // not an RTMP version
				if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
					t.Fatal(err)
				}
				closeCode(t, ws)
				return ws.LocalAddr().String()
			}},
		{name: "origin not allowed", log: []string{"reason=origin", "origin=http://evil.example"},
			run: func(t *testing.T) string {
				t.Helper()
				ws, resp, err := wsDial(t, st, "http://evil.example")
				if err == nil {
					t.Fatal("upgrade from another origin succeeded")
				}
				if ws != nil || resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("response %v, want 403", resp)
				}
				return ""
			}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			before := audio()
			local := a.run(t)
			match := func(l string) bool {
				if local == "" {
					if !strings.Contains(l, "websocket refused") {
						return false
					}
				} else if !strings.Contains(l, "msg=closed") || !strings.Contains(l, "remote="+local+" ") {
					return false
				}
				for _, s := range a.log {
					if !strings.Contains(l, s) {
						return false
					}
				}
				return true
			}
			var lines []string
			testutil.WaitFor(t, 10*time.Second, "the log line of "+a.name, func() bool {
				lines = lines[:0]
				for l := range strings.SplitSeq(st.logs.String(), "\n") {
					if match(l) {
						lines = append(lines, l)
					}
				}
				return len(lines) > 0
			})
			if len(lines) != 1 {
				t.Errorf("%d log lines, want 1: %q", len(lines), lines)
			}
			testutil.WaitFor(t, 10*time.Second, "the player still receiving", func() bool { return audio() > before+5 })
		})
	}
}

// tapConn records the bytes read from the server.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.got = append(c.got, p[:n]...)
	c.mu.Unlock()
	return n, err
}

// dialWSThrough connects an RTMP client to st's "live" over a WebSocket
// whose TCP connection wrap wraps, for a test that watches or stalls
// the client's socket.
func dialWSThrough(t *testing.T, st *stack, wrap func(net.Conn) net.Conn) *rtmp.Client {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	}}
	ws, _, err := d.DialContext(testutil.Context(t, 10*time.Second), "ws://"+st.addr+Path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rtmp.NewClient(testutil.Context(t, 10*time.Second), newWSConn(ws, 0, false), rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Connect(testutil.Context(t, 10*time.Second), "live", st.url("rtmpws", "live")); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOneFramePerFlush: everything the server sends is whole binary
// messages of one frame each (FIN set, never a continuation), a flush
// holding several RTMP messages, never one frame per chunk or message.
func TestOneFramePerFlush(t *testing.T) {
	st := startStack(t, stackOpts{})
	ps := rtmptest.Publish(t, dialRTMP(t, st.url("rtmp", "live")), "s")
	var tap *tapConn
	c := dialWSThrough(t, st, func(c net.Conn) net.Conn { tap = &tapConn{Conn: c}; return tap })
	rec := &rtmptest.Recorder{}
	rtmptest.Play(t, c, "s", rec)
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	const n = 20
	for i := range n {
		p := rtmptest.Interframe(byte(i), 2000)
		if i%5 == 0 {
			p = rtmptest.Keyframe(byte(i), 50000)
		}
		rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Time: uint32(40 * i), Payload: p})
		rtmptest.Write(t, ps, media.Packet{Kind: media.Audio, Time: uint32(40 * i), Payload: []byte{0xaf, 0x01, byte(i)}})
	}
	testutil.WaitFor(t, 10*time.Second, "every message at the player", func() bool {
		return len(rec.Of(media.Video)) == n+1 && len(rec.Of(media.Audio)) == n
	})
	tap.mu.Lock()
	b := slices.Clone(tap.got)
	tap.mu.Unlock()
	// Skip the HTTP response, then walk the server's frames (unmasked).
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatal("no HTTP response")
	}
	frames := 0
	for b = b[i+4:]; len(b) >= 2; frames++ {
		fin, op, size, hl := b[0]&0x80 != 0, b[0]&0x0f, int(b[1]&0x7f), 2
		if size >= 126 && len(b) < 10 {
			break // a header still in flight
		}
		switch size {
		case 126:
			size, hl = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			size, hl = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if !fin || op != websocket.BinaryMessage {
			t.Fatalf("frame %d: FIN %v opcode %d, want a whole binary message", frames, fin, op)
		}
		if len(b) < hl+size {
			break // the rest is still in flight
		}
		b = b[hl+size:]
	}
	// The 41 messages are over 90 chunks (a 50 KiB keyframe is 13 of
	// 4096 bytes); they came in a frame per flush, never one per chunk
	// or per message.
	if frames >= 2*n+1 {
		t.Errorf("%d frames for %d messages: not batched per flush", frames, 2*n+1)
	}
	t.Logf("%d frames for %d messages", frames, 2*n+1)
}

// stallConn stops reading once stalled: its Read blocks until the conn
// closes, so the socket's receive buffer fills as a stuck browser's would.
type stallConn struct {
	net.Conn
	stall  chan struct{}
	closed chan struct{}
	once   sync.Once
}

func (c *stallConn) Read(p []byte) (int, error) {
	select {
	case <-c.stall:
		<-c.closed
		return 0, net.ErrClosed
	default:
		return c.Conn.Read(p)
	}
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestSlowWebSocketPlayer: a WebSocket player that stops reading is cut
// off as a slow consumer, as over TCP; the publisher and a reading
// WebSocket player carry on.
func TestSlowWebSocketPlayer(t *testing.T) {
	st := startStack(t, stackOpts{
		session: rtmp.Config{WriteTimeout: 500 * time.Millisecond},
		media:   media.Config{SlowConsumerAfter: 500 * time.Millisecond, QueueBytes: 256 << 10},
	})
	ps := rtmptest.Publish(t, dialRTMP(t, st.url("rtmp", "live")), "s")
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})

	stalled := &stallConn{stall: make(chan struct{}), closed: make(chan struct{})}
	sc := dialWSThrough(t, st, func(c net.Conn) net.Conn {
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		stalled.Conn = c
		return stalled
	})
	rtmptest.Play(t, sc, "s", &rtmptest.Recorder{})
	close(stalled.stall)
	local := stalled.LocalAddr().String()

	rec := &rtmptest.Recorder{}
	rtmptest.Play(t, dialRTMP(t, st.url("rtmpws", "live")), "s", rec)
	rtmptest.FeedVideo(t, ps, 20000)
	testutil.WaitFor(t, 15*time.Second, "the stalled WebSocket player cut off", func() bool {
		for l := range strings.SplitSeq(st.logs.String(), "\n") {
			if strings.Contains(l, "msg=closed") && strings.Contains(l, "remote="+local+" ") && strings.Contains(l, "reason=slow_consumer") {
				return true
			}
		}
		return false
	})
	before := len(rec.Of(media.Video))
	testutil.WaitFor(t, 10*time.Second, "the reading player still receiving", func() bool { return len(rec.Of(media.Video)) > before+20 })
}
