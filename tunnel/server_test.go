package tunnel

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/testutil/rtmptest"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/media"
)

// TestPublishPlayEveryTransport: one scenario, every transport (docs/architecture.md
// docs/architecture.md#tests): a publisher on one transport, a player on another, both on the one
// port (rtmp, rtmpt) or the TLS port (rtmps, rtmpts); the player gets every
// message in order, and the server records each connection's protocol.
func TestPublishPlayEveryTransport(t *testing.T) {
	cases := []struct {
		name     string
		pub, ply string
		hold     time.Duration
	}{
		{name: "rtmpt publish, rtmp play", pub: "rtmpt", ply: "rtmp"},
		{name: "rtmp publish, rtmpt play", pub: "rtmp", ply: "rtmpt"},
		{name: "rtmpt publish, rtmpt play, held idle", pub: "rtmpt", ply: "rtmpt", hold: 200 * time.Millisecond},
		{name: "rtmpts publish, rtmps play", pub: "rtmpts", ply: "rtmps"},
		{name: "rtmps publish, rtmpts play", pub: "rtmps", ply: "rtmpts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := startStack(t, Config{HoldIdle: tc.hold}, stackOpts{tls: true})
			url := func(scheme string) string {
				addr := st.addr
				if scheme == "rtmps" || scheme == "rtmpts" {
					addr = st.tlsAdr
				}
				return scheme + "://" + addr + "/live"
			}
			dc := DialConfig{TLS: &tls.Config{InsecureSkipVerify: true}, IdleInterval: 20 * time.Millisecond}
			pc := dialRTMP(t, url(tc.pub), dc)
			ps := rtmptest.Publish(t, pc, "s")
			rec := &rtmptest.Recorder{}
			vc := dialRTMP(t, url(tc.ply), dc)
			rtmptest.Play(t, vc, "s", rec)

			rtmptest.SendAndCheck(t, ps, rec, 20000)
			logs := st.logs.String()
			for _, proto := range []string{tc.pub, tc.ply} {
				if !strings.Contains(logs, "proto="+proto+" ") {
					t.Errorf("no connection logged with proto=%s", proto)
				}
			}
		})
	}
}

// rawPost sends one request on a raw connection and reads the reply, so
// that the exact status line and headers can be checked (librtmp needs
// "HTTP/1.1 200 " and Content-Length, docs/rtmpt.md#headers).
func rawPost(t testing.TB, br *bufio.Reader, w io.Writer, method, path string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-fcs\r\nUser-Agent: Shockwave Flash\r\nConnection: Keep-Alive\r\nContent-Length: %d\r\n\r\n", method, path, len(body))
	if _, err := w.Write(append([]byte(req), body...)); err != nil {
		t.Fatal(err)
	}
	line, err := br.Peek(13)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		t.Fatalf("%s %s: status line %q", method, path, line)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestWireFormat follows the worked exchange of docs/rtmpt.md#an-example-exchange on one
// keep-alive connection: probe, open, handshake, idles with the polling
// byte backing off, close; and checks the headers of every reply.
func TestWireFormat(t *testing.T) {
	st := startStack(t, Config{NodeTag: "edge7"}, stackOpts{})
	nc, err := net.Dial("tcp", st.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)

	resp, body := rawPost(t, br, nc, "POST", "/fcs/ident2", []byte{0})
	if resp.StatusCode != 404 || len(body) != 0 || resp.ContentLength != 0 {
		t.Fatalf("ident2: %d, %d bytes, Content-Length %d; want 404, empty", resp.StatusCode, len(body), resp.ContentLength)
	}
	resp, body = rawPost(t, br, nc, "POST", "/open/1", []byte{0})
	if resp.StatusCode != 200 || !bytes.HasSuffix(body, []byte("\n")) {
		t.Fatalf("open: %d %q", resp.StatusCode, body)
	}
	for k, want := range map[string]string{"Content-Type": "application/x-fcs", "Cache-Control": "no-cache"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if resp.ContentLength != int64(len(body)) || resp.Close {
		t.Errorf("open: Content-Length %d for %d bytes, close %v; want exact and keep-alive", resp.ContentLength, len(body), resp.Close)
	}
	id := string(body[:len(body)-1])
	if NodeOf(id) != "edge7" || len(id) > maxIDLen || len(id) < len("edge7-")+16 {
		t.Fatalf("session id %q: want node tag edge7 and 16 random characters", id)
	}

	// C0 + C1 in /send/<id>/0: the answer carries S0 S1 S2 (3073 bytes),
	// now or on the next polls.
	c0c1 := append([]byte{3}, make([]byte, 1536)...)
	resp, body = rawPost(t, br, nc, "POST", "/send/"+id+"/0", c0c1)
	if resp.StatusCode != 200 || len(body) < 1 || body[0] != 0x01 {
		t.Fatalf("send C0C1: %d %x", resp.StatusCode, body[:min(len(body), 4)])
	}
	got := body[1:]
	seq := 1
	for len(got) < 3073 && seq < 50 {
		_, body = rawPost(t, br, nc, "POST", fmt.Sprintf("/idle/%s/%d", id, seq), []byte{0})
		got = append(got, body[1:]...)
		seq++
	}
	if len(got) != 3073 || got[0] != 3 {
		t.Fatalf("handshake reply %d bytes starting %x; want S0 S1 S2", len(got), got[:1])
	}

	// Nothing more comes before C2: more than 10 empty replies in a row
	// step the polling byte to 0x03, then 0x05 (docs/rtmpt.md#response-bodies-and-the-polling-byte).
	var steps []byte
	for range 23 {
		_, body = rawPost(t, br, nc, "POST", fmt.Sprintf("/idle/%s/%d", id, seq), []byte{0})
		seq++
		if len(body) != 1 {
			t.Fatalf("idle: %d bytes, want the polling byte only", len(body))
		}
		steps = append(steps, body[0])
	}
	want := append(append(bytes.Repeat([]byte{1}, 10), bytes.Repeat([]byte{3}, 11)...), 5, 5)
	if !bytes.Equal(steps, want) {
		t.Errorf("polling bytes %x\nwant           %x", steps, want)
	}

	resp, body = rawPost(t, br, nc, "POST", fmt.Sprintf("/close/%s/%d", id, seq), []byte{0})
	if resp.StatusCode != 200 || !bytes.Equal(body, []byte{0}) {
		t.Fatalf("close: %d %x, want 200 00", resp.StatusCode, body)
	}
	resp, _ = rawPost(t, br, nc, "POST", fmt.Sprintf("/idle/%s/%d", id, seq+1), []byte{0})
	if resp.StatusCode != 404 {
		t.Fatalf("idle after close: %d, want 404", resp.StatusCode)
	}
	testutil.WaitFor(t, 5*time.Second, "the RTMP session to end", func() bool { return st.rtmp.NumConns() == 0 })
}

// TestBadInput: every bad-input case of the tunnel gets its status while a
// tunneled player in the same server keeps receiving.
func TestBadInput(t *testing.T) {
	cfg := Config{MaxBodySize: 64 << 10, MaxSessions: 4, RequestTimeout: 300 * time.Millisecond}
	st := startStack(t, cfg, stackOpts{})
	dc := DialConfig{IdleInterval: 10 * time.Millisecond}
	pc := dialRTMP(t, "rtmp://"+st.addr+"/live", dc)
	ps := rtmptest.Publish(t, pc, "s")
	rec := &rtmptest.Recorder{}
	vc := dialRTMP(t, "rtmpt://"+st.addr+"/live", dc)
	rtmptest.Play(t, vc, "s", rec)
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	frame := 0
	// sendSome publishes a few frames and waits until the player has them.
	sendSome := func(what string) {
		t.Helper()
		for range 5 {
			p := rtmptest.Interframe(byte(frame), 1000)
			if frame == 0 {
				p = rtmptest.Keyframe(0, 1000) // players start at a keyframe
			}
			rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Time: uint32(40 * frame), Payload: p})
			frame++
		}
		testutil.WaitFor(t, 5*time.Second, "playback after "+what, func() bool { return rec.Count(media.Video) >= frame+1 })
	}
	sendSome("start")

	hc := &http.Client{}
	do := func(method, path string, body []byte) int {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+st.addr+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil && len(body) > cfg.MaxBodySize && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			// The server answers 413 from the headers and closes without
			// reading a body it refused; the client may still be writing
			// it, and then the reset can reach it before the answer.
			return http.StatusRequestEntityTooLarge
		}
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 && len(b) != 0 && resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s: status %d with a %d-byte body, want empty", method, path, resp.StatusCode, len(b))
		}
		return resp.StatusCode
	}
	cases := []struct {
		name   string
		method string
		path   string
		body   []byte
		want   int
	}{
		{"unknown session", "POST", "/idle/n0-AAAAAAAAAAAAAAAA/1", []byte{0}, 404},
		{"unknown session send", "POST", "/send/1234567890/0", []byte{3, 0, 0}, 404},
		{"unknown session close", "POST", "/close/nope/3", []byte{0}, 404},
		{"open not 1", "POST", "/open/2", []byte{0}, 400},
		{"no seq", "POST", "/idle/abc", []byte{0}, 400},
		{"seq not decimal", "POST", "/idle/abc/x1", []byte{0}, 400},
		{"seq overflow", "POST", "/idle/abc/99999999999999999999", []byte{0}, 400},
		{"extra segment", "POST", "/send/abc/1/2", []byte{0}, 400},
		{"bad id char", "POST", "/send/a%20b/1", []byte{0}, 400},
		{"unknown probe", "POST", "/fcs/other", []byte{0}, 400},
		{"GET open", "GET", "/open/1", nil, 405},
		{"PUT idle", "PUT", "/idle/abc/1", []byte{0}, 405},
		{"body over the limit", "POST", "/open/1", make([]byte, 64<<10+1), 413},
	}
	for _, c := range cases {
		if got := do(c.method, c.path, c.body); got != c.want {
			t.Errorf("%s: %s %s = %d, want %d", c.name, c.method, c.path, got, c.want)
		}
	}
	sendSome("status codes")

	// Empty body on a live session: 400 (Red5; clients always send ≥ 1
	// byte).
	open := func() (string, int) {
		resp, err := hc.Post("http://"+st.addr+"/open/1", "application/x-fcs", bytes.NewReader([]byte{0}))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.TrimSpace(string(b)), resp.StatusCode
	}
	id, code := open()
	if code != 200 {
		t.Fatalf("open: %d", code)
	}
	if got := do("POST", "/idle/"+id+"/0", nil); got != 400 {
		t.Errorf("empty body: %d, want 400", got)
	}
	// Two sessions are open (player, id); two more fit, then 503.
	var codes []int
	for range 3 {
		_, c := open()
		codes = append(codes, c)
	}
	if fmt.Sprint(codes) != "[200 200 503]" {
		t.Errorf("opens at the session limit: %v, want [200 200 503]", codes)
	}
	sendSome("session limit")

	// Slowloris: headers one byte at a time are cut off by the request
	// timeout; the connection is closed without a response.
	nc, err := net.Dial("tcp", st.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	slow := []byte("POST /open/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n")
	closed := false
	for i := 0; i < len(slow) && !closed; i++ {
		if _, err := nc.Write(slow[i : i+1]); err != nil {
			closed = true
		}
		time.Sleep(50 * time.Millisecond) // the attack's pace, not a synchronization
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(nc)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("slowloris: %v after %v (want the server to close)", err, time.Since(start))
	}
	if bytes.Contains(b, []byte(" 200 ")) {
		t.Errorf("slowloris got a 200: %q", b)
	}
	sendSome("slowloris")
}

// TestExpiryEndsRTMPSession: a client that stops polling (crashed) loses
// its session after SessionTimeout, which runs the normal disconnect
// path: the RTMP session closes with reason timeout and leaves the engine.
func TestExpiryEndsRTMPSession(t *testing.T) {
	st := startStack(t, Config{SessionTimeout: time.Second}, stackOpts{})
	u := mustURL(t, "rtmpt://"+st.addr+"/live")
	var conns []*ClientConn
	for range 5 {
		cc, err := Dial(testutil.Context(t, 5*time.Second), u, DialConfig{IdleInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cc)
		c, err := newRTMPClient(t, cc, "rtmpt://"+st.addr+"/live")
		if err != nil {
			t.Fatal(err)
		}
		_ = c
	}
	testutil.WaitFor(t, 5*time.Second, "5 connected clients", func() bool { return clientCount(st) == 5 })
	for _, cc := range conns {
		cc.Abandon()
	}
	testutil.WaitFor(t, 5*time.Second, "sessions to expire", func() bool {
		return st.tun.NumSessions() == 0 && st.rtmp.NumConns() == 0 && clientCount(st) == 0
	})
	if s := st.tun.Stats(); s.Expired != 5 || s.Opened != 5 {
		t.Errorf("stats %+v, want 5 opened, 5 expired", s)
	}
	if n := strings.Count(st.logs.String(), "reason=timeout"); n != 5 {
		t.Errorf("%d RTMP sessions closed with reason=timeout, want 5", n)
	}
}

func clientCount(st *stack) int {
	n := 0
	for _, in := range st.eng.Instances() {
		n += len(in.Clients())
	}
	return n
}

// TestHTTP3: the tunnel over HTTP/3 (quic-go) on the TLS port's number;
// the TLS port's HTTP/1.1 answers advertise it with Alt-Svc.
func TestHTTP3(t *testing.T) {
	st := startStack(t, Config{}, stackOpts{tls: true})
	tc, err := tlsutil.SelfSignedConfig()
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h3 := &http3.Server{TLSConfig: http3.ConfigureTLSConfig(tc), Handler: st.tun.HTTPHandler("rtmpts", nil)}
	done := make(chan error, 1)
	go func() { done <- h3.Serve(udp) }()
	t.Cleanup(func() {
		_ = h3.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("http3 serve: %v", err)
		}
	})

	pc := dialRTMP(t, "rtmp://"+st.addr+"/live", DialConfig{})
	ps := rtmptest.Publish(t, pc, "h3")
	rec := &rtmptest.Recorder{}
	dc := DialConfig{HTTP3: true, TLS: &tls.Config{InsecureSkipVerify: true}, IdleInterval: 10 * time.Millisecond}
	vc := dialRTMP(t, "rtmpts://"+udp.LocalAddr().String()+"/live", dc)
	rtmptest.Play(t, vc, "h3", rec)
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	for i := range 20 {
		p := rtmptest.Interframe(byte(i), 4000)
		if i == 0 {
			p = rtmptest.Keyframe(0, 4000)
		}
		rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Time: uint32(40 * i), Payload: p})
	}
	testutil.WaitFor(t, 10*time.Second, "video over HTTP/3", func() bool { return rec.Count(media.Video) >= 21 })
	if !strings.Contains(st.logs.String(), "proto=rtmpts") {
		t.Error("HTTP/3 session not logged as rtmpts")
	}
}

// TestDialerBadServer: non-200 answers and garbage ids fail the dial.
func TestDialerBadServer(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/open/1":
			if r.Header.Get("X-Mode") == "" {
				_, _ = io.WriteString(w, "not an id/\n")
			}
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	_, err = Dial(testutil.Context(t, 5*time.Second), mustURL(t, "rtmpt://"+ln.Addr().String()+"/live"), DialConfig{})
	if err == nil || !strings.Contains(err.Error(), "not a session id") {
		t.Fatalf("err = %v, want not a session id", err)
	}
	_, err = Dial(testutil.Context(t, 5*time.Second), mustURL(t, "rtmp://"+ln.Addr().String()+"/live"), DialConfig{})
	if err == nil {
		t.Fatal("rtmp:// scheme accepted by the tunnel dialer")
	}
}
