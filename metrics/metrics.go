// Package metrics exposes the server's counters to Prometheus at /metrics
// on the admin listener (docs/operations.md#metrics). Nothing is counted
// here: a scrape reads the counters the engine and the transports keep
// anyway (atomics updated per connection, per flush or per change, and
// snapshots taken under locks they hold briefly), so the media path pays
// nothing for being watched. The Go runtime's and the process's own
// collectors (goroutines, memory, CPU seconds, descriptors) are added.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/ssas"
	"github.com/openfcs/openfcs/tunnel"
)

// Engine is what the metrics read of the engine. *instance.Manager
// implements it.
type Engine interface {
	Apps() ([]string, error)
	Instances() []*instance.Instance
	AppCounters(app string) instance.CountersSnapshot
	MediaTotals() media.TotalsSnapshot
	SharedObjectChanges() uint64
}

// Sources are the counters read on each scrape; a nil function reads as
// zero.
type Sources struct {
	Engine  Engine
	RTMP    func() rtmp.Stats
	Tunnel  func() tunnel.Stats
	Bridge  func() bridge.Stats
	Scripts func() ssas.ScriptStats
}

// Handler returns the /metrics handler over a registry of its own (not
// the process-wide default, so that tests and several servers in one
// process do not collide).
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newCollector(src),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Timeout: 10 * time.Second, MaxRequestsInFlight: 4})
}
