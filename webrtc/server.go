package webrtc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	pion "github.com/pion/webrtc/v4"

	"github.com/openfcs/openfcs/instance"
)

// Engine admits clients to application instances; *instance.Manager
// implements it.
type Engine interface {
	Connect(app, inst string, info instance.ClientInfo) (*instance.Instance, *instance.Client, error)
}

// Server answers WHIP and WHEP on the HTTP ports and carries their media.
// Set the fields, call Start with the bound sockets, mount Handler, and
// Close at shutdown.
type Server struct {
	Config Config
	Logger *slog.Logger
	Engine Engine
	// AcceptTimeout bounds waiting for the application script's decision
	// on a session (instance.pending_timeout). Default 1m.
	AcceptTimeout time.Duration

	cfg Config
	log *slog.Logger
	api *pion.API // publishers' (WHIP): every default interceptor
	// viewAPI is the players' (WHEP): sender reports only; NACKs are
	// answered from the outlet's shared buffer (docs/webrtc.md#cost).
	viewAPI *pion.API
	batch   *batchConn // the UDP port; nil when it is not a *net.UDPConn
	udpMux  ice.UDPMux
	tcpMux  ice.TCPMux
	ctx     context.Context
	cancel  context.CancelFunc

	// mu guards the maps and closed; it is a leaf: nothing else is
	// locked while it is held.
	mu       sync.Mutex
	closed   bool
	sessions map[string]*session   // by resource id
	outlets  map[string]*outlet    // by stream key
	pubs     map[string]*publisher // WebRTC publishers by stream key
	copies   copies                // converted copies of Flash-era streams (pagecopy.go)
	wg       sync.WaitGroup

	started    atomic.Bool
	converters atomic.Int64 // processes running (proc.go)
	published  atomic.Uint64
	played     atomic.Uint64
	refused    atomic.Uint64
	bframes    atomic.Uint64
	reencoded  atomic.Uint64
	// WHIP publishers' video, all sessions together (publish.go).
	keyframeReqs atomic.Uint64
	keyframesIn  atomic.Uint64
	framesLost   atomic.Uint64
}

// streamKey names a stream across instances.
func streamKey(app, inst, stream string) string { return app + "/" + inst + "\x00" + stream }

// Start builds the WebRTC stack over the bound sockets: udp carries every
// peer's ICE, DTLS and SRTP (required); tcp, when not nil, takes ICE-TCP
// connections. The server owns both from now on and closes them in Close.
func (s *Server) Start(udp net.PacketConn, tcp net.Listener) error {
	s.cfg = s.Config.WithDefaults()
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.AcceptTimeout <= 0 {
		s.AcceptTimeout = time.Minute
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.sessions = map[string]*session{}
	s.outlets = map[string]*outlet{}
	s.pubs = map[string]*publisher{}

	lf := &pionLogs{log: s.log}
	me := &pion.MediaEngine{}
	if err := registerCodecs(me); err != nil {
		return err
	}
	ir := &interceptor.Registry{}
	// NACK (both ways), sender and receiver reports, TWCC and stats:
	// what browsers expect of a peer (docs/webrtc.md#ports-and-candidates).
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		return fmt.Errorf("webrtc: interceptors: %w", err)
	}
	se := pion.SettingEngine{LoggerFactory: lf}
	if uc, ok := udp.(*net.UDPConn); ok {
		bc, err := newBatchConn(uc, s.cfg.SendBuffer)
		if err != nil {
			return fmt.Errorf("webrtc: udp socket: %w", err)
		}
		s.batch, udp = bc, bc
	}
	s.udpMux = pion.NewICEUDPMux(lf.NewLogger("ice-udp"), udp)
	se.SetICEUDPMux(s.udpMux)
	networks := []pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6}
	if tcp != nil {
		s.tcpMux = pion.NewICETCPMux(lf.NewLogger("ice-tcp"), tcp, 8)
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, pion.NetworkTypeTCP4, pion.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	se.SetIncludeLoopbackCandidate(*s.cfg.IncludeLoopback)
	// mDNS candidates name no address a remote peer can reach here.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(s.cfg.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{
			External: s.cfg.PublicIPs, AsCandidateType: pion.ICECandidateTypeHost, Mode: pion.ICEAddressRewriteReplace,
		}); err != nil {
			return fmt.Errorf("webrtc: public_ips: %w", err)
		}
	}
	s.api = pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
	viewAPI, err := newViewAPI(se)
	if err != nil {
		return err
	}
	s.viewAPI = viewAPI
	s.started.Store(true)
	return nil
}

// newViewAPI is the stack of the viewers' peer connections. Of pion's
// default interceptors it keeps only the RTCP sender reports, which
// browsers need to align audio and video. The rest would cost every
// viewer something on every packet for nothing it needs: a NACK responder
// copying each packet into a buffer of its own (the outlet's shared one
// answers instead), statistics nobody reads, and a transport-wide
// sequence number in each packet for congestion feedback nothing acts on
// (the stream's rate is the publisher's). A viewer that receives nothing
// needs no NACK generator or receiver reports.
func newViewAPI(se pion.SettingEngine) (*pion.API, error) {
	me := &pion.MediaEngine{}
	if err := registerCodecs(me); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	sr, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("webrtc: sender reports: %w", err)
	}
	ir.Add(sr)
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)), nil
}

// registerCodecs offers what the mapping carries (docs/webrtc.md#mapping):
// H.264 in packetization mode 1 (constrained baseline first, which every
// browser decodes, then main and high), Opus, and G.711.
func registerCodecs(me *pion.MediaEngine) error {
	fb := []pion.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	videos := []struct {
		pt      pion.PayloadType
		profile string
	}{{102, "42e01f"}, {104, "42001f"}, {106, "4d001f"}, {108, "64001f"}}
	for _, v := range videos {
		if err := me.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{
			MimeType: pion.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + v.profile,
			RTCPFeedback: fb,
		}, PayloadType: v.pt}, pion.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("webrtc: register H.264: %w", err)
		}
	}
	audios := []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	}
	for _, a := range audios {
		if err := me.RegisterCodec(a, pion.RTPCodecTypeAudio); err != nil {
			return fmt.Errorf("webrtc: register %s: %w", a.MimeType, err)
		}
	}
	return nil
}

// Stats are the server's counters.
type Stats struct {
	Sessions  int    `json:"sessions"`  // WHIP and WHEP sessions open
	Outlets   int    `json:"outlets"`   // streams played over WebRTC
	Published uint64 `json:"published"` // WHIP sessions admitted since start
	Played    uint64 `json:"played"`    // WHEP sessions admitted since start
	Refused   uint64 `json:"refused"`   // requests refused since start
	// BFrames counts WHEP requests refused because the stream's H.264
	// has B-frames: players sent to the WebSocket path.
	BFrames uint64 `json:"bframes_refused"`
	// BFramesReencoded counts WebRTC plays of such a stream given its
	// copy re-encoded without B-frames (webrtc.reencode_bframes).
	BFramesReencoded uint64 `json:"bframes_reencoded"`
	// Converters are the converter processes running now, every kind
	// (webrtc.max_converters bounds them).
	Converters int `json:"converters"`
	// KeyframeRequests counts the keyframe requests (PLIs) sent to WHIP
	// publishers, Keyframes the keyframes they sent, FramesLost their
	// frames dropped for a packet that never came
	// (docs/webrtc.md#keyframes).
	KeyframeRequests uint64 `json:"keyframe_requests"`
	Keyframes        uint64 `json:"keyframes_received"`
	FramesLost       uint64 `json:"frames_lost"`
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	if !s.started.Load() {
		return Stats{}
	}
	s.mu.Lock()
	n, o := len(s.sessions), len(s.outlets)
	s.mu.Unlock()
	return Stats{Sessions: n, Outlets: o, Published: s.published.Load(), Played: s.played.Load(), Refused: s.refused.Load(),
		BFrames: s.bframes.Load(), BFramesReencoded: s.reencoded.Load(), Converters: int(s.converters.Load()),
		KeyframeRequests: s.keyframeReqs.Load(), Keyframes: s.keyframesIn.Load(), FramesLost: s.framesLost.Load()}
}

// Handler returns the fiber middleware answering /whip/..., /whep/... and
// the session resources; other paths go to the next handler.
func (s *Server) Handler() fiber.Handler {
	return func(c *fiber.Ctx) error {
		// fiber's strings alias fasthttp's request buffer, which the next
		// request reuses: anything a session keeps is cloned.
		path := strings.Clone(c.Path())
		switch {
		case strings.HasPrefix(path, whipPrefix), strings.HasPrefix(path, whepPrefix), strings.HasPrefix(path, SessionPrefix):
			if !s.started.Load() {
				c.Status(http.StatusServiceUnavailable)
				return c.SendString("webrtc is off (webrtc.udp: off)\n")
			}
			s.serveHTTP(c, path)
			return nil
		}
		return c.Next()
	}
}

// Close ends every session and outlet, closes the sockets and waits for
// the sessions' goroutines or ctx.
func (s *Server) Close(ctx context.Context) error {
	if !s.started.Load() {
		return nil
	}
	s.mu.Lock()
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.end(reasonShutdown)
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = s.udpMux.Close()
	if s.tcpMux != nil {
		_ = s.tcpMux.Close()
	}
	return err
}

// pionLogs routes pion's logs to the server's logger at debug level: pion
// reports ordinary network events (a peer gone, a late packet) as
// warnings and errors, and the sessions log what matters themselves.
type pionLogs struct{ log *slog.Logger }

func (p *pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{p.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) Trace(string)          {}
func (l pionLogger) Tracef(string, ...any) {}
func (l pionLogger) Debug(string)          {}
func (l pionLogger) Debugf(string, ...any) {}
func (l pionLogger) Info(string)           {}
func (l pionLogger) Infof(string, ...any)  {}
func (l pionLogger) Warn(m string)         { l.log.Debug(m) }
func (l pionLogger) Warnf(f string, a ...any) {
	l.log.Debug(fmt.Sprintf(f, a...))
}
func (l pionLogger) Error(m string) { l.log.Debug(m) }
func (l pionLogger) Errorf(f string, a ...any) {
	l.log.Debug(fmt.Sprintf(f, a...))
}
