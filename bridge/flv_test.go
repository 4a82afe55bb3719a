package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/internal/testutil/rtmptest"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/rtmp"
)

var flvPathCases = []struct {
	name, path string
	want       flvTarget
	ok         bool
}{
	{"definst", "/live/cam.flv", flvTarget{"live", "_definst_", "cam"}, true},
	{"instance", "/live/room1/cam.flv", flvTarget{"live", "room1", "cam"}, true},
	{"nested instance", "/live/a/b/cam.flv", flvTarget{"live", "a/b", "cam"}, true},
	{"explicit definst", "/live/_definst_/cam.flv", flvTarget{"live", "_definst_", "cam"}, true},
	{"no stream", "/cam.flv", flvTarget{}, false},
	{"empty stream", "/live/.flv", flvTarget{}, false},
	{"not flv", "/live/cam.mp4", flvTarget{}, false},
	{"relative", "live/cam.flv", flvTarget{}, false},
	{"dot-dot app", "/../cam.flv", flvTarget{}, false},
	{"dot-dot instance", "/live/../cam.flv", flvTarget{}, false},
	{"empty instance segment", "/live//cam.flv", flvTarget{}, false},
	{"prefix", "/live/flv:cam.flv", flvTarget{}, false},
	{"backslash", "/live/a\\b.flv", flvTarget{}, false},
	{"NUL", "/live/a\x00b.flv", flvTarget{}, false},
}

func TestParseFLVPath(t *testing.T) {
	for _, tc := range flvPathCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFLVPath(tc.path)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseFLVPath(%q) = %+v, %v; want %+v, ok %v", tc.path, got, err, tc.want, tc.ok)
			}
		})
	}
}

// FuzzParseFLVPath: no panic, and what parses names safe names that
// format back to a path parsing to the same target.
func FuzzParseFLVPath(f *testing.F) {
	for _, tc := range flvPathCases {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := parseFLVPath(p)
		if err != nil {
			return
		}
		if instance.CheckName(got.App, false) != nil || instance.CheckName(got.Instance, true) != nil ||
			instance.CheckName(got.Stream, false) != nil {
			t.Fatalf("%q: unsafe names %+v", p, got)
		}
		again, err := parseFLVPath("/" + got.App + "/" + got.Instance + "/" + got.Stream + ".flv")
		if err != nil || again != got {
			t.Fatalf("%q -> %+v -> %+v, %v", p, got, again, err)
		}
	})
}

// flvTag is one tag read from an HTTP-FLV body.
type flvTag struct {
	typ  uint8
	time uint32
	data []byte
}

// flvBody reads an HTTP-FLV response body tag by tag.
type flvBody struct {
	r     *bufio.Reader
	flags uint8
}

func readFLVHeader(t testing.TB, r io.Reader) *flvBody {
	t.Helper()
	br := bufio.NewReader(r)
	var h [flv.HeaderSize + flv.PrevSizeLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("FLV header: %v", err)
	}
	hdr, err := flv.ParseHeader(h[:])
	if err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(h[flv.HeaderSize:]) != 0 {
		t.Fatal("PreviousTagSize0 is not 0")
	}
	return &flvBody{r: br, flags: hdr.Flags}
}

func (b *flvBody) next() (flvTag, error) {
	var h [flv.TagHeaderSize]byte
	if _, err := io.ReadFull(b.r, h[:]); err != nil {
		return flvTag{}, err
	}
	th, err := flv.ParseTagHeader(h[:])
	if err != nil {
		return flvTag{}, err
	}
	data := make([]byte, th.Size+flv.PrevSizeLen)
	if _, err := io.ReadFull(b.r, data); err != nil {
		return flvTag{}, err
	}
	if prev := binary.BigEndian.Uint32(data[th.Size:]); prev != flv.TagHeaderSize+th.Size {
		return flvTag{}, fmt.Errorf("PreviousTagSize %d, want %d", prev, flv.TagHeaderSize+th.Size)
	}
	return flvTag{typ: th.Type, time: th.Time, data: data[:th.Size]}, nil
}

// TestFLVPlaysLiveStream: a late HTTP-FLV player gets the header with both
// tracks, the metadata, the codec configurations, the GOP from the last
// keyframe with timestamps starting at 0, then live tags; the body ends
// when the publisher stops.
func TestFLVPlaysLiveStream(t *testing.T) {
	for _, path := range []string{"/live/s.flv", "/live/_definst_/s.flv"} {
		t.Run(path, func(t *testing.T) {
			st := startStack(t, stackOpts{})
			pc := dialRTMP(t, st.url("rtmp", "live"))
			ps := rtmptest.Publish(t, pc, "s")
			rtmptest.Write(t, ps, media.Packet{Kind: media.Data, Payload: metadata()})
			rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
			rtmptest.Write(t, ps, media.Packet{Kind: media.Audio, Payload: rtmptest.AACConfig})
			const base = 1_000_000 // the publisher's clock is well past 0
			for i := range 30 {
				p := rtmptest.Interframe(byte(i), 500)
				if i%20 == 0 {
					p = rtmptest.Keyframe(byte(i), 2000)
				}
				rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Time: base + uint32(40*i), Payload: p})
			}
			barrier(t, pc)

			resp, err := http.Get("http://" + st.addr + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "video/x-flv" ||
				resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
			}
			body := readFLVHeader(t, resp.Body)
			if body.flags != flv.FlagAudio|flv.FlagVideo {
				t.Errorf("header flags %#x, want audio and video", body.flags)
			}
			var tags []flvTag
			for len(tags) < 3+10 {
				tag, err := body.next()
				if err != nil {
					t.Fatalf("tag %d: %v", len(tags), err)
				}
				tags = append(tags, tag)
			}
			if tags[0].typ != flv.TagScript || !bytes.Equal(tags[0].data, metadata()) {
				t.Errorf("tag 0: type %d %q, want the onMetaData", tags[0].typ, tags[0].data)
			}
			if tags[1].typ != flv.TagVideo || !bytes.Equal(tags[1].data, rtmptest.AVCConfig) || tags[1].time != 0 {
				t.Errorf("tag 1: %+v, want the AVC config at 0", tags[1])
			}
			if tags[2].typ != flv.TagAudio || !bytes.Equal(tags[2].data, rtmptest.AACConfig) || tags[2].time != 0 {
				t.Errorf("tag 2: %+v, want the AAC config at 0", tags[2])
			}
			// The GOP starts at the keyframe of i = 20, rebased to 0.
			for k, tag := range tags[3:] {
				i := 20 + k
				want := rtmptest.Interframe(byte(i), 500)
				if i == 20 {
					want = rtmptest.Keyframe(byte(i), 2000)
				}
				if tag.typ != flv.TagVideo || tag.time != uint32(40*k) || !bytes.Equal(tag.data, want) {
					t.Fatalf("GOP tag %d: type %d time %d, %d bytes; want video at %d", k, tag.typ, tag.time, len(tag.data), 40*k)
				}
			}
			// Live from here on.
			rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Time: base + 40*30, Payload: rtmptest.Interframe(30, 500)})
			rtmptest.Write(t, ps, media.Packet{Kind: media.Audio, Time: base + 40*30, Payload: []byte{0xaf, 0x01, 7}})
			for _, want := range []flvTag{{flv.TagVideo, 400, rtmptest.Interframe(30, 500)}, {flv.TagAudio, 400, []byte{0xaf, 0x01, 7}}} {
				tag, err := body.next()
				if err != nil {
					t.Fatal(err)
				}
				if tag.typ != want.typ || tag.time != want.time || !bytes.Equal(tag.data, want.data) {
					t.Fatalf("live tag: type %d time %d %x; want type %d time %d", tag.typ, tag.time, tag.data[:3], want.typ, want.time)
				}
			}
			if err := ps.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := body.next(); !errors.Is(err, io.EOF) {
				t.Fatalf("after unpublish: %v, want the end of the body", err)
			}
			testutil.WaitFor(t, 5*time.Second, "the closed line", func() bool {
				return strings.Contains(st.logs.String(), `msg="http-flv closed"`) && strings.Contains(st.logs.String(), "reason=unpublished")
			})
		})
	}
}

// barrier returns once the server has handled everything c sent before:
// a call's answer comes after the messages ahead of it (one reader per
// connection). The method does not exist; the error answer is enough.
func barrier(t testing.TB, c *rtmp.Client) {
	t.Helper()
	_, _ = c.Call(testutil.Context(t, 10*time.Second), "barrier")
}

// guardLoader is an application script for app "guarded": it admits a
// client when its query string says so, and then lets it read only
// streams under "open".
type guardLoader struct{}

func (guardLoader) Load(in *instance.Instance) (instance.Script, error) {
	if in.App != "guarded" {
		return nil, nil
	}
	return &guardScript{in: in}, nil
}

type guardScript struct{ in *instance.Instance }

func (s *guardScript) Connect(c *instance.Client, _ []amf.Value) {
	go func() { // decisions come later, from the script's loop
		if !strings.Contains(c.Query, "key=good") {
			s.in.Reject(c, "bad key", amf.Undefined())
			return
		}
		if c.Protocol != "http-flv" {
			s.in.Reject(c, "protocol "+c.Protocol, amf.Undefined())
			return
		}
		c.SetAccess("open", "/")
		s.in.Accept(c)
	}()
}
func (s *guardScript) Disconnect(*instance.Client) {}
func (s *guardScript) Call(_ *instance.Client, _ string, _ []amf.Value, result instance.Result) {
	result(amf.Undefined(), false)
}
func (s *guardScript) Publish(*instance.Client, instance.PublishRequest) error { return nil }
func (s *guardScript) Unpublish(*instance.Client, string)                      {}
func (s *guardScript) Stop(string)                                             {}

// TestFLVRefusals: what an HTTP-FLV request that cannot play answers.
func TestFLVRefusals(t *testing.T) {
	st := startStack(t, stackOpts{loader: guardLoader{}})
	pub := dialRTMP(t, st.url("rtmp", "live"))
	rtmptest.Write(t, rtmptest.Publish(t, pub, "s"), media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	gp, err := rtmp.Dial(testutil.Context(t, 10*time.Second), st.url("rtmp", "guarded"), rtmp.ClientConfig{})
	if err == nil {
		_ = gp.Close()
		t.Fatal("the guard script admitted an RTMP client without a key")
	}

	cases := []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"no such application", "GET", "/nope/s.flv", 404, "no such application"},
		{"not published", "GET", "/live/other.flv", 404, "stream not published"},
		{"bad path", "GET", "/live/../s.flv", 404, "not found"},
		{"POST", "POST", "/live/s.flv", 405, ""},
		{"rejected by the script", "GET", "/guarded/open.flv?key=bad", 403, "bad key"},
		{"no read access", "GET", "/guarded/secret.flv?key=good", 403, "No read access"},
		{"admitted, not published", "GET", "/guarded/open.flv?key=good", 404, "stream not published"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+st.addr+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
				t.Fatalf("%d %q, want %d with %q", resp.StatusCode, b, tc.status, tc.body)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("no CORS header on the refusal")
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, "http://"+st.addr+"/live/s.flv", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	// Every refused client has left its instance.
	testutil.WaitFor(t, 5*time.Second, "refused clients gone", func() bool {
		for _, in := range st.eng.Instances() {
			if in.App == "guarded" && len(in.Clients()) != 0 {
				return false
			}
		}
		return true
	})
}

// TestFLVAdmittedByScript: a client the script admits plays, and leaves
// its instance when it closes the connection.
func TestFLVAdmittedByScript(t *testing.T) {
	st := startStack(t, stackOpts{loader: guardLoader{}})
	// The guard script admits RTMP publishers only with a key and
	// protocol http-flv, so publish into the instance from inside.
	in, cl, err := st.eng.Connect("guarded", instance.DefaultInstance, instance.ClientInfo{Protocol: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Disconnect(cl)
	pub, err := in.Streams().Publish("open")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.Write(&media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	pub.Write(&media.Packet{Kind: media.Video, Payload: rtmptest.Keyframe(1, 100)})

	conn, err := net.Dial("tcp", st.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /guarded/open.flv?key=good HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	body := readFLVHeader(t, resp.Body)
	if body.flags != flv.FlagVideo {
		t.Errorf("flags %#x, want video only", body.flags)
	}
	for _, want := range [][]byte{rtmptest.AVCConfig, rtmptest.Keyframe(1, 100)} {
		tag, err := body.next()
		if err != nil || !bytes.Equal(tag.data, want) {
			t.Fatalf("tag %x, %v", tag.data, err)
		}
	}
	if n := len(in.Clients()); n != 2 {
		t.Fatalf("%d clients, want the publisher and the player", n)
	}
	var protocol string
	for _, c := range in.Clients() {
		if c != cl {
			protocol = c.Protocol
		}
	}
	if protocol != "http-flv" {
		t.Errorf("player's protocol %q, want http-flv", protocol)
	}
	_ = conn.Close()
	testutil.WaitFor(t, 5*time.Second, "the player leaving the instance", func() bool { return len(in.Clients()) == 1 })
	testutil.WaitFor(t, 5*time.Second, "the closed line", func() bool {
		return strings.Contains(st.logs.String(), `msg="http-flv closed"`) && strings.Contains(st.logs.String(), "reason=eof")
	})
}

// TestFLVSlowConsumer: an HTTP-FLV player that stops reading is cut off as
// a slow consumer; the publisher and a reading player carry on.
func TestFLVSlowConsumer(t *testing.T) {
	st := startStack(t, stackOpts{
		inherited: Inherited{WriteTimeout: 500 * time.Millisecond},
		media:     media.Config{SlowConsumerAfter: 500 * time.Millisecond, QueueBytes: 256 << 10},
	})
	ps := rtmptest.Publish(t, dialRTMP(t, st.url("rtmp", "live")), "s")
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.Keyframe(0, 1000)})

	// The stalled player: a tiny receive buffer, and it never reads.
	stalled, err := net.Dial("tcp", st.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	_ = stalled.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(stalled, "GET /live/s.flv HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + st.addr + "/live/s.flv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := readFLVHeader(t, resp.Body)
	var mu sync.Mutex
	got := 0
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			if _, err := body.next(); err != nil {
				return
			}
			mu.Lock()
			got++
			mu.Unlock()
		}
	}()
	received := func() int { mu.Lock(); defer mu.Unlock(); return got }

	rtmptest.FeedVideo(t, ps, 20000)
	testutil.WaitFor(t, 15*time.Second, "the stalled player cut off", func() bool {
		return strings.Contains(st.logs.String(), `msg="http-flv closed"`) && strings.Contains(st.logs.String(), "reason=slow_consumer")
	})
	before := received()
	testutil.WaitFor(t, 10*time.Second, "the reading player still receiving", func() bool { return received() > before+20 })
	_ = resp.Body.Close()
	<-readerDone
}

// TestFLVOverTLS: the TLS port serves HTTP-FLV too, as https-flv.
func TestFLVOverTLS(t *testing.T) {
	st := startStack(t, stackOpts{})
	pc := dialRTMP(t, st.url("rtmp", "live"))
	ps := rtmptest.Publish(t, pc, "s")
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.Keyframe(1, 100)})
	barrier(t, pc)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: insecure}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + st.tlsAdr + "/live/s.flv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := readFLVHeader(t, resp.Body)
	for _, want := range [][]byte{rtmptest.AVCConfig, rtmptest.Keyframe(1, 100)} {
		if tag, err := body.next(); err != nil || !bytes.Equal(tag.data, want) {
			t.Fatalf("tag %x, %v", tag.data, err)
		}
	}
	if !strings.Contains(st.logs.String(), `msg="http-flv play start" proto=https-flv`) {
		t.Error("no https-flv player logged")
	}
}

// TestFLVOverHTTP3: the HTTP/3 port serves HTTP-FLV (a browser that
// learned of HTTP/3 from Alt-Svc fetches the stream over it), refusals
// included; the player leaves its instance when it cancels the request.
func TestFLVOverHTTP3(t *testing.T) {
	st := startStack(t, stackOpts{})
	tc, err := tlsutil.SelfSignedConfig()
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h3 := &http3.Server{TLSConfig: http3.ConfigureTLSConfig(tc), Handler: st.br.HTTPHandler("https-flv", nil)}
	done := make(chan error, 1)
	go func() { done <- h3.Serve(udp) }()
	t.Cleanup(func() {
		_ = h3.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("http3 serve: %v", err)
		}
	})
	tr := &http3.Transport{TLSClientConfig: insecure}
	defer tr.Close()
	hc := &http.Client{Transport: tr}
	base := "https://" + udp.LocalAddr().String()

	resp, err := hc.Get(base + "/live/none.flv")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unpublished stream: status %d, want 404", resp.StatusCode)
	}

	pc := dialRTMP(t, st.url("rtmp", "live"))
	ps := rtmptest.Publish(t, pc, "s")
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.AVCConfig})
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Payload: rtmptest.Keyframe(1, 3000)})
	barrier(t, pc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/live/s.flv", nil)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "video/x-flv" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("headers %v", resp.Header)
	}
	body := readFLVHeader(t, resp.Body)
	for _, want := range [][]byte{rtmptest.AVCConfig, rtmptest.Keyframe(1, 3000)} {
		if tag, err := body.next(); err != nil || !bytes.Equal(tag.data, want) {
			t.Fatalf("tag %d bytes, %v", len(tag.data), err)
		}
	}
	rtmptest.Write(t, ps, media.Packet{Kind: media.Video, Time: 40, Payload: rtmptest.Interframe(2, 500)})
	if tag, err := body.next(); err != nil || tag.time != 40 || !bytes.Equal(tag.data, rtmptest.Interframe(2, 500)) {
		t.Fatalf("live tag %+v, %v", tag, err)
	}
	in := st.eng.Instances()[0]
	if n := len(in.Clients()); n != 2 {
		t.Fatalf("%d clients, want the publisher and the player", n)
	}
	cancel()
	testutil.WaitFor(t, 10*time.Second, "the player leaving its instance", func() bool { return len(in.Clients()) == 1 })
	if !strings.Contains(st.logs.String(), `msg="http-flv play start" proto=https-flv`) {
		t.Error("no https-flv player logged")
	}
}
