package admin

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/bridge"
	"github.com/openfcs/openfcs/instance"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/media/flv"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/sharedobject"
	"github.com/openfcs/openfcs/ssas"
	"github.com/openfcs/openfcs/tunnel"
	"github.com/openfcs/openfcs/webrtc"
)

// The views: what the FMS commands and the REST routes answer, built from
// the engine's snapshots on each request. JSON names follow the FMS
// Administration API's where it had the datum (bytes_in, msg_out,
// ping_rtt, num_properties, ...).

// ServerStats answers getServerStats and GET /admin/api/v1/server.
type ServerStats struct {
	Version    string    `json:"version"`
	LaunchTime time.Time `json:"launch_time"`
	Uptime     float64   `json:"uptime"` // seconds
	// CPUUsage is the process's CPU time over wall time, in percent of
	// one core, since the previous call (or the start).
	CPUUsage    float64 `json:"cpu_usage"`
	MemoryUsage uint64  `json:"memory_usage"` // bytes the Go runtime holds from the system
	HeapBytes   uint64  `json:"heap_bytes"`   // bytes of live and not yet collected objects
	Goroutines  int     `json:"goroutines"`
	// Connected counts open RTMP sessions of every transport; Clients
	// those admitted to an instance (HTTP-FLV players included).
	Connected        int                      `json:"connected"`
	Clients          int                      `json:"clients"`
	TotalConnects    uint64                   `json:"total_connects"`
	TotalDisconnects uint64                   `json:"total_disconnects"`
	BytesIn          uint64                   `json:"bytes_in"`
	BytesOut         uint64                   `json:"bytes_out"`
	MsgIn            uint64                   `json:"msg_in"`
	MsgOut           uint64                   `json:"msg_out"`
	BwIn             float64                  `json:"bw_in"`  // bytes per second, recent
	BwOut            float64                  `json:"bw_out"` // bytes per second, recent
	Protocols        map[string]ProtocolStats `json:"protocols"`
	ClosedByReason   map[string]uint64        `json:"closed_by_reason"`
	Egress           rtmp.EgressStats         `json:"egress"` // how playing connections were written
	Apps             int                      `json:"apps"`
	Instances        int                      `json:"instances"`
	Streams          int                      `json:"streams"`
	DroppedFrames    uint64                   `json:"dropped_frames"` // video messages dropped for players behind
	SlowConsumers    uint64                   `json:"slow_consumers"` // players cut off
	Tunnel           tunnel.Stats             `json:"rtmpt"`
	Bridge           bridge.Stats             `json:"bridge"`
	WebRTC           webrtc.Stats             `json:"webrtc"`
	Scripts          ScriptCounters           `json:"scripts"`
	// Cluster: the node's relays and feeds; absent on one node.
	Cluster any `json:"cluster,omitempty"`
	ProcessStats
}

// ProtocolStats are one protocol's connections.
type ProtocolStats struct {
	Connected int    `json:"connected"`
	Accepted  uint64 `json:"total_connects"`
	BytesIn   uint64 `json:"bytes_in"`
	BytesOut  uint64 `json:"bytes_out"`
	MsgIn     uint64 `json:"msg_in"`
	MsgOut    uint64 `json:"msg_out"`
}

// ScriptCounters are script entries' counters (ssas.ScriptStats).
type ScriptCounters struct {
	Entries    uint64  `json:"entries"`
	Errors     uint64  `json:"errors"`
	Interrupts uint64  `json:"interrupts"`
	TimeMS     float64 `json:"time_ms"`
	Traces     uint64  `json:"traces"`
}

func scriptCounters(s ssas.ScriptStats) ScriptCounters {
	return ScriptCounters{Entries: s.Entries, Errors: s.Errors, Interrupts: s.Interrupts,
		TimeMS: float64(s.Time) / float64(time.Millisecond), Traces: s.Traces}
}

// AppStats answers getAppStats.
type AppStats struct {
	Name string `json:"name"`
	// Instances are the loaded instances ("app/inst").
	Instances []string `json:"instances"`
	Connected int      `json:"connected"`
	CountersJSON
	BytesIn  uint64 `json:"bytes_in"`  // of the clients connected now
	BytesOut uint64 `json:"bytes_out"` // of the clients connected now
}

// CountersJSON are instance.CountersSnapshot under FMS names.
type CountersJSON struct {
	TotalConnects          uint64 `json:"total_connects"`
	TotalDisconnects       uint64 `json:"total_disconnects"`
	Accepted               uint64 `json:"accepted"`
	Rejected               uint64 `json:"rejected"`
	TotalInstancesLoaded   uint64 `json:"total_instances_loaded,omitempty"`
	TotalInstancesUnloaded uint64 `json:"total_instances_unloaded,omitempty"`
}

func countersJSON(c instance.CountersSnapshot) CountersJSON {
	return CountersJSON{TotalConnects: c.Connects, TotalDisconnects: c.Disconnects, Accepted: c.Accepted,
		Rejected: c.Rejected, TotalInstancesLoaded: c.Loaded, TotalInstancesUnloaded: c.Unloaded}
}

// InstanceStats answers getInstanceStats.
type InstanceStats struct {
	Name       string    `json:"name"` // "app/inst"
	App        string    `json:"app"`
	Instance   string    `json:"instance"`
	LaunchTime time.Time `json:"launch_time"`
	Uptime     float64   `json:"uptime"`
	Connected  int       `json:"connected"`
	CountersJSON
	BytesIn       uint64 `json:"bytes_in"`
	BytesOut      uint64 `json:"bytes_out"`
	Streams       int    `json:"live_streams"`
	SharedObjects int    `json:"shared_objects"`
	Script        bool   `json:"script"`
}

// ClientStats answers getUserStats: one client of an instance.
type ClientStats struct {
	ID          uint64    `json:"id"`
	App         string    `json:"app"`
	Instance    string    `json:"instance"`
	Protocol    string    `json:"protocol"`
	IP          string    `json:"ip"`
	Agent       string    `json:"agent"`
	Referrer    string    `json:"referrer"`
	PageURL     string    `json:"page_url"`
	Encoding    int       `json:"object_encoding"`
	State       string    `json:"state"` // pending, accepted
	ConnectTime time.Time `json:"connect_time"`
	BytesIn     uint64    `json:"bytes_in"`
	BytesOut    uint64    `json:"bytes_out"`
	MsgIn       uint64    `json:"msg_in"`
	MsgOut      uint64    `json:"msg_out"`
	MsgDropped  uint64    `json:"msg_dropped"`
	// PingRTT is the round trip of the last ping the server sent, in
	// milliseconds (0 before one came back; loopback rounds to 0).
	PingRTT    float64  `json:"ping_rtt"`
	Publishing []string `json:"publishing"`
	Playing    []string `json:"playing"`
}

// StreamStats answers getLiveStreamStats: one live stream.
type StreamStats struct {
	Name      string           `json:"name"`
	Published bool             `json:"published"`
	Publisher *StreamPublisher `json:"publisher,omitempty"`
	// Codecs from the last messages' headers (h264, hevc as "hvc1", aac,
	// mp3, ...); resolution and frame rate from the stream's onMetaData.
	VideoCodec string  `json:"video_codec,omitempty"`
	AudioCodec string  `json:"audio_codec,omitempty"`
	Width      float64 `json:"width,omitempty"`
	Height     float64 `json:"height,omitempty"`
	FrameRate  float64 `json:"frame_rate,omitempty"`
	// BitrateIn is the publisher's rate and BitrateOut what players
	// took, in bits per second, measured between two requests at least a
	// second apart (the first request: the average since publishing).
	BitrateIn     float64        `json:"bitrate_in"`
	BitrateOut    float64        `json:"bitrate_out"`
	BytesIn       uint64         `json:"bytes_in"`
	MsgIn         uint64         `json:"msg_in"`
	Dropped       uint64         `json:"dropped_frames"`
	SlowConsumers uint64         `json:"slow_consumers"`
	GOPPackets    int            `json:"gop_cache_packets"`
	GOPBytes      int            `json:"gop_cache_bytes"`
	LastTime      uint32         `json:"last_timestamp"`
	Players       []StreamPlayer `json:"subscribers"`
	metaProps     map[string]any // onMetaData, for the REST detail
	raw           media.StreamSnapshot
}

// StreamPublisher is a stream's publishing client.
type StreamPublisher struct {
	Client      uint64    `json:"client"` // 0: the server (a script)
	PublishTime time.Time `json:"publish_time"`
	Protocol    string    `json:"client_type,omitempty"`
	IP          string    `json:"ip,omitempty"`
}

// StreamPlayer is one subscriber of a live stream.
type StreamPlayer struct {
	Client         uint64    `json:"client"` // 0: the server (a recording, a script)
	SubscribeTime  time.Time `json:"subscribe_time"`
	Queued         int       `json:"queued"`
	QueuedBytes    int       `json:"queued_bytes"`
	Delivered      uint64    `json:"msg_out"`
	DeliveredBytes uint64    `json:"bytes_out"`
	Dropped        uint64    `json:"dropped_frames"`
}

// SharedObjectStats answers getSharedObjectStats.
type SharedObjectStats struct {
	Name       string `json:"name"`
	Persistent bool   `json:"persistent"`
	Version    uint32 `json:"version"`
	Slots      int    `json:"num_properties"`
	Connected  int    `json:"connected"`
	// Data holds the slots (names to values) when the caller asked for
	// them.
	Data map[string]any `json:"data,omitempty"`
}

// ScriptStats answers getScriptStats.
type ScriptStats struct {
	Name      string `json:"name"` // "app/inst"
	Script    bool   `json:"script"`
	LastError string `json:"last_error,omitempty"`
	ScriptCounters
	Traces []string `json:"trace,omitempty"` // the last trace() lines, oldest first
}

// scriptView is what the ssas runtime shows beyond instance.Script.
type scriptView interface {
	Stats() ssas.ScriptStats
	LastError() string
	Traces() []string
}

// ---------------------------------------------------------------------------

func (s *Server) serverStats() ServerStats {
	now := time.Now()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := ServerStats{
		Version: s.Version, LaunchTime: s.start.UTC(), Uptime: now.Sub(s.start).Seconds(),
		CPUUsage: s.cpu.usage(now), MemoryUsage: ms.Sys, HeapBytes: ms.HeapAlloc,
		Goroutines: runtime.NumGoroutine(), Protocols: map[string]ProtocolStats{}, ClosedByReason: map[string]uint64{},
	}
	if f := s.Counters.RTMP; f != nil {
		rs := f()
		for proto, p := range rs.Protos {
			st.Protocols[proto] = ProtocolStats{Connected: p.Open, Accepted: p.Accepted, BytesIn: p.BytesIn,
				BytesOut: p.BytesOut, MsgIn: p.MsgIn, MsgOut: p.MsgOut}
			st.Connected += p.Open
			st.TotalConnects += p.Accepted
			st.BytesIn += p.BytesIn
			st.BytesOut += p.BytesOut
			st.MsgIn += p.MsgIn
			st.MsgOut += p.MsgOut
		}
		for r, n := range rs.Closed {
			st.ClosedByReason[r] = n
			st.TotalDisconnects += n
		}
		st.Egress = rs.Egress
	}
	if f := s.Counters.Tunnel; f != nil {
		st.Tunnel = f()
	}
	if f := s.Counters.Bridge; f != nil {
		st.Bridge = f()
	}
	if f := s.Counters.WebRTC; f != nil {
		st.WebRTC = f()
	}
	if f := s.Counters.Scripts; f != nil {
		st.Scripts = scriptCounters(f())
	}
	if f := s.Counters.Process; f != nil {
		st.ProcessStats = f()
	}
	if f := s.Counters.Cluster; f != nil {
		st.Cluster = f()
	}
	st.BwIn = s.rates.rate("server/in", st.BytesIn, now, s.start)
	st.BwOut = s.rates.rate("server/out", st.BytesOut, now, s.start)
	if apps, err := s.Engine.Apps(); err == nil {
		st.Apps = len(apps)
	}
	tot := s.Engine.MediaTotals()
	st.DroppedFrames, st.SlowConsumers = tot.Dropped, tot.SlowConsumers
	for _, in := range s.Engine.Instances() {
		st.Instances++
		st.Clients += len(in.Clients())
		for _, ss := range in.Streams().Snapshot() {
			if ss.Published {
				st.Streams++
			}
			st.DroppedFrames += ss.Stats.Dropped
			st.SlowConsumers += ss.Stats.SlowConsumers
		}
	}
	return st
}

func (s *Server) appStats(app string) AppStats {
	st := AppStats{Name: app, Instances: []string{}, CountersJSON: countersJSON(s.Engine.AppCounters(app))}
	for _, in := range sortedInstances(s.Engine.Instances()) {
		if in.App != app {
			continue
		}
		st.Instances = append(st.Instances, in.App+"/"+in.Name)
		for _, c := range in.Clients() {
			st.Connected++
			if c.Peer != nil {
				ps := c.Peer.Stats()
				st.BytesIn += ps.BytesIn
				st.BytesOut += ps.BytesOut
			}
		}
	}
	return st
}

func (s *Server) instanceStats(in *instance.Instance) InstanceStats {
	st := InstanceStats{Name: in.App + "/" + in.Name, App: in.App, Instance: in.Name,
		LaunchTime: in.Since().UTC(), Uptime: time.Since(in.Since()).Seconds(),
		CountersJSON: countersJSON(in.Counters()), Streams: in.Streams().Len(),
		SharedObjects: in.SharedObjects().Len(), Script: in.HasScript()}
	for _, c := range in.Clients() {
		st.Connected++
		if c.Peer != nil {
			ps := c.Peer.Stats()
			st.BytesIn += ps.BytesIn
			st.BytesOut += ps.BytesOut
		}
	}
	return st
}

// clientStats describes c; streams is the instance's stream snapshot (for
// what c publishes and plays), nil to take one.
func clientStats(in *instance.Instance, c *instance.Client, streams []media.StreamSnapshot) ClientStats {
	if streams == nil {
		streams = in.Streams().Snapshot()
	}
	st := ClientStats{ID: c.ID, App: in.App, Instance: in.Name, Protocol: c.Protocol, IP: c.IP, Agent: c.Agent,
		Referrer: c.Referrer, PageURL: c.PageURL, Encoding: c.Encoding, State: "accepted",
		ConnectTime: c.Since.UTC(), Publishing: []string{}, Playing: []string{}}
	if c.Pending() {
		st.State = "pending"
	}
	if c.Peer != nil {
		ps := c.Peer.Stats()
		st.BytesIn, st.BytesOut, st.MsgIn, st.MsgOut, st.MsgDropped = ps.BytesIn, ps.BytesOut, ps.MsgIn, ps.MsgOut, ps.MsgDropped
		st.PingRTT = float64(ps.PingRTT) / float64(time.Millisecond)
	}
	for _, ss := range streams {
		if ss.Published && ss.Client == c.ID {
			st.Publishing = append(st.Publishing, ss.Name)
		}
		for _, p := range ss.Players {
			if p.Client == c.ID {
				st.Playing = append(st.Playing, ss.Name)
				break
			}
		}
	}
	return st
}

func (s *Server) streamStats(in *instance.Instance, ss media.StreamSnapshot, now time.Time) StreamStats {
	st := StreamStats{Name: ss.Name, Published: ss.Published, Players: []StreamPlayer{}, raw: ss}
	key := in.App + "/" + in.Name + "/" + ss.Name
	var out uint64
	for _, p := range ss.Players {
		st.Players = append(st.Players, StreamPlayer{Client: p.Client, SubscribeTime: p.Since.UTC(),
			Queued: p.Stats.Queued, QueuedBytes: p.Stats.QueuedBytes, Delivered: p.Stats.Delivered,
			DeliveredBytes: p.Stats.DeliveredBytes, Dropped: p.Stats.Dropped})
		out += p.Stats.DeliveredBytes
	}
	if !ss.Published {
		return st
	}
	pub := &StreamPublisher{Client: ss.Client, PublishTime: ss.Since.UTC()}
	if ss.Client != 0 {
		for _, c := range in.Clients() {
			if c.ID == ss.Client {
				pub.Protocol, pub.IP = c.Protocol, c.IP
				break
			}
		}
	}
	st.Publisher = pub
	st.VideoCodec, st.AudioCodec = videoCodec(ss.VideoHeader), audioCodec(ss.AudioHeader)
	st.BytesIn, st.MsgIn = ss.Stats.Bytes, ss.Stats.Packets
	st.Dropped, st.SlowConsumers = ss.Stats.Dropped, ss.Stats.SlowConsumers
	st.GOPPackets, st.GOPBytes, st.LastTime = ss.Stats.GOPPackets, ss.Stats.GOPBytes, ss.Stats.LastTime
	st.BitrateIn = 8 * s.rates.rate(key+"\x00in", ss.Stats.Bytes, now, ss.Since)
	st.BitrateOut = 8 * s.rates.rate(key+"\x00out", out, now, ss.Since)
	if ss.Meta != nil {
		if m, err := flv.ParseMetadata(ss.Meta, amf.Limits{}); err == nil {
			st.metaProps = map[string]any{}
			for _, p := range m.Props {
				switch p.Key {
				case "width":
					st.Width = finite(p.Value.Num())
				case "height":
					st.Height = finite(p.Value.Num())
				case "framerate", "videoframerate":
					st.FrameRate = finite(p.Value.Num())
				}
				st.metaProps[p.Key] = toJSON(p.Value, 4, 4096)
			}
		}
	}
	return st
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// videoCodec names the codec of a video message from its first bytes
// (docs/flv.md#video-tags, docs/rtmp.md#enhanced-rtmp): the FourCC of an
// enhanced header, the legacy CodecID otherwise.
func videoCodec(h []byte) string {
	if len(h) == 0 {
		return ""
	}
	if vh, err := flv.ParseVideoHeader(h); err == nil && vh.FourCC != 0 {
		return vh.FourCC.String()
	}
	if h[0]&0x80 != 0 { // IsExHeader
		off := 1
		if flv.VideoPacketType(h[0]&0x0f) == flv.VideoMultitrack {
			off = 2
		}
		if len(h) > off {
			if fc, ok := flv.ParseFourCC(h[off:]); ok {
				return fc.String()
			}
		}
		return "enhanced"
	}
	return flv.VideoCodec(h[0] & 0x0f).String()
}

// audioCodec names the codec of an audio message from its first bytes.
func audioCodec(h []byte) string {
	if len(h) == 0 {
		return ""
	}
	f := flv.SoundFormat(h[0] >> 4)
	if f != flv.SoundExHeader {
		return f.String()
	}
	if ah, err := flv.ParseAudioHeader(h); err == nil && ah.FourCC != 0 {
		return ah.FourCC.String()
	}
	off := 1
	if flv.AudioPacketType(h[0]&0x0f) == flv.AudioMultitrack {
		off = 2
	}
	if len(h) > off {
		if fc, ok := flv.ParseFourCC(h[off:]); ok {
			return fc.String()
		}
	}
	return "enhanced"
}

func soStats(so *sharedobject.SharedObject, withData bool, maxValue int) SharedObjectStats {
	st := SharedObjectStats{Name: so.Name(), Persistent: so.Persistent(), Version: so.Version(),
		Slots: so.Size(), Connected: so.Subscribers()}
	if withData {
		st.Data = map[string]any{}
		for _, k := range so.PropertyNames() {
			v := toJSON(so.GetProperty(k), 16, 10000)
			if b, err := json.Marshal(v); err != nil || len(b) > maxValue {
				v = map[string]any{"omitted": fmt.Sprintf("value of %d bytes as JSON", len(b))}
			}
			st.Data[k] = v
		}
	}
	return st
}

func scriptStats(in *instance.Instance) ScriptStats {
	st := ScriptStats{Name: in.App + "/" + in.Name, Script: in.HasScript()}
	if sv, ok := in.Script().(scriptView); ok {
		st.ScriptCounters = scriptCounters(sv.Stats())
		st.LastError = sv.LastError()
		st.Traces = sv.Traces()
	}
	return st
}

// toJSON converts an AMF value to what encoding/json writes. Nesting past
// depth becomes a marker, and so does everything past nodes values in all
// (a cyclic graph would otherwise unfold without end).
func toJSON(v amf.Value, depth, nodes int) any {
	c := jsonConv{budget: nodes}
	return c.conv(v, depth)
}

type jsonConv struct{ budget int }

var omitted = map[string]any{"omitted": "too large or nested too deep"}

func (c *jsonConv) conv(v amf.Value, depth int) any {
	if c.budget--; c.budget < 0 || depth < 0 {
		return omitted
	}
	switch v.Kind() {
	case amf.KindUndefined, amf.KindNull, amf.KindUnsupported:
		return nil
	case amf.KindNumber:
		return finite(v.Num())
	case amf.KindBoolean:
		return v.Bool()
	case amf.KindString, amf.KindXML, amf.KindXMLDocument:
		return v.Str()
	case amf.KindDate:
		return time.UnixMilli(int64(finite(v.Num()))).UTC().Format(time.RFC3339Nano)
	case amf.KindByteArray:
		return map[string]any{"bytearray": len(v.Bytes())}
	case amf.KindStrictArray, amf.KindVectorInt, amf.KindVectorUint, amf.KindVectorDouble, amf.KindVectorObject:
		es := v.Elems()
		out := make([]any, 0, min(len(es), max(c.budget, 0)))
		for _, e := range es {
			if c.budget <= 0 {
				out = append(out, omitted)
				break
			}
			out = append(out, c.conv(e, depth-1))
		}
		return out
	case amf.KindDictionary:
		out := map[string]any{}
		for _, e := range v.Entries() {
			if c.budget <= 0 {
				break
			}
			out[fmt.Sprint(c.conv(e.Key, 0))] = c.conv(e.Value, depth-1)
		}
		return out
	}
	out := map[string]any{}
	if v.Kind() == amf.KindECMAArray {
		for i, e := range v.Elems() {
			if c.budget <= 0 {
				break
			}
			out[fmt.Sprint(i)] = c.conv(e, depth-1)
		}
	}
	for _, p := range v.Props() {
		if c.budget <= 0 {
			break
		}
		out[p.Key] = c.conv(p.Value, depth-1)
	}
	return out
}

func sortedInstances(ins []*instance.Instance) []*instance.Instance {
	slices.SortFunc(ins, func(a, b *instance.Instance) int {
		if c := strings.Compare(a.App, b.App); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return ins
}

func sortedClients(cs []*instance.Client) []*instance.Client {
	slices.SortFunc(cs, func(a, b *instance.Client) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return cs
}
