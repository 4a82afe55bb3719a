package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openfcs/openfcs/ssas"
)

// desc builds one metric description under the openfcs_ namespace.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("openfcs_"+name, help, labels, nil)
}

// The metrics, documented in docs/operations.md#metrics.
var (
	dConnections     = desc("connections", "RTMP sessions open now, by protocol (rtmp, rtmps, rtmpt, rtmpts, rtmpws, rtmpwss).", "protocol")
	dAccepted        = desc("connections_accepted_total", "RTMP sessions accepted, by protocol.", "protocol")
	dClosed          = desc("connections_closed_total", "RTMP sessions ended, by close reason (eof, timeout, slow_consumer, protocol_error, ...).", "reason")
	dBytesIn         = desc("received_bytes_total", "Bytes received by RTMP sessions, by protocol.", "protocol")
	dBytesOut        = desc("sent_bytes_total", "Bytes sent by RTMP sessions, by protocol.", "protocol")
	dMsgIn           = desc("received_messages_total", "RTMP messages received after connect, by protocol.", "protocol")
	dMsgOut          = desc("sent_messages_total", "RTMP messages sent, by protocol.", "protocol")
	dSessions        = desc("sessions", "Transport sessions open now: rtmpt (tunnel sessions), websocket (RTMP over WebSocket), http_flv (HTTP-FLV players).", "kind")
	dTunnelOpened    = desc("rtmpt_sessions_opened_total", "RTMPT sessions created.")
	dTunnelExpired   = desc("rtmpt_sessions_expired_total", "RTMPT sessions ended because the client stopped polling.")
	dTunnelPolls     = desc("rtmpt_polls_total", "RTMPT /send and /idle requests answered.")
	dTunnelData      = desc("rtmpt_data_responses_total", "RTMPT answers that carried RTMP bytes.")
	dWSRefused       = desc("websocket_refused_total", "WebSocket upgrades refused for their Origin.")
	dApps            = desc("applications", "Application folders.")
	dInstances       = desc("instances", "Application instances loaded, by application.", "app")
	dClients         = desc("clients", "Clients admitted to an instance or waiting for its script, by application.", "app")
	dConnects        = desc("client_connects_total", "Clients registered with an instance, by application.", "app")
	dAcceptedC       = desc("client_accepted_total", "Clients admitted, by application.", "app")
	dRejectedC       = desc("client_rejected_total", "Clients refused by the application's script, by application.", "app")
	dStreams         = desc("streams", "Live streams with a publisher.")
	dSubscribers     = desc("stream_subscribers", "Players of live streams, the server's own (recordings) included.")
	dPublishedBytes  = desc("published_bytes_total", "Payload bytes published to live streams.")
	dPublishedMsgs   = desc("published_messages_total", "Audio, video and data messages published to live streams.")
	dDropped         = desc("dropped_frames_total", "Video messages dropped for players that fell behind.")
	dSlow            = desc("slow_consumers_total", "Players cut off for staying behind (slow_consumer).")
	dQueueMsgs       = desc("subscriber_queue_messages", "Messages waiting in players' queues, all players together.")
	dQueueBytes      = desc("subscriber_queue_bytes", "Payload bytes waiting in players' queues, all players together.")
	dQueueMax        = desc("subscriber_queue_max_messages", "The longest player queue, in messages.")
	dRecording       = desc("recordings", "Recordings being written.")
	dRecordings      = desc("recordings_started_total", "Recordings started.")
	dRecordFailed    = desc("recordings_failed_total", "Recordings that ended with an error (NetStream.Record.Failed).")
	dSharedObjects   = desc("shared_objects", "Shared objects loaded.")
	dSOChanges       = desc("shared_object_changes_total", "Shared object version changes (a change, delete or clear by a client or a script).")
	dScriptEntries   = desc("script_entries_total", "Application script entries run (handlers, client calls, timers).")
	dScriptErrors    = desc("script_errors_total", "Script entries that threw, interrupts included.")
	dScriptInterrupt = desc("script_interrupts_total", "Script entries stopped for running past ssas.max_script_time.")
	dScriptDuration  = desc("script_entry_duration_seconds", "Time script entries took.")
	dScriptTraces    = desc("script_traces_total", "trace() lines written by scripts.")
)

type collector struct{ src Sources }

func newCollector(src Sources) *collector { return &collector{src} }

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dConnections, dAccepted, dClosed, dBytesIn, dBytesOut, dMsgIn, dMsgOut,
		dSessions, dTunnelOpened, dTunnelExpired, dTunnelPolls, dTunnelData, dWSRefused, dApps, dInstances, dClients,
		dConnects, dAcceptedC, dRejectedC, dStreams, dSubscribers, dPublishedBytes, dPublishedMsgs, dDropped, dSlow,
		dQueueMsgs, dQueueBytes, dQueueMax, dRecording, dRecordings, dRecordFailed, dSharedObjects, dSOChanges,
		dScriptEntries, dScriptErrors, dScriptInterrupt, dScriptDuration, dScriptTraces} {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

// Collect implements prometheus.Collector: one read of every source.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if f := c.src.RTMP; f != nil {
		rs := f()
		for proto, p := range rs.Protos {
			gauge(ch, dConnections, float64(p.Open), proto)
			counter(ch, dAccepted, p.Accepted, proto)
			counter(ch, dBytesIn, p.BytesIn, proto)
			counter(ch, dBytesOut, p.BytesOut, proto)
			counter(ch, dMsgIn, p.MsgIn, proto)
			counter(ch, dMsgOut, p.MsgOut, proto)
		}
		for reason, n := range rs.Closed {
			counter(ch, dClosed, n, reason)
		}
	}
	if f := c.src.Tunnel; f != nil {
		ts := f()
		gauge(ch, dSessions, float64(ts.Sessions), "rtmpt")
		counter(ch, dTunnelOpened, ts.Opened)
		counter(ch, dTunnelExpired, ts.Expired)
		counter(ch, dTunnelPolls, ts.Polls)
		counter(ch, dTunnelData, ts.DataResponses)
	}
	if f := c.src.Bridge; f != nil {
		bs := f()
		gauge(ch, dSessions, float64(bs.WebSockets), "websocket")
		gauge(ch, dSessions, float64(bs.FLVPlayers), "http_flv")
		counter(ch, dWSRefused, bs.WSRefused)
	}
	if f := c.src.Scripts; f != nil {
		ss := f()
		counter(ch, dScriptEntries, ss.Entries)
		counter(ch, dScriptErrors, ss.Errors)
		counter(ch, dScriptInterrupt, ss.Interrupts)
		counter(ch, dScriptTraces, ss.Traces)
		buckets := make(map[float64]uint64, len(ssas.LatencyBuckets))
		for i, b := range ssas.LatencyBuckets {
			buckets[b.Seconds()] = ss.Buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(dScriptDuration, ss.Entries, ss.Time.Seconds(), buckets)
	}
	if c.src.Engine != nil {
		c.collectEngine(ch)
	}
}

func (c *collector) collectEngine(ch chan<- prometheus.Metric) {
	e := c.src.Engine
	apps, _ := e.Apps()
	gauge(ch, dApps, float64(len(apps)))
	instances, clients := map[string]int{}, map[string]int{}
	for _, a := range apps {
		instances[a], clients[a] = 0, 0
	}
	tot := e.MediaTotals()
	var (
		streams, subs, sos                 int
		queued, queuedBytes, queueMax      int
		pubBytes, pubMsgs, dropped, slowed = tot.Bytes, tot.Packets, tot.Dropped, tot.SlowConsumers
	)
	for _, in := range e.Instances() {
		instances[in.App]++
		clients[in.App] += len(in.Clients())
		sos += in.SharedObjects().Len()
		for _, s := range in.Streams().Snapshot() {
			if s.Published {
				streams++
				pubBytes += s.Stats.Bytes
				pubMsgs += s.Stats.Packets
				dropped += s.Stats.Dropped
				slowed += s.Stats.SlowConsumers
			}
			for _, p := range s.Players {
				subs++
				queued += p.Stats.Queued
				queuedBytes += p.Stats.QueuedBytes
				queueMax = max(queueMax, p.Stats.Queued)
			}
		}
	}
	for app, n := range instances {
		gauge(ch, dInstances, float64(n), app)
		gauge(ch, dClients, float64(clients[app]), app)
		ac := e.AppCounters(app)
		counter(ch, dConnects, ac.Connects, app)
		counter(ch, dAcceptedC, ac.Accepted, app)
		counter(ch, dRejectedC, ac.Rejected, app)
	}
	gauge(ch, dStreams, float64(streams))
	gauge(ch, dSubscribers, float64(subs))
	counter(ch, dPublishedBytes, pubBytes)
	counter(ch, dPublishedMsgs, pubMsgs)
	counter(ch, dDropped, dropped)
	counter(ch, dSlow, slowed)
	gauge(ch, dQueueMsgs, float64(queued))
	gauge(ch, dQueueBytes, float64(queuedBytes))
	gauge(ch, dQueueMax, float64(queueMax))
	gauge(ch, dRecording, float64(tot.Recording))
	counter(ch, dRecordings, tot.Recordings)
	counter(ch, dRecordFailed, tot.RecordFailures)
	gauge(ch, dSharedObjects, float64(sos))
	counter(ch, dSOChanges, e.SharedObjectChanges())
}
