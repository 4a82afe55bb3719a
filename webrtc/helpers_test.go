package webrtc

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"
	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/rtph264"
	"github.com/openfcs/openfcs/ssas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// pion's SRTP and interceptor goroutines notice a closed peer
		// connection on their next timer tick.
		goleak.IgnoreAnyFunction("github.com/pion/interceptor/pkg/nack.(*GeneratorInterceptor).loop"),
		goleak.IgnoreAnyFunction("github.com/pion/interceptor/pkg/report.(*ReceiverInterceptor).loop"),
		goleak.IgnoreAnyFunction("github.com/pion/interceptor/pkg/report.(*SenderInterceptor).loop"),
		goleak.IgnoreAnyFunction("github.com/pion/interceptor/pkg/twcc.(*SenderInterceptor).loop"),
		goleak.IgnoreAnyFunction("github.com/pion/interceptor/pkg/stats.(*statsInterceptor).loop"),
	)
}

// guardedScript admits a client whose token is "secret" and traces what
// the script sees, so a test can tell whether the script heard of a
// session at all.
const guardedScript = `
application.onConnect = function (client, token) {
	trace("onConnect " + client.protocol + " token=" + token);
	if (token == "secret") return true;
	application.rejectConnection(client, {message: "bad token"});
	return false;
};
application.onPublish = function (client, stream) {
	trace("onPublish " + stream.name + " query=" + stream.publishQueryString);
};
`

type stack struct {
	eng  *instance.Manager
	srv  *Server
	base string // http://127.0.0.1:port
	logs *testutil.LogBuffer
	apps string // the applications folder
}

func startStack(t testing.TB, cfg Config) *stack {
	t.Helper()
	return startStackMedia(t, cfg, media.Config{})
}

// startStackMedia is startStack with the instances' live stream limits.
func startStackMedia(t testing.TB, cfg Config, mcfg media.Config) *stack {
	t.Helper()
	apps := testutil.Apps(t, "live", "guarded")
	if err := os.WriteFile(filepath.Join(apps, "guarded", "main.asc"), []byte(guardedScript), 0o644); err != nil {
		t.Fatal(err)
	}
	log, logs := testutil.Logger(t, slog.LevelDebug)
	st := &stack{logs: logs, apps: apps}
	st.eng = instance.NewManager(instance.Config{AppsDir: apps, Media: mcfg}, log)
	st.eng.SetScriptLoader(&ssas.Host{Logger: log})
	st.srv = &Server{Config: cfg, Logger: log, Engine: st.eng}
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.srv.Start(udp, nil); err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(st.srv.Handler())
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st.base = "http://" + ln.Addr().String()
	var wg sync.WaitGroup
	wg.Go(func() { _ = app.Listener(ln) })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.srv.Close(ctx); err != nil {
			t.Errorf("webrtc close: %v", err)
		}
		_ = app.ShutdownWithContext(ctx)
		wg.Wait()
		st.eng.Close()
	})
	return st
}

// runFFmpeg runs the installed ffmpeg with args over in and returns what
// it writes; a failure ends the test with what ffmpeg said.
func runFFmpeg(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("ffmpeg", args...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// clientAPI is a stock pion client on loopback: default codecs and
// interceptors. tune, when given, may add interceptors that come before
// the defaults and change the settings.
func clientAPI(t testing.TB, tune ...func(*interceptor.Registry, *pion.SettingEngine)) *pion.API {
	t.Helper()
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	for _, f := range tune {
		f(ir, &se)
	}
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
}

// connectClient admits a client that came over proto ("" for none) to
// st's live/_definst_; it leaves at the test's cleanup.
func connectClient(t testing.TB, st *stack, proto string) (*instance.Instance, *instance.Client) {
	t.Helper()
	in, cl, err := st.eng.Connect("live", "_definst_", instance.ClientInfo{Protocol: proto})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Disconnect(cl) })
	return in, cl
}

// publishH264 publishes name on st's live/_definst_ through the engine,
// as an RTMP publisher's H.264 arrives: the sequence header (testSPS,
// testPPS), then a frame every period, each tenth an IDR, the others
// testP followed by filler bytes of 0x5a. Publishing ends at the test's
// cleanup. It returns the instance, for tests that reach its streams.
func publishH264(t testing.TB, st *stack, name string, period time.Duration, filler int) *instance.Instance {
	t.Helper()
	in, _ := connectClient(t, st, "")
	pub, err := in.Streams().Publish(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	hdr, err := avcSequenceHeader([][]byte{testSPS}, [][]byte{testPPS})
	if err != nil {
		t.Fatal(err)
	}
	pub.Write(&media.Packet{Kind: media.Video, Time: 0, Payload: hdr})
	ms := uint32(period / time.Millisecond)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for f := 0; ; f++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			nal := append(testP(f), bytes.Repeat([]byte{0x5a}, filler)...)
			if f%10 == 0 {
				nal = testIDR(f)
			}
			pub.Write(&media.Packet{Kind: media.Video, Time: uint32(f) * ms, Payload: avcFrame(rtph264.AppendAVCC(nil, nal), f%10 == 0)})
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return in
}

// post sends an SDP offer; it returns the status, the Location and the
// body.
func post(t testing.TB, url, token, ctype, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// gatheredOffer is pc's offer with its candidates, set as its local
// description.
func gatheredOffer(t testing.TB, pc *pion.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// negotiate makes pc's offer (after gathering) and applies the answer of
// a POST to url. It returns the session's Location.
func negotiate(t testing.TB, pc *pion.PeerConnection, url, token string) (int, string, string) {
	t.Helper()
	status, loc, body := post(t, url, token, "application/sdp", gatheredOffer(t, pc))
	if status != http.StatusCreated {
		return status, loc, body
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatal(err)
	}
	return status, loc, body
}

// Synthetic H.264: the server never decodes, so parameter sets and slices
// need only the right NAL types.
var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

func testIDR(n int) []byte {
	return append([]byte{0x65, 0x88, 0x84, byte(n)}, bytes.Repeat([]byte{0xab}, 4000)...)
}

func testP(n int) []byte { return []byte{0x41, 0x9a, 0x02, byte(n), 0x11, 0x22} }

func annexB(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

// whipPublisher publishes synthetic H.264 (a keyframe every 10 frames, 25
// fps) and Opus (20 ms) until stopped.
type whipPublisher struct {
	pc       *pion.PeerConnection
	loc      string
	stop     chan struct{}
	wg       sync.WaitGroup
	video    *pion.TrackLocalStaticSample
	audio    *pion.TrackLocalStaticSample
	opusData []byte
}

func startWHIP(t testing.TB, url, token string) (*whipPublisher, int, string) {
	t.Helper()
	p := newWHIPPublisher(t)
	status, loc, body := negotiate(t, p.pc, url, token)
	if status != http.StatusCreated {
		_ = p.pc.Close()
		return nil, status, body
	}
	p.loc = loc
	p.wg.Go(p.run)
	t.Cleanup(p.close)
	return p, status, body
}

// newWHIPPublisher is a publisher's peer connection with its H.264 and
// Opus tracks, not yet negotiated; run sends on them.
func newWHIPPublisher(t testing.TB) *whipPublisher {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &whipPublisher{pc: pc, stop: make(chan struct{}), opusData: []byte{0xfc, 0xff, 0xfe, 0x01, 0x02}}
	p.video, _ = pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "pub")
	p.audio, _ = pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	for _, tr := range []pion.TrackLocal{p.video, p.audio} {
		if _, err := pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (p *whipPublisher) run() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		_ = p.audio.WriteSample(pionmedia.Sample{Data: p.opusData, Duration: 20 * time.Millisecond})
		if n%2 == 1 {
			continue
		}
		f := n / 2
		au := annexB(testP(f))
		if f%10 == 0 {
			au = annexB(testSPS, testPPS, testIDR(f))
		}
		_ = p.video.WriteSample(pionmedia.Sample{Data: au, Duration: 40 * time.Millisecond})
	}
}

func (p *whipPublisher) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.wg.Wait()
	_ = p.pc.Close()
}

// whepPlayer plays a stream and records what it receives.
type whepPlayer struct {
	pc  *pion.PeerConnection
	loc string

	mu        sync.Mutex
	units     [][][]byte // NAL units of each access unit received
	unitTS    []uint32   // the RTP time of each
	opus      [][]byte
	wg        sync.WaitGroup
	connected chan struct{}
}

func startWHEP(t testing.TB, url, token string) (*whepPlayer, int, string) {
	t.Helper()
	w := newWHEPPlayer(t)
	status, loc, body := negotiate(t, w.pc, url, token)
	if status != http.StatusCreated {
		_ = w.pc.Close()
		return nil, status, body
	}
	w.loc = loc
	t.Cleanup(w.close)
	return w, status, body
}

// newWHEPPlayer makes a peer that receives video and audio and reads
// each track as it comes; the caller negotiates it and calls close.
func newWHEPPlayer(t testing.TB) *whepPlayer {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	w := &whepPlayer{pc: pc, connected: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected {
			once.Do(func() { close(w.connected) })
		}
	})
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		w.wg.Go(func() { w.read(tr) })
	})
	return w
}

// close ends the peer and waits for its track readers.
func (w *whepPlayer) close() {
	_ = w.pc.Close()
	w.wg.Wait()
}

func (w *whepPlayer) read(tr *pion.TrackRemote) {
	var d rtph264.Depacketizer
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if tr.Kind() == pion.RTPCodecTypeAudio {
			w.mu.Lock()
			w.opus = append(w.opus, append([]byte(nil), pkt.Payload...))
			w.mu.Unlock()
			continue
		}
		_ = d.Push(pkt.Payload, pkt.SequenceNumber, pkt.Timestamp, pkt.Marker, func(au rtph264.AccessUnit) {
			nals, _ := rtph264.SplitAVCC(nil, au.AVCC, 4, 100)
			var cp [][]byte
			for _, n := range nals {
				cp = append(cp, append([]byte(nil), n...))
			}
			w.mu.Lock()
			w.units = append(w.units, cp)
			w.unitTS = append(w.unitTS, au.Timestamp)
			w.mu.Unlock()
		})
	}
}

func (w *whepPlayer) counts() (units, idrs, opus int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, u := range w.units {
		for _, n := range u {
			if rtph264.Type(n) == rtph264.NALIDR {
				idrs++
			}
		}
	}
	return len(w.units), idrs, len(w.opus)
}
