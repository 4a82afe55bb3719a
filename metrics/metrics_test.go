package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/openfcs/openfcs/amf"
	"github.com/openfcs/openfcs/instance"
	tu "github.com/openfcs/openfcs/internal/testutil"
	"github.com/openfcs/openfcs/media"
	"github.com/openfcs/openfcs/rtmp"
	"github.com/openfcs/openfcs/ssas"
	"github.com/openfcs/openfcs/tunnel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sources is an engine with one client publishing to one player and a
// shared object changed twice, plus fixed transport counters.
func sources(t *testing.T) Sources {
	t.Helper()
	log, _ := tu.Logger(t, 0)
	m := instance.NewManager(instance.Config{AppsDir: tu.Apps(t, "live", "vod")}, log)
	t.Cleanup(m.Close)
	in, _, err := m.Connect("live", "_definst_", instance.ClientInfo{Protocol: "rtmp"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := in.Streams().Publish("cam")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	sub := in.Streams().Subscribe("cam", media.SubscribeOptions{Client: 1})
	t.Cleanup(sub.Close)
	pub.Write(&media.Packet{Kind: media.Video, Payload: []byte{0x17, 1, 0, 0, 0, 9, 9}})
	pub.Write(&media.Packet{Kind: media.Audio, Payload: []byte{0xaf, 1, 7}})
	so, err := in.SharedObjects().Get("s", false)
	if err != nil {
		t.Fatal(err)
	}
	_ = so.SetProperty("a", amf.Number(1))
	_ = so.SetProperty("a", amf.Number(2))
	return Sources{
		Engine: m,
		RTMP: func() rtmp.Stats {
			return rtmp.Stats{Protos: map[string]rtmp.ProtoStats{
				"rtmp":  {Open: 3, Accepted: 10, BytesIn: 1000, BytesOut: 5000, MsgIn: 7, MsgOut: 9},
				"rtmpt": {Open: 1, Accepted: 2},
			}, Closed: map[string]uint64{"eof": 6, "slow_consumer": 2}}
		},
		Tunnel: func() tunnel.Stats { return tunnel.Stats{Sessions: 1, Opened: 2, Polls: 40} },
		Scripts: func() ssas.ScriptStats {
			s := ssas.ScriptStats{Entries: 5, Errors: 1, Interrupts: 1, Time: 30 * time.Millisecond}
			for i := range s.Buckets {
				s.Buckets[i] = 5
			}
			return s
		},
	}
}

// A scrape shows the connection counts by protocol, the transports', the
// engine's and the scripts' counters, in valid exposition format.
func TestScrape(t *testing.T) {
	srv := httptest.NewServer(Handler(sources(t)))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		`openfcs_connections{protocol="rtmp"} 3`,
		`openfcs_connections{protocol="rtmpt"} 1`,
		`openfcs_connections_accepted_total{protocol="rtmp"} 10`,
		`openfcs_connections_closed_total{reason="slow_consumer"} 2`,
		`openfcs_received_bytes_total{protocol="rtmp"} 1000`,
		`openfcs_sent_messages_total{protocol="rtmp"} 9`,
		`openfcs_sessions{kind="rtmpt"} 1`,
		`openfcs_rtmpt_polls_total 40`,
		`openfcs_applications 2`,
		`openfcs_instances{app="live"} 1`,
		`openfcs_instances{app="vod"} 0`,
		`openfcs_clients{app="live"} 1`,
		`openfcs_client_accepted_total{app="live"} 1`,
		`openfcs_streams 1`,
		`openfcs_stream_subscribers 1`,
		`openfcs_published_messages_total 2`,
		`openfcs_subscriber_queue_messages `,
		`openfcs_shared_objects 1`,
		`openfcs_shared_object_changes_total 2`,
		`openfcs_script_entries_total 5`,
		`openfcs_script_interrupts_total 1`,
		`openfcs_script_entry_duration_seconds_count 5`,
		`openfcs_recordings 0`,
		`go_goroutines `,
		`process_cpu_seconds_total `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

// The collector's metrics pass the Prometheus naming lint.
func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(newCollector(sources(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
