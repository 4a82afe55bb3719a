package webrtc

import (
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/rtph264"
)

// dropper loses the first copy of some video packets, as a lossy network
// would, and notes which of them arrive again. It sits before the NACK
// generator, which therefore asks for them.
type dropper struct {
	interceptor.NoOp
	mu        sync.Mutex
	seen      int
	dropped   map[uint16]bool
	recovered map[uint16]bool
}

func (d *dropper) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if info.MimeType != pion.MimeTypeH264 {
		return r
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, a, err := r.Read(b, a)
			if err != nil || n < 4 {
				return n, a, err
			}
			seq := uint16(b[2])<<8 | uint16(b[3])
			d.mu.Lock()
			d.seen++
			drop := false
			switch {
			case d.dropped[seq]:
				d.recovered[seq] = true
			case d.seen > 20 && d.seen%9 == 0 && len(d.dropped) < 40:
				d.dropped[seq], drop = true, true
			}
			d.mu.Unlock()
			if !drop {
				return n, a, err
			}
		}
	})
}

func (d *dropper) counts() (dropped, recovered int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.dropped), len(d.recovered)
}

// lossyPlayer plays url through a pion client whose video loses some
// packets once; replay protection is off so that a packet dropped after
// decryption can arrive again.
func lossyPlayer(t *testing.T, url string) *dropper {
	t.Helper()
	d := &dropper{dropped: map[uint16]bool{}, recovered: map[uint16]bool{}}
	api := clientAPI(t, func(ir *interceptor.Registry, se *pion.SettingEngine) {
		ir.Add(&dropperFactory{d})
		se.DisableSRTPReplayProtection(true)
	})
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = pc.Close(); wg.Wait() })
	if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		wg.Go(func() {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
			}
		})
	})
	if status, _, body := negotiate(t, pc, url, ""); status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	return d
}

type dropperFactory struct{ d *dropper }

func (f *dropperFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return f.d, nil }

// A viewer's lost packets are sent again from the outlet's one buffer,
// which pion's NACK responder no longer keeps per viewer; a second viewer
// of the stream plays on unaffected.
func TestWHEPRetransmitsFromSharedBuffer(t *testing.T) {
	st := startStack(t, Config{})
	publishH264(t, st, "lossy", 40*time.Millisecond, 3000) // three packets a frame

	d := lossyPlayer(t, st.base+"/whep/live/lossy")
	other, status, body := startWHEP(t, st.base+"/whep/live/lossy", "")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	testutil.WaitFor(t, waitLong, "ten lost packets sent again", func() bool {
		dropped, recovered := d.counts()
		return dropped >= 10 && recovered >= 10
	})
	testutil.WaitFor(t, waitLong, "the other viewer playing", func() bool { _, idrs, _ := other.counts(); return idrs >= 2 })
	var retransmitted uint64
	st.srv.mu.Lock()
	for _, ss := range st.srv.sessions {
		if ss.view != nil {
			retransmitted += ss.view.retransmitted.Load()
		}
	}
	st.srv.mu.Unlock()
	if retransmitted < 10 {
		t.Fatalf("the server counts %d packets sent again", retransmitted)
	}
}

func TestRetransmitRing(t *testing.T) {
	r := newRetransmitRing(1000) // rounded up to 1024
	if len(r.pkts) != 1024 {
		t.Fatalf("ring of %d", len(r.pkts))
	}
	for seq := range 3000 {
		r.put(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(65000 + seq)}})
	}
	last := uint16(65000 + 2999 - 65536)
	for _, c := range []struct {
		seq  uint16
		want bool
	}{{last, true}, {last - 1023, true}, {last - 1024, false}, {last + 1, false}, {64999, false}} {
		if got := r.get(c.seq) != nil; got != c.want {
			t.Errorf("get(%d) = %v, want %v", c.seq, got, c.want)
		}
	}
	if n := len(newRetransmitRing(1 << 20).pkts); n != 1<<15 {
		t.Errorf("ring of %d for a huge setting; want half the sequence space", n)
	}
}

// A viewer that keeps asking gets a burst, then retransmit_rate a
// second.
func TestRetransmitBudget(t *testing.T) {
	o := &outlet{s: &Server{cfg: Config{RetransmitRate: 100}}, rtx: newRetransmitRing(1024)}
	for seq := range 600 {
		o.rtx.put(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(seq)}, Payload: []byte{1}})
	}
	tr, w := boundTrack(t)
	v := &viewer{ss: &session{}, o: o, video: tr}
	all := &rtcp.TransportLayerNack{}
	for seq := uint16(0); seq < 600; seq += 17 {
		all.Nacks = append(all.Nacks, rtcp.NackPair{PacketID: seq, LostPackets: 0xffff})
	}
	v.retransmit(o, tr, all)
	if w.n != retransmitBurst {
		t.Fatalf("first NACK: %d sent, want the burst of %d", w.n, retransmitBurst)
	}
	v.retransmit(o, tr, all)
	if w.n > retransmitBurst+5 {
		t.Fatalf("second NACK at once: %d more sent", w.n-retransmitBurst)
	}
	var b retransmitBudget
	t0 := time.Now()
	if got := b.take(t0, 100); got != retransmitBurst {
		t.Fatalf("a new budget is %d", got)
	}
	b.spend(retransmitBurst)
	if got := b.take(t0.Add(time.Second), 100); got != 100 {
		t.Fatalf("a second later: %d, want 100", got)
	}
	if got := b.take(t0.Add(time.Minute), 100); got != retransmitBurst {
		t.Fatalf("a minute later: %d, want the burst", got)
	}
	if v.retransmitted.Load() != uint64(w.n) {
		t.Fatalf("counted %d, sent %d", v.retransmitted.Load(), w.n)
	}
}

// fakeContext binds a viewTrack as pion's RTP sender does, to a writer
// that counts.
type fakeContext struct {
	codecs []pion.RTPCodecParameters
	w      pion.TrackLocalWriter
}

func (c *fakeContext) CodecParameters() []pion.RTPCodecParameters { return c.codecs }
func (c *fakeContext) HeaderExtensions() []pion.RTPHeaderExtensionParameter {
	return nil
}
func (c *fakeContext) SSRC() pion.SSRC                       { return 0x1234 }
func (c *fakeContext) SSRCRetransmission() pion.SSRC         { return 0 }
func (c *fakeContext) SSRCForwardErrorCorrection() pion.SSRC { return 0 }
func (c *fakeContext) WriteStream() pion.TrackLocalWriter    { return c.w }
func (c *fakeContext) ID() string                            { return "fake" }
func (c *fakeContext) RTCPReader() interceptor.RTCPReader    { return nil }

type countWriter struct {
	n   int
	hdr rtp.Header
}

func (w *countWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.n++
	w.hdr = *h
	return len(payload), nil
}
func (w *countWriter) Write(b []byte) (int, error) { return len(b), nil }

// boundTrack is a viewer's H.264 track bound to a countWriter.
func boundTrack(tb testing.TB) (*viewTrack, *countWriter) {
	tb.Helper()
	w := &countWriter{}
	return bindTrack(tb, w), w
}

// bindTrack is a viewer's H.264 track bound to w (payload type 102, SSRC
// 0x1234).
func bindTrack(tb testing.TB, w pion.TrackLocalWriter) *viewTrack {
	tb.Helper()
	c := pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
	tr, err := newViewTrack(c, "video")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tr.Bind(&fakeContext{w: w, codecs: []pion.RTPCodecParameters{{RTPCodecCapability: c, PayloadType: 102}}}); err != nil {
		tb.Fatal(err)
	}
	return tr
}

// fanOutViewers is an outlet and n viewers of it in one session, each
// with its video bound to a countWriter.
func fanOutViewers(tb testing.TB, n int) (*outlet, []*viewer, []*countWriter) {
	tb.Helper()
	o := &outlet{s: &Server{}, rtx: newRetransmitRing(16)}
	ss := &session{log: slog.New(slog.DiscardHandler)}
	vs, ws := make([]*viewer, n), make([]*countWriter, n)
	for i := range n {
		tr, w := boundTrack(tb)
		vs[i], ws[i] = &viewer{ss: ss, o: o, video: tr}, w
	}
	return o, vs, ws
}

// The shared packet goes out with the viewer's SSRC and payload type and
// is itself left as it was, for the other viewers.
func TestViewTrackRewritesOnlyItsCopy(t *testing.T) {
	tr, w := boundTrack(t)
	p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 900, SSRC: 1, PayloadType: 96}, Payload: []byte{1, 2, 3}}
	if !tr.send(p) || !tr.sendShared(p) {
		t.Fatal("not sent")
	}
	if w.n != 2 || w.hdr.SSRC != 0x1234 || w.hdr.PayloadType != 102 || w.hdr.SequenceNumber != 7 || w.hdr.Timestamp != 900 {
		t.Fatalf("sent %d, last header %+v", w.n, w.hdr)
	}
	if p.SSRC != 1 || p.PayloadType != 96 {
		t.Fatalf("the shared packet changed: %+v", p.Header)
	}
	if err := tr.Unbind(&fakeContext{}); err != nil {
		t.Fatal(err)
	}
	if tr.send(p) {
		t.Fatal("sent after Unbind")
	}
}

// A viewer whose peer is disconnected is skipped until it is back; a
// fresh one starts with the GOP cache.
func TestFanOutSkipsAwayViewers(t *testing.T) {
	o, vs, ws := fanOutViewers(t, 3)
	hw, aw, fw := ws[0], ws[1], ws[2]
	vs[1].away.Store(true)
	vs[2].fresh = true
	pkts := []*rtp.Packet{{Header: rtp.Header{SequenceNumber: 1}}, {Header: rtp.Header{SequenceNumber: 2}}}
	o.gop = append(o.gop, &rtp.Packet{Header: rtp.Header{SequenceNumber: 0}}, pkts[0], pkts[1])
	o.fanOut(pkts, vs)
	if hw.n != 2 || aw.n != 0 || fw.n != 3 {
		t.Fatalf("sent %d, %d, %d; want 2 to the viewer, none to the one away, the GOP's 3 to the fresh one", hw.n, aw.n, fw.n)
	}
	vs[1].away.Store(false)
	o.fanOut(pkts, vs)
	if hw.n != 4 || aw.n != 2 || fw.n != 5 {
		t.Fatalf("sent %d, %d, %d after the return", hw.n, aw.n, fw.n)
	}
	if got := vs[0].packets.Load(); got != 4 {
		t.Fatalf("the viewer counts %d packets", got)
	}
}

// A large stream's fan-out is split between the outlet and workers, a
// worker per further core: every viewer still gets every packet once and
// in order, a fresh one the GOP cache first, and the workers end with the
// outlet.
func TestFanOutSplitsALargeStream(t *testing.T) {
	const n = 5 * fanOutShare
	o, vs, ws := fanOutViewers(t, n)
	for i, v := range vs {
		v.fresh = i%50 == 7
	}
	vs[3].away.Store(true)
	o.gop = []*rtp.Packet{{Header: rtp.Header{SequenceNumber: 0}}}
	for f := range 3 {
		pkts := []*rtp.Packet{{Header: rtp.Header{SequenceNumber: uint16(2*f + 1)}}, {Header: rtp.Header{SequenceNumber: uint16(2*f + 2)}}}
		o.gop = append(o.gop, pkts...)
		o.fanOut(pkts, vs)
	}
	if want := min(runtime.GOMAXPROCS(0), n/fanOutShare) - 1; len(o.workers) != want {
		t.Fatalf("%d workers, want %d", len(o.workers), want)
	}
	for i, w := range ws {
		want := 6
		switch {
		case i == 3:
			want = 0
		case i%50 == 7:
			want = 3 + 4 // the GOP cache of the first frame, then two frames
		}
		if w.n != want {
			t.Fatalf("viewer %d got %d packets, want %d", i, w.n, want)
		}
		if want > 0 && w.hdr.SequenceNumber != 6 {
			t.Fatalf("viewer %d's last packet is %d, want 6", i, w.hdr.SequenceNumber)
		}
	}
	o.stopWorkers()
}

// BenchmarkViewerSend is the outlet's whole per-viewer work for one packet,
// up to pion's write stream (the viewer's SRTP and send): 0 allocations.
func BenchmarkViewerSend(b *testing.B) {
	tr, _ := boundTrack(b)
	p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 900}, Payload: make([]byte, 1200)}
	b.ReportAllocs()
	for b.Loop() {
		tr.send(p)
	}
}

// BenchmarkFanOut sends one frame of 4 packets to 1,000 viewers: the
// allocations per op are the frame's, never the viewers' (0 per packet
// per viewer).
func BenchmarkFanOut(b *testing.B) {
	o, vs, _ := fanOutViewers(b, 1000)
	pkts := make([]*rtp.Packet, 4)
	for i := range pkts {
		pkts[i] = &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i)}, Payload: make([]byte, 1200)}
	}
	b.Cleanup(o.stopWorkers)
	b.ReportAllocs()
	for b.Loop() {
		o.fanOut(pkts, vs)
	}
	b.ReportMetric(float64(len(pkts)*len(vs)), "packets/op")
}

// gateWriter is a viewer's write stream that blocks while its gate is
// shut: an outlet stalled as on a machine too busy to run it.
type gateWriter struct {
	gate chan struct{}
	mu   sync.Mutex
	n    int
	sps  []int // the indexes of the packets that carry an SPS
}

func (w *gateWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	<-w.gate
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(payload) > 0 && rtph264.Type(payload) == rtph264.NALSPS {
		w.sps = append(w.sps, w.n)
	}
	w.n++
	return len(payload), nil
}
func (w *gateWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *gateWriter) counts() (n int, sps []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, append([]int(nil), w.sps...)
}

// An outlet the engine cuts off for staying behind the stream follows it
// again: its viewers stay, and go on at the stream's next keyframe.
func TestOutletFollowsTheStreamAgainAfterACutOff(t *testing.T) {
	st := startStackMedia(t, Config{}, media.Config{SlowConsumerAfter: 300 * time.Millisecond, QueueBytes: 64 << 10})
	in := publishH264(t, st, "stalled", 10*time.Millisecond, 2000)

	o, herr := st.srv.acquireOutlet(in, target{App: "live", Instance: "_definst_", Stream: "stalled"})
	if herr != nil {
		t.Fatal(herr)
	}
	defer st.srv.releaseOutlet(o)
	w := &gateWriter{gate: make(chan struct{})}
	v := &viewer{ss: &session{log: slog.New(slog.DiscardHandler)}, o: o, video: bindTrack(t, w)}
	o.mu.Lock()
	v.fresh = true
	o.viewers = append(o.viewers, v)
	o.mu.Unlock()

	testutil.WaitFor(t, waitLong, "the stalled outlet cut off", func() bool {
		return strings.Contains(st.logs.String(), "slow_consumer")
	})
	close(w.gate)
	testutil.WaitFor(t, waitLong, "the outlet following the stream again", func() bool {
		return strings.Contains(st.logs.String(), "webrtc outlet fell behind the stream")
	})
	n0, _ := w.counts()
	testutil.WaitFor(t, waitLong, "a keyframe and more after it", func() bool {
		n, sps := w.counts()
		return len(sps) > 0 && sps[len(sps)-1] >= n0 && n >= n0+30
	})
	o.mu.Lock()
	ended := o.ended
	o.mu.Unlock()
	if ended {
		t.Fatal("the outlet ended its viewers")
	}
}
