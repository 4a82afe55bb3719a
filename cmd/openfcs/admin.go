package main

import (
	"log/slog"
	"net/http"

	"github.com/openfcs/openfcs/admin"
	"github.com/openfcs/openfcs/metrics"
)

// newAdmin builds the admin listener's HTTP server over the running
// server's engine and transports (docs/operations.md#admin-api).
func newAdmin(cfg Config, log *slog.Logger, s *server) *http.Server {
	a := &admin.Server{
		Config:  cfg.Admin,
		Logger:  log,
		Engine:  s.engine,
		Version: version,
		Ready:   func() bool { return !s.draining.Load() },
		Counters: admin.Counters{
			RTMP:    s.rtmp.Stats,
			Tunnel:  s.tun.Stats,
			Bridge:  s.bridge.Stats,
			WebRTC:  s.rtc.Stats,
			Scripts: s.scripts.Stats,
			Process: func() admin.ProcessStats {
				return admin.ProcessStats{RSSBytes: procRSS(), HeapLiveBytes: heapLive(), GCs: gcCycles(),
					OpenFDs: procFDs(), Sockets: s.mux.Open(), PendingBytes: s.rtmp.PendingBytes()}
			},
		},
	}
	if s.node != nil {
		a.Counters.Cluster = func() any { return s.node.Stats() }
	}
	a.Routes = map[string]http.Handler{
		"GET /metrics": metrics.Handler(metrics.Sources{
			Engine:  s.engine,
			RTMP:    s.rtmp.Stats,
			Tunnel:  s.tun.Stats,
			Bridge:  s.bridge.Stats,
			Scripts: s.scripts.Stats,
		}),
	}
	s.adminAPI = a
	// Scripts' trace() lines reach the console's app inspector. Set
	// before any instance loads.
	s.scripts.OnTrace = a.Traces.Publish
	return a.HTTPServer(a.Handler(), log)
}
