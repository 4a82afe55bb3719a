package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/openfcs/openfcs/admin"
	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/cluster"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/listen"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/ssas"
	"github.com/openfcs/openfcs/tunnel"
	"github.com/openfcs/openfcs/web"
	"github.com/openfcs/openfcs/webrtc"
)

// serve runs the server until ctx ends, then shuts it down gracefully. It
// is three steps: openPorts binds every address (a bad one fails the start
// before anything runs), start runs the accept loops and servers, shutdown
// stops them in order.
//
// Every TCP port goes through one listen.Mux, which sniffs the first byte:
// RTMP connections go to the RTMP server (proto rtmp, or rtmps on the TLS
// port), HTTP connections to the fiber app, which serves the RTMPT tunnel
// (rtmpt, rtmpts), the bridge (RTMP over WebSocket: rtmpws, rtmpwss; and
// HTTP-FLV) and the other HTTP routes, the pages at / among them. The TLS port's number also
// serves HTTP/3 over UDP.
func serve(ctx context.Context, cfg Config, stderr io.Writer) error {
	log, level, err := newLoggerVar(cfg.Log, stderr)
	if err != nil {
		return err
	}
	if cfg.cpuProfile != "" {
		stop, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if fi, err := os.Stat(cfg.Instance.AppsDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("applications folder %q: not a directory", cfg.Instance.AppsDir)
	}
	var tlsConf *tls.Config
	var certs *tlsutil.CertReloader
	if cfg.TLS.Addr != "" {
		if tlsConf, certs, err = serverTLS(cfg.TLS); err != nil {
			return err
		}
	}
	fds, err := raiseFDLimit()
	if err != nil {
		log.Warn("raising the open file limit", "err", err)
	}
	if maxConns := cfg.Session.WithDefaults().MaxConns; fds > 0 && fds < uint64(maxConns)+256 {
		// Accept backs off when descriptors run out (listen.Mux), so
		// this is not fatal; connections past the limit wait instead.
		log.Warn("open file limit below session.max_conns", "fd_limit", fds, "max_conns", maxConns)
	}
	if cfg.Admin.Addr != "" && cfg.Admin.Token == "" {
		log.Warn("admin listener off: no token (set admin.token or OPENFCS_ADMIN_TOKEN)", "addr", cfg.Admin.Addr)
		cfg.Admin.Addr = ""
	}
	p, err := openPorts(cfg, tlsConf)
	if err != nil {
		return err
	}
	var node *cluster.Node
	if cfg.Cluster.Enabled {
		if node, err = cluster.Start(ctx, cfg.Cluster, cfg.Tunnel.WithDefaults().NodeTag, log); err != nil {
			p.close()
			return err
		}
	}
	s := newServer(cfg, log, p, tlsConf, node)
	s.cfg, s.level, s.certs = cfg, level, certs
	if node != nil {
		if err := node.ServeTunnel(s.tun.ServeForwarded); err != nil {
			p.close()
			node.Close()
			return err
		}
		if err := node.SetVirtualServer(virtualServer{s.rtmp}); err != nil {
			p.close()
			node.Close()
			return err
		}
	}
	if p.rtcUDP != nil {
		if err := s.rtc.Start(p.rtcUDP, p.rtcTCP); err != nil {
			p.close()
			if node != nil {
				node.Close()
			}
			return err
		}
	}
	// Connections live on a context of their own: the signal that ends
	// ctx starts the drain, which needs them open to say goodbye.
	connCtx, endConns := context.WithCancel(context.Background())
	defer endConns()
	s.start(connCtx)
	err = s.wait(ctx)
	stopNow := s.watchSecondSignal()
	defer stopNow()
	s.drainStart()
	// Counted before endConns: ending the connections' context closes
	// them, and the count is of the clients the drain left to shutdown.
	clientsCut := s.engine.NumClients()
	endConns()
	return s.shutdown(err, clientsCut)
}

// watchSecondSignal makes a SIGTERM or SIGINT during the drain end the
// process at once (exit status 1), for an operator who will not wait:
// recordings hold whole tags up to the last flush (docs/flv.md#recording),
// shared objects changed since their last save are lost. The returned
// function stops the watch.
func (s *server) watchSecondSignal() func() {
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-interrupts:
			s.log.Warn("second signal: exiting now without finishing the drain", "signal", sig.String(),
				"clients", s.engine.NumClients(), "recordings_open", s.engine.MediaTotals().Recording)
			exit(1)
		case <-done:
		}
	}()
	return func() { close(done) }
}

// serverTLS loads the certificate and applies the version bounds; RTMP
// clients get no TLS 1.3 session tickets (tlsutil.ForRTMP: librtmp over
// GnuTLS fails on them). The certificate comes from the reloader, which a
// SIGHUP reads again (lifecycle.go).
func serverTLS(c TLSConfig) (*tls.Config, *tlsutil.CertReloader, error) {
	minV, maxV, err := c.WithDefaults().versions()
	if err != nil {
		return nil, nil, err
	}
	certs, err := tlsutil.NewCertReloader(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: %w", err)
	}
	conf := &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: minV, MaxVersion: maxV}
	return tlsutil.ForRTMP(conf), certs, nil
}

// h3Refuse is the QUIC configuration of HTTP/3: the UDP socket cannot
// stop accepting as a TCP listener does without ending the connections
// it carries (RTMPT sessions still to be told AppShutdown), so new QUIC
// connections are refused while the server drains instead.
func (s *server) h3Refuse() *quic.Config {
	base := &quic.Config{Allow0RTT: true} // what http3.Server uses without a QUICConfig
	c := base.Clone()
	c.GetConfigForClient = func(*quic.ClientInfo) (*quic.Config, error) {
		if s.draining.Load() {
			return nil, errDraining
		}
		return base, nil
	}
	return c
}

// errDraining refuses what arrives once the drain began.
var errDraining = errors.New("the server is shutting down")

// h3TLS is the TLS configuration of HTTP/3, which QUIC runs on TLS 1.3
// only, whatever tls.min_version and tls.max_version say.
func h3TLS(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.MinVersion, c.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	return c
}

// rtcReadBuffer is the receive buffer asked for the WebRTC UDP port.
const rtcReadBuffer = 4 << 20

// port is one bound TCP address; proto names what it serves first ("rtmp",
// "http" or "rtmps"; each serves every protocol through the Mux).
type port struct {
	proto string
	ln    net.Listener
}

// ports holds every bound address of the server.
type ports struct {
	tcp []port
	// udp serves HTTP/3 on the TLS port's number; nil without TLS or with
	// HTTP/3 disabled. altSvc advertises it.
	udp    net.PacketConn
	altSvc string
	// admin is the admin listener (package admin); nil when off.
	admin net.Listener
	// rtcUDP and rtcTCP carry every WebRTC peer's ICE (nil when WebRTC
	// is off, rtcTCP nil without ICE-TCP).
	rtcUDP net.PacketConn
	rtcTCP net.Listener
}

// openPorts binds every configured address, so that a bad address fails
// the start before anything runs. On error nothing stays open.
func openPorts(cfg Config, tlsConf *tls.Config) (*ports, error) {
	p := &ports{}
	for _, l := range []struct{ proto, addr string }{{"rtmp", cfg.RTMP}, {"http", cfg.HTTP}, {"rtmps", cfg.TLS.Addr}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("%s listen: %w", l.proto, err)
		}
		if l.proto == "rtmps" {
			ln = tls.NewListener(ln, tlsConf)
		}
		p.tcp = append(p.tcp, port{l.proto, ln})
	}
	if cfg.TLS.Addr != "" && !cfg.TLS.DisableHTTP3 {
		// Same port number as the TLS listener (which may have been :0).
		tcpAddr := p.tcp[len(p.tcp)-1].ln.Addr().(*net.TCPAddr)
		host, _, _ := net.SplitHostPort(cfg.TLS.Addr)
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(tcpAddr.Port)))
		if err != nil {
			p.close()
			return nil, fmt.Errorf("http3 listen: %w", err)
		}
		p.udp = udp
		p.altSvc = fmt.Sprintf(`h3=":%d"; ma=86400`, tcpAddr.Port)
	}
	if cfg.Admin.Addr != "" {
		ln, err := net.Listen("tcp", cfg.Admin.Addr)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("admin listen: %w", err)
		}
		p.admin = ln
	}
	if rc := cfg.WebRTC.WithDefaults(); rc.Enabled() {
		udp, err := net.ListenPacket("udp", rc.UDP)
		if err != nil {
			p.close()
			return nil, fmt.Errorf("webrtc udp listen: %w", err)
		}
		if uc, ok := udp.(*net.UDPConn); ok {
			// Every peer's packets queue on this one socket: a keyframe
			// burst from many publishers must not overflow it while the
			// reader is busy. The kernel caps it at net.core.rmem_max.
			_ = uc.SetReadBuffer(rtcReadBuffer)
		}
		p.rtcUDP = udp
		if rc.TCP != "" {
			ln, err := net.Listen("tcp", rc.TCP)
			if err != nil {
				p.close()
				return nil, fmt.Errorf("webrtc tcp listen: %w", err)
			}
			p.rtcTCP = ln
		}
	}
	return p, nil
}

// close closes every bound address; used when the start fails. Once the
// server runs, the Mux and the HTTP/3 server own them.
func (p *ports) close() {
	for _, l := range p.tcp {
		_ = l.ln.Close()
	}
	if p.udp != nil {
		_ = p.udp.Close()
	}
	if p.admin != nil {
		_ = p.admin.Close()
	}
	if p.rtcUDP != nil {
		_ = p.rtcUDP.Close()
	}
	if p.rtcTCP != nil {
		_ = p.rtcTCP.Close()
	}
}

// server is the running process: the engine, the transports on top of it
// and the goroutines serving the ports.
type server struct {
	log     *slog.Logger
	apps    string // applications folder, for the "started" line
	ports   *ports
	engine  *instance.Manager
	scripts *ssas.Host
	rtmp    *rtmp.Server
	tun     *tunnel.Server
	node    *cluster.Node  // nil unless cluster.enabled
	bridge  *bridge.Server // RTMP over WebSocket and HTTP-FLV on the fiber app
	rtc     *webrtc.Server // WHIP and WHEP on the fiber app, media on ports.rtcUDP/rtcTCP
	mux     *listen.Mux
	app     *fiber.App    // HTTP on every TCP port: the tunnel, then the other routes
	h3      *http3.Server // nil without ports.udp
	admin   *http.Server  // the admin listener's server; nil without ports.admin
	errc    chan error    // one result per goroutine started by start
	// draining is set once shutdown begins (/readyz answers 503).
	draining atomic.Bool
	running  int // goroutines started and not yet received from errc
	// drained is what the drain did, for its last line (lifecycle.go).
	drained drainCounts

	// What a reload changes (lifecycle.go): the configuration in force,
	// the log level, the TLS certificate, the admin token.
	cfg Config
	// drainDeadline is when the drain gives up and shutdown has until.
	drainDeadline time.Time
	level         *slog.LevelVar
	certs         *tlsutil.CertReloader // nil without TLS
	adminAPI      *admin.Server         // nil without the admin listener
}

// newServer builds the engine and the transports; nothing runs yet.
func newServer(cfg Config, log *slog.Logger, p *ports, tlsConf *tls.Config, node *cluster.Node) *server {
	s := &server{log: log, apps: cfg.Instance.AppsDir, ports: p, node: node}
	s.engine = instance.NewManager(cfg.Instance, log)
	if node != nil {
		s.engine.SetStreamObserver(node.StreamObserver) // streams across nodes (docs/cluster.md#streams)
	}
	s.rtmp = &rtmp.Server{Config: cfg.Session, Logger: log, Engine: s.engine}
	scripts, scriptDial := newScriptHost(cfg.SSAS, log, s.rtmp) // application scripts (ssas.go)
	s.scripts = scripts
	for _, l := range p.tcp {
		scriptDial.addLocal(l.ln.Addr())
	}
	s.engine.SetScriptLoader(scripts)
	tcfg := cfg.Tunnel
	tcfg.ExemptLoopback = cfg.Listen.ExemptLoopback // one switch for every per-address limit
	s.tun = &tunnel.Server{Config: tcfg, Logger: log, Sessions: s.rtmp}
	if node != nil {
		s.tun.Forward = node // requests for other nodes' sessions (docs/cluster.md#forwarding)
		// One instance, one owner (cluster.go).
		s.engine.SetOwner(scriptOwner{node: node, apps: cfg.Instance.WithDefaults().AppsDir}, node.SharedObjectStore)
		s.rtmp.Relay = clusterRelay{node}
	}
	s.bridge = &bridge.Server{Config: cfg.Bridge, Logger: log, Sessions: s.rtmp, Engine: s.engine,
		Inherited: bridge.Inherited{
			WriteTimeout:  cfg.Session.WriteTimeout,
			MergeWrite:    cfg.Session.MergeWrite,
			AcceptTimeout: cfg.Instance.PendingTimeout,
		}}
	s.rtc = &webrtc.Server{Config: cfg.WebRTC, Logger: log, Engine: s.engine, AcceptTimeout: cfg.Instance.PendingTimeout}
	// NetStreams of RTMP clients (the WebSocket ones: openfcs.js) negotiate
	// their WebRTC peers through the session (docs/webrtc.md#netstream-signaling).
	s.rtmp.Signal = s.rtc
	// Pages that decode no Flash-era codec play such streams from a copy
	// converted once per stream (docs/webrtc.md#flash-era-streams-in-pages).
	s.rtmp.Convert = s.rtc
	// session.max_conns bounds the sockets too, those still being sniffed
	// and HTTP ones included: each holds a descriptor.
	s.mux = &listen.Mux{SniffTimeout: cfg.Tunnel.SniffTimeout, MaxConns: cfg.Session.WithDefaults().MaxConns,
		Limits: cfg.Listen, Logger: log}
	web := httpHandler(s.engine)
	if p.udp != nil {
		s.h3 = &http3.Server{
			TLSConfig:  http3.ConfigureTLSConfig(h3TLS(tlsConf)),
			QUICConfig: s.h3Refuse(),
			Handler:    s.tun.HTTPHandler("rtmpts", s.bridge.HTTPHandler("https-flv", web)),
		}
	}
	s.app = fiber.New(cfg.Tunnel.FiberConfig())
	// A WebSocket session's handler returns once the session has started,
	// giving back the request's context; HTTP-FLV closes its own socket.
	s.app.Server().KeepHijackedConns = true
	if p.altSvc != "" {
		// Advertise HTTP/3 on every TLS response (RFC 7838).
		s.app.Use(func(c *fiber.Ctx) error {
			if c.Context().IsTLS() {
				c.Set("Alt-Svc", p.altSvc)
			}
			return c.Next()
		})
	}
	s.app.Use(s.tun.Handler())
	s.app.Use(s.bridge.Handler())
	s.app.Use(s.rtc.Handler())
	s.app.Use(adaptor.HTTPHandler(web))
	if p.admin != nil {
		s.admin = newAdmin(cfg, log, s)
	}
	s.errc = make(chan error, len(p.tcp)+4)
	return s
}

// start runs the accept loop of every port, the RTMP accept loop and the
// HTTP servers, each on its own goroutine reporting to errc, and logs one
// "listening" line per port.
func (s *server) start(ctx context.Context) {
	// The rtmp line comes last: tools (the e2e harness) take it as the
	// sign that the server is up and read the other addresses by then.
	var rtmpLine func()
	for _, l := range s.ports.tcp {
		line := func() { s.log.Info("listening", "proto", l.proto, "addr", l.ln.Addr().String()) }
		if l.proto == "rtmp" {
			rtmpLine = line
		} else {
			line()
		}
		s.run(func() error { return s.mux.Serve(l.ln) })
	}
	if s.h3 != nil {
		s.log.Info("listening", "proto", "http3", "addr", s.ports.udp.LocalAddr().String())
		s.run(func() error { return s.h3.Serve(s.ports.udp) })
	}
	if s.ports.rtcUDP != nil {
		s.log.Info("listening", "proto", "webrtc-udp", "addr", s.ports.rtcUDP.LocalAddr().String())
		if s.ports.rtcTCP != nil {
			s.log.Info("listening", "proto", "webrtc-tcp", "addr", s.ports.rtcTCP.Addr().String())
		}
	}
	if rtmpLine != nil {
		rtmpLine()
	}
	s.run(func() error { return listen.ServeRTMP(ctx, s.mux.RTMP(), s.rtmp) })
	s.run(func() error { return s.app.Listener(s.mux.HTTP()) })
	if s.admin != nil {
		s.log.Info("listening", "proto", "admin", "addr", s.ports.admin.Addr().String())
		s.run(func() error { return s.admin.Serve(s.ports.admin) })
	}
	s.log.Info("started", "version", version, "apps", s.apps)
}

// wait returns when ctx ends (nil) or when a goroutine of start returns
// (its error: a port failed or a server stopped on its own).
func (s *server) wait(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.errc:
			s.running--
			return err
		case <-hangups:
			s.reload()
		}
	}
}

// run starts f on a goroutine that reports its result to errc.
func (s *server) run(f func() error) {
	s.running++
	go func() { s.errc <- f() }()
}

// shutdown stops everything start ran (clientsCut: the clients the drain
// left for it to close) and returns runErr (what ended the
// run, if not the context) or the first unexpected error of a goroutine.
func (s *server) shutdown(runErr error, clientsCut int) error {
	deadline := s.drainDeadline
	// What the drain left (it keeps the end of drain_timeout for this)
	// gets the rest of the time: the writers flush, the HTTP servers
	// finish requests. A drain that overran still gets a moment.
	if least := time.Now().Add(100 * time.Millisecond); deadline.Before(least) {
		deadline = least
	}
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	// Sessions first (their clients then get 404 or EOF), then the HTTP
	// servers, which wait for requests in flight, then the ports.
	if err := s.tun.Close(sctx); err != nil {
		s.log.Warn("tunnel shutdown", "err", err)
	}
	if err := s.bridge.Close(sctx); err != nil {
		s.log.Warn("bridge shutdown", "err", err)
	}
	if err := s.rtc.Close(sctx); err != nil {
		s.log.Warn("webrtc shutdown", "err", err)
	}
	if err := s.rtmp.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
	if err := s.app.ShutdownWithContext(sctx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	if s.h3 != nil {
		_ = s.h3.Close()
	}
	if s.admin != nil {
		s.adminAPI.Close() // event streams end, so Shutdown need not wait for them
		if err := s.admin.Shutdown(sctx); err != nil {
			s.log.Warn("admin shutdown", "err", err)
		}
	}
	_ = s.mux.Close()
	s.engine.Close()
	if s.node != nil {
		s.node.Close() // releases this node's leases: the others need not wait for them to expire
	}
	for ; s.running > 0; s.running-- {
		if err := <-s.errc; !isClosedErr(err) && runErr == nil {
			runErr = err
		}
	}
	if !isClosedErr(runErr) {
		return runErr
	}
	s.stoppedLine(clientsCut)
	return nil
}

// isClosedErr reports the errors the servers return once shut down.
func isClosedErr(err error) bool {
	return err == nil || errors.Is(err, rtmp.ErrServerClosed) || errors.Is(err, http.ErrServerClosed) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, tunnel.ErrServerClosed)
}

// httpHandler serves the public HTTP routes besides the tunnel and the
// bridge: a health check, the application names and the pages at /
// (package web). Everything about clients, streams and counters is on the
// admin listener, behind its token.
func httpHandler(m *instance.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	// The index page's list: application names only, never stream names
	// (they double as stream keys) or instance names.
	mux.HandleFunc("GET /api/apps", func(w http.ResponseWriter, _ *http.Request) {
		apps, err := m.Apps()
		if err != nil {
			http.Error(w, "applications folder unreadable", http.StatusInternalServerError)
			return
		}
		if apps == nil {
			apps = []string{}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_ = json.NewEncoder(w).Encode(struct {
			Apps []string `json:"apps"`
		}{apps})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// startCPUProfile profiles the process into path until the returned
// function runs.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
