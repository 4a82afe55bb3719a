package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/quic-go/quic-go/http3"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/internal/tlsutil"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/tunnel"
)

// serve runs the listeners until ctx ends, then shuts down gracefully.
//
// Every TCP port goes through one tunnel.Mux, which sniffs the first byte:
// RTMP connections go to the RTMP server (proto rtmp, or rtmps on the TLS
// port), HTTP connections to the fiber app, which serves the RTMPT tunnel
// (rtmpt, rtmpts) and the other HTTP routes. The TLS port's number also
// serves HTTP/3 over UDP.
func serve(ctx context.Context, cfg Config, stderr io.Writer) error {
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(cfg.Instance.AppsDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("applications folder %q: not a directory", cfg.Instance.AppsDir)
	}
	var tlsConf *tls.Config
	if cfg.TLS.Addr != "" {
		if tlsConf, err = tlsutil.ServerConfig(cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	}
	engine := instance.NewManager(cfg.Instance, log)
	srv := &rtmp.Server{Config: cfg.Session, Logger: log, Engine: engine}
	scripts, scriptDial := newScriptHost(cfg.SSAS, log, srv) // application scripts (ssas.go)
	engine.SetScriptLoader(scripts)
	tun := &tunnel.Server{Config: cfg.Tunnel, Logger: log, Sessions: srv}
	mux := &tunnel.Mux{SniffTimeout: cfg.Tunnel.SniffTimeout, Logger: log}
	web := httpHandler(engine, srv, tun)

	// Listen on everything first, so that a bad address fails the start
	// before anything runs.
	type listener struct {
		proto string
		ln    net.Listener
	}
	var lns []listener
	closeAll := func() {
		for _, l := range lns {
			_ = l.ln.Close()
		}
	}
	for _, l := range []struct{ proto, addr string }{{"rtmp", cfg.RTMP}, {"http", cfg.HTTP}, {"rtmps", cfg.TLS.Addr}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("%s listen: %w", l.proto, err)
		}
		if l.proto == "rtmps" {
			ln = tls.NewListener(ln, tlsConf)
		}
		lns = append(lns, listener{l.proto, ln})
		scriptDial.addLocal(ln.Addr())
	}
	var h3 *http3.Server
	var udp net.PacketConn
	altSvc := ""
	if cfg.TLS.Addr != "" && !cfg.TLS.DisableHTTP3 {
		// Same port number as the TLS listener (which may have been :0).
		tcpAddr := lns[len(lns)-1].ln.Addr().(*net.TCPAddr)
		host, _, _ := net.SplitHostPort(cfg.TLS.Addr)
		udp, err = net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(tcpAddr.Port)))
		if err != nil {
			closeAll()
			return fmt.Errorf("http3 listen: %w", err)
		}
		altSvc = fmt.Sprintf(`h3=":%d"; ma=86400`, tcpAddr.Port)
		h3 = &http3.Server{
			TLSConfig: http3.ConfigureTLSConfig(tlsConf),
			Handler:   tun.HTTPHandler("rtmpts", web),
		}
	}

	app := fiber.New(cfg.Tunnel.FiberConfig())
	if altSvc != "" {
		// Advertise HTTP/3 on every TLS response (RFC 7838).
		app.Use(func(c *fiber.Ctx) error {
			if c.Context().IsTLS() {
				c.Set("Alt-Svc", altSvc)
			}
			return c.Next()
		})
	}
	app.Use(tun.Handler())
	app.Use(adaptor.HTTPHandler(web))

	errc := make(chan error, len(lns)+3)
	running := 0
	start := func(f func() error) {
		running++
		go func() { errc <- f() }()
	}
	// The rtmp line comes last: tools (the e2e harness) take it as the
	// sign that the server is up and read the other addresses by then.
	var rtmpLine func()
	for _, l := range lns {
		line := func() { log.Info("listening", "proto", l.proto, "addr", l.ln.Addr().String()) }
		if l.proto == "rtmp" {
			rtmpLine = line
		} else {
			line()
		}
		start(func() error { return mux.Serve(l.ln) })
	}
	if h3 != nil {
		log.Info("listening", "proto", "http3", "addr", udp.LocalAddr().String())
		start(func() error { return h3.Serve(udp) })
	}
	if rtmpLine != nil {
		rtmpLine()
	}
	start(func() error { return tunnel.ServeRTMP(ctx, mux.RTMP(), srv) })
	start(func() error { return app.Listener(mux.HTTP()) })
	log.Info("started", "version", version, "apps", cfg.Instance.AppsDir)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		running--
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Sessions first (their clients then get 404 or EOF), then the HTTP
	// servers, which wait for requests in flight, then the ports.
	if err := tun.Close(sctx); err != nil {
		log.Warn("tunnel shutdown", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	if err := app.ShutdownWithContext(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if h3 != nil {
		_ = h3.Close()
	}
	_ = mux.Close()
	engine.Close()
	for ; running > 0; running-- {
		if err := <-errc; !isClosedErr(err) && runErr == nil {
			runErr = err
		}
	}
	if !isClosedErr(runErr) {
		return runErr
	}
	log.Info("stopped")
	return nil
}

// isClosedErr reports the errors the servers return once shut down.
func isClosedErr(err error) bool {
	return err == nil || errors.Is(err, rtmp.ErrServerClosed) || errors.Is(err, http.ErrServerClosed) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, tunnel.ErrServerClosed)
}

// httpHandler serves the HTTP routes besides the tunnel: a health check,
// the list of loaded instances and the server's counters.
func httpHandler(m *instance.Manager, srv *rtmp.Server, tun *tunnel.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /api/instances", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, in := range m.Instances() {
			fmt.Fprintf(w, "%s/%s clients=%d streams=%v\n", in.App, in.Name, len(in.Clients()), in.Streams().Names())
		}
	})
	// Counters for tests and monitoring: goroutines, RTMP sessions (every
	// transport), tunnel sessions.
	mux.HandleFunc("GET /api/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Goroutines int          `json:"goroutines"`
			RTMPConns  int          `json:"rtmp_conns"`
			Tunnel     tunnel.Stats `json:"tunnel"`
		}{runtime.NumGoroutine(), srv.NumConns(), tun.Stats()})
	})
	return mux
}
