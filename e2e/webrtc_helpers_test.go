//go:build e2e

package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"

	"github.com/openfcs/openfcs/media/ogg"
	"github.com/openfcs/openfcs/media/rtph264"
)

// A stock pion client for the WebRTC tests: default codecs and
// interceptors, loopback candidates only (the server offers 127.0.0.1).
func rtcClient(t testing.TB) *pion.PeerConnection {
	t.Helper()
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	pc, err := pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)).
		NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// rtcNegotiate POSTs pc's offer and applies the answer; it returns the
// status and, on failure, the body.
func rtcNegotiate(t testing.TB, pc *pion.PeerConnection, url, token string) (int, string) {
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
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return resp.StatusCode, string(body)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, ""
}

// whepRecorder plays a stream over WHEP and keeps its video as an Annex-B
// file (for ffprobe) and its audio packets.
type whepRecorder struct {
	mu     sync.Mutex
	annexB bytes.Buffer
	units  int
	audio  int
	acodec string
	// audioAt is when each audio packet arrived.
	audioAt []time.Time
	// waitKey: a unit was lost; nothing is kept until the next keyframe.
	waitKey bool
	wg      sync.WaitGroup
}

func startWHEPRecorder(t testing.TB, url string) (*whepRecorder, int, string) {
	t.Helper()
	pc := rtcClient(t)
	r := &whepRecorder{}
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) { r.wg.Go(func() { r.read(tr) }) })
	status, body := rtcNegotiate(t, pc, url, "")
	if status == http.StatusCreated {
		t.Cleanup(func() { _ = pc.Close(); r.wg.Wait() })
	}
	return r, status, body
}

func (r *whepRecorder) read(tr *pion.TrackRemote) {
	var d rtph264.Depacketizer
	lost := uint64(0)
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if d.Lost() != lost {
			// Like a decoder: after a loss, wait for a keyframe.
			lost = d.Lost()
			r.mu.Lock()
			r.waitKey = true
			r.mu.Unlock()
		}
		if tr.Kind() == pion.RTPCodecTypeAudio {
			r.mu.Lock()
			r.audio++
			r.audioAt = append(r.audioAt, time.Now())
			r.acodec = tr.Codec().MimeType
			r.mu.Unlock()
			continue
		}
		_ = d.Push(pkt.Payload, pkt.SequenceNumber, pkt.Timestamp, pkt.Marker, func(au rtph264.AccessUnit) {
			nals, _ := rtph264.SplitAVCC(nil, au.AVCC, 4, 256)
			r.mu.Lock()
			defer r.mu.Unlock()
			if (r.units == 0 || r.waitKey) && !au.IDR {
				return // a decoder starts at a keyframe
			}
			r.waitKey = false
			for _, n := range nals {
				r.annexB.Write([]byte{0, 0, 0, 1})
				r.annexB.Write(n)
			}
			r.units++
		})
	}
}

func (r *whepRecorder) counts() (units, audio int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.units, r.audio
}

// save writes the video received so far to a file ffprobe can read.
func (r *whepRecorder) save(t testing.TB) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	p := filepath.Join(t.TempDir(), "whep.h264")
	if err := os.WriteFile(p, r.annexB.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ffmpegFile runs ffmpeg to make a test input file.
func ffmpegFile(t testing.TB, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("ffmpeg", append(append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", name, err, b)
	}
	return out
}

// checkFlashConverters waits for the admin view to show two converters
// running, and checks that one each started for a stream of Sorenson
// H.263 and audio in from: to H.264 and to Opus. A previous stream's
// converters stop with its outlet, which its publisher's end closes.
func checkFlashConverters(t testing.TB, srv *server, stream, from string) {
	t.Helper()
	var st struct {
		WebRTC struct {
			Converters int `json:"converters"`
		} `json:"webrtc"`
	}
	waitFor(t, 30*time.Second, "two converters running (video and audio) in the admin view", func() bool {
		srv.adminJSON(t, "/admin/api/v1/server", &st)
		return st.WebRTC.Converters == 2
	})
	for _, conv := range [][2]string{{"sorenson", "h264"}, {from, "opus"}} {
		if n := len(srv.findLogs(func(m map[string]any) bool {
			return m["msg"] == "webrtc converter started" && m["stream"] == stream && m["from"] == conv[0] && m["to"] == conv[1]
		})); n != 1 {
			t.Errorf("%s: %d converters from %s to %s started, want 1", stream, n, conv[0], conv[1])
		}
	}
}

// publishWHIPPage opens whip.html in b as page "pub", which publishes
// Chromium's fake camera and microphone to srv as live/cam, and waits for
// the server to receive its H.264.
func publishWHIPPage(t testing.TB, b *browser, srv *server) {
	t.Helper()
	b.open(t, "pub", srv.pageURL("/whip.html?autostart=1&path=live/cam&token=t"))
	b.wait(t, "pub", "return window.openfcsWHIP.state === 'connected' || window.openfcsWHIP.error !== ''", time.Minute)
	var errText string
	b.eval(t, "pub", "return window.openfcsWHIP.error", &errText)
	if errText != "" {
		t.Fatalf("whip.html: %s", errText)
	}
	waitFor(t, 30*time.Second, "frames from the browser", func() bool {
		return len(srv.findLogs(func(m map[string]any) bool { return m["msg"] == "webrtc track" && m["codec"] == "video/h264" })) == 1
	})
}

// checkCameraOverRTMP plays 6 s of a stream that a browser publishes
// from Chromium's fake camera and microphone with ffmpeg over RTMP, and
// checks what it recorded: 25 or more frames of the camera's 16:9 picture
// (Chromium's encoder may scale it down when the machine is busy, keeping
// the aspect), 100 or more frames of audio in acodec (ffprobe's name; desc
// says it in the error), not silent, decoding without errors.
func checkCameraOverRTMP(t testing.TB, srv *server, stream, acodec, desc string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), stream+".flv")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", srv.RTMPURL("live", stream),
		"-t", "6", "-c", "copy", "-f", "flv", out)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, o)
	}
	n, w, h := decodeVideo(t, out)
	mi := probe(t, out)
	a := mi.stream("audio")
	peak := audioPeak(t, out)
	t.Logf("ffmpeg over RTMP: %d H.264 frames %dx%d, audio %v with %d frames, peak %.1f dB", n, w, h, a, mi.frames("audio"), peak)
	if n < 25 || w < 320 || w*9 != h*16 {
		t.Errorf("decoded %d frames of %dx%d, want 25 or more of the camera's 16:9 picture", n, w, h)
	}
	if a == nil || a.CodecName != acodec || mi.frames("audio") < 100 {
		t.Errorf("audio %+v with %d decoded frames, want %s, 100 or more", a, mi.frames("audio"), desc)
	}
	if errs := decodeProblems(mi.decodeErrors); errs != "" {
		t.Errorf("decoding: %s", errs)
	}
	if peak < -40 {
		t.Errorf("audio peak %.1f dB: silent", peak)
	}
}

// streamFile makes name with ffmpeg in the recorded streams of app under
// apps, where a play of the stream finds it.
func streamFile(t testing.TB, apps, app, name string, args ...string) {
	t.Helper()
	dir := vodStreams(apps, app)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(ffmpegFile(t, name, args...), filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// accessUnits splits an Annex-B file of one slice per picture into access
// units: parameter sets and SEI go with the slice that follows them.
func accessUnits(b []byte) [][]byte {
	var aus [][]byte
	var cur []byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			break
		}
		b = b[i+3:]
		j := bytes.Index(b, []byte{0, 0, 1})
		nal := b
		if j >= 0 {
			nal = b[:j]
			b = b[j:]
		} else {
			b = nil
		}
		nal = bytes.TrimRight(nal, "\x00")
		if len(nal) == 0 {
			continue
		}
		cur = append(cur, 0, 0, 0, 1)
		cur = append(cur, nal...)
		if t := nal[0] & 0x1f; t == 1 || t == 5 {
			aus = append(aus, cur)
			cur = nil
		}
	}
	return aus
}

// whipFilePublisher publishes an H.264 file (25 fps, looped) and G.711
// mu-law, or Opus from an Ogg file (a path ending in .ogg), in 20 ms
// packets, looped, over WHIP in real time.
type whipFilePublisher struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

func startWHIPFile(t testing.TB, url, token, h264Path, mulawPath string) (*whipFilePublisher, int, string) {
	t.Helper()
	h264, err := os.ReadFile(h264Path)
	if err != nil {
		t.Fatal(err)
	}
	mulaw, err := os.ReadFile(mulawPath)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte // 20 ms of audio each
	capa := pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}
	if strings.HasSuffix(mulawPath, ".ogg") {
		capa = pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		rd := ogg.NewReader(bytes.NewReader(mulaw), 1<<16)
		for {
			pk, err := rd.Next()
			if err != nil {
				break
			}
			if !bytes.HasPrefix(pk.Data, []byte("Opus")) {
				frames = append(frames, bytes.Clone(pk.Data))
			}
		}
	} else {
		for off := 0; off+160 <= len(mulaw); off += 160 {
			frames = append(frames, mulaw[off:off+160])
		}
	}
	if len(frames) == 0 {
		t.Fatalf("no audio in %s", mulawPath)
	}
	aus := accessUnits(h264)
	if len(aus) == 0 {
		t.Fatal("no access units in the H.264 file")
	}
	pc := rtcClient(t)
	video, _ := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "pub")
	audio, _ := pion.NewTrackLocalStaticSample(capa, "audio", "pub")
	for _, tr := range []pion.TrackLocal{video, audio} {
		if _, err := pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	p := &whipFilePublisher{stop: make(chan struct{})}
	status, body := rtcNegotiate(t, pc, url, token)
	if status != http.StatusCreated {
		return nil, status, body
	}
	p.wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			_ = audio.WriteSample(pionmedia.Sample{Data: frames[n%len(frames)], Duration: 20 * time.Millisecond})
			if n%2 == 0 {
				_ = video.WriteSample(pionmedia.Sample{Data: aus[(n/2)%len(aus)], Duration: 40 * time.Millisecond})
			}
		}
	})
	t.Cleanup(func() { close(p.stop); p.wg.Wait() })
	return p, status, ""
}
