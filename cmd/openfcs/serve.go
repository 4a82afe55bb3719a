package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/rtmp"
)

// serve runs the listeners until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg Config, stderr io.Writer) error {
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(cfg.Instance.AppsDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("applications folder %q: not a directory", cfg.Instance.AppsDir)
	}
	engine := instance.NewManager(cfg.Instance, log)
	srv := &rtmp.Server{Config: cfg.Session, Logger: log, Engine: engine}

	errc := make(chan error, 2)
	running := 0
	if cfg.RTMP != "" {
		ln, err := net.Listen("tcp", cfg.RTMP)
		if err != nil {
			return fmt.Errorf("rtmp listen: %w", err)
		}
		log.Info("listening", "proto", "rtmp", "addr", ln.Addr().String())
		running++
		go func() { errc <- srv.Serve(ln) }()
	}
	var hs *http.Server
	if cfg.HTTP != "" {
		ln, err := net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return fmt.Errorf("http listen: %w", err)
		}
		log.Info("listening", "proto", "http", "addr", ln.Addr().String())
		hs = &http.Server{Handler: httpHandler(engine), ReadHeaderTimeout: 10 * time.Second}
		running++
		go func() { errc <- hs.Serve(ln) }()
	}
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
	if hs != nil {
		_ = hs.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	engine.Close()
	for ; running > 0; running-- {
		if err := <-errc; err != nil && !errors.Is(err, rtmp.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil && !errors.Is(runErr, rtmp.ErrServerClosed) && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	log.Info("stopped")
	return nil
}

// httpHandler serves what the HTTP port offers before the tunnel exists:
// a health check and the list of loaded instances.
func httpHandler(m *instance.Manager) http.Handler {
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
	return mux
}
